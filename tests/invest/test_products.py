"""The products file, the trading hours and contract months, and the replayed prices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rongbank.invest.errors import ProductFileInvalid
from rongbank.invest.prices import ReplaySource, series
from rongbank.invest.products import load_catalogue, parse_catalogue

CATALOGUE = load_catalogue()
SHIPPED = (
    __import__("importlib.resources").resources.files("rongbank.invest") / "products.toml"
).read_text()


def test_every_kind_of_product_is_configured_in_its_units() -> None:
    products = CATALOGUE.products
    kinds = {p.kind for p in products.values()}
    assert kinds == {"precious", "oil", "base", "agricultural"}
    gold, gold_usd, oil = products["AU_CNY"], products["AU_USD"], products["BRENT_CNY"]
    assert (gold.unit, gold.quote_currency, gold.lot, gold.step) == ("g", "CNY", 1000, 1000)
    assert (gold_usd.unit, gold_usd.quote_currency, gold_usd.step) == ("oz", "USD", 1)
    assert (oil.unit, oil.step, oil.roll_days) == ("bbl", 10, 7)
    assert {"PT_CNY", "PD_CNY", "CU_CNY", "COFFEE_CNY", "SUGAR_CNY", "AG_CNY"} <= set(products)


def test_a_lot_finer_than_the_ledger_currency_is_refused_at_start_up() -> None:
    bad = SHIPPED.replace('lot = "0.1"\nstep = "0.01"', 'lot = "0.001"\nstep = "0.001"', 1)
    with pytest.raises(ProductFileInvalid, match="AU_USD"):
        parse_catalogue(bad)
    with pytest.raises(ProductFileInvalid, match="price_max"):
        parse_catalogue(SHIPPED.replace('price_max = "3000.00"', 'price_max = "10.00"', 1))


@pytest.mark.parametrize(
    ("beijing", "open_"),
    [
        ("2026-03-02T09:30", True),  # Monday morning
        ("2026-03-02T05:00", False),  # Monday before the open
        ("2026-03-07T03:00", True),  # Saturday, still Friday's night session
        ("2026-03-07T05:00", False),
        ("2026-03-08T12:00", False),  # Sunday
    ],
)
def test_trading_hours_run_overnight_and_stop_for_the_weekend(beijing: str, open_: bool) -> None:
    at = datetime.fromisoformat(beijing + "+08:00")
    assert CATALOGUE.products["AU_CNY"].hours.is_open(at) is open_


def test_oil_rolls_to_the_next_month_seven_days_before_expiry() -> None:
    oil = CATALOGUE.products["BRENT_CNY"]
    assert oil.contract(datetime(2026, 3, 18, 12, tzinfo=UTC)) == date(2026, 3, 26)
    assert oil.contract(datetime(2026, 3, 19, 12, tzinfo=UTC)) == date(2026, 4, 27)


def test_the_replay_passes_through_each_historical_observation() -> None:
    source = ReplaySource(CATALOGUE)
    gold = CATALOGUE.products["AU_CNY"]
    spo = gold.source.seconds_per_observation
    offset = gold.source.offset
    history = series("AER/GoldSilver", "gold")
    for n in (0, 1, 500):
        at = CATALOGUE.epoch + timedelta(seconds=spo * n)
        expected = history[offset + n] * gold.source.multiplier * 100
        assert abs(source.reference(gold, at) - expected) <= 0.5


def test_the_replay_moves_between_observations_and_is_the_same_every_time() -> None:
    gold = CATALOGUE.products["AU_CNY"]
    at = CATALOGUE.epoch + timedelta(days=60, minutes=17)
    path = [
        ReplaySource(CATALOGUE).reference(gold, at + timedelta(seconds=30 * i)) for i in range(120)
    ]
    again = [
        ReplaySource(CATALOGUE).reference(gold, at + timedelta(seconds=30 * i)) for i in range(120)
    ]
    assert path == again
    assert len(set(path)) > 20  # it moves like a market, not in a straight line
    first, last = path[0], path[-1]
    assert any(p > max(first, last) or p < min(first, last) for p in path)
