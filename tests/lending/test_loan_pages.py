"""The customer's loan pages: the list, a loan with its schedule and APR, repaying
what is due and early, each shown before it is paid, in Chinese and in English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.loans import assert_book_matches_loans
from tests.factories.people import PASSWORD
from tests.support.sms import sms_code
from tests.support.web import WebCustomer
from tests.web.conftest import deposit


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def me(client: TestClient, platform: Platform) -> WebCustomer:
    return WebCustomer(TestClient(client.app), platform, "韩梅梅", "13900000901", 901)


def lend(platform: Platform, me: WebCustomer, principal: int = 300_000) -> int:
    with platform.transaction() as session:
        account = platform.accounts.account(session, me.account)
        return platform.loans.disburse(
            session,
            customer_id=me.id,
            account_id=account.id,
            product_code="personal_credit",
            principal_fen=principal,
            term_months=3,
            method="equal_principal",
            annual_rate_bps=1200,
            grade="B",
            application_id=None,
            idempotency_key="offer",
        )


def later(me: WebCustomer, clock: FrozenClock, days: int) -> None:
    clock.advance(timedelta(days=days))
    me.get("/login")
    me.submit("/login", login_name=me.mobile, password=PASSWORD)


def pay(me: WebCustomer, action: str) -> None:
    """Confirm the shown repayment, answering the SMS code when asked."""
    me.submit(action)
    if me.asked == "sms":
        me.submit(action, response=sms_code(me.platform, me.mobile))


def test_no_loans(me: WebCustomer):
    page = me.get("/loans")
    assert page.status_code == 200
    assert 'id="loans-none"' in page.text


def test_the_list_and_a_loan_with_its_schedule_and_apr(me: WebCustomer, platform: Platform):
    loan_id = lend(platform, me)
    page = me.get("/loans")
    assert f'data-loan="{loan_id}"' in page.text
    assert "年化利率 12.00%" in page.text
    page = me.get(f"/loans/{loan_id}")
    assert page.status_code == 200
    assert re.search(r'id="loan-apr"><strong>12.00%</strong>', page.text)
    assert page.text.count("<tr data-number=") == 3
    assert "等额本金" in page.text
    me.client.cookies.set("rb_lang", "en")
    page = me.get(f"/loans/{loan_id}")
    assert "Repayment schedule" in page.text
    assert "Equal principal" in page.text


def test_repay_what_is_due_shown_then_paid(me: WebCustomer, platform: Platform, clock: FrozenClock):
    loan_id = lend(platform, me)
    later(me, clock, 31)
    me.get(f"/loans/{loan_id}")
    assert "¥ 1,030.00" in me.page.text  # 1,000 principal + 30 interest
    me.client.get(f"/loans/{loan_id}/repay")
    page = me.get(f"/loans/{loan_id}/repay")
    assert re.search(r'id="loan-pay-total">¥ 1,030.00<', page.text)
    pay(me, f"/loans/{loan_id}/repay")
    assert me.page.status_code == 200, me.error
    assert 'id="loan-notice"' in me.page.text
    assert me.balance() == 300_000 - 103_000
    with platform.transaction() as session:
        assert_book_matches_loans(session, platform.ledger)


def test_repay_early_in_part_then_in_full(me: WebCustomer, platform: Platform, clock: FrozenClock):
    loan_id = lend(platform, me)
    later(me, clock, 10)
    page = me.get(f"/loans/{loan_id}/prepay?amount=1000.00")
    assert re.search(r'id="loan-pay-total">¥ 1,009.67<', page.text)  # 30 x 10/31 = 9.67
    pay(me, f"/loans/{loan_id}/prepay")
    assert "提前还款成功" in me.page.text, me.error
    assert re.search(r'id="loan-outstanding">¥ 2,000.00<', me.page.text)
    deposit(platform, me.account, 10_000)  # the 1,990.33 left cannot pay 2,000 and interest
    me.get(f"/loans/{loan_id}/prepay")
    pay(me, f"/loans/{loan_id}/prepay")
    assert 'data-status="repaid"' in me.page.text, me.error


def test_refusals_come_back_on_the_loan_page(me: WebCustomer, platform: Platform):
    loan_id = lend(platform, me)
    page = me.get(f"/loans/{loan_id}/repay")
    assert page.status_code == 422
    assert "当前没有应还款项" in me.error
    page = me.get(f"/loans/{loan_id}/prepay?amount=5000.00")
    assert page.status_code == 422
    assert "不超过剩余本金 3,000.00 元" in me.error


def test_another_customers_loan_is_not_found(
    me: WebCustomer, client: TestClient, platform: Platform
):
    other = WebCustomer(TestClient(client.app), platform, "李雷", "13900000902", 902)
    loan_id = lend(platform, other)
    assert me.get(f"/loans/{loan_id}").status_code == 404
    assert me.get(f"/loans/{loan_id}/prepay").status_code == 404
    assert me.post(f"/loans/{loan_id}/prepay", client_id="steal").status_code == 404
    assert other.balance() == 300_000
