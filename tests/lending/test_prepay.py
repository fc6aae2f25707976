"""Early repayment, full or partial, with the schedule recomputed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from rongbank.clock import FrozenClock
from rongbank.lending.book import Book
from rongbank.lending.errors import EarlyRepaymentInvalid
from rongbank.platform import Platform
from tests.factories.loans import Borrowers, assert_balanced, book_balances


def outstanding_matches_schedule(platform: Platform, session, loan_id: int) -> None:  # type: ignore[no-untyped-def]
    loan = platform.loans.loan(session, loan_id=loan_id)
    schedule = platform.loans.schedule(session, loan_id)
    assert loan.principal_outstanding == sum(i.principal - i.principal_paid for i in schedule)
    assert sum(i.principal for i in schedule) == loan.principal


class TestEarlyRepayment:
    def test_in_full_pays_the_principal_and_the_interest_of_the_days_run(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            borrowers.fund(session, account, 50_000)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)  # 12 x 100,000
            clock.advance(timedelta(days=10))  # 10 of the first period's 31 days
            made, _ = platform.loans.repayments.prepay(
                session, customer_id=account.customer_id, loan_id=loan_id, idempotency_key="p1"
            )
            assert made.kind == "early_full"
            assert (made.principal, made.interest) == (1_200_000, 12_000 * 10 // 31)
            loan = platform.loans.loan(session, loan_id=loan_id)
            assert (loan.status, loan.principal_outstanding) == ("repaid", 0)
            schedule = platform.loans.schedule(session, loan_id)
            assert len(schedule) == 1
            assert schedule[0].due_date == date(2026, 3, 12)
            assert borrowers.balance(session, account) == 50_000 - 3_870
            books = book_balances(session, platform.ledger)
            assert (books[Book.PRINCIPAL], books[Book.INTEREST]) == (0, 0)
            assert_balanced(session, platform.ledger)

    def test_in_part_keeps_the_due_dates_and_lowers_the_payments(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(
                session, account, 1_200_000, rate=1200, term=12, method="equal_instalment"
            )
            before = platform.loans.schedule(session, loan_id)
            clock.advance(timedelta(days=10))
            made, _ = platform.loans.repayments.prepay(
                session,
                customer_id=account.customer_id,
                loan_id=loan_id,
                idempotency_key="p1",
                principal=600_000,
            )
            assert made.kind == "early_partial"
            assert made.principal == 600_000
            after = platform.loans.schedule(session, loan_id)
            assert len(after) == 13  # the first period, cut short, and the 12 due dates
            assert [i.due_date for i in after[1:]] == [i.due_date for i in before]
            assert after[0].paid_at is not None
            assert after[1].period_start == date(2026, 3, 12)
            assert all(a.total < b.total for a, b in zip(after[2:], before[1:], strict=True))
            outstanding_matches_schedule(platform, session, loan_id)
            assert platform.loans.loan(session, loan_id=loan_id).principal_outstanding == 600_000
            assert_balanced(session, platform.ledger)

    def test_arrears_are_paid_with_it(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            clock.advance(timedelta(days=40))  # the first instalment is 9 days overdue
            made, _ = platform.loans.repayments.prepay(
                session,
                customer_id=account.customer_id,
                loan_id=loan_id,
                idempotency_key="p1",
                principal=100_000,
            )
            assert made.principal == 200_000  # the overdue instalment's and the early one
            assert platform.loans.loan(session, loan_id=loan_id).days_past_due == 0
            outstanding_matches_schedule(platform, session, loan_id)
            assert_balanced(session, platform.ledger)

    def test_more_than_the_principal_left_is_refused(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            with pytest.raises(EarlyRepaymentInvalid):
                platform.loans.repayments.prepay(
                    session,
                    customer_id=account.customer_id,
                    loan_id=loan_id,
                    idempotency_key="p1",
                    principal=1_200_001,
                )

    def test_a_bullet_loan_repaid_in_part(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(
                session,
                account,
                2_000_000,
                product="enterprise_operating",
                method="bullet",
                term=6,
                rate=600,
            )
            clock.advance(timedelta(days=30))
            platform.loans.repayments.prepay(
                session,
                customer_id=account.customer_id,
                loan_id=loan_id,
                idempotency_key="p1",
                principal=1_000_000,
            )
            after = platform.loans.schedule(session, loan_id)
            assert [i.principal for i in after] == [1_000_000, 1_000_000]
            assert after[1].due_date == date(2026, 9, 2)
            # 1,000,000 at 6% for 6 months is 30,000, charged for the 154 of 184 days left.
            assert after[1].interest == round(30_000 * 154 / 184)
            outstanding_matches_schedule(platform, session, loan_id)
            assert_balanced(session, platform.ledger)
