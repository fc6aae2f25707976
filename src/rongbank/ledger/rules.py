"""The ledger's state machine, pure: no I/O, no clock.

The service locks the accounts a batch touches, loads them into a :class:`Book`,
and applies each command here in order. The book decides what is allowed and
computes every posting's running balance; the database then stores the outcome in
one statement. Keeping the decisions in plain Python makes them exhaustively
testable (see ``tests/ledger/test_rules.py``) and fast: a batch of thousands of
transfers costs microseconds per transfer here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rongbank.ledger.errors import (
    AccountFrozen,
    BalanceOverflow,
    ExceedsCredits,
    ExceedsDebits,
    UnbalancedEntry,
)

MAX_TOTAL = 2**63 - 1  # PostgreSQL bigint


class AccountType(StrEnum):
    """The five classes of a chart of accounts."""

    ASSET = "asset"
    """What the bank owns or is owed: cash at the central bank, loans to customers."""
    LIABILITY = "liability"
    """What the bank owes: customers' deposits, money in transit to other banks."""
    EQUITY = "equity"
    """The owners' stake: capital, retained earnings."""
    INCOME = "income"
    """Interest and fees earned."""
    EXPENSE = "expense"
    """Interest paid to depositors, losses, costs."""

    @property
    def debit_normal(self) -> bool:
        """Asset and expense balances grow with debits; the others with credits."""
        return self in (AccountType.ASSET, AccountType.EXPENSE)


class BalanceRule(StrEnum):
    """What an account's totals may never do (plus its overdraft limit)."""

    NONE = "none"
    """No limit: the bank's own settlement and suspense accounts."""
    DEBITS_MUST_NOT_EXCEED_CREDITS = "debits_must_not_exceed_credits"
    """A deposit: it cannot be spent below zero (or below minus the overdraft limit).
    Pending debits count, so reserved money cannot be spent twice."""
    CREDITS_MUST_NOT_EXCEED_DEBITS = "credits_must_not_exceed_debits"
    """The mirror image: e.g. a loan asset that cannot be repaid beyond what was lent."""


