"""The bank's own ledger accounts for lending, and one helper that writes every loan
movement to them.

The ledger holds the book in total; ``loans`` and ``loan_instalments`` are the
subledger whose sums these accounts carry (one entry per movement of one loan, one
entry per day for what the end of day does to the whole book at once):

- ``lending:principal`` (asset): principal lent and not yet repaid or written off.
- ``lending:interest`` / ``lending:fee`` / ``lending:penalty`` (assets): interest,
  fees and penalty interest accrued and not yet paid (应收利息...).
- ``lending:interest-income`` / ``lending:fee-income`` / ``lending:penalty-income``
  (income): what the accruals earned.
- ``lending:allowance``: the loan-loss allowance (贷款损失准备), a contra-asset, so an
  asset account that may only hold a credit balance; ``lending:impairment``
  (expense) is what providing cost (credited back when a provision is released).

A write-off takes a loss loan's principal and accrued receivables off the book
against its allowance.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from sqlalchemy.orm import Session

from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import LedgerService

CURRENCY = "CNY"


class Book(enum.StrEnum):
    PRINCIPAL = "lending:principal"
    INTEREST = "lending:interest"
    FEE = "lending:fee"
    PENALTY = "lending:penalty"
    INTEREST_INCOME = "lending:interest-income"
    FEE_INCOME = "lending:fee-income"
    PENALTY_INCOME = "lending:penalty-income"
    ALLOWANCE = "lending:allowance"
    IMPAIRMENT = "lending:impairment"


_ACCOUNTS: Mapping[Book, tuple[str, AccountType, BalanceRule]] = {
    Book.PRINCIPAL: (
        "loans: principal receivable",
        AccountType.ASSET,
        BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS,
    ),
    Book.INTEREST: (
        "loans: interest receivable",
        AccountType.ASSET,
        BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS,
    ),
    Book.FEE: (
        "loans: fees receivable",
        AccountType.ASSET,
        BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS,
    ),
    Book.PENALTY: (
        "loans: penalty interest receivable",
        AccountType.ASSET,
        BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS,
    ),
    Book.INTEREST_INCOME: ("loans: interest income", AccountType.INCOME, BalanceRule.NONE),
    Book.FEE_INCOME: ("loans: fee income", AccountType.INCOME, BalanceRule.NONE),
    Book.PENALTY_INCOME: ("loans: penalty interest income", AccountType.INCOME, BalanceRule.NONE),
    Book.ALLOWANCE: (
        "loans: loan-loss allowance (contra-asset)",
        AccountType.ASSET,
        BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS,
    ),
    Book.IMPAIRMENT: ("loans: impairment expense", AccountType.EXPENSE, BalanceRule.NONE),
}


class LendingBook:
    """The lending accounts' ids, opened on first use. Kept once every account was
    found already there (so committed): ids of accounts opened in a transaction that
    may still roll back are never kept."""

    def __init__(self, ledger: LedgerService) -> None:
        self.ledger = ledger
        self._ids: dict[Book, int] | None = None

    def ids(self, session: Session) -> dict[Book, int]:
        if self._ids is not None:
            return self._ids
        ids, opened = {}, False
        for book, (name, type_, rule) in _ACCOUNTS.items():
            row, created = self.ledger.create_account(
                session, code=book.value, name=name, currency=CURRENCY, type=type_, rule=rule
            )
            ids[book] = row.id
            opened = opened or created
        if not opened:
            self._ids = ids
        return ids
