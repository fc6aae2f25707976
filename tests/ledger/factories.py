"""Test data for the ledger: accounts, funding, and reads of what the database holds.

Accounts are inserted with plain SQL so that the tests of ``LedgerService`` do not
depend on ``create_account`` working. Codes carry a random suffix: tests that commit
(concurrency, crash) and tests that roll back can share naming without clashes.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import Balance, LedgerService, Outcome, Transfer, balance_of

START = 10_000  # what each funded deposit starts with, in fen

_ids = itertools.count(1)


def unique(prefix: str) -> str:
    """A code or client id no other test uses."""
    return f"{prefix}-{next(_ids)}-{uuid.uuid4().hex[:8]}"


def create_account(
    session: Session,
    *,
    code: str | None = None,
    currency: str = "CNY",
    type: AccountType = AccountType.LIABILITY,
    rule: BalanceRule = BalanceRule.NONE,
    overdraft_limit: int = 0,
) -> int:
    """Insert a ledger account row; returns its id."""
    account_id = session.execute(
        text(
            "INSERT INTO ledger_account (code, currency, type, rule, overdraft_limit, created_at) "
            "VALUES (:code, :currency, :type, :rule, :overdraft, :at) RETURNING id"
        ),
        {
            "code": code or unique("acct"),
            "currency": currency,
            "type": type.value,
            "rule": rule.value,
            "overdraft": overdraft_limit,
            "at": datetime.now(UTC),
        },
    ).scalar_one()
    return int(account_id)


def create_bank_asset(session: Session, *, currency: str = "CNY") -> int:
    """The bank's own settlement asset (no balance rule): where customers' money
    comes from in tests."""
    return create_account(session, currency=currency, type=AccountType.ASSET)


def create_deposit(
    session: Session, *, currency: str = "CNY", overdraft_limit: int = 0, code: str | None = None
) -> int:
    """A customer's deposit: a liability that cannot be spent below zero (or below
    minus its overdraft limit)."""
    return create_account(
        session,
        code=code,
        currency=currency,
        type=AccountType.LIABILITY,
        rule=BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS,
        overdraft_limit=overdraft_limit,
    )


def fund(
    service: LedgerService,
    session: Session,
    *,
    source: int,
    destination: int,
    amount: int,
    currency: str = "CNY",
) -> int:
    """Move ``amount`` from the bank asset ``source`` into ``destination``; returns
    the entry id."""
    outcome = service.transfer(
        session,
        Transfer(
            client_id=unique("fund"),
            debit_account=source,
            credit_account=destination,
            amount=amount,
            currency=currency,
        ),
    )
    return outcome.entry_id_or_raise()


@dataclass(frozen=True, slots=True)
class Totals:
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def net_posted(self) -> int:
        return self.debits_posted - self.credits_posted


def totals(session: Session, account_id: int) -> Totals:
    row = session.execute(
        text(
            "SELECT debits_posted, credits_posted, debits_pending, credits_pending "
            "FROM ledger_account WHERE id = :id"
        ),
        {"id": account_id},
    ).one()
    return Totals(*(int(x) for x in row))


def deposit_balance(session: Session, account_id: int) -> int:
    """A liability's posted balance on its normal side: credits minus debits."""
    return -totals(session, account_id).net_posted


def count_entries(session: Session, client_id: str) -> int:
    return int(
        session.execute(
            text("SELECT count(*) FROM ledger_entry WHERE client_id = :cid"), {"cid": client_id}
        ).scalar_one()
    )


def posting_count(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM ledger_posting")).scalar_one())


def hold_state(session: Session, entry_id: int) -> str:
    return str(
        session.execute(
            text("SELECT state FROM ledger_hold WHERE entry_id = :id"), {"id": entry_id}
        ).scalar_one()
    )


def pay(
    debit: int | str,
    credit: int | str,
    amount: int,
    *,
    client_id: str | None = None,
    **extra: object,
) -> Transfer:
    return Transfer(
        client_id=unique("t") if client_id is None else client_id,
        debit_account=debit,
        credit_account=credit,
        amount=amount,
        currency="CNY",
        **extra,  # type: ignore[arg-type]
    )


def balance(service: LedgerService, session: Session, account: int) -> Balance:
    return balance_of(service.account(session, account))


def code_of(service: LedgerService, session: Session, account: int) -> str:
    return service.account(session, account).code


def errors(outcomes: list[Outcome]) -> list[str | None]:
    return [o.error.code if o.error else None for o in outcomes]