@dataclass(slots=True)
class AccountState:
    id: int
    currency: str
    type: AccountType
    rule: BalanceRule
    overdraft_limit: int
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0
    frozen: bool = False
    """No debit may be made to it (a customer's deposit frozen by the bank or by an
    authority), but with the stated authority to (``frozen_ok``); credits still may.
    Money already reserved by a hold may still be posted or released."""

    def copy(self) -> AccountState:
        return AccountState(
            self.id,
            self.currency,
            self.type,
            self.rule,
            self.overdraft_limit,
            self.debits_posted,
            self.credits_posted,
            self.debits_pending,
            self.credits_pending,
            self.frozen,
        )

    @property
    def net_posted(self) -> int:
        """Posted debits minus posted credits: the sign convention of the journal."""
        return self.debits_posted - self.credits_posted

    def check(self) -> None:
        for total in (
            self.debits_posted,
            self.credits_posted,
            self.debits_pending,
            self.credits_pending,
        ):
            if total > MAX_TOTAL:
                raise BalanceOverflow(account_id=self.id)
        if self.rule is BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS:
            if (
                self.debits_posted + self.debits_pending
                > self.credits_posted + self.overdraft_limit
            ):
                raise ExceedsCredits(account_id=self.id)
        elif (
            self.rule is BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS
            and self.credits_posted + self.credits_pending
            > self.debits_posted + self.overdraft_limit
        ):
            raise ExceedsDebits(account_id=self.id)


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a movement: ``amount`` > 0 debits the account, < 0 credits it."""

    account_id: int
    amount: int


@dataclass(frozen=True, slots=True)
class PostingPlan:
    account_id: int
    currency: str
    amount: int
    pending: bool
    balance_after: int


def check_balanced(legs: Iterable[tuple[str, int]]) -> None:
    """Raise unless the signed amounts sum to zero in every currency."""
    totals: dict[str, int] = {}
    for currency, amount in legs:
        totals[currency] = totals.get(currency, 0) + amount
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise UnbalancedEntry(totals={c: str(t) for c, t in unbalanced.items()})


class Book:
    """The working state of the locked accounts during one batch.

    Every method either applies its whole change or raises and changes nothing.
    Linked chains use :meth:`savepoint` / :meth:`rollback_to` to undo the members
    that had already been applied when a later member fails.
    """

    def __init__(self, accounts: Mapping[int, AccountState]) -> None:
        self.accounts = dict(accounts)
        self._undo: list[tuple[int, AccountState]] = []
        self.touched: set[int] = set()

    def savepoint(self) -> int:
        return len(self._undo)

    def rollback_to(self, savepoint: int) -> None:
        while len(self._undo) > savepoint:
            account_id, previous = self._undo.pop()
            self.accounts[account_id] = previous

    def release_savepoints(self) -> None:
        self._undo.clear()

    def transfer(
        self,
        debit_id: int,
        credit_id: int,
        amount: int,
        *,
        pending: bool = False,
        frozen_ok: bool = False,
    ) -> list[PostingPlan]:
        """The common case, a two-leg movement between accounts of one currency, without
        the general path's bookkeeping (it is most of a batch's Python time).
        ``frozen_ok``: the caller holds the authority to debit a frozen account."""
        if self.accounts[debit_id].frozen and not frozen_ok:
            raise AccountFrozen(account_id=debit_id)
        debit = self.accounts[debit_id].copy()
        credit = self.accounts[credit_id].copy()
        if debit.currency != credit.currency:
            raise UnbalancedEntry(
                totals={debit.currency: str(amount), credit.currency: str(-amount)}
            )
        if pending:
            debit.debits_pending += amount
            credit.credits_pending += amount
        else:
            debit.debits_posted += amount
            credit.credits_posted += amount
        debit.check()
        credit.check()
        self._undo.append((debit_id, self.accounts[debit_id]))
        self._undo.append((credit_id, self.accounts[credit_id]))
        self.accounts[debit_id] = debit
        self.accounts[credit_id] = credit
        self.touched.add(debit_id)
        self.touched.add(credit_id)
        return [
            PostingPlan(debit_id, debit.currency, amount, pending, debit.net_posted),
            PostingPlan(credit_id, credit.currency, -amount, pending, credit.net_posted),
        ]

    def apply(
        self,
        legs: Sequence[Leg],
        *,
        pending: bool = False,
        release: tuple[int, int, int] | None = None,
        frozen_ok: bool = False,
    ) -> list[PostingPlan]:
        """Apply balanced ``legs`` (as pending or posted amounts), after first
        releasing a pending reservation ``(debit_account, credit_account, amount)``
        if given. Returns the postings to store, in order. A frozen account is not
        debited unless ``frozen_ok`` or the debit posts the reservation released."""
        check_balanced((self.accounts[leg.account_id].currency, leg.amount) for leg in legs)
        reserved = release[0] if release is not None else None
        for leg in legs:
            if (
                leg.amount > 0
                and self.accounts[leg.account_id].frozen
                and not frozen_ok
                and leg.account_id != reserved
            ):
                raise AccountFrozen(account_id=leg.account_id)
        new: dict[int, AccountState] = {}

        def state(account_id: int) -> AccountState:
            if account_id not in new:
                new[account_id] = self.accounts[account_id].copy()
            return new[account_id]

        if release is not None:
            debit_id, credit_id, amount = release
            state(debit_id).debits_pending -= amount
            state(credit_id).credits_pending -= amount
        plans: list[PostingPlan] = []
        for leg in legs:
            account = state(leg.account_id)
            if pending:
                if leg.amount > 0:
                    account.debits_pending += leg.amount
                else:
                    account.credits_pending -= leg.amount
            elif leg.amount > 0:
                account.debits_posted += leg.amount
            else:
                account.credits_posted -= leg.amount
            plans.append(
                PostingPlan(
                    leg.account_id, account.currency, leg.amount, pending, account.net_posted
                )
            )
        for account in new.values():
            account.check()
        for account_id, account in new.items():
            self._undo.append((account_id, self.accounts[account_id]))
            self.accounts[account_id] = account
            self.touched.add(account_id)
        return plans


def request_hash(kind: str, values: Sequence[Any]) -> bytes:
    """A fingerprint of what a request asked for, to tell an honest retry (same
    client id, same content) from a client id reused for something else. Values are
    plain numbers, strings, times and (for metadata) JSON-able mappings."""
    canonical = repr([json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in values])
    return hashlib.sha256(f"{kind}:{canonical}".encode()).digest()
