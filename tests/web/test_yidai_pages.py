"""逸贷 on the pay page, as plain forms: the order paid by instalments after an instant
decision (APR and schedule shown, signed with the SMS code), or declined with the
reasons and the way back to e-Pay."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from rongbank.chat.service import CUSTOMER, Member
from rongbank.clock import FrozenClock
from rongbank.payments.orders import OrderRequest
from rongbank.platform import Platform
from rongbank.web.pages import LANG_COOKIE
from tests.support.lending import SHORT_FORM, FakeScorecard, credit_platform
from tests.support.web import WebCustomer
from tests.web.conftest import sms_code
from tests.web.test_pay_pages import browser, shop, shown


@pytest.fixture
def scorer() -> FakeScorecard:
    return FakeScorecard()


@pytest.fixture
def platform(connection: Connection, clock: FrozenClock, scorer: FakeScorecard) -> Platform:
    return credit_platform(connection, clock, scorer=scorer)


@pytest.fixture
def clients(platform: Platform) -> Iterator[list[TestClient]]:
    made: list[TestClient] = []
    try:
        yield made
    finally:
        for client in made:
            client.__exit__(None, None, None)


@pytest.fixture
def merchant_id(platform: Platform, clients: list[TestClient]) -> int:
    seller = WebCustomer(browser(platform, clients), platform, "王老板", "13900000501", 501)
    return shop(platform, customer_id=seller.id, account=seller.account)


@pytest.fixture
def me(platform: Platform, clients: list[TestClient], merchant_id: int) -> WebCustomer:
    return WebCustomer(browser(platform, clients), platform, "韩梅梅", "13900000502", 502)


def order(platform: Platform, merchant_id: int, amount: int) -> str:
    with platform.transaction() as session:
        payment, _ = platform.payments.create_order(
            session,
            merchant_id=merchant_id,
            order=OrderRequest(order_no="W1", amount=amount, channel="online"),
        )
    return payment.token


def ask(me: WebCustomer, token: str, term: int = 12) -> None:
    me.get(f"/pay/{token}")
    assert 'id="pay-yidai"' in me.page.text  # offered beside e-Pay
    me.get(f"/pay/{token}/instalments")
    assert me.page.status_code == 200, me.page.text
    me.submit(f"/pay/{token}/instalments", term_months=term, **SHORT_FORM)
    assert me.page.status_code == 200, me.page.text


def test_an_order_is_paid_by_instalments_from_the_pay_page(
    me: WebCustomer, platform: Platform, merchant_id: int
) -> None:
    token = order(platform, merchant_id, 6000_00)

    ask(me, token)

    assert shown(me.page.text, "offer-amount") == "¥ 6,000.00"
    assert shown(me.page.text, "offer-apr").startswith("13.")
    assert me.page.text.count("<tr>") == 13  # the header and 12 instalments
    action = re.search(r'action="(/pay/[^"]+/pay)"', me.page.text)
    assert action, me.page.text
    me.submit(action.group(1))
    assert me.asked == "sms", me.page.text
    with platform.transaction() as session:
        assert platform.payments.by_token(session, token).status == "created"
    me.submit(action.group(1), response=sms_code(platform, me.mobile))

    assert shown(me.page.text, "receipt-status") == "已付款"
    with platform.transaction() as session:
        assert platform.payments.by_token(session, token).status == "paid"
        assert platform.loans.outstanding_personal_principal(session, me.id) == 6000_00
    assert me.balance() == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_instalments_page_speaks_both_languages(
    me: WebCustomer, platform: Platform, merchant_id: int, lang: str
) -> None:
    token = order(platform, merchant_id, 6000_00)
    me.client.cookies.set(LANG_COOKIE, lang)

    me.get(f"/pay/{token}/instalments")

    assert ("申请分期" if lang == "zh" else "Ask for instalments") in me.page.text


def test_a_declined_customer_sees_why_and_can_pay_by_e_pay(
    me: WebCustomer, platform: Platform, merchant_id: int, scorer: FakeScorecard
) -> None:
    scorer.points = 480
    token = order(platform, merchant_id, 6000_00)

    ask(me, token)

    assert 'id="yidai-declined"' in me.page.text
    assert "综合评分未达到要求" in me.page.text
    assert f'href="/pay/{token}"' in me.page.text
    with platform.transaction() as session:
        assert platform.payments.by_token(session, token).status == "created"


def test_a_merchant_order_card_is_paid_by_instalments_and_closes(
    me: WebCustomer, platform: Platform, merchant_id: int
) -> None:
    order(platform, merchant_id, 6000_00)
    with platform.transaction() as session:
        seller = platform.payments.merchant(session, merchant_id).customer_id
        conversation = platform.chat.contacts.open_direct(
            session, customer_id=seller, other_id=me.id
        ).conversation.id
        card, _ = platform.cards.send_merchant_order(
            session,
            Member(CUSTOMER, seller),
            conversation_id=conversation,
            client_id="m1",
            merchant_id=merchant_id,
            order_no="W1",
        )

    me.get(f"/chat/{conversation}/cards/{card.id}")
    link = re.search(r'href="(/pay/[^"]+/instalments)" id="card-yidai"', me.page.text)
    assert link, me.page.text
    token = link.group(1).split("/")[2]
    ask(me, token)
    action = re.search(r'action="(/pay/[^"]+/pay)"', me.page.text)
    assert action, me.page.text
    me.submit(action.group(1))
    me.submit(action.group(1), response=sms_code(platform, me.mobile))

    assert shown(me.page.text, "receipt-status") == "已付款"
    me.get(f"/chat/{conversation}/cards/{card.id}")
    assert shown(me.page.text, "card-status") == "已完成"
    assert "status card-paid" in me.page.text
    assert 'id="card-yidai"' not in me.page.text
    with platform.transaction() as session:
        assert platform.loans.outstanding_personal_principal(session, me.id) == 6000_00
