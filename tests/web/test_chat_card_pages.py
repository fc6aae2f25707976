"""Service cards on the 融e联 pages as plain forms (no JavaScript): the manager finds
a fare beside the chat and sends it, the customer books it on the card's page with
the same challenge as any payment; a merchant sends one of its open orders."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rongbank.chat.airline import FakeAirline
from rongbank.payments.orders import OrderRequest
from rongbank.platform import Platform
from tests.web.conftest import sms_code
from tests.web.test_chat_pages import (  # noqa: F401 (fixtures)
    WebStaff,
    card_of,
    clients,
    direct,
    friend,
    manager,
    me,
    open_bank,
)
from tests.web.test_security_pages import WebCustomer

ROUTE = "origin=pek&destination=SHA&date=2026-03-05"
PAST = "origin=PEK&destination=SHA&date=2026-03-01"
FARE = 900_00


def merchant_of(platform: Platform, owner: WebCustomer, onboarder: WebStaff, name: str) -> int:
    """An e-Pay merchant of ``owner``'s, onboarded and approved by two staff."""
    with platform.transaction() as session:
        approver = platform.accounts.create_staff(
            session, username=f"ops{owner.id}", name="运营", role="operations"
        )
        merchant = platform.payments.onboard(
            session,
            staff_id=onboarder.id,
            customer_id=owner.id,
            name=name,
            mcc="4511",
            settlement_account=owner.account,
            fee_bps=60,
        )
        platform.payments.approve(session, merchant_id=merchant.id, staff_id=approver)
    return merchant.id


@pytest.fixture
def airline(platform: Platform, friend: WebCustomer, manager: WebStaff) -> FakeAirline:  # noqa: F811
    """Flights at this bank: the airline is an e-Pay merchant (its owner: ``friend``)."""
    platform.cards.airline_merchant_id = merchant_of(platform, friend, manager, "假日航空")
    fake = platform.cards.airline
    assert isinstance(fake, FakeAirline)
    return fake


def offers(page: Any) -> list[str]:
    return re.findall(r'class="flight-offer" data-offer="([^"]+)"', page.text)


def send_flight(manager: WebStaff, conversation: int) -> tuple[int, str]:  # noqa: F811
    """The manager searches the route beside the chat and sends the first fare."""
    manager.get(f"/staff/chat/{conversation}")
    assert 'id="send-flight"' in manager.page.text
    manager.get(f"/staff/chat/{conversation}/flights?{ROUTE}")
    assert manager.page.status_code == 200, manager.error
    found = offers(manager.page)
    assert len(found) == 3
    manager.submit(f"/staff/chat/{conversation}/cards")  # the first offer's button
    assert manager.page.status_code == 200, manager.error
    return card_of(manager.page)[0], found[0]


