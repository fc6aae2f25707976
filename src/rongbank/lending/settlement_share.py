"""Merchant operating loans repaid by a share of each day's e-Pay settlement.

A merchant's operating loan paid into the merchant's settlement account can carry a
settlement share (``share_bps``, e.g. 2000 = 20%): each settlement run of the merchant
(``rongbank.payments.settlement``, through its ``settlement_listeners`` seam, so
e-Pay imports nothing of lending) takes that share of the day's payout, at most what
is due on the loan now, as a repayment from the settlement account, in the run's own
transaction. A run is once per merchant and day, and the repayment is keyed by it,
so a run again takes nothing more. What is not due yet is left to the merchant (an
early repayment is the merchant's choice, not the settlement's).

A share takes a merchant's money before it reaches them, so the bank attaches one only
with four eyes (:meth:`SettlementShares.ask`, then :meth:`SettlementShares.decide` by
another member of the credit staff): the request, its decision and who made each are
kept in ``lending_settlement_share_request``, and the boundary audits both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.errors import Conflict, Forbidden, NotFound
from rongbank.lending.loans import LoanService
from rongbank.payments.merchants import Merchant
from rongbank.payments.service import PaymentsService
from rongbank.payments.settlement import Settlement

BPS = 10_000


class SettlementShareInvalid(Conflict):
    code = "lending_settlement_share_invalid"
    message = (
        "A settlement share needs an active operating loan of the merchant's owner, paid "
        "into the merchant's settlement account, and a share above 0 and at most 100%."
    )


class SettlementShareAsked(Conflict):
    code = "lending_settlement_share_asked"
    message = "A settlement share for this loan already waits for a second approver."


class SettlementShareDecided(Conflict):
    code = "lending_settlement_share_decided"
    message = "This settlement share request has been decided already."


class SettlementShareNotFound(NotFound):
    code = "lending_settlement_share_not_found"
    message = "There is no such settlement share request."


class SettlementShareSameStaff(Forbidden):
    code = "lending_settlement_share_four_eyes"
    message = "Another member of the credit staff must approve a share you asked for."


@dataclass(frozen=True, slots=True)
class ShareRequest:
    id: int
    loan_id: int
    merchant_id: int
    share_bps: int
    reason: str
    status: str
    """``pending``, ``approved`` (the share is attached) or ``declined``."""
    asked_by: int
    decided_by: int | None
    asked_at: datetime
    decided_at: datetime | None


_REQUEST = (
    "id, loan_id, merchant_id, share_bps, reason, status, asked_by, decided_by, asked_at, "
    "decided_at"
)


class SettlementShares:
    def __init__(self, loans: Callable[[], LoanService], payments: PaymentsService) -> None:
        self.loans = loans
        self.payments = payments

    def attach(self, session: Session, *, loan_id: int, merchant_id: int, share_bps: int) -> None:
        """Repay ``loan_id`` by ``share_bps`` of each settlement of ``merchant_id``
        from now on (a new share replaces the old)."""
        self._check(session, loan_id=loan_id, merchant_id=merchant_id, share_bps=share_bps)
        session.execute(
            text(
                "INSERT INTO lending_settlement_share (loan_id, merchant_id, share_bps) "
                "VALUES (:l, :m, :s) ON CONFLICT (loan_id) DO UPDATE SET share_bps = :s"
            ),
            {"l": loan_id, "m": merchant_id, "s": share_bps},
        )

    def _check(self, session: Session, *, loan_id: int, merchant_id: int, share_bps: int) -> None:
        """Refuse a share that could not be attached (the loan locked)."""
        loan = self.loans().loan(session, loan_id=loan_id, lock=True)
        merchant = self.payments.merchant(session, merchant_id)
        if (
            not 0 < share_bps <= BPS
            or loan.status != "active"
            or loan.internet_consumer
            or loan.customer_id != merchant.customer_id
            or loan.e_account_id != merchant.settlement_account_id
        ):
            raise SettlementShareInvalid()

    def ask(
        self,
        session: Session,
        *,
        staff_id: int,
        loan_id: int,
        merchant_id: int,
        share_bps: int,
        reason: str,
    ) -> ShareRequest:
        """One member of the credit staff asks for a share; it waits for another."""
        self._check(session, loan_id=loan_id, merchant_id=merchant_id, share_bps=share_bps)
        row = session.execute(
            text(
                f"INSERT INTO lending_settlement_share_request (loan_id, merchant_id, "  # noqa: S608
                "share_bps, reason, asked_by, asked_at) VALUES (:l, :m, :s, :r, :by, :now) "
                f"ON CONFLICT DO NOTHING RETURNING {_REQUEST}"
            ),
            {
                "l": loan_id,
                "m": merchant_id,
                "s": share_bps,
                "r": reason,
                "by": staff_id,
                "now": self.loans().clock.now(),
            },
        ).first()
        if row is None:  # the pending request of this loan (one at a time)
            raise SettlementShareAsked()
        return ShareRequest(*row)

    def decide(
        self, session: Session, *, staff_id: int, request_id: int, approve: bool
    ) -> ShareRequest:
        """Another member of the credit staff approves (the share is attached, checked
        again as it stands now) or declines a pending request."""
        found = self.request(session, request_id, lock=True)
        if found.status != "pending":
            raise SettlementShareDecided()
        if found.asked_by == staff_id:
            raise SettlementShareSameStaff()
        if approve:
            self.attach(
                session,
                loan_id=found.loan_id,
                merchant_id=found.merchant_id,
                share_bps=found.share_bps,
            )
        row = session.execute(
            text(
                f"UPDATE lending_settlement_share_request SET status = :s, "  # noqa: S608
                "decided_by = :by, decided_at = :now WHERE id = :id "
                f"RETURNING {_REQUEST}"
            ),
            {
                "s": "approved" if approve else "declined",
                "by": staff_id,
                "now": self.loans().clock.now(),
                "id": request_id,
            },
        ).one()
        return ShareRequest(*row)

    def request(self, session: Session, request_id: int, *, lock: bool = False) -> ShareRequest:
        row = session.execute(
            text(
                f"SELECT {_REQUEST} FROM lending_settlement_share_request WHERE id = :id"  # noqa: S608
                + (" FOR UPDATE" if lock else "")
            ),
            {"id": request_id},
        ).first()
        if row is None:
            raise SettlementShareNotFound()
        return ShareRequest(*row)

    def requests(self, session: Session, *, limit: int = 100) -> list[ShareRequest]:
        """The pending requests, oldest first, then the latest decided ones."""
        rows = session.execute(
            text(
                f"SELECT {_REQUEST} FROM lending_settlement_share_request "  # noqa: S608
                "ORDER BY status <> 'pending', CASE WHEN status = 'pending' THEN id END, "
                "id DESC LIMIT :n"
            ),
            {"n": limit},
        ).all()
        return [ShareRequest(*r) for r in rows]

    def settled(self, session: Session, merchant: Merchant, settlement: Settlement) -> None:
        """The seam's listener: take each shared loan's part of this payout."""
        paid, day = settlement.paid, settlement.business_day
        if paid <= 0:
            return
        rows = session.execute(
            text(
                "SELECT s.loan_id, s.share_bps FROM lending_settlement_share s "
                "JOIN loans l ON l.id = s.loan_id WHERE s.merchant_id = :m "
                "AND l.status = 'active' ORDER BY s.loan_id"
            ),
            {"m": merchant.id},
        ).all()
        loans = self.loans()
        left = paid
        for loan_id, share_bps in rows:
            due = loans.repayments.due_now(session, int(loan_id)).total
            amount = min(paid * int(share_bps) // BPS, due, left)
            if amount <= 0:
                continue
            loan = loans.loan(session, loan_id=int(loan_id))
            loans.repayments.repay(
                session,
                customer_id=loan.customer_id,
                loan_id=loan.id,
                idempotency_key=f"settlement:{merchant.id}:{day.isoformat()}",
                amount=amount,
            )
            left -= amount
