"""e-Invest over HTTP: the board (and its event stream), candles, a quote and a trade
within its life (step-up answered), an expired one refused, positions with their
result, pending orders, history; another customer's quote is not found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.invest import ScriptedPrices, scripted
from tests.wealth.helpers import assessed


@pytest.fixture
def prices(platform: Platform) -> ScriptedPrices:
    return scripted(platform, AU_CNY=500_00, AG_CNY=6_00)


def _customer(api: TestClient, platform: Platform, people: People) -> ApiCustomer:
    person = people.register()
    people.fund(person, 20_000_00)
    assessed(platform, person["customer_id"], level=5)
    return ApiCustomer(api, platform, person)


@pytest.fixture
def me(api: TestClient, platform: Platform, prices: ScriptedPrices) -> ApiCustomer:
    return _customer(api, platform, People(api, platform))


def test_the_board_lists_every_product_with_its_prices(me: ApiCustomer) -> None:
    lines = {line["product"]: line for line in me.get("/me/invest/board").json()}
    assert (lines["AU_CNY"]["bid"], lines["AU_CNY"]["ask"]) == ("499.60", "500.40")
    assert lines["PT_CNY"]["status"] == "halted"  # unpriced in this test: the guard halts it
    with me.client.stream(
        "GET", "/api/v1/me/invest/board/stream?updates=1", headers=me.headers
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        body = "".join(stream.iter_text())
    assert body.startswith("event: board\n")
    assert '"product": "AU_CNY"' in body


def test_candles_are_open_high_low_close(me: ApiCustomer, platform: Platform) -> None:
    platform.invest.prices = __import__("rongbank.invest.prices", fromlist=["x"]).ReplaySource(
        platform.invest.catalogue
    )
    candles = me.get("/me/invest/products/AU_CNY/candles?minutes=5&count=12").json()
    assert len(candles) == 12
    for c in candles:
        assert float(c["low"]) <= min(float(c["open"]), float(c["close"]))
        assert float(c["high"]) >= max(float(c["open"]), float(c["close"]))


def test_a_trade_within_the_quote_life_and_an_expired_one_refused(
    me: ApiCustomer, clock: FrozenClock, prices: ScriptedPrices
) -> None:
    quote = me.post("/me/invest/quotes", {"product": "AU_CNY"}).json()
    body = {
        "client_id": "t1",
        "quote_id": quote["id"],
        "side": "long",
        "action": "open",
        "quantity": "1",
        "account": me.account,
    }
    bought = me.confirmed("/me/invest/trades", body)
    assert bought.status_code == 201, bought.text
    assert (bought.json()["price"], bought.json()["cash"]) == ("500.40", "500.40")
    assert me.confirmed("/me/invest/trades", body).status_code == 200  # a retry

    late = me.post("/me/invest/quotes", {"product": "AU_CNY"}).json()
    clock.advance(timedelta(seconds=11))
    refused = me.confirmed("/me/invest/trades", body | {"client_id": "t2", "quote_id": late["id"]})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invest_quote_expired"

    prices.prices["AU_CNY"] = 510_00
    (position,) = me.get("/me/invest/positions").json()
    assert (position["quantity"], position["mark"], position["pnl"]) == (
        "1.000",
        "509.60",
        "9.20",
    )
    (history,) = me.get("/me/invest/trades").json()
    assert history["reason"] == "quote"


def test_closing_pays_without_a_challenge(me: ApiCustomer) -> None:
    quote = me.post("/me/invest/quotes", {"product": "AU_CNY"}).json()
    common = {"quote_id": quote["id"], "side": "long", "quantity": "1", "account": me.account}
    assert (
        me.confirmed("/me/invest/trades", common | {"client_id": "a", "action": "open"}).status_code
        == 201
    )
    closed = me.post("/me/invest/trades", common | {"client_id": "b", "action": "close"})
    assert closed.status_code == 201, closed.text
    assert closed.json()["cash"] == "499.60"


def test_another_customers_quote_is_not_found(
    me: ApiCustomer, api: TestClient, platform: Platform
) -> None:
    people = People(api, platform)
    people.count = 50
    other = _customer(api, platform, people)
    quote = me.post("/me/invest/quotes", {"product": "AU_CNY"}).json()
    body = {
        "client_id": "x",
        "quote_id": quote["id"],
        "side": "long",
        "action": "open",
        "quantity": "1",
        "account": other.account,
    }
    refused = other.confirmed("/me/invest/trades", body)
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "invest_quote_not_found"


def test_pending_orders_are_placed_listed_and_cancelled(me: ApiCustomer) -> None:
    body = {
        "client_id": "o1",
        "product": "AU_CNY",
        "kind": "limit",
        "side": "long",
        "quantity": "2",
        "price": "495.00",
        "valid_hours": 48,
        "account": me.account,
    }
    placed = me.confirmed("/me/invest/orders", body)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (order["reserve"], order["spec"]["price"], order["status"]) == (
        "990.00",
        "495.00",
        "pending",
    )
    assert me.post("/me/invest/orders", body).status_code == 200
    assert [o["id"] for o in me.get("/me/invest/orders").json()] == [order["id"]]
    cancelled = me.post(f"/me/invest/orders/{order['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    again = me.post(f"/me/invest/orders/{order['id']}/cancel")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invest_order_not_active")
    bad = me.post("/me/invest/orders", body | {"client_id": "o2", "valid_hours": 12})
    assert bad.status_code == 422


def test_placing_an_order_that_sets_money_aside_is_a_payment_with_step_up(
    me: ApiCustomer,
) -> None:
    """The reserve leaves the account at placing (the fill later spends only it), so
    placing is authorised as that payment: beyond the password-free allowance a
    challenge is asked and nothing moves until it is answered."""
    before = me.available()
    body = {
        "client_id": "o1",
        "product": "AU_CNY",
        "kind": "limit",
        "side": "long",
        "quantity": "2",
        "price": "495.00",
        "account": me.account,
    }
    asked = me.post("/me/invest/orders", body)
    assert (asked.status_code, asked.json()["error"]["code"]) == (403, "challenge_required")
    assert me.available() == before
    assert me.get("/me/invest/orders").json() == []
    assert me.confirmed("/me/invest/orders", body).status_code == 201
    assert me.available() == f"{float(before) - 990:.2f}"


def test_an_order_that_only_closes_moves_nothing_and_asks_no_challenge(
    me: ApiCustomer, platform: Platform
) -> None:
    quote = me.post("/me/invest/quotes", {"product": "AU_CNY"}).json()
    trade = {
        "client_id": "t1",
        "quote_id": quote["id"],
        "side": "long",
        "action": "open",
        "quantity": "2",
        "account": me.account,
    }
    assert me.confirmed("/me/invest/trades", trade).status_code == 201
    before = me.available()
    stop = {
        "client_id": "o2",
        "product": "AU_CNY",
        "kind": "stop",
        "side": "long",
        "quantity": "2",
        "price": "480.00",
        "account": me.account,
    }
    placed = me.post("/me/invest/orders", stop)
    assert placed.status_code == 201, placed.text
    assert placed.json()["reserve"] == "0.00"
    assert me.available() == before
