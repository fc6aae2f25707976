from __future__ import annotations

import pytest

from rongbank.platform import Platform
from tests.factories.loans import Borrowers


@pytest.fixture
def borrowers(platform: Platform) -> Borrowers:
    return Borrowers(platform)
