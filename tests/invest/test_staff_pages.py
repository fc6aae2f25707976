"""e-Invest's market for staff (``/staff/invest``, risk analysts and operations): a
product the price guard halts, a refused roll-over and a forced close, each explained
in Chinese; a halt and a refused roll are also warned in the log, once, with the price.
An account manager may not open the page."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.accounts import People
from tests.support.invest import ScriptedPrices, investor, place, tick, ticker, trade
from tests.support.web import WebStaff


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


def test_a_halt_a_refused_roll_and_a_forced_close_are_shown_and_warned(
    platform: Platform,
    people: People,
    prices: ScriptedPrices,
    clock: FrozenClock,
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = ticker(platform)
    gold = investor(platform, people, fund=10_000_00)
    trade(platform, gold, "short", "open", 100_000, "s")  # margin 4,996.00
    tick(platform, ticks)
    prices.prices["AU_CNY"] = 545_00  # ask 545.40: the margin ratio 8.32%
    (forced,) = tick(platform, ticks)
    assert forced["type"] == "forced_close"

    oil = investor(platform, people)
    clock.advance(datetime(2026, 3, 18, 2, tzinfo=UTC) - clock.now())
    prices.contracts[("BRENT_CNY", date(2026, 3, 26))] = 500_00
    with platform.transaction() as session:
        quote = platform.invest.quote(session, customer_id=oil.customer_id, code="BRENT_CNY")
        platform.invest.trade(
            session,
            customer_id=oil.customer_id,
            quote_id=quote.id,
            side="long",
            action="open",
            quantity=10_00,
            account_number=oil.number,
            client_id="oil",
        )
    stop = {"kind": "stop", "side": "long", "price": 400_00, "quantity": 10_00}
    place(platform, oil, stop, client_id="stop", product="BRENT_CNY", hours=120)
    tick(platform, ticks)
    clock.advance(timedelta(days=1))
    prices.contracts[("BRENT_CNY", date(2026, 3, 26))] = -37_63 * 7
    prices.contracts[("BRENT_CNY", date(2026, 4, 27))] = -37_63 * 7
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rongbank.invest"):
        assert [o["type"] for o in tick(platform, ticks)] == ["roll_refused"]
        tick(platform, ticks)
        platform.invest.market(clock.now())
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warned if "BRENT_CNY halted" in w]) == 1  # once, not each tick
    assert any("BRENT_CNY halted: reference -263.41" in w for w in warned), warned
    assert any("roll refused: BRENT_CNY long" in w and "-263.41" in w for w in warned), warned

    analyst = WebStaff(client, platform, "risk1", "周风控", "risk_analyst")
    page = analyst.get("/staff/invest").text
    assert 'href="/staff/invest"' in page  # in the analyst's menu
    assert 'data-halted="BRENT_CNY"' in page
    assert "-263.41" in page
    assert f'data-roll="BRENT_CNY-{oil.customer_id}"' in page
    assert "2026-03-26 → 2026-04-27" in page
    assert f'data-forced="AU_CNY-{gold.customer_id}"' in page
    assert "保证金比例 8.32% 低于 20%" in page

    manager = WebStaff(client, platform, "am1", "李经理", "account_manager")
    assert manager.get("/staff/invest").status_code == 403
