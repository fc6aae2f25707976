"""A customer's payees: the ones they saved, and the ones they paid lately.

A **saved payee** is an account number under a name the customer chose ("房东"),
shown with the bank's masked name of the account's holder (``*小明``) so that the
customer can confirm it is the person they mean. The holder's name is read from the
account each time, never copied. A **recent payee** is read from the customer's own
transfers (the other customers' e-accounts their accounts paid lately), not stored
a second time.

Saving a payee grants nothing: every transfer to it is authorised as any other
(step-up, limits, the new-payee risk check, which looks at what was paid, not at
what was saved). Every payee is its customer's alone: another customer's id is
answered as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.events import PayeeSaved
from rongbank.accounts.identity import mask_name
from rongbank.accounts.service import AccountsService
from rongbank.clock import Clock
from rongbank.errors import Conflict, InvalidRequest, NotFound

MAX_PAYEES = 200
RECENT_DAYS = 180
"""Recent payees are those paid in this many days."""
NAME_LENGTH = 50


class PayeeNotFound(NotFound):
    """Also the answer for another customer's payee: it tells nothing about it."""

    code = "payee_not_found"
    message = "No such payee."


class PayeeAlreadySaved(Conflict):
    code = "payee_already_saved"
    message = "This account is already one of your payees."


class PayeeLimitReached(InvalidRequest):
    code = "payee_limit_reached"
    message = f"You can save at most {MAX_PAYEES} payees; delete one first."


class PayeeNameInvalid(InvalidRequest):
    code = "payee_name_invalid"
    message = f"Give the payee a name of 1 to {NAME_LENGTH} characters."


@dataclass(frozen=True, slots=True)
class Payee:
    id: int
    name: str
    """The customer's own name for the payee."""
    account_number: str
    holder: str
    """The account holder's name as the bank shows it, masked (``*小明``)."""
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RecentPayee:
    account_number: str
    holder: str
    """Masked, as on a saved payee."""
    last_paid_at: datetime
    saved: Payee | None
    """The saved payee with this account, if the customer saved it."""


_PAYEE = (
    "SELECT p.id, p.name, p.account_number, c.name, p.created_at FROM payee p "
    "JOIN e_account a ON a.number = p.account_number JOIN customer c ON c.id = a.customer_id "
)


def _payee(row: Any) -> Payee:
    payee_id, name, number, holder, created_at = row
    return Payee(int(payee_id), str(name), str(number), mask_name(str(holder)), created_at)


def payee_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= NAME_LENGTH:
        raise PayeeNameInvalid(maximum=NAME_LENGTH)
    return cleaned


