"""Merchant operating loans repaid by a share of each day's e-Pay settlement.

A merchant's operating loan paid into the merchant's settlement account can carry a
settlement share (``share_bps``, e.g. 2000 = 20%): each settlement run of the merchant
(``rongbank.payments.settlement``, through its ``settlement_listeners`` seam, so
e-Pay imports nothing of lending) takes that share of the day's payout, at most what
is due on the loan now, as a repayment from the settlement account, in the run's own
transaction. A run is once per merchant and day, and the repayment is keyed by it,
so a run again takes nothing more. What is not due yet is left to the merchant (an
early repayment is the merchant's choice, not the settlement's).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.errors import Conflict
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


class SettlementShares:
    def __init__(self, loans: Callable[[], LoanService], payments: PaymentsService) -> None:
        self.loans = loans
        self.payments = payments

    def attach(self, session: Session, *, loan_id: int, merchant_id: int, share_bps: int) -> None:
        """Repay ``loan_id`` by ``share_bps`` of each settlement of ``merchant_id``
        from now on (a new share replaces the old)."""
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
        session.execute(
            text(
                "INSERT INTO lending_settlement_share (loan_id, merchant_id, share_bps) "
                "VALUES (:l, :m, :s) ON CONFLICT (loan_id) DO UPDATE SET share_bps = :s"
            ),
            {"l": loan_id, "m": merchant_id, "s": share_bps},
        )

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
