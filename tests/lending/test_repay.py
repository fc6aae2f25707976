"""Repaying what is due from the e-account: in full, in part, once per key, and never
twice when two repayments race."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from rongbank.clock import FrozenClock
from rongbank.ledger.errors import ExceedsCredits
from rongbank.lending.book import Book
from rongbank.lending.errors import LoanNotActive, NothingDue, RepaymentAboveDue, RepaymentConflict
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories.loans import (
    Borrowers,
    assert_balanced,
    assert_book_matches_loans,
    book_balances,
)

# START is 2026-03-02 09:30 Beijing; the first instalment falls due on 2026-04-02.
TO_FIRST_DUE = timedelta(days=31)


class TestRepay:
    def test_nothing_is_due_before_the_due_date(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account)
            with pytest.raises(NothingDue):
                platform.loans.repayments.repay(
                    session, customer_id=account.customer_id, loan_id=loan_id, idempotency_key="r1"
                )

    def test_the_due_instalment_is_paid_from_the_e_account(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)  # equal principal
            clock.advance(TO_FIRST_DUE)
            made, now = platform.loans.repayments.repay(
                session, customer_id=account.customer_id, loan_id=loan_id, idempotency_key="r1"
            )
            assert now
            assert (made.principal, made.interest, made.fee, made.penalty) == (
                100_000,
                12_000,
                0,
                0,
            )
            assert borrowers.balance(session, account) == 1_200_000 - 112_000
            loan = platform.loans.loan(session, loan_id=loan_id)
            assert loan.principal_outstanding == 1_100_000
            first = platform.loans.schedule(session, loan_id)[0]
            assert first.paid_at is not None
            assert first.interest_accrued == first.interest_paid == 12_000
            books = book_balances(session, platform.ledger)
            assert books[Book.PRINCIPAL] == 1_100_000
            assert books[Book.INTEREST] == 0
            assert books[Book.INTEREST_INCOME] == -12_000
            assert_balanced(session, platform.ledger)

    def test_a_part_pays_interest_before_principal(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            clock.advance(TO_FIRST_DUE)
            made, _ = platform.loans.repayments.repay(
                session,
                customer_id=account.customer_id,
                loan_id=loan_id,
                idempotency_key="r1",
                amount=20_000,
            )
            assert (made.interest, made.principal) == (12_000, 8_000)
            assert platform.loans.repayments.due_now(session, loan_id).total == 92_000
            assert platform.loans.schedule(session, loan_id)[0].paid_at is None
            assert_balanced(session, platform.ledger)

    def test_more_than_is_due_is_refused(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            clock.advance(TO_FIRST_DUE)
            with pytest.raises(RepaymentAboveDue) as refused:
                platform.loans.repayments.repay(
                    session,
                    customer_id=account.customer_id,
                    loan_id=loan_id,
                    idempotency_key="r1",
                    amount=112_001,
                )
            assert refused.value.details == {"due": "1120.00"}

    def test_a_retry_answers_the_first_and_pays_nothing_more(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            clock.advance(TO_FIRST_DUE)
            repay = platform.loans.repayments.repay
            first, _ = repay(
                session, customer_id=account.customer_id, loan_id=loan_id, idempotency_key="r1"
            )
            again, now = repay(
                session, customer_id=account.customer_id, loan_id=loan_id, idempotency_key="r1"
            )
            assert (again, now) == (first, False)
            assert borrowers.balance(session, account) == 1_200_000 - 112_000
            with pytest.raises(RepaymentConflict):
                repay(
                    session,
                    customer_id=account.customer_id,
                    loan_id=loan_id,
                    idempotency_key="r1",
                    amount=5,
                )

    def test_short_of_money_nothing_is_written(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            borrowers.spend(session, account, 1_100_000)
            clock.advance(TO_FIRST_DUE)
            with pytest.raises(ExceedsCredits):
                platform.loans.repayments.repay(
                    session, customer_id=account.customer_id, loan_id=loan_id, idempotency_key="r1"
                )
            assert borrowers.balance(session, account) == 100_000
            assert platform.loans.repayments.repayments(session, loan_id) == []
            assert platform.loans.loan(session, loan_id=loan_id).principal_outstanding == 1_200_000

    def test_the_last_instalment_closes_the_loan(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            borrowers.fund(session, account, 100_000)
            loan_id = borrowers.lend(session, account, 300_000, term=3, rate=1200)
            for n in range(3):
                clock.advance(timedelta(days=31))
                platform.loans.repayments.repay(
                    session,
                    customer_id=account.customer_id,
                    loan_id=loan_id,
                    idempotency_key=f"r{n}",
                )
            loan = platform.loans.loan(session, loan_id=loan_id)
            assert (loan.status, loan.principal_outstanding) == ("repaid", 0)
            assert loan.closed_at is not None
            assert borrowers.balance(session, account) == 100_000 - (3_000 + 2_000 + 1_000)
            with pytest.raises(LoanNotActive):
                platform.loans.repayments.repay(
                    session, customer_id=account.customer_id, loan_id=loan_id, idempotency_key="r9"
                )
            books = book_balances(session, platform.ledger)
            assert (books[Book.PRINCIPAL], books[Book.INTEREST]) == (0, 0)
            assert books[Book.INTEREST_INCOME] == -6_000
            assert_balanced(session, platform.ledger)


@pytest.fixture
def live(fresh_db: str, clock: FrozenClock) -> Iterator[Platform]:
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    try:
        yield platform
    finally:
        platform.close()


@pytest.mark.slow
def test_concurrent_repayments_never_pay_twice(live: Platform, clock: FrozenClock):
    borrowers = Borrowers(live)
    with live.transaction() as session:
        account = borrowers.person(session)
        borrowers.fund(session, account, 1_000_000)
        loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
    clock.advance(TO_FIRST_DUE)
    threads, start = 8, threading.Barrier(8)
    outcomes: list[object] = []

    def repay(n: int) -> None:
        start.wait()
        try:
            with live.transaction() as session:
                made, _ = live.loans.repayments.repay(
                    session,
                    customer_id=account.customer_id,
                    loan_id=loan_id,
                    idempotency_key=f"race-{n % 4}",  # two threads per key, four keys
                    amount=None,
                )
                outcomes.append(made.id)
        except NothingDue as refused:
            outcomes.append(refused)
        except BaseException as error:  # a deadlock or anything else fails the test
            outcomes.append(error)

    workers = [threading.Thread(target=repay, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    made = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, NothingDue)]
    assert len(made) + len(refused) == threads, outcomes
    assert len(set(made)) == 1  # one repayment; its retry under the same key answers it
    with live.transaction() as session:
        assert borrowers.balance(session, account) == 1_000_000 + 1_200_000 - 112_000
        assert len(live.loans.repayments.repayments(session, loan_id)) == 1
        assert_balanced(session, live.ledger)


@pytest.mark.slow
def test_a_repayment_racing_the_end_of_day_is_paid_once(live: Platform, clock: FrozenClock):
    """The customer repays on the due date while the end of day collects it: one of
    them takes the instalment, the other finds nothing due; neither waits forever."""
    borrowers = Borrowers(live)
    with live.transaction() as session:
        account = borrowers.person(session)
        loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
    clock.advance(TO_FIRST_DUE)
    due_date = live.loans.business_day()
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def customer() -> None:
        start.wait()
        try:
            with live.transaction() as session:
                made, _ = live.loans.repayments.repay(
                    session, customer_id=account.customer_id, loan_id=loan_id, idempotency_key="r"
                )
                outcomes.append(made.kind)
        except NothingDue:
            outcomes.append("nothing due")
        except BaseException as error:
            outcomes.append(error)

    def end_of_day() -> None:
        start.wait()
        try:
            with live.transaction() as session:
                figures = live.loans.end_of_day.run(session, due_date)
                outcomes.append(f"eod collected {figures.collected_loans}")
        except BaseException as error:
            outcomes.append(error)

    workers = [threading.Thread(target=customer), threading.Thread(target=end_of_day)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(map(str, outcomes)) in (
        ["eod collected 0", "repay"],
        ["eod collected 1", "nothing due"],
    ), outcomes
    with live.transaction() as session:
        assert borrowers.balance(session, account) == 1_200_000 - 112_000
        assert len(live.loans.repayments.repayments(session, loan_id)) == 1
        assert_book_matches_loans(session, live.ledger)