class Payees:
    def __init__(self, accounts: AccountsService, clock: Clock) -> None:
        self.accounts = accounts
        self.clock = clock

    def saved(self, session: Session, customer_id: int) -> list[Payee]:
        """The customer's saved payees, by name."""
        rows = session.execute(
            text(_PAYEE + "WHERE p.customer_id = :c ORDER BY p.name, p.id"),
            {"c": customer_id},
        ).all()
        return [_payee(row) for row in rows]

    def payee(self, session: Session, customer_id: int, payee_id: int) -> Payee:
        row = session.execute(
            text(_PAYEE + "WHERE p.id = :id AND p.customer_id = :c"),
            {"id": payee_id, "c": customer_id},
        ).first()
        if row is None:
            raise PayeeNotFound(payee_id=payee_id)
        return _payee(row)

    def by_account(self, session: Session, customer_id: int, number: str) -> Payee | None:
        """The customer's saved payee with this account number, if any."""
        row = session.execute(
            text(_PAYEE + "WHERE p.customer_id = :c AND p.account_number = :n"),
            {"c": customer_id, "n": number},
        ).first()
        return None if row is None else _payee(row)

    def recent(self, session: Session, customer_id: int, *, limit: int = 10) -> list[RecentPayee]:
        """Other customers' e-accounts this customer's accounts paid by transfer in
        the last :data:`RECENT_DAYS`, the latest paid first."""
        rows = session.execute(
            text(
                "SELECT payee.number, max(debit.created_at) AS last_paid, max(c.name) "
                "FROM e_account mine "
                "JOIN ledger_posting debit ON debit.account_id = mine.ledger_account_id "
                "AND debit.amount > 0 AND NOT debit.pending AND debit.created_at >= :since "
                "JOIN ledger_entry e ON e.id = debit.entry_id AND e.kind = 'transfer' "
                "JOIN ledger_posting credit ON credit.entry_id = debit.entry_id "
                "AND credit.amount < 0 "
                "JOIN e_account payee ON payee.ledger_account_id = credit.account_id "
                "AND payee.customer_id <> :c "
                "JOIN customer c ON c.id = payee.customer_id "
                "WHERE mine.customer_id = :c "
                "GROUP BY payee.number ORDER BY last_paid DESC LIMIT :limit"
            ),
            {
                "c": customer_id,
                "since": self.clock.now() - timedelta(days=RECENT_DAYS),
                "limit": limit,
            },
        ).all()
        saved = {p.account_number: p for p in self.saved(session, customer_id)}
        return [
            RecentPayee(str(number), mask_name(str(holder)), last_paid, saved.get(str(number)))
            for number, last_paid, holder in rows
        ]

    def add(self, session: Session, customer_id: int, *, name: str, account_number: str) -> Payee:
        """Save an account as a payee: it must be an account of this bank (the holder's
        masked name then confirms it), and not yet saved."""
        name = payee_name(name)
        number = "".join(account_number.split())
        account = self.accounts.account(session, number)  # refuses a number that is not one
        # One addition of a customer's at a time, so that the count cannot be passed.
        session.execute(
            text("SELECT 1 FROM customer WHERE id = :c FOR NO KEY UPDATE"), {"c": customer_id}
        )
        count = session.execute(
            text("SELECT count(*) FROM payee WHERE customer_id = :c"), {"c": customer_id}
        ).scalar_one()
        if count >= MAX_PAYEES:
            raise PayeeLimitReached(maximum=MAX_PAYEES)
        now = self.clock.now()
        row = session.execute(
            text(
                "INSERT INTO payee (customer_id, name, account_number, created_at, updated_at) "
                "VALUES (:c, :name, :n, :at, :at) ON CONFLICT (customer_id, account_number) "
                "DO NOTHING RETURNING id"
            ),
            {"c": customer_id, "name": name, "n": account.number, "at": now},
        ).first()
        if row is None:
            raise PayeeAlreadySaved()
        payee_id = int(row[0])
        holder = self.accounts.customer(session, account.customer_id)
        outbox.record(
            session,
            PayeeSaved(
                occurred_at=now, payee_id=payee_id, customer_id=customer_id, holder_name=holder.name
            ),
        )
        return self.payee(session, customer_id, payee_id)

    def rename(self, session: Session, customer_id: int, payee_id: int, *, name: str) -> Payee:
        updated = session.execute(
            text(
                "UPDATE payee SET name = :name, updated_at = :at "
                "WHERE id = :id AND customer_id = :c RETURNING id"
            ),
            {"name": payee_name(name), "at": self.clock.now(), "id": payee_id, "c": customer_id},
        ).first()
        if updated is None:
            raise PayeeNotFound(payee_id=payee_id)
        return self.payee(session, customer_id, payee_id)

    def delete(self, session: Session, customer_id: int, payee_id: int) -> None:
        """Forget a saved payee (transfers made to it stay as they are)."""
        deleted = session.execute(
            text("DELETE FROM payee WHERE id = :id AND customer_id = :c RETURNING id"),
            {"id": payee_id, "c": customer_id},
        ).first()
        if deleted is None:
            raise PayeeNotFound(payee_id=payee_id)