class TestFlightCards:
    def test_the_manager_sends_a_fare_and_the_customer_books_it_with_a_challenge(
        self,
        me: WebCustomer,  # noqa: F811
        manager: WebStaff,  # noqa: F811
        platform: Platform,
        airline: FakeAirline,
    ) -> None:
        conversation = open_bank(me)
        card, offer = send_flight(manager, conversation)
        assert "PEK → SHA" in manager.page.text
        assert f"/cards/{card}/act" not in manager.page.text  # the customer books it
        flight_no = offer.split("-")[0]
        seats = airline.seats_left(flight_no, platform.clock.now().date().replace(day=5))

        me.get(f"/chat/{conversation}")
        assert card_of(me.page) == (card, "open")
        assert f'href="/chat/{conversation}/cards/{card}"' in me.page.text
        me.get(f"/chat/{conversation}/cards/{card}")
        assert "¥ 900.00" in me.page.text
        me.submit(f"/chat/{conversation}/cards/{card}/act", account=me.account)
        assert me.asked == "sms"  # 900.00: over the password-free allowance
        assert airline.seats_left(flight_no, platform.clock.now().date().replace(day=5)) == (
            seats - 1
        )  # held while the customer answers
        me.submit(f"/chat/{conversation}/cards/{card}/act", response=sms_code(platform, me.mobile))
        assert me.page.status_code == 200, me.error
        assert card_of(me.page) == (card, "booked")
        assert "订座编号" in me.page.text
        assert me.balance() == 1_234_00 - FARE
        manager.get(f"/staff/chat/{conversation}")
        assert card_of(manager.page) == (card, "booked")

        csrf = me.csrf
        again = me.client.post(
            f"/chat/{conversation}/cards/{card}/act", data={"csrf": csrf, "account": me.account}
        )
        assert again.status_code == 409
        assert me.balance() == 1_234_00 - FARE

    def test_the_airline_failing_says_nothing_was_charged(
        self,
        me: WebCustomer,  # noqa: F811
        manager: WebStaff,  # noqa: F811
        platform: Platform,
        airline: FakeAirline,
    ) -> None:
        conversation = open_bank(me)
        card, _ = send_flight(manager, conversation)
        airline.fail_confirm = True
        me.get(f"/chat/{conversation}/cards/{card}")
        me.submit(f"/chat/{conversation}/cards/{card}/act", account=me.account)
        me.submit(f"/chat/{conversation}/cards/{card}/act", response=sms_code(platform, me.mobile))
        assert me.page.status_code == 409
        assert "未扣任何款项" in me.error
        assert me.balance() == 1_234_00
        me.get(f"/chat/{conversation}")
        assert card_of(me.page) == (card, "failed")
        assert "未扣款" in me.page.text

    def test_a_fare_that_cannot_be_paid_gives_the_seat_back(
        self,
        friend: WebCustomer,  # noqa: F811
        manager: WebStaff,  # noqa: F811
        platform: Platform,
        airline: FakeAirline,
    ) -> None:
        conversation = open_bank(friend)  # a customer without money
        card, offer = send_flight(manager, conversation)
        flight_no, day = offer.split("-")[0], platform.clock.now().date().replace(day=5)
        seats = airline.seats_left(flight_no, day)
        friend.get(f"/chat/{conversation}/cards/{card}")
        friend.submit(f"/chat/{conversation}/cards/{card}/act", account=friend.account)
        assert friend.page.status_code == 422, friend.page.status_code
        assert friend.asked is None  # funds speak before any challenge
        assert airline.seats_left(flight_no, day) == seats
        friend.get(f"/chat/{conversation}")
        assert card_of(friend.page) == (card, "open")

    def test_the_search_says_what_is_wrong_in_words(
        self,
        me: WebCustomer,  # noqa: F811
        manager: WebStaff,  # noqa: F811
        airline: FakeAirline,
    ) -> None:
        conversation = open_bank(me)
        manager.get(f"/staff/chat/{conversation}/flights?origin=PEKING&destination=SHA&date=x")
        assert manager.page.status_code == 422
        assert manager.error == "请填写三字机场代码（如 PEK、SHA）和日期。"
        manager.get(f"/staff/chat/{conversation}/flights?{PAST}")
        assert 'id="no-flights"' in manager.page.text

    def test_no_flight_form_where_the_bank_has_no_airline(
        self,
        me: WebCustomer,  # noqa: F811
        manager: WebStaff,  # noqa: F811
    ) -> None:
        conversation = open_bank(me)
        manager.get(f"/staff/chat/{conversation}")
        assert 'id="send-flight"' not in manager.page.text
        manager.get(f"/staff/chat/{conversation}/flights?{ROUTE}")
        assert manager.page.status_code == 409
        assert manager.error == "本行暂未开通机票预订。"


class TestMerchantOrderCards:
    def test_a_merchant_sends_an_open_order_and_the_other_pays_it(
        self,
        me: WebCustomer,  # noqa: F811
        friend: WebCustomer,  # noqa: F811
        manager: WebStaff,  # noqa: F811
        platform: Platform,
    ) -> None:
        shop = merchant_of(platform, friend, manager, "李记面馆")
        with platform.transaction() as session:
            for order_no, fen in (("A-1", 36_50), ("A-2", 12_00)):
                platform.payments.create_order(
                    session,
                    merchant_id=shop,
                    order=OrderRequest(
                        order_no=order_no, amount=fen, channel="online", description="牛肉面"
                    ),
                )
        conversation = direct(friend, me)
        assert 'id="send-order"' in friend.page.text
        assert "李记面馆 · A-2 · ¥ 12.00" in friend.page.text
        csrf = friend.csrf
        friend.page = friend.client.post(  # the order form (the page's second card form)
            f"/chat/{conversation}/cards",
            data={"csrf": csrf, "kind": "merchant_order", "order": f"{shop}:A-1"},
        )
        assert friend.page.status_code == 200, friend.error
        card, status = card_of(friend.page)
        assert status == "open"
        assert "李记面馆" in friend.page.text
        assert f"/cards/{card}/act" not in friend.page.text

        me.get(f"/chat/{conversation}")
        assert 'id="send-order"' not in me.page.text  # no merchant of one's own
        me.get(f"/chat/{conversation}/cards/{card}")
        me.submit(f"/chat/{conversation}/cards/{card}/act", account=me.account)
        assert card_of(me.page) == (card, "paid"), me.error  # within the password-free
        assert me.balance() == 1_234_00 - 36_50
        with platform.transaction() as session:
            paid = platform.payments.get(session, merchant_id=shop, order_no="A-1")
        assert paid.status == "paid"

    def test_only_ones_own_merchants_orders_are_sent(
        self,
        me: WebCustomer,  # noqa: F811
        friend: WebCustomer,  # noqa: F811
        manager: WebStaff,  # noqa: F811
        platform: Platform,
    ) -> None:
        shop = merchant_of(platform, friend, manager, "李记面馆")
        with platform.transaction() as session:
            platform.payments.create_order(
                session,
                merchant_id=shop,
                order=OrderRequest(order_no="B-1", amount=10_00, channel="online"),
            )
        conversation = direct(me, friend)
        csrf = me.csrf
        answer = me.client.post(
            f"/chat/{conversation}/cards",
            data={"csrf": csrf, "kind": "merchant_order", "order": f"{shop}:B-1"},
        )
        assert answer.status_code == 403
        assert "只能发送您自己商户的订单" in answer.text
