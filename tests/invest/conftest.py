from __future__ import annotations

import pytest

from rongbank.platform import Platform
from tests.factories.accounts import People
from tests.support.invest import ScriptedPrices, scripted


@pytest.fixture
def people(platform: Platform) -> People:
    return People(platform.accounts, platform.ledger)


@pytest.fixture
def prices(platform: Platform) -> ScriptedPrices:
    """Gold at 500.00 CNY/g, Brent at 500.00 CNY/bbl, silver at 6.00 CNY/g."""
    return scripted(platform, AU_CNY=500_00, BRENT_CNY=500_00, AG_CNY=6_00, SUGAR_CNY=3_00)
