"""A merchant's operating loan repaid by a share of each day's e-Pay settlement: the
run takes the share of its payout towards what is due, once, and nothing that is not
due yet; e-Pay knows nothing of lending (the settlement's listener seam)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.clock import FrozenClock
from rongbank.lending.settlement_share import SettlementShareInvalid
from rongbank.payments.settlement import settle
from rongbank.platform import Platform
from tests.factories import payments as epay
from tests.factories.loans import assert_balanced, merchant_operating_loan
from tests.factories.people import People
from tests.support.api import ApiCustomer

# START is 2026-03-02 09:30 Beijing; a loan's first instalment falls due on 2026-04-02.
DUE = date(2026, 4, 2)


@pytest.fixture
def owner(client: TestClient, platform: Platform, people: People) -> ApiCustomer:
    return ApiCustomer(client, platform, people.register("王老板"))


@pytest.fixture
def merchant_id(platform: Platform, owner: ApiCustomer) -> int:
    return epay.merchant(platform, customer_id=owner.id, account=owner.account, name="老王面馆")


def operating_loan(platform: Platform, owner: ApiCustomer, merchant_id: int, share: int) -> int:
    loan_id = merchant_operating_loan(platform, customer_id=owner.id, account=owner.account)
    with platform.transaction() as session:
        platform.settlement_shares.attach(
            session, loan_id=loan_id, merchant_id=merchant_id, share_bps=share
        )
    return loan_id


def sell(platform: Platform, people: People, buyer: ApiCustomer, merchant_id: int, n: int) -> None:
    people.fund({"account": {"number": buyer.account}, "customer_id": buyer.id}, 5000_00)
    epay.paid(
        platform,
        merchant_id=merchant_id,
        customer_id=buyer.id,
        account=buyer.account,
        amount=5000_00,
        order_no=f"S{n}",
    )


def run(platform: Platform, merchant_id: int, day: date) -> int:
    with platform.transaction() as session:
        return settle(session, platform.payments, merchant_id=merchant_id, day=day).paid


def repaid(platform: Platform, loan_id: int) -> list[int]:
    with platform.transaction() as session:
        return [r.total for r in platform.loans.repayments.repayments(session, loan_id)]


def test_the_settlement_takes_the_share_towards_what_is_due_once(
    platform: Platform,
    clock: FrozenClock,
    people: People,
    customer: ApiCustomer,
    owner: ApiCustomer,
    merchant_id: int,
) -> None:
    loan_id = operating_loan(platform, owner, merchant_id, share=2000)
    clock.advance(timedelta(days=30))  # 2026-04-01
    sell(platform, people, customer, merchant_id, 1)
    clock.advance(timedelta(days=1))  # the first instalment is due today
    with platform.transaction() as session:
        due = platform.loans.repayments.due_now(session, loan_id).total
        before = platform.accounts.available(
            session, platform.accounts.account(session, owner.account)
        )

    paid = run(platform, merchant_id, DUE - timedelta(days=1))

    assert paid == 5000_00 - 30_00  # less the 0.6% fee
    assert repaid(platform, loan_id) == [paid * 20 // 100]
    assert paid * 20 // 100 < due
    with platform.transaction() as session:
        after = platform.accounts.available(
            session, platform.accounts.account(session, owner.account)
        )
        assert after - before == paid - paid * 20 // 100
        assert platform.loans.repayments.due_now(session, loan_id).total == due - paid // 5
        assert_balanced(session, platform.ledger)

    run(platform, merchant_id, DUE - timedelta(days=1))  # a run again takes nothing more

    assert repaid(platform, loan_id) == [paid * 20 // 100]


def test_nothing_is_taken_while_nothing_is_due(
    platform: Platform,
    clock: FrozenClock,
    people: People,
    customer: ApiCustomer,
    owner: ApiCustomer,
    merchant_id: int,
) -> None:
    loan_id = operating_loan(platform, owner, merchant_id, share=2000)
    sell(platform, people, customer, merchant_id, 1)
    clock.advance(timedelta(days=1))

    assert run(platform, merchant_id, date(2026, 3, 2)) == 5000_00 - 30_00

    assert repaid(platform, loan_id) == []


def test_a_consumer_loan_or_another_account_cannot_carry_a_share(
    platform: Platform, customer: ApiCustomer, owner: ApiCustomer, merchant_id: int
) -> None:
    with platform.transaction() as session:
        account = platform.accounts.account(session, customer.account)
        loan_id = platform.loans.disburse(
            session,
            customer_id=customer.id,
            account_id=account.id,
            product_code="personal_credit",
            principal_fen=10_000_00,
            term_months=12,
            method="equal_instalment",
            annual_rate_bps=720,
            grade="B",
            application_id=None,
            idempotency_key="c-1",
        )
        with pytest.raises(SettlementShareInvalid):
            platform.settlement_shares.attach(
                session, loan_id=loan_id, merchant_id=merchant_id, share_bps=2000
            )
