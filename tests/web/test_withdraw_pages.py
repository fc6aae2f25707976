"""Withdrawals to a bound card in the web bank, as plain forms: reviewed, confirmed with
the challenge the bank asks for (a wrong answer moves nothing), made once however often
the form is sent, and refused with the reason for a card not the customer's or an
amount over a new card's daily limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.platform import Platform
from tests.factories.cards import CARD, card_number
from tests.support.sms import sms_code
from tests.support.web import WebCustomer
from tests.web.conftest import deposit

MASKED = f"{CARD[:6]}*********{CARD[-4:]}"


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def me(client: TestClient, platform: Platform) -> WebCustomer:
    me = WebCustomer(client, platform, "韩梅梅", "13900000701", 701)
    deposit(platform, me.account, 2_000_00)
    return me


def bind(me: WebCustomer, number: str = CARD, holder: str = "韩梅梅") -> None:
    me.get("/topup")
    me.change("/cards", card_number=number, holder_name=holder)
    assert "银行卡已绑定" in me.page.text, me.error


def review(me: WebCustomer, amount: str, **fields: str) -> None:
    me.get("/withdraw")
    me.submit("/withdraw", amount=amount, **fields)


def always_ask(me: WebCustomer) -> None:
    """No password-free allowance: every payment is confirmed with a challenge."""
    me.get("/security")
    me.submit("/security/limits", kind="password_free", per_payment="0")
    assert "限额已保存。" in me.page.text


def test_without_a_bound_card_the_page_says_to_bind_one(me: WebCustomer) -> None:
    page = me.get("/withdraw")
    assert page.status_code == 200
    assert 'id="withdraw-no-cards"' in page.text
    assert 'action="/withdraw"' not in page.text


def test_a_withdrawal_is_confirmed_with_the_code_and_a_wrong_one_moves_nothing(
    me: WebCustomer, platform: Platform
) -> None:
    bind(me)
    always_ask(me)
    review(me, "300")
    assert me.page.status_code == 200
    assert MASKED in me.page.text
    assert "¥ 300.00" in me.page.text
    me.submit("/withdraw/confirm")
    assert me.asked == "sms"
    assert me.balance() == 2_000_00
    code = sms_code(platform, me.mobile)
    me.submit("/withdraw/confirm", response="000000" if code != "000000" else "111111")
    assert me.page.status_code == 422
    assert "口令不正确" in me.error
    assert me.asked == "sms"  # the same challenge, to answer again
    assert me.balance() == 2_000_00
    me.submit("/withdraw/confirm", response=code)
    assert 'data-outcome="succeeded"' in me.page.text, me.error or me.page.text
    assert "提现成功" in me.page.text
    assert me.balance() == 1_700_00


def test_the_confirmed_form_sent_twice_withdraws_once(me: WebCustomer, platform: Platform) -> None:
    bind(me)
    always_ask(me)
    review(me, "50.00")
    me.submit("/withdraw/confirm")
    answered = me.page
    me.submit("/withdraw/confirm", response=sms_code(platform, me.mobile))
    assert 'data-outcome="succeeded"' in me.page.text
    me.page = answered
    me.submit("/withdraw/confirm", response=sms_code(platform, me.mobile))
    assert 'data-outcome="succeeded"' in me.page.text, me.error or me.page.text
    assert me.balance() == 1_950_00


def test_over_a_new_cards_daily_limit_is_refused_with_the_reason(me: WebCustomer) -> None:
    bind(me)
    review(me, "1500")
    me.submit("/withdraw/confirm")
    if me.asked == "sms":
        me.submit("/withdraw/confirm", response=sms_code(me.platform, me.mobile))
    assert me.page.status_code == 422
    assert "1000" in me.error or "1,000" in me.error
    assert 'value="1500.00"' in me.page.text  # the form keeps the amount
    assert me.balance() == 2_000_00


def test_another_customers_card_is_refused_as_not_found(
    me: WebCustomer, client: TestClient, platform: Platform
) -> None:
    other = WebCustomer(TestClient(client.app), platform, "李雷", "13900000702", 702)
    bind(other, card_number(2), "李雷")
    bind(me)
    with platform.transaction() as session:
        (theirs,) = platform.funding.cards(session, other.id)
    review(me, "10", card_id=str(theirs.id))
    assert me.page.status_code == 422
    assert me.error
    assert card_number(2)[-4:] not in me.page.text
    assert me.balance() == 2_000_00
