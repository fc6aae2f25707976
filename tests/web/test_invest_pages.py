"""工银e投资 pages without JavaScript: the board, chart data, positions and history, the
ticket's quote and a trade within its life (the challenge answered), an expired quote
refused in Chinese, the live board's stream; pending orders placed on the form (confirmed
as the payment their reserve is, refused in the API's words) and cancelled."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.accounts.service import EAccount
from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.support.invest import held, place, scripted, trade
from tests.support.web import WebCustomer
from tests.wealth.helpers import assessed
from tests.web.conftest import deposit, sms_code


@pytest.fixture
def me(platform: Platform) -> Iterator[WebCustomer]:
    scripted(platform, AU_CNY=500_00)
    with TestClient(create_app(platform, background=False)) as client:
        customer = WebCustomer(client, platform, "韩梅梅", "13900000801", 801)
        deposit(platform, customer.account, 5_000_00)
        assessed(platform, customer.id, level=5)
        yield customer


def _quote(me: WebCustomer, quantity: str, action: str = "open") -> None:
    me.get("/invest/ticket?product=AU_CNY")
    me.submit(
        "/invest/quote",
        product="AU_CNY",
        side="long",
        act=action,
        quantity=quantity,
        account=me.account,
    )
    assert me.page.status_code == 200, me.error
    assert 'id="invest-countdown" data-seconds="10"' in me.page.text


def test_the_home_shows_the_board_and_the_chart_data(me: WebCustomer) -> None:
    page = me.get("/invest").text
    assert re.search(r'data-product="AU_CNY".*?499\.60.*?500\.40', page, re.S)
    data = json.loads(re.search(r'id="invest-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert data["product"] == "AU_CNY"
    assert len(data["candles"]) == 48
    assert "/static/invest.js" in page


def test_a_trade_within_the_quote_life_asks_the_challenge_and_trades_once(
    me: WebCustomer, platform: Platform
) -> None:
    _quote(me, "2")
    me.submit("/invest/trade")
    assert me.asked == "sms"  # 1,000.80: over the password-free allowance
    assert held(platform, _account(me, platform)) == {}
    me.submit("/invest/trade", response=sms_code(platform, me.mobile))
    assert me.page.status_code == 200, me.error
    assert "交易已成交" in me.page.text
    assert held(platform, _account(me, platform)) == {"long": 2000}
    assert 'data-position="AU_CNY-long"' in me.page.text
    assert me.balance() == 5_000_00 - 2 * 500_40


def test_an_expired_quote_is_refused_in_chinese_and_moves_nothing(
    me: WebCustomer, platform: Platform, clock: FrozenClock
) -> None:
    _quote(me, "1")
    clock.advance(timedelta(seconds=11))
    me.submit("/invest/trade")
    assert me.page.status_code == 409
    assert "报价已过期" in me.error
    assert me.balance() == 5_000_00


def test_the_board_streams_as_server_sent_events(me: WebCustomer) -> None:
    with me.client.stream("GET", "/invest/board/stream?updates=1") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        body = "".join(stream.iter_text())
    assert body.startswith("event: board\n")


def test_a_pending_order_is_listed_and_cancelled(me: WebCustomer, platform: Platform) -> None:
    account = _account(me, platform)
    spec = {"kind": "limit", "side": "long", "action": "open", "price": 495_00, "quantity": 1000}
    order = place(platform, account, spec, client_id="o1")
    me.get("/invest")
    assert f'data-order="{order["id"]}"' in me.page.text
    me.submit(f"/invest/orders/{order['id']}/cancel")
    assert "挂单已撤销" in me.page.text
    assert me.balance() == 5_000_00


def _orders(platform: Platform, me: WebCustomer) -> list[dict[str, object]]:
    with platform.transaction() as session:
        return platform.invest.orders(session, me.id)


def test_a_limit_order_placed_on_the_form_is_confirmed_as_a_payment(
    me: WebCustomer, platform: Platform
) -> None:
    me.get("/invest")
    me.get("/invest/order?product=AU_CNY")
    me.submit("/invest/order", kind="limit", quantity="2", price="495.00", account=me.account)
    assert me.asked == "sms"  # 990.00 set aside: over the password-free allowance
    assert 'id="invest-order-review"' in me.page.text
    assert _orders(platform, me) == []
    assert me.balance() == 5_000_00
    me.submit("/invest/order", response=sms_code(platform, me.mobile))
    assert me.page.status_code == 200, me.error
    assert "挂单已提交" in me.page.text
    (order,) = _orders(platform, me)
    assert (order["kind"], order["reserve"], order["status"]) == ("limit", 990_00, "pending")
    assert f'data-order="{order["id"]}"' in me.page.text
    assert me.balance() == 5_000_00 - 990_00


def _place(me: WebCustomer, platform: Platform, **fields: str) -> None:
    """Fill in the order form and place it, answering the SMS code when asked."""
    me.get("/invest/order")
    me.submit("/invest/order", **({"quantity": "1", "account": me.account} | fields))
    if me.asked:
        me.submit("/invest/order", response=sms_code(platform, me.mobile))
    assert me.page.status_code == 200, me.error
    assert "挂单已提交" in me.page.text


def test_if_done_circular_and_one_to_many_orders_are_placed_from_the_form(
    me: WebCustomer, platform: Platform
) -> None:
    _place(me, platform, kind="circular", entry="495", exit="505")
    _place(
        me, platform, kind="if_done", entry="490", exit="480", exit_kind="stop", valid_hours="72"
    )
    _place(me, platform, kind="one_to_many", entry="490", limit="510", stop="480")
    kinds = {o["kind"]: o for o in _orders(platform, me)}
    assert set(kinds) == {"circular", "if_done", "one_to_many"}
    assert kinds["if_done"]["spec"] == {
        "kind": "if_done",
        "side": "long",
        "quantity": 1000,
        "exit_kind": "stop",
        "entry": 490_00,
        "exit": 480_00,
    }
    assert me.balance() == 5_000_00 - 495_00 - 490_00 - 490_00


def test_a_stop_loss_and_a_two_way_close_set_nothing_aside_and_ask_nothing(
    me: WebCustomer, platform: Platform
) -> None:
    trade(platform, _account(me, platform), "long", "open", 1000, "t1")
    before = me.balance()
    _place(me, platform, kind="stop", price="480")
    assert me.asked is None
    _place(me, platform, kind="oco", limit="520", stop="470")
    assert me.asked is None
    assert sorted(o["kind"] for o in _orders(platform, me)) == ["oco", "stop"]  # type: ignore[type-var]
    assert me.balance() == before


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"kind": "if_done", "entry": "490"}, 422, "挂单无效"),
        ({"kind": "circular", "entry": "505", "exit": "495"}, 422, "挂单无效"),
        ({"kind": "limit", "price": "495", "valid_hours": "12"}, 422, "挂单无效"),
        ({"kind": "limit", "price": "495", "quantity": "0.5"}, 422, "数量低于起点"),
        ({"kind": "stop", "price": "480"}, 404, "您没有该方向的持仓"),
    ],
)
def test_a_wrong_order_is_refused_in_the_api_words_and_moves_nothing(
    me: WebCustomer, platform: Platform, fields: dict[str, str], status: int, words: str
) -> None:
    me.get("/invest/order")
    me.submit("/invest/order", **({"quantity": "1", "account": me.account} | fields))
    assert me.page.status_code == status
    assert words in me.error
    assert _orders(platform, me) == []
    assert me.balance() == 5_000_00


def _account(me: WebCustomer, platform: Platform) -> EAccount:
    with platform.transaction() as session:
        return platform.accounts.account(session, me.account)
