"""After an e-Pay payment: capture, void and refunds.

:class:`AfterPayment` is mixed into :class:`~rongbank.payments.service.PaymentsService`:
an authorised payment is captured (in part or whole) or voided; a paid one refunded
back to the account it came from, never more than was captured nor more than the
payable holds beyond the fees due (:class:`MerchantFunds`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.errors import PendingExpired
from rongbank.ledger.service import PostPending, Transfer, VoidPending
from rongbank.money import format_amount
from rongbank.payments import rules
from rongbank.payments.errors import (
    MerchantNotActive,
    NotCapturable,
    RefundConflict,
    RefundExceedsMerchantFunds,
    RefundExceedsPayment,
)
from rongbank.payments.events import PaymentRefunded
from rongbank.payments.merchants import Merchant
from rongbank.payments.orders import PAYMENT_COLUMNS, Orders, Payment


@dataclass(frozen=True, slots=True)
class Refund:
    id: int
    payment_id: int
    refund_no: str
    amount: int
    entry_id: int
    business_day: date
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MerchantFunds:
    """What the bank holds for a merchant, in fen."""

    held: int
    """In the merchant payable: paid in, not refunded or settled out."""
    unsettled_fees: int
    """Fees on paid payments that no settlement has taken yet."""
    fee_debt: int
    """Fees settlements took fewer of than were due (there was not enough)."""

    @property
    def free(self) -> int:
        """What refunds may take now (below zero: nothing): the fees due stay, so
        that every fee can be taken."""
        return self.held - self.unsettled_fees - self.fee_debt


_REFUND = ", ".join(f.name for f in fields(Refund))


class AfterPayment(Orders):
    """Capture, void and refund use cases, mixed into ``PaymentsService``; every
    method takes the caller's session and never commits."""

    refund_listeners: list[Callable[[Session, Payment, Refund], None]]

    def capture(
        self, session: Session, *, merchant_id: int, order_no: str, amount: int | None = None
    ) -> Payment:
        """Take (part of) an authorised payment; the rest of the hold is released. A
        repeat answers the captured payment."""
        payment = self.lock_order(
            session, self.get(session, merchant_id=merchant_id, order_no=order_no).id
        )
        if payment.status == "paid" and payment.capture == "manual":
            if amount not in (None, payment.captured):
                raise NotCapturable(status=payment.status)
            return payment
        take = payment.amount if amount is None else amount
        if payment.status != "authorised" or not 0 < take <= payment.amount:
            raise NotCapturable(status=payment.status, amount=payment.amount)
        merchant = self.merchant(session, merchant_id)
        try:
            entry_id = self.ledger.transfer(
                session,
                PostPending(
                    client_id=Namespace.EPAY_CAPTURE.client_id(payment.id),
                    pending=Namespace.EPAY.client_id(payment.id),
                    amount=take,
                ),
            ).entry_id_or_raise()
        except PendingExpired:
            raise NotCapturable(status="expired") from None
        row = session.execute(
            text(
                "UPDATE payment SET status = 'paid', captured = :cap, fee = :fee, "  # noqa: S608
                "capture_entry_id = :e, business_day = :day "
                f"WHERE id = :id RETURNING {PAYMENT_COLUMNS}"
            ),
            {
                "cap": take,
                "fee": rules.fee(take, merchant.fee_bps),
                "e": entry_id,
                "day": self.accounts.business_day(),
                "id": payment.id,
            },
        ).one()
        captured = Payment(*row)
        self.notify_merchant(session, captured, "payment.captured")
        return captured

    def void(self, session: Session, *, merchant_id: int, order_no: str) -> Payment:
        """Release an authorised payment's hold in full; a repeat answers the same."""
        payment = self.lock_order(
            session, self.get(session, merchant_id=merchant_id, order_no=order_no).id
        )
        if payment.status == "voided":
            return payment
        if payment.status != "authorised":
            raise NotCapturable(status=payment.status)
        entry_id = self.ledger.transfer(
            session,
            VoidPending(
                client_id=Namespace.EPAY_VOID.client_id(payment.id),
                pending=Namespace.EPAY.client_id(payment.id),
            ),
        ).entry_id_or_raise()
        row = session.execute(
            text(
                "UPDATE payment SET status = 'voided', capture_entry_id = :e "  # noqa: S608
                f"WHERE id = :id RETURNING {PAYMENT_COLUMNS}"
            ),
            {"e": entry_id, "id": payment.id},
        ).one()
        voided = Payment(*row)
        self.notify_merchant(session, voided, "payment.voided")
        return voided

    def refund(
        self,
        session: Session,
        *,
        merchant_id: int,
        order_no: str,
        refund_no: str,
        amount: int,
        reason: str = "",
    ) -> Refund:
        """Give back (part of) a paid payment to the account it came from.

        All refunds of a payment together never exceed what was captured, and a refund
        never exceeds what the bank holds for the merchant (payments not settled yet)
        less the fees it owes: a refund after settlement comes out of later takings,
        or waits for them (the merchant is told what it can refund now). The merchant
        row is locked first (as settlement does), then the payment's: refunds of one
        merchant, and its settlement, take turns. A suspended merchant refunds
        nothing; the money comes into the customer's account within its class's
        inflow limits, as a transfer would."""
        found = self.get(session, merchant_id=merchant_id, order_no=order_no)
        merchant = self.merchant(session, merchant_id, lock=True)
        payment = self.lock_order(session, found.id)
        done = self._refund(session, payment.id, refund_no)
        if done is not None:
            if done.amount != amount:
                raise RefundConflict(refund_no=refund_no)
            return done
        if merchant.status != "active":
            raise MerchantNotActive(status=merchant.status)
        if payment.e_account_id is None:  # a sale credited by the mall: it refunds
            raise RefundExceedsPayment(refundable="0.00")
        if payment.status != "paid" or amount > payment.refundable:
            raise RefundExceedsPayment(
                refundable=format_amount(max(payment.refundable, 0), scale=rules.CNY_SCALE)
            )
        # The fee follows what the payment keeps until it is settled (a payment
        # refunded in full before settlement costs the merchant nothing); once settled,
        # its fee was taken and stays.
        fee = (
            payment.fee
            if payment.settled_day is not None
            else rules.fee(payment.refundable - amount, merchant.fee_bps)
        )
        available = self.merchant_funds(session, merchant).free + payment.fee - fee
        if amount > available:
            raise RefundExceedsMerchantFunds(
                available=format_amount(max(available, 0), scale=rules.CNY_SCALE)
            )
        assert payment.e_account_id is not None
        payee = self.e_account(session, payment.e_account_id, lock=True)
        self.accounts.check_inflow_limit(session, payee, amount=amount)
        entry_id = self.ledger.transfer(
            session,
            Transfer(
                client_id=Namespace.EPAY_REFUND.client_id(payment.id, refund_no),
                debit_account=merchant.payable_account_id,
                credit_account=payee.ledger_account_id,
                amount=amount,
                currency=payment.currency,
                # The payment's own words, in no language: on the customer's history
                # and statements (web, CSV, PDF) it is the money coming back for it.
                description=f"{merchant.name} {payment.order_no}"[:200],
                metadata={
                    "merchant": merchant.number,
                    "order_no": payment.order_no,
                    "refund_no": refund_no,
                },
            ),
        ).entry_id_or_raise()
        self.accounts.count_usage(session, payee, column="inflow", amount=amount)
        row = session.execute(
            text(
                "INSERT INTO payment_refund (payment_id, refund_no, amount, reason, entry_id, "  # noqa: S608
                "business_day, created_at) VALUES (:p, :r, :a, :why, :e, :day, :now) "
                f"RETURNING {_REFUND}"
            ),
            {
                "p": payment.id,
                "r": refund_no,
                "a": amount,
                "why": reason,
                "e": entry_id,
                "day": self.accounts.business_day(),
                "now": self.clock.now(),
            },
        ).one()
        session.execute(
            text("UPDATE payment SET refunded = refunded + :a, fee = :fee WHERE id = :id"),
            {"a": amount, "fee": fee, "id": payment.id},
        )
        self.notify_merchant(session, self.lock_order(session, payment.id), "payment.refunded")
        refund = Refund(*row)
        if payment.customer_id is not None:
            outbox.record(
                session,
                PaymentRefunded(
                    refund_id=refund.id,
                    payment_id=payment.id,
                    customer_id=payment.customer_id,
                    merchant_id=merchant.id,
                    merchant=merchant.name,
                    amount=amount,
                    currency=payment.currency,
                    occurred_at=refund.created_at,
                ),
            )
        for listener in self.refund_listeners:
            listener(session, payment, refund)
        return refund

    def merchant_funds(self, session: Session, merchant: Merchant) -> MerchantFunds:
        payable = self.ledger.account(session, merchant.payable_account_id)
        unsettled, debt = session.execute(
            text(
                "SELECT (SELECT coalesce(sum(fee), 0) FROM payment WHERE merchant_id = :m "
                "AND status = 'paid' AND settled_day IS NULL), "
                "(SELECT coalesce(sum(fees - fees_charged), 0) FROM merchant_settlement "
                "WHERE merchant_id = :m)"
            ),
            {"m": merchant.id},
        ).one()
        return MerchantFunds(
            held=payable.credits_posted - payable.debits_posted - payable.debits_pending,
            unsettled_fees=int(unsettled),
            fee_debt=int(debt),
        )

    def _refund(self, session: Session, payment_id: int, refund_no: str) -> Refund | None:
        row = session.execute(
            text(
                f"SELECT {_REFUND} FROM payment_refund WHERE payment_id = :p AND refund_no = :r"  # noqa: S608
            ),
            {"p": payment_id, "r": refund_no},
        ).first()
        return None if row is None else Refund(*row)

    def refunds(self, session: Session, payment_id: int) -> list[Refund]:
        rows = session.execute(
            text(f"SELECT {_REFUND} FROM payment_refund WHERE payment_id = :p ORDER BY id"),  # noqa: S608
            {"p": payment_id},
        ).all()
        return [Refund(*row) for row in rows]
