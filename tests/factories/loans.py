"""Borrowers with loans, made through the lending service; the books' checks."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from rongbank.accounts.service import EAccount
from rongbank.ledger.errors import AccountNotFound
from rongbank.ledger.service import LedgerService
from rongbank.lending.book import Book
from rongbank.platform import Platform
from tests.factories.accounts import People


class Borrowers(People):
    """Persons with a class II e-account each, and loans lent to them."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform.accounts, platform.ledger)
        self.platform = platform
        self._keys = itertools.count(1)

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
