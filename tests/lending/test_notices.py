"""融e联 notices of loans: lent, due in three days, overdue; with the customer's
preferences (due-soon can be switched off, overdue cannot); the borrowers segment."""

from __future__ import annotations

from datetime import date, timedelta

from rongbank.platform import Platform
from tests.factories.loans import Borrowers
from tests.support.lending import notices

FIRST_DUE = date(2026, 4, 2)


def test_lent_due_soon_and_overdue(platform: Platform, borrowers: Borrowers) -> None:
    with platform.transaction() as session:
        account = borrowers.person(session)
        borrowers.lend(session, account, 1_200_000, rate=1200)
        borrowers.spend(session, account, 1_200_000)
    [lent] = notices(platform, account.customer_id, "money_received")
    assert lent["title"] == "贷款到账"
    assert "年化利率12.00%" in lent["text"]
    assert "2026-04-02应还1,120.00元" in lent["text"]
    assert lent["en"]["title"] == "Loan received"

    with platform.transaction() as session:
        platform.loans.end_of_day.run(session, FIRST_DUE - timedelta(days=3))
    [soon] = notices(platform, account.customer_id, "due_soon")
    assert soon["title"] == "还款提醒"
    assert "第1期 1,120.00元 将于2026-04-02到期" in soon["text"]

    with platform.transaction() as session:
        platform.loans.end_of_day.run(session, FIRST_DUE)
    [late] = notices(platform, account.customer_id, "payment_failed")
    assert late["title"] == "贷款逾期"
    assert late["en"]["title"] == "Loan overdue"
    assert "尚有 1,120.00元 未还" in late["text"]
    assert notices(platform, account.customer_id, "payment_failed") == [late]  # told once


def test_due_soon_follows_the_preference(platform: Platform, borrowers: Borrowers) -> None:
    with platform.transaction() as session:
        account = borrowers.person(session)
        borrowers.lend(session, account, 1_200_000, rate=1200)
        platform.push.set_preferences(session, account.customer_id, {"due_soon": False})
        platform.loans.end_of_day.run(session, FIRST_DUE - timedelta(days=3))
    assert notices(platform, account.customer_id, "due_soon") == []


def test_borrowers_are_customers_with_a_loan(platform: Platform, borrowers: Borrowers) -> None:
    with platform.transaction() as session:
        account = borrowers.person(session)
        borrowers.person(session, "李四")
        assert platform.push.segment_sizes(session)["borrowers"] == 0
        borrowers.lend(session, account)
        assert platform.push.segment_sizes(session)["borrowers"] == 1
