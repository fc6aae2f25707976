"""Trades at the bank's quote: money and metal through the ledger, long and short kept
apart, refusals (expired, moved, unsuitable, switched off), idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
from rongbank.platform import Platform
from tests.factories.accounts import People
from tests.support.invest import ScriptedPrices, available, investor

GRAM = 1000  # AU_G has three decimals


def _quote(platform: Platform, customer_id: int, code: str = "AU_CNY"):
    with platform.transaction() as session:
        return platform.invest.quote(session, customer_id=customer_id, code=code)


def _trade(platform: Platform, account, quote_id: str, side: str, action: str, qty: int, cid: str):
    with platform.transaction() as session:
        return platform.invest.trade(
            session,
            customer_id=account.customer_id,
            quote_id=quote_id,
            side=side,
            action=action,
            quantity=qty,
            account_number=account.number,
            client_id=cid,
        )


def _metal(platform: Platform, code: str) -> int:
    with platform.transaction() as session:
        row = platform.ledger.account(session, code)
    return row.credits_posted - row.debits_posted


def test_a_quote_is_the_reference_plus_and_minus_the_spread_for_ten_seconds(
    platform: Platform, people: People, prices: ScriptedPrices
) -> None:
    me = investor(platform, people)
    quote = _quote(platform, me.customer_id)
    assert (quote.bid, quote.ask) == (500_00 - 40, 500_00 + 40)
    assert quote.expires_at - quote.issued_at == timedelta(seconds=10)
    assert quote.id != _quote(platform, me.customer_id).id


def test_buying_gold_moves_money_and_metal_and_selling_it_back_pays_the_bid(
    platform: Platform, people: People, prices: ScriptedPrices
) -> None:
    me = investor(platform, people, fund=10_000_00)
    quote = _quote(platform, me.customer_id)
    trade, created = _trade(platform, me, quote.id, "long", "open", 10 * GRAM, "b1")
    assert created
    assert trade["cash"] == 10 * 500_40
    assert available(platform, me) == 10_000_00 - 5_004_00
    assert _metal(platform, f"invest:{me.customer_id}:long:AU_G") == 10 * GRAM
    assert _metal(platform, "invest:book:AU_G") == -10 * GRAM

    prices.prices["AU_CNY"] = 510_00
    sell, _ = _trade(
        platform, me, _quote(platform, me.customer_id).id, "long", "close", 4 * GRAM, "s1"
    )
    assert sell["cash"] == 4 * 509_60
    assert sell["pnl"] == 4 * 509_60 - 4 * 500_40
    with platform.transaction() as session:
        (position,) = platform.invest.positions(session, me.customer_id)
    assert (position.side, position.quantity, position.cost) == ("long", 6 * GRAM, 6 * 500_40)


def test_selling_first_freezes_margin_and_buying_back_pays_the_result(
    platform: Platform, people: People, prices: ScriptedPrices
) -> None:
    me = investor(platform, people, fund=10_000_00)
    _trade(platform, me, _quote(platform, me.customer_id).id, "short", "open", 10 * GRAM, "s1")
    margin = 10 * 499_60 // 10  # 10% of the sale
    assert available(platform, me) == 10_000_00 - margin
    assert _metal(platform, f"invest:{me.customer_id}:short:AU_G") == -10 * GRAM
    prices.prices["AU_CNY"] = 490_00
    close, _ = _trade(
        platform, me, _quote(platform, me.customer_id).id, "short", "close", 10 * GRAM, "c1"
    )
    assert close["pnl"] == 10 * (499_60 - 490_40)
    assert available(platform, me) == 10_000_00 + close["pnl"]


def test_long_and_short_are_kept_apart(
    platform: Platform, people: People, prices: ScriptedPrices
) -> None:
    me = investor(platform, people)
    quote = _quote(platform, me.customer_id)
    _trade(platform, me, quote.id, "long", "open", 3 * GRAM, "a")
    _trade(platform, me, quote.id, "short", "open", 2 * GRAM, "b")
    with platform.transaction() as session:
        held = {(p.side, p.quantity) for p in platform.invest.positions(session, me.customer_id)}
    assert held == {("long", 3 * GRAM), ("short", 2 * GRAM)}


def _refused(
    platform: Platform, account, quote_id: str, side: str, action: str, qty: int, cid: str
) -> DomainError:
    with pytest.raises(DomainError) as refused:
        _trade(platform, account, quote_id, side, action, qty, cid)
    assert 400 <= refused.value.status < 500
    return refused.value


def test_an_expired_quote_is_refused_and_changes_nothing(
    platform: Platform, people: People, prices: ScriptedPrices, clock: FrozenClock
) -> None:
    me = investor(platform, people, fund=10_000_00)
    quote = _quote(platform, me.customer_id)
    clock.advance(timedelta(seconds=10))
    assert (
        _refused(platform, me, quote.id, "long", "open", GRAM, "x").code == "invest_quote_expired"
    )
    assert available(platform, me) == 10_000_00


def test_a_quote_whose_price_moved_is_refused(
    platform: Platform, people: People, prices: ScriptedPrices, clock: FrozenClock
) -> None:
    me = investor(platform, people)
    quote = _quote(platform, me.customer_id)
    clock.advance(timedelta(seconds=3))
    prices.prices["AU_CNY"] = 500_21  # max_move is 0.20
    assert _refused(platform, me, quote.id, "long", "open", GRAM, "x").code == "invest_price_moved"
    prices.prices["AU_CNY"] = 500_20
    assert _trade(platform, me, quote.id, "long", "open", GRAM, "x")[1]


def test_a_retry_answers_the_first_trade_and_a_different_one_is_a_conflict(
    platform: Platform, people: People, prices: ScriptedPrices
) -> None:
    me = investor(platform, people, fund=10_000_00)
    quote = _quote(platform, me.customer_id)
    first, created = _trade(platform, me, quote.id, "long", "open", GRAM, "k")
    again, created_again = _trade(platform, me, quote.id, "long", "open", GRAM, "k")
    assert created
    assert not created_again
    assert again["id"] == first["id"]
    assert available(platform, me) == 10_000_00 - 500_40
    assert (
        _refused(platform, me, quote.id, "long", "open", 2 * GRAM, "k").code
        == "invest_trade_conflict"
    )


def test_suitability_follows_the_wealth_assessment_and_shorts_need_the_highest(
    platform: Platform, people: People, prices: ScriptedPrices
) -> None:
    cautious = investor(platform, people, level=2)
    quote = _quote(platform, cautious.customer_id)
    assert (
        _refused(platform, cautious, quote.id, "long", "open", GRAM, "a").code
        == "wealth_risk_level_exceeded"
    )
    balanced = investor(platform, people, level=3)
    quote = _quote(platform, balanced.customer_id)
    assert _trade(platform, balanced, quote.id, "long", "open", GRAM, "a")[1]
    assert (
        _refused(platform, balanced, quote.id, "short", "open", GRAM, "b").code
        == "wealth_risk_level_exceeded"
    )


def test_lots_steps_and_closing_more_than_held_are_refused(
    platform: Platform, people: People, prices: ScriptedPrices
) -> None:
    me = investor(platform, people)
    quote = _quote(platform, me.customer_id)
    assert (
        _refused(platform, me, quote.id, "long", "open", GRAM // 2, "a").code
        == "invest_quantity_invalid"
    )
    _trade(platform, me, quote.id, "long", "open", GRAM, "b")
    assert (
        _refused(platform, me, quote.id, "long", "close", 2 * GRAM, "c").code
        == "invest_position_too_small"
    )


def test_a_product_switched_to_reduce_only_takes_closes_but_no_new_positions(
    platform: Platform, people: People, prices: ScriptedPrices
) -> None:
    from dataclasses import replace

    me = investor(platform, people)
    _trade(platform, me, _quote(platform, me.customer_id).id, "long", "open", 2 * GRAM, "a")
    catalogue = platform.invest.catalogue
    gold = catalogue.products["AU_CNY"]
    catalogue.products["AU_CNY"] = replace(gold, reduce_only=True)
    try:
        quote = _quote(platform, me.customer_id)
        assert (
            _refused(platform, me, quote.id, "long", "open", GRAM, "b").code
            == "invest_new_positions_closed"
        )
        assert _trade(platform, me, quote.id, "long", "close", GRAM, "c")[1]
    finally:
        catalogue.products["AU_CNY"] = gold


def test_sugar_cannot_be_sold_first(
    platform: Platform, people: People, prices: ScriptedPrices
) -> None:
    me = investor(platform, people)
    quote = _quote(platform, me.customer_id, "SUGAR_CNY")
    assert (
        _refused(platform, me, quote.id, "short", "open", 100_00, "a").code
        == "invest_short_not_allowed"
    )
