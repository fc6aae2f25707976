"""Margin (warn below 60%, force-close below 20%, worst first, explained), oil's
roll-over, the price guard (the 2020 "crude oil treasure" negative price), and the
journal's replay reproducing every fill and forced close."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
from rongbank.invest.engine import replay
from rongbank.platform import Platform
from tests.factories.accounts import People
from tests.support.invest import (
    ScriptedPrices,
    Ticker,
    available,
    held,
    investor,
    place,
    tick,
    ticker,
)
from tests.support.lending import notices

G = 1000
FUND = 10_000_00


@pytest.fixture
def ticks(platform: Platform) -> Ticker:
    return ticker(platform)


def _short(platform: Platform, account, code: str, quantity: int, cid: str) -> None:
    with platform.transaction() as session:
        quote = platform.invest.quote(session, customer_id=account.customer_id, code=code)
        platform.invest.trade(
            session,
            customer_id=account.customer_id,
            quote_id=quote.id,
            side="short",
            action="open",
            quantity=quantity,
            account_number=account.number,
            client_id=cid,
        )


def _calls(platform: Platform, customer_id: int) -> int:
    with platform.transaction() as session:
        return int(
            session.execute(
                text(
                    "SELECT count(*) FROM outbox_event WHERE name = 'invest.margin_call' "
                    "AND (payload->>'customer_id')::bigint = :c"
                ),
                {"c": customer_id},
            ).scalar_one()
        )


def test_below_sixty_percent_the_customer_is_warned_once(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    _short(platform, me, "AU_CNY", 100 * G, "s")  # proceeds 49,960.00, margin 4,996.00
    prices.prices["AU_CNY"] = 510_00
    assert tick(platform, ticks) == []
    prices.prices["AU_CNY"] = 525_00  # equity 2,416.00: 48%
    (warning,) = tick(platform, ticks)
    assert (warning["type"], warning["ratio_bps"]) == ("margin_warning", 4835)
    prices.prices["AU_CNY"] = 526_00
    assert tick(platform, ticks) == []
    assert _calls(platform, me.customer_id) == 1
    [told] = notices(platform, me.customer_id, "payment_failed")  # 融e联, once
    assert "48.35%" in json.dumps(told, ensure_ascii=False)


def test_below_twenty_percent_the_short_is_closed_and_the_loss_paid_from_its_margin(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    _short(platform, me, "AU_CNY", 100 * G, "s")
    tick(platform, ticks)
    prices.prices["AU_CNY"] = 545_00  # ask 545.40: equity 416.00, 8%
    (forced,) = tick(platform, ticks)
    assert forced["type"] == "forced_close"
    assert (forced["ratio_before_bps"], forced["pnl"]) == (832, 49_960_00 - 54_540_00)
    assert "below 20%" in forced["why"]
    assert held(platform, me) == {}
    assert available(platform, me) == FUND - 4_580_00
    with platform.transaction() as session:
        (last,) = platform.invest.trades(session, me.customer_id, limit=1)
    assert (last["reason"], last["why"]) == ("forced", forced["why"])


def test_the_worst_position_is_closed_first_and_only_until_the_ratio_recovers(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    _short(platform, me, "AU_CNY", 100 * G, "gold")  # margin 4,996.00
    _short(platform, me, "AG_CNY", 5_000 * G, "silver")  # 5.98 x 5 kg, margin 3,588.00
    tick(platform, ticks)
    prices.prices["AU_CNY"] = 525_00  # gold's equity 2,416.00 (48%)
    prices.prices["AG_CNY"] = 8_00  # silver's 3,588 + 29,900 - 40,100 < 0: both below 20%
    outputs = tick(platform, ticks)
    assert [(o["type"], o["product"]) for o in outputs] == [("forced_close", "AG_CNY")]
    assert held(platform, me) == {"short": 100 * G}


def test_oil_rolls_to_the_next_month_and_the_cost_carries_the_spread_between_months(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker, clock: FrozenClock
) -> None:
    me = investor(platform, people, fund=FUND)
    prices.contracts[("BRENT_CNY", date(2026, 3, 26))] = 500_00
    prices.contracts[("BRENT_CNY", date(2026, 4, 27))] = 505_00
    with platform.transaction() as session:
        quote = platform.invest.quote(session, customer_id=me.customer_id, code="BRENT_CNY")
        platform.invest.trade(
            session,
            customer_id=me.customer_id,
            quote_id=quote.id,
            side="long",
            action="open",
            quantity=10_00,
            account_number=me.number,
            client_id="oil",
        )
    tick(platform, ticks)
    clock.advance(datetime(2026, 3, 19, 2, tzinfo=UTC) - clock.now())
    (rolled,) = tick(platform, ticks)
    assert (rolled["type"], rolled["from"], rolled["to"]) == ("roll", "2026-03-26", "2026-04-27")
    assert rolled["shift"] == 50_00
    with platform.transaction() as session:
        (position,) = platform.invest.positions(session, me.customer_id)
    assert position.cost == 10 * 501_20 + 50_00


def test_the_guard_refuses_to_roll_trade_or_fill_at_a_negative_oil_price(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker, clock: FrozenClock
) -> None:
    """20 April 2020: WTI May settled at -37.63 USD; customers of a bank product that
    rolled at that price lost their margin and more. Here the price guard halts the
    product instead: no roll, no fill, no quote."""
    me = investor(platform, people, fund=FUND)
    clock.advance(datetime(2026, 3, 18, 2, tzinfo=UTC) - clock.now())
    prices.contracts[("BRENT_CNY", date(2026, 3, 26))] = 500_00
    with platform.transaction() as session:
        quote = platform.invest.quote(session, customer_id=me.customer_id, code="BRENT_CNY")
        platform.invest.trade(
            session,
            customer_id=me.customer_id,
            quote_id=quote.id,
            side="long",
            action="open",
            quantity=10_00,
            account_number=me.number,
            client_id="oil",
        )
    place(
        platform,
        me,
        {"kind": "stop", "side": "long", "price": 400_00, "quantity": 10_00},
        client_id="stop",
        product="BRENT_CNY",
        hours=120,
    )
    tick(platform, ticks)
    clock.advance(timedelta(days=1))
    prices.contracts[("BRENT_CNY", date(2026, 3, 26))] = -37_63 * 7
    prices.contracts[("BRENT_CNY", date(2026, 4, 27))] = -37_63 * 7
    outputs = tick(platform, ticks)
    assert [o["type"] for o in outputs] == ["roll_refused"]
    assert tick(platform, ticks) == []  # said once, and the stop never fills at it
    with pytest.raises(DomainError) as refused, platform.transaction() as session:
        platform.invest.quote(session, customer_id=me.customer_id, code="BRENT_CNY")
    assert (refused.value.code, refused.value.status) == ("invest_price_out_of_bounds", 409)
    assert held(platform, me) == {"long": 10_00}


def test_replaying_the_journal_reproduces_every_fill_and_forced_close(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker, clock: FrozenClock
) -> None:
    a, b = investor(platform, people, fund=FUND), investor(platform, people, fund=FUND)
    _short(platform, a, "AU_CNY", 100 * G, "s")
    place(
        platform,
        b,
        {"kind": "circular", "side": "long", "entry": 495_00, "exit": 505_00, "quantity": G},
        client_id="c",
    )
    place(
        platform,
        b,
        {"kind": "limit", "side": "long", "action": "open", "price": 480_00, "quantity": G},
        client_id="l",
    )
    cancelled = place(
        platform,
        b,
        {"kind": "limit", "side": "long", "action": "open", "price": 470_00, "quantity": G},
        client_id="x",
    )
    with platform.transaction() as session:
        platform.invest.cancel_order(session, customer_id=b.customer_id, order_id=cancelled["id"])
    for price in (494_00, 506_00, 525_00, 494_00, 479_00, 546_00, 500_00):
        prices.prices["AU_CNY"] = price
        clock.advance(timedelta(seconds=1))
        tick(platform, ticks)
    with platform.transaction() as session:
        inputs = [p for _, p in platform.invest.journal(session, inputs=True)]
        outputs = [p for _, p in platform.invest.journal(session, inputs=False)]
    kinds = {o["type"] for o in outputs}
    assert {"fill", "margin_warning", "forced_close"} <= kinds
    assert replay(platform.invest.catalogue, inputs) == outputs


def test_a_margin_call_is_a_notice_in_chinese_and_english_that_cannot_be_switched_off() -> None:
    from rongbank.chat.notices import PAYMENT_FAILED, notice_of, render
    from rongbank.invest.events import MarginCall

    call = MarginCall(
        occurred_at=datetime(2026, 3, 2, tzinfo=UTC), customer_id=7, ratio_bps=4835, journal="9:0"
    )
    notice = notice_of(call)
    assert notice is not None
    assert (notice.customer_id, notice.kind) == (7, PAYMENT_FAILED)
    text = render(notice.kind, notice.payload)
    assert "48.35%" in text.zh[1]
    assert "48.35%" in text.en[1]
