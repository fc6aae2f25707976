"""The lending portfolio's figures on a book whose days past due are known
(``late_and_good``: two loans of the same month, one never paid, one paid by the end
of day, the month ends of March, April and May), and applications offered, declined
and in review."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from rongbank.lending.portfolio import Portfolio, Roll, Slice, VintagePoint
from rongbank.platform import Platform
from tests.factories.loans import GOOD, LATE, MONTH_ENDS, Borrowers, late_and_good
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.lending import FakeScorecard, apply

MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)


@pytest.fixture
def book(platform: Platform, borrowers: Borrowers) -> tuple[int, int]:
    return late_and_good(platform, borrowers)


def test_each_month_end_keeps_every_active_loans_days_past_due(
    platform: Platform, book: tuple[int, int]
) -> None:
    late, good = book
    with platform.transaction() as session:
        kept = session.execute(
            text("SELECT month, loan_id, days_past_due FROM loan_month_end ORDER BY 1, 2")
        ).all()
        # Not a month end: nothing kept.
        platform.loans.end_of_day.run(session, date(2026, 6, 1))
        again = session.execute(text("SELECT count(*) FROM loan_month_end")).scalar_one()

    assert [tuple(r) for r in kept] == [
        (MARCH, late, 0),
        (MARCH, good, 0),
        (APRIL, late, 28),  # due 2 April, unpaid on the 30th
        (APRIL, good, 0),
        (date(2026, 5, 1), late, 59),
        (date(2026, 5, 1), good, 0),
    ]
    assert again == 6


def test_roll_rates_buckets_and_vintages_of_the_book(
    platform: Platform, book: tuple[int, int]
) -> None:
    late, _ = book
    with platform.transaction() as session:
        figures = Portfolio(roll_months=2).figures(session)
        dashboard = Portfolio().figures(session)  # the latest month end's rolls only
        good_left = session.execute(
            text("SELECT principal_outstanding FROM loans WHERE id <> :l"), {"l": late}
        ).scalar_one()

    assert figures.as_of == date(2026, 5, 31)
    assert figures.rolls == [
        Roll(MARCH, "current", "1-30", 1, LATE),
        Roll(MARCH, "current", "current", 1, GOOD),
        Roll(APRIL, "1-30", "31-60", 1, LATE),
        Roll(APRIL, "current", "current", 1, GOOD - 50_000),  # a twelfth paid in April
    ]
    assert figures.roll_months == [MARCH, APRIL]
    assert dashboard.rolls == figures.rolls[2:]
    assert figures.roll_matrix(MARCH) == {"current": {"1-30": 0.5, "current": 0.5}}
    assert figures.roll_matrix(APRIL) == {"1-30": {"31-60": 1.0}, "current": {"current": 1.0}}
    # The March vintage: a third of its principal 30+ days past due from its third
    # month end (months on book 2) on.
    assert figures.vintages == [
        VintagePoint(MARCH, 0, LATE + GOOD, 0),
        VintagePoint(MARCH, 1, LATE + GOOD, 0),
        VintagePoint(MARCH, 2, LATE + GOOD, LATE),
    ]
    assert figures.vintages[-1].share == pytest.approx(2 / 3)
    assert figures.buckets == [
        Slice("current", 1, good_left, figures.buckets[0].provision),
        Slice("1-30", 0, 0, 0),
        Slice("31-60", 1, LATE, figures.buckets[2].provision),
        Slice("61-90", 0, 0, 0),
        Slice("90+", 0, 0, 0),
    ]
    by_category = {c.name: (c.loans, c.principal) for c in figures.categories}
    assert by_category["normal"] == (1, good_left)
    assert sum(n for n, _ in by_category.values()) == 2
    assert sum(c.provision for c in figures.categories) == sum(b.provision for b in figures.buckets)


def test_a_repaid_loan_rolls_to_repaid(platform: Platform, borrowers: Borrowers) -> None:
    with platform.transaction() as session:
        account = borrowers.person(session)
        loan = borrowers.lend(session, account, 300_000, term=3)  # the last due 2 June
        borrowers.fund(session, account, 50_000)  # the interest
        for day in (*MONTH_ENDS, date(2026, 6, 30)):
            platform.loans.end_of_day.run(session, day)
        rolls = Portfolio(roll_months=3).rolls(session, date(2026, 6, 30))
        status = session.execute(
            text("SELECT status FROM loans WHERE id = :l"), {"l": loan}
        ).scalar_one()

    assert status == "repaid"
    assert rolls == [
        Roll(MARCH, "current", "current", 1, 300_000),
        Roll(APRIL, "current", "current", 1, 200_000),
        Roll(date(2026, 5, 1), "current", "repaid", 1, 100_000),
    ]


def test_applications_by_day_with_the_approval_rate(
    platform: Platform, people: People, scorer: FakeScorecard, client: object
) -> None:
    def customer() -> ApiCustomer:
        return ApiCustomer(client, platform, people.register())  # type: ignore[arg-type]

    assert apply(customer()).json()["status"] == "offered"
    assert apply(customer()).json()["status"] == "offered"
    assert apply(customer(), amount="110000.00").json()["status"] == "review"
    scorer.points = 300
    assert apply(customer()).json()["status"] == "declined"
    with platform.transaction() as session:
        platform.loans.end_of_day.run(session, date(2026, 3, 2))
        days = Portfolio().figures(session).applications

    assert [(d.day, d.applications, d.decided, d.offered) for d in days] == [
        (date(2026, 3, 2), 4, 3, 2)
    ]
    assert days[0].approval_rate == pytest.approx(2 / 3)


def test_an_empty_book_has_no_figures(platform: Platform) -> None:
    with platform.transaction() as session:
        figures = Portfolio().figures(session)
    assert figures.as_of is None
    assert figures.rolls == []
    assert figures.vintages == []
