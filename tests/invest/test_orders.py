"""Pending orders: each kind's trigger, what it fills and at what price, what it sets
aside and gives back, expiry; every triggered order filled within its tick."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
from rongbank.platform import Platform
from tests.factories.accounts import People
from tests.support.invest import (
    ScriptedPrices,
    Ticker,
    available,
    held,
    investor,
    order_status,
    place,
    tick,
    ticker,
    trade,
)

G = 1000
FUND = 100_000_00


@pytest.fixture
def ticks(platform: Platform) -> Ticker:
    return ticker(platform)


def _fills(outputs: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [
        (o["order_id"], o["action"], o["quantity"], o["price"])
        for o in outputs
        if o["type"] == "fill"
    ]


def test_a_limit_buy_fills_at_the_ask_once_it_falls_to_the_limit(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    order = place(
        platform,
        me,
        {"kind": "limit", "side": "long", "action": "open", "price": 495_00, "quantity": 10 * G},
        client_id="o",
    )
    assert available(platform, me) == FUND - 10 * 495_00  # set aside at the limit
    assert tick(platform, ticks) == []
    prices.prices["AU_CNY"] = 494_50  # ask 494.90
    outputs = tick(platform, ticks)
    assert _fills(outputs) == [(order["id"], "open", 10 * G, 494_90)]
    assert order_status(platform, me, order["id"])["status"] == "filled"
    assert held(platform, me) == {"long": 10 * G}
    assert available(platform, me) == FUND - 10 * 494_90  # the rest given back


def test_a_stop_loss_sells_at_the_bid_when_it_falls_to_the_stop(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    trade(platform, me, "long", "open", 5 * G, "b")
    order = place(
        platform,
        me,
        {"kind": "stop", "side": "long", "price": 490_00, "quantity": 5 * G},
        client_id="s",
    )
    prices.prices["AU_CNY"] = 490_50  # bid 490.10: not yet
    assert tick(platform, ticks) == []
    prices.prices["AU_CNY"] = 490_30  # bid 489.90
    assert _fills(tick(platform, ticks)) == [(order["id"], "close", 5 * G, 489_90)]
    assert held(platform, me) == {}


def test_two_way_one_fills_and_cancels_the_other(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    trade(platform, me, "long", "open", 5 * G, "b")
    order = place(
        platform,
        me,
        {"kind": "oco", "side": "long", "limit": 510_00, "stop": 490_00, "quantity": 5 * G},
        client_id="oco",
    )
    prices.prices["AU_CNY"] = 511_00
    assert _fills(tick(platform, ticks)) == [(order["id"], "close", 5 * G, 510_60)]
    prices.prices["AU_CNY"] = 480_00
    assert tick(platform, ticks) == []
    assert order_status(platform, me, order["id"])["status"] == "filled"


def test_if_done_opens_then_arms_its_exit(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    order = place(
        platform,
        me,
        {"kind": "if_done", "side": "long", "entry": 495_00, "exit": 505_00, "quantity": 2 * G},
        client_id="ifd",
    )
    prices.prices["AU_CNY"] = 506_00  # the exit alone does nothing before the entry fills
    assert tick(platform, ticks) == []
    prices.prices["AU_CNY"] = 494_00
    assert _fills(tick(platform, ticks)) == [(order["id"], "open", 2 * G, 494_40)]
    prices.prices["AU_CNY"] = 506_00
    assert _fills(tick(platform, ticks)) == [(order["id"], "close", 2 * G, 505_60)]
    assert held(platform, me) == {}
    assert available(platform, me) == FUND - 2 * 494_40 + 2 * 505_60


def test_circular_buys_low_sells_high_and_rearms(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    order = place(
        platform,
        me,
        {"kind": "circular", "side": "long", "entry": 495_00, "exit": 505_00, "quantity": G},
        client_id="c",
    )
    for price, action in [(494_00, "open"), (506_00, "close"), (494_00, "open"), (506_00, "close")]:
        prices.prices["AU_CNY"] = price
        assert [f[1] for f in _fills(tick(platform, ticks))] == [action]
    status = order_status(platform, me, order["id"])
    assert (status["status"], status["fills"]) == ("pending", 4)
    assert available(platform, me) == FUND - 495_00 + 2 * (505_60 - 494_40)


def test_one_to_many_opens_then_rests_a_profit_and_a_stop(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    order = place(
        platform,
        me,
        {
            "kind": "one_to_many",
            "side": "long",
            "entry": 495_00,
            "limit": 510_00,
            "stop": 480_00,
            "quantity": 3 * G,
        },
        client_id="otm",
    )
    prices.prices["AU_CNY"] = 494_00
    tick(platform, ticks)
    prices.prices["AU_CNY"] = 479_00
    assert _fills(tick(platform, ticks)) == [(order["id"], "close", 3 * G, 478_60)]
    prices.prices["AU_CNY"] = 520_00
    assert tick(platform, ticks) == []


def test_add_on_needs_a_position_and_adds_to_it(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    spec = {"kind": "add_on", "side": "long", "price": 495_00, "quantity": 2 * G}
    with pytest.raises(DomainError) as refused:
        place(platform, me, spec, client_id="a0")
    assert refused.value.code == "invest_order_invalid"
    trade(platform, me, "long", "open", G, "b")
    place(platform, me, spec, client_id="a1")
    prices.prices["AU_CNY"] = 494_00
    tick(platform, ticks)
    assert held(platform, me) == {"long": 3 * G}


def test_a_sell_first_limit_sets_aside_margin_and_opens_a_short(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    place(
        platform,
        me,
        {"kind": "limit", "side": "short", "action": "open", "price": 505_00, "quantity": 10 * G},
        client_id="s",
    )
    assert available(platform, me) == FUND - 505_00  # 10% of 10 g at the limit
    prices.prices["AU_CNY"] = 506_00
    tick(platform, ticks)
    assert held(platform, me) == {"short": 10 * G}
    assert available(platform, me) == FUND - 505_00


def test_an_order_expires_after_its_validity_and_gives_back_what_it_set_aside(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker, clock: FrozenClock
) -> None:
    me = investor(platform, people, fund=FUND)
    order = place(
        platform,
        me,
        {"kind": "limit", "side": "long", "action": "open", "price": 495_00, "quantity": G},
        client_id="o",
        hours=24,
    )
    clock.advance(timedelta(hours=24))
    outputs = tick(platform, ticks)
    assert [(o["type"], o["status"]) for o in outputs] == [("order_ended", "expired")]
    prices.prices["AU_CNY"] = 490_00
    assert tick(platform, ticks) == []
    assert order_status(platform, me, order["id"])["status"] == "expired"
    assert available(platform, me) == FUND


def test_cancelling_gives_back_what_was_set_aside(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    me = investor(platform, people, fund=FUND)
    order = place(
        platform,
        me,
        {"kind": "limit", "side": "long", "action": "open", "price": 495_00, "quantity": G},
        client_id="o",
    )
    with platform.transaction() as session:
        platform.invest.cancel_order(session, customer_id=me.customer_id, order_id=order["id"])
    assert available(platform, me) == FUND
    prices.prices["AU_CNY"] = 490_00
    assert tick(platform, ticks) == []


@pytest.mark.parametrize("hours", [23, 121])
def test_validity_is_between_24_and_120_hours(
    platform: Platform, people: People, prices: ScriptedPrices, hours: int
) -> None:
    me = investor(platform, people, fund=FUND)
    with pytest.raises(DomainError) as refused:
        place(
            platform,
            me,
            {"kind": "limit", "side": "long", "action": "open", "price": 495_00, "quantity": G},
            client_id="o",
            hours=hours,
        )
    assert refused.value.code == "invest_order_invalid"


def test_every_order_a_tick_triggers_is_filled_within_that_tick(
    platform: Platform, people: People, prices: ScriptedPrices, ticks: Ticker
) -> None:
    customers = [investor(platform, people, fund=FUND) for _ in range(3)]
    placed = []
    for n in range(30):
        me = customers[n % 3]
        limit = 499_00 - n * 10
        placed.append(
            place(
                platform,
                me,
                {"kind": "limit", "side": "long", "action": "open", "price": limit, "quantity": G},
                client_id=f"o{n}",
            )["id"]
        )
    prices.prices["AU_CNY"] = 497_00  # ask 497.40: the 16 limits at or above it fire
    fired = {f[0] for f in _fills(tick(platform, ticks))}
    assert fired == {placed[n] for n in range(30) if 499_00 - n * 10 >= 497_40}
    assert len(fired) == 17
