"""The end of day: accrual, auto-debit, penalty, days past due, the five categories,
provisions, write-off; once per date; the books agree with the loans after each."""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import FrozenClock
from rongbank.lending.book import Book
from rongbank.lending.products import Category, Classification
from rongbank.lending.rules import accrued
from rongbank.platform import Platform
from tests.factories.loans import Borrowers, assert_book_matches_loans, book_balances

LENT = date(2026, 3, 2)  # the fixture clock's business day
FIRST_DUE = date(2026, 4, 2)


def run(platform: Platform, session: Session, day: date):  # type: ignore[no-untyped-def]
    figures = platform.loans.end_of_day.run(session, day)
    assert_book_matches_loans(session, platform.ledger)
    return figures


def run_days(platform: Platform, session: Session, first: date, last: date) -> None:
    day = first
    while day <= last:
        run(platform, session, day)
        day += timedelta(days=1)


def events(session: Session, name: str) -> list[dict]:  # type: ignore[type-arg]
    return [
        row[0]
        for row in session.execute(
            text("SELECT payload FROM outbox_event WHERE name = :n ORDER BY id"), {"n": name}
        )
    ]


class TestAccrual:
    def test_interest_accrues_day_by_day_to_the_scheduled_amount(
        self, platform: Platform, borrowers: Borrowers
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            first = platform.loans.schedule(session, loan_id)[0]
            for day in (date(2026, 3, 3), date(2026, 3, 17), date(2026, 4, 1)):
                run(platform, session, day)
                expected = accrued(first.interest, period_start=LENT, due_date=FIRST_DUE, on=day)
                assert platform.loans.schedule(session, loan_id)[0].interest_accrued == expected
                assert book_balances(session, platform.ledger)[Book.INTEREST_INCOME] == -expected

    def test_a_fee_product_accrues_its_fee(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, product="yidai", rate=0)
            run(platform, session, date(2026, 3, 17))
            first = platform.loans.schedule(session, loan_id)[0]
            assert first.fee == 7_200
            assert first.fee_accrued == 7_200 * 15 // 31
            assert first.interest_accrued == 0


class TestCollection:
    def test_the_due_instalment_is_collected_on_its_due_date(
        self, platform: Platform, borrowers: Borrowers
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            figures = run(platform, session, FIRST_DUE)
            assert (figures.collected_loans, figures.collected, figures.collected_short) == (
                1,
                112_000,
                0,
            )
            assert borrowers.balance(session, account) == 1_200_000 - 112_000
            assert platform.loans.schedule(session, loan_id)[0].paid_at is not None
            [made] = platform.loans.repayments.repayments(session, loan_id)
            assert (made.kind, made.principal, made.interest) == ("auto_debit", 100_000, 12_000)

    def test_short_of_money_it_takes_what_there_is_and_the_loan_goes_overdue(
        self, platform: Platform, borrowers: Borrowers
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            borrowers.spend(session, account, 1_150_000)
            figures = run(platform, session, FIRST_DUE)
            assert (figures.collected, figures.collected_short) == (50_000, 1)
            assert borrowers.balance(session, account) == 0
            first = platform.loans.schedule(session, loan_id)[0]
            assert (first.interest_paid, first.principal_paid) == (12_000, 38_000)
            [overdue] = events(session, "lending.loan_overdue")
            assert (overdue["number"], overdue["unpaid"]) == (1, 62_000)

            figures = run(platform, session, FIRST_DUE + timedelta(days=1))
            loan = platform.loans.loan(session, loan_id=loan_id)
            assert (loan.days_past_due, loan.category) == (1, "special_mention")
            # A day of penalty on the 620 yuan overdue at 18% (1.5 x 12%) / 360.
            assert figures.penalty_accrued == round(62_000 * 0.18 / 360) == 31
            assert figures.rolls == {"normal>special_mention": 1}

    def test_money_arriving_later_pays_the_arrears_and_penalty_first(
        self, platform: Platform, borrowers: Borrowers
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            borrowers.spend(session, account, 1_200_000)
            run_days(platform, session, FIRST_DUE, FIRST_DUE + timedelta(days=5))
            first = platform.loans.schedule(session, loan_id)[0]
            # 1,000 yuan of principal overdue at 18% a year: 0.50 yuan a day (none on interest).
            assert first.penalty_accrued == 5 * 50
            borrowers.fund(session, account, 200_000)
            run(platform, session, FIRST_DUE + timedelta(days=6))
            first = platform.loans.schedule(session, loan_id)[0]
            assert first.paid_at is not None
            assert first.penalty_paid == first.penalty_accrued == 5 * 50
            loan = platform.loans.loan(session, loan_id=loan_id)
            assert (loan.days_past_due, loan.category) == (0, "normal")

    def test_due_in_three_days_is_told_once(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            account = borrowers.person(session)
            borrowers.lend(session, account, 1_200_000, rate=1200)
            run(platform, session, FIRST_DUE - timedelta(days=3))
            [soon] = events(session, "lending.instalment_due_soon")
            assert (soon["number"], soon["amount"], soon["due_date"]) == (1, 112_000, "2026-04-02")


class TestOncePerDate:
    def test_a_second_run_of_a_date_changes_nothing(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            borrowers.spend(session, account, 1_150_000)
            first = run(platform, session, FIRST_DUE)

            def state() -> tuple[object, ...]:
                return (
                    session.execute(text("SELECT count(*) FROM ledger_entry")).scalar_one(),
                    tuple(book_balances(session, platform.ledger).values()),
                    platform.loans.loan(session, loan_id=loan_id),
                    tuple(platform.loans.schedule(session, loan_id)),
                    borrowers.balance(session, account),
                    session.execute(text("SELECT count(*) FROM outbox_event")).scalar_one(),
                )

            before = state()
            again = run(platform, session, FIRST_DUE)
            assert state() == before
            assert again.already_run
            assert dataclasses.replace(again, already_run=False) == first

    def test_run_through_catches_up_the_dates_missed(
        self, platform: Platform, borrowers: Borrowers
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            borrowers.lend(session, account, 1_200_000, rate=1200)
            run(platform, session, date(2026, 3, 3))

            done = platform.loans.end_of_day.run_through(
                lambda: nullcontext(session), date(2026, 3, 7)
            )
        assert [f.business_date for f in done] == [
            "2026-03-04",
            "2026-03-05",
            "2026-03-06",
            "2026-03-07",
        ]


class TestClassification:
    def fast(self, platform: Platform) -> None:
        """Categories a few days apart, so that a test walks through all five."""
        products = platform.loans.products
        platform.loans.products = dataclasses.replace(
            products,
            classification=Classification(
                from_days={
                    Category.SPECIAL_MENTION: 1,
                    Category.SUBSTANDARD: 3,
                    Category.DOUBTFUL: 5,
                    Category.LOSS: 7,
                },
                provision_bps=products.classification.provision_bps,
                write_off_days=9,
            ),
        )

    def test_a_loan_never_paid_walks_through_the_categories_to_write_off(
        self, platform: Platform, borrowers: Borrowers
    ):
        self.fast(platform)
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            borrowers.spend(session, account, 1_200_000)
            run(platform, session, date(2026, 3, 3))
            loan = platform.loans.loan(session, loan_id=loan_id)
            assert (loan.category, loan.provision) == ("normal", 12_000)  # 1%
            seen = []
            for offset in range(10):
                run(platform, session, FIRST_DUE + timedelta(days=offset))
                loan = platform.loans.loan(session, loan_id=loan_id)
                seen.append((loan.days_past_due, loan.category, loan.provision, loan.status))
            assert seen == [
                (0, "normal", 12_000, "active"),
                (1, "special_mention", 24_000, "active"),
                (2, "special_mention", 24_000, "active"),
                (3, "substandard", 300_000, "active"),
                (4, "substandard", 300_000, "active"),
                (5, "doubtful", 600_000, "active"),
                (6, "doubtful", 600_000, "active"),
                (7, "loss", 1_200_000, "active"),
                (8, "loss", 1_200_000, "active"),
                (9, "loss", 0, "written_off"),
            ]
            books = book_balances(session, platform.ledger)
            assert (books[Book.PRINCIPAL], books[Book.ALLOWANCE], books[Book.INTEREST]) == (0, 0, 0)
            # What was lost is what providing cost: the principal, net of nothing recovered.
            assert books[Book.IMPAIRMENT] == 1_200_000
            assert platform.loans.outstanding_personal_principal(session, account.customer_id) == 0


class TestTheServerJob:
    def test_runs_the_dates_ended_since_the_last_run(
        self, platform: Platform, borrowers: Borrowers, clock: FrozenClock
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            borrowers.lend(session, account, 1_200_000, rate=1200)
        assert [f.business_date for f in platform.run_lending_eod()] == ["2026-03-01"]
        clock.advance(timedelta(days=3))
        done = platform.run_lending_eod()
        assert [f.business_date for f in done] == ["2026-03-02", "2026-03-03", "2026-03-04"]
        assert platform.run_lending_eod()[0].already_run
