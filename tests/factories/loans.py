"""Borrowers with loans, made through the lending service; the books' checks."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import EAccount
from rongbank.ledger.errors import AccountNotFound
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import LedgerService, Transfer
from rongbank.lending.book import Book
from rongbank.platform import Platform
from tests.factories.accounts import People


class Borrowers(People):
    """Persons with a class II e-account each, and loans lent to them."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform.accounts, platform.ledger)
        self.platform = platform
        self._keys = itertools.count(1)

    def spend(self, session: Session, account: EAccount, amount: int) -> None:
        """Money leaves the account (to the test vault), as if the customer spent it."""
        vault, _ = self.ledger.create_account(
            session, code="bank:test-vault", currency=account.currency, type=AccountType.ASSET
        )
        self.ledger.transfer(
            session,
            Transfer(
                client_id=f"spend:{account.number}:{next(self._keys)}",
                debit_account=account.ledger_account_id,
                credit_account=vault.id,
                amount=amount,
                currency=account.currency,
            ),
        )

    def lend(
        self,
        session: Session,
        account: EAccount,
        principal: int = 1_200_000,
        *,
        product: str = "personal_credit",
        term: int = 12,
        method: str = "equal_principal",
        rate: int = 1200,
        grade: str = "B",
        key: str | None = None,
    ) -> int:
        return self.platform.loans.disburse(
            session,
            customer_id=account.customer_id,
            account_id=account.id,
            product_code=product,
            principal_fen=principal,
            term_months=term,
            method=method,
            annual_rate_bps=rate,
            grade=grade,
            application_id=None,
            idempotency_key=key or f"loan-{next(self._keys)}",
        )


def book_balances(session: Session, ledger: LedgerService) -> dict[Book, int]:
    """Each lending account's posted debits less credits (0 for one not yet opened)."""
    found = {}
    for book in Book:
        try:
            row = ledger.account(session, book.value)
        except AccountNotFound:  # not opened yet
            found[book] = 0
        else:
            found[book] = row.debits_posted - row.credits_posted
    return found


def assert_balanced(session: Session, ledger: LedgerService) -> None:
    """The trial balance is zero in every currency and the journal recomputes to the
    accounts' totals."""
    for row in ledger.trial_balance(session):
        assert row.debits_posted == row.credits_posted, row.currency
        assert row.debits_pending == row.credits_pending, row.currency
    assert ledger.verify(session) == {}


def assert_book_matches_loans(session: Session, ledger: LedgerService) -> None:
    """The ledger balances, and the lending accounts carry the sums of the loans: the
    principal outstanding, receivables accrued and unpaid, provisions (active loans)."""
    assert_balanced(session, ledger)
    principal, provision, interest, fee, penalty = session.execute(
        text(
            "SELECT (SELECT coalesce(sum(principal_outstanding), 0) FROM loans "
            "WHERE status = 'active'), (SELECT coalesce(sum(provision), 0) FROM loans "
            "WHERE status = 'active'), coalesce(sum(i.interest_accrued - i.interest_paid), 0), "
            "coalesce(sum(i.fee_accrued - i.fee_paid), 0), "
            "coalesce(sum(i.penalty_accrued - i.penalty_paid), 0) "
            "FROM loan_instalments i JOIN loans l ON l.id = i.loan_id WHERE l.status = 'active'"
        )
    ).one()
    books = book_balances(session, ledger)
    assert books[Book.PRINCIPAL] == principal
    assert books[Book.INTEREST] == interest
    assert books[Book.FEE] == fee
    assert books[Book.PENALTY] == penalty
    assert books[Book.ALLOWANCE] == -provision


MONTH_ENDS = (date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31))
LATE, GOOD = 1_200_000, 600_000


def late_and_good(platform: Platform, borrowers: Borrowers) -> tuple[int, int]:
    """Two loans lent on 2 March 2026 (first due 2 April), ``LATE`` never paid (its
    e-account spent) and ``GOOD`` paid by the end of day, run on ``MONTH_ENDS`` (accrual
    to date and days past due need no day between): 28 days past due at the end of
    April, 59 at the end of May. Answers the loans' ids."""
    with platform.transaction() as session:
        late_account, good_account = borrowers.person(session), borrowers.person(session)
        late = borrowers.lend(session, late_account, LATE)
        borrowers.spend(session, late_account, LATE)
        good = borrowers.lend(session, good_account, GOOD)
        for day in MONTH_ENDS:
            platform.loans.end_of_day.run(session, day)
    return late, good


def merchant_operating_loan(
    platform: Platform, *, customer_id: int, account: str, key: str = "op-1"
) -> int:
    """A 50,000-yuan twelve-month operating loan lent into ``account`` (a merchant's
    settlement account); its id."""
    with platform.transaction() as session:
        found = platform.accounts.account(session, account)
        return platform.loans.disburse(
            session,
            customer_id=customer_id,
            account_id=found.id,
            product_code="merchant_operating",
            principal_fen=50_000_00,
            term_months=12,
            method="equal_instalment",
            annual_rate_bps=550,
            grade="B",
            application_id=None,
            idempotency_key=key,
        )
