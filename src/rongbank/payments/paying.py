"""Paying e-Pay orders: the money from the customer's account to the merchant.

:class:`Paying` is mixed into :class:`~rongbank.payments.service.PaymentsService`:
the payer's account and what they authorise, a static counter code paid
(``pay_static``), an open order paid (``pay_order``: held for the fraud checks'
review until it ends, ``held_resolved``), an order paid another way
(``paid_otherwise``), a sale credited by another domain (``credit_sale``), and the
barcode limits (银发〔2017〕296号) checked on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox, review_hold
from rongbank.accounts.errors import (
    AccountFrozen,
    AccountNotActive,
)
from rongbank.accounts.service import EAccount
from rongbank.auth.tools import PaymentRequest
from rongbank.db import advisory_lock, pipeline, run, statement
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.service import Transfer
from rongbank.money import format_amount
from rongbank.payments import rules
from rongbank.payments.errors import BarcodeLimitExceeded, OrderNotPayable, PaymentNotFound
from rongbank.payments.events import PaymentMade
from rongbank.payments.merchants import Merchant
from rongbank.payments.orders import PAYMENT_COLUMNS, OrderRequest, Orders, Payment

HOLD_TIMEOUT = timedelta(days=30)
"""How long an authorised (not yet captured) payment keeps the customer's money."""


_PAID = statement(
    "UPDATE payment SET status = :s, customer_id = :c, e_account_id = :a, "  # noqa: S608
    "entry_id = :e, captured = :cap, fee = :fee, business_day = :day, paid_at = :now "
    f"WHERE id = :id RETURNING {PAYMENT_COLUMNS}"
)
_HELD = statement(
    "UPDATE payment SET status = 'held', customer_id = :c, e_account_id = :a, "  # noqa: S608
    f"entry_id = :e, paid_at = :now WHERE id = :id RETURNING {PAYMENT_COLUMNS}"
)
_HELD_BY_ENTRY = statement(
    f"SELECT {PAYMENT_COLUMNS} FROM payment WHERE entry_id = :e AND status = 'held' FOR UPDATE"  # noqa: S608
)
_DECLINED = statement(
    f"UPDATE payment SET status = 'declined' WHERE id = :id RETURNING {PAYMENT_COLUMNS}"  # noqa: S608
)
_BARCODE_USED = statement(
    "SELECT coalesce(sum(amount), 0) FROM payment WHERE customer_id = :c "
    "AND paid_at >= :start AND paid_at < :end AND status NOT IN ('created', 'declined') "
    "AND (channel = 'static_qr') = :static AND channel <> 'online'"
)


class Paying(Orders):
    """Paying use cases, mixed into ``PaymentsService``; every method takes the
    caller's session and never commits."""

    paid_listeners: list[Callable[[Session, Payment], None]]

    def payer_account(
        self, session: Session, customer_id: int, number: str, *, lock: bool = False
    ) -> EAccount:
        return self.accounts.own_account(session, customer_id, number, lock=lock)

    def payment_request(
        self, merchant: Merchant, order_no: str, amount: int, payer: str
    ) -> PaymentRequest:
        """What the customer authorises (and a challenge is bound to)."""
        return PaymentRequest(
            purpose="merchant_payment",
            payer=payer,
            payee=merchant.number,
            amount=amount,
            currency="CNY",
            client_id=f"{merchant.id}:{order_no}",
        )

    def pay_static(
        self,
        session: Session,
        *,
        customer_id: int,
        qr: str,
        account_number: str,
        amount: int,
        client_id: str,
        merchant: Merchant | None = None,
    ) -> Payment:
        """Pay a merchant's static counter code; the order number is the customer's
        client id (so a retry pays once). ``merchant``: the code's, when the caller
        has read it in this transaction (``static_qr_merchant``)."""
        merchant = merchant or self.static_qr_merchant(session, qr)
        order = OrderRequest(
            order_no=self.static_order_no(customer_id, client_id),
            amount=amount,
            channel="static_qr",
            detail=f"{self.token_of(qr)}:{account_number}",
        )
        payment, created = self.create_order(
            session,
            merchant_id=merchant.id,
            order=order,
            customer_id=customer_id,
            merchant=merchant,
        )
        return self.pay_order(
            session,
            customer_id=customer_id,
            payment=payment,
            account_number=account_number,
            merchant=merchant,
            locked=created,
        )

    @staticmethod
    def static_order_no(customer_id: int, client_id: str) -> str:
        return f"C{customer_id}-{client_id}"

    def pay_order(
        self,
        session: Session,
        *,
        customer_id: int,
        payment: Payment,
        account_number: str,
        merchant: Merchant | None = None,
        locked: bool = False,
    ) -> Payment:
        """Move the money of an open order from the customer's account (held, for an
        order with manual capture). A repeat by the customer who paid answers the
        payment as it is. ``merchant``: the order's, read and found active in this
        transaction; ``locked``: ``payment`` is as this transaction holds it (it has
        just made it), not to be read again."""
        if not locked:
            payment = self.lock_order(session, payment.id)
        if payment.status != "created":
            if payment.customer_id == customer_id:
                return payment
            raise OrderNotPayable(status=payment.status)
        if payment.customer_id not in (None, customer_id):
            raise PaymentNotFound()
        now = self.clock.now()
        if payment.expires_at <= now:
            raise OrderNotPayable(status="expired")
        if merchant is None:
            merchant = self.active_merchant(session, payment.merchant_id)
        account = self.payer_account(session, customer_id, account_number, lock=True)
        if account.status == "frozen":
            raise AccountFrozen(account=account.number[-4:])
        if account.status != "active":
            raise AccountNotActive(account=account.number[-4:], status=account.status)
        if payment.channel != "online":
            self._check_barcode_limit(session, customer_id, payment, account)
        else:
            self.accounts.check_outflow_limit(session, account, amount=payment.amount)
        manual = payment.capture == "manual"
        hold = review_hold.take(session)  # the fraud engine's review: held, not paid
        entry_id = self.ledger.transfer(
            session,
            Transfer(
                client_id=Namespace.EPAY.client_id(payment.id),
                debit_account=account.ledger_account_id,
                credit_account=merchant.payable_account_id,
                amount=payment.amount,
                currency=payment.currency,
                pending=manual or hold is not None,
                timeout=HOLD_TIMEOUT if manual else None,
                description=f"{merchant.name} {payment.order_no}"[:200],
                metadata={"merchant": merchant.number, "order_no": payment.order_no},
            ),
        ).entry_id_or_raise()
        self.accounts.count_usage(session, account, column="outflow", amount=payment.amount)
        if hold is not None:
            hold.held(session, Namespace.EPAY.client_id(payment.id), entry_id, keep_pending=manual)
            row = run(
                session,
                _HELD,
                {"c": customer_id, "a": account.id, "e": entry_id, "now": now, "id": payment.id},
            ).fetchone()
            assert row is not None
            held = Payment(*row)
            self.notify_merchant(session, held, "payment.held")
            return held
        return self._paid(session, customer_id, payment, merchant, account, entry_id, manual, now)

    def held_resolved(self, session: Session, entry_id: int, *, released: bool) -> bool:
        """The review of a held payment (ledger entry ``entry_id``) ended, in the
        transaction that posted or voided its hold: released, it is paid (or
        authorised, to capture) and announced as any payment; voided, ``declined``.
        The merchant is told either way. Whether a payment made the hold."""
        row = run(session, _HELD_BY_ENTRY, {"e": entry_id}).fetchone()
        if row is None:
            return False
        payment = Payment(*row)
        if not released:
            row = run(session, _DECLINED, {"id": payment.id}).fetchone()
            assert row is not None
            self.notify_merchant(session, Payment(*row), "payment.declined")
            return True
        assert payment.customer_id is not None
        assert payment.e_account_id is not None
        merchant = self.merchant(session, payment.merchant_id)
        account = self.e_account(session, payment.e_account_id)
        manual = payment.capture == "manual"
        self._paid(
            session,
            payment.customer_id,
            payment,
            merchant,
            account,
            entry_id,
            manual,
            payment.paid_at or self.clock.now(),
        )
        return True

    def payable_account(self, session: Session, payment: Payment) -> int:
        """The ledger account that an open order's money is paid onto (its merchant's
        payable), the merchant found active: for a domain that pays it another way."""
        return self.active_merchant(session, payment.merchant_id).payable_account_id

    def paid_otherwise(
        self,
        session: Session,
        *,
        customer_id: int,
        payment: Payment,
        account: EAccount,
        entry_id: int,
    ) -> Payment:
        """Mark an open order paid whose amount another domain has just moved onto
        the merchant payable (:meth:`payable_account`) in ledger entry ``entry_id``, in
        this transaction: 逸贷, whose loan pays the merchant directly. ``payment`` is
        locked by the caller (:meth:`lock_order`), ``account`` is the customer's,
        where refunds go. Settlement, refunds and the notices follow as for any
        payment; the order is paid immediately, whatever its capture."""
        if payment.status != "created":
            raise OrderNotPayable(status=payment.status)
        if payment.customer_id not in (None, customer_id) or account.customer_id != customer_id:
            raise PaymentNotFound()
        now = self.clock.now()
        if payment.expires_at <= now:
            raise OrderNotPayable(status="expired")
        merchant = self.active_merchant(session, payment.merchant_id)
        return self._paid(session, customer_id, payment, merchant, account, entry_id, False, now)

    def credit_sale(
        self,
        session: Session,
        *,
        merchant_id: int,
        order_no: str,
        amount: int,
        entry_id: int,
        description: str = "",
    ) -> Payment:
        """Record as a paid payment a sale whose money another domain has just moved
        onto the merchant's payable in ledger entry ``entry_id`` (the mall releasing a
        seller's part, its commission already taken): e-Pay's settlement then pays it
        out like any payment, without a fee of its own. No customer: the buyer paid
        the mall, and is refunded by it. A repeat with this order number answers the
        row made before."""
        now = self.clock.now()
        order = OrderRequest(order_no=order_no, amount=amount, channel="online", detail="sale")
        payment, created = self.create_order(
            session,
            merchant_id=merchant_id,
            order=order,
            merchant=self.merchant(session, merchant_id),
        )
        if not created:
            return payment
        row = session.execute(
            text(
                "UPDATE payment SET status = 'paid', entry_id = :e, captured = amount, "  # noqa: S608
                "business_day = :day, paid_at = :now, description = :d "
                f"WHERE id = :id RETURNING {PAYMENT_COLUMNS}"
            ),
            {
                "e": entry_id,
                "day": self.accounts.business_day(),
                "now": now,
                "d": description[:200],
                "id": payment.id,
            },
        ).one()
        return Payment(*row)

    def _paid(
        self,
        session: Session,
        customer_id: int,
        payment: Payment,
        merchant: Merchant,
        account: EAccount,
        entry_id: int,
        manual: bool,
        now: datetime,
    ) -> Payment:
        captured = 0 if manual else payment.amount
        row = run(
            session,
            _PAID,
            {
                "s": "authorised" if manual else "paid",
                "c": customer_id,
                "a": account.id,
                "e": entry_id,
                "cap": captured,
                "fee": rules.fee(captured, merchant.fee_bps),
                "day": None if manual else self.accounts.business_day(),
                "now": now,
                "id": payment.id,
            },
        ).fetchone()
        assert row is not None
        paid = Payment(*row)
        self.notify_merchant(session, paid, "payment.authorised" if manual else "payment.paid")
        outbox.record(
            session,
            PaymentMade(
                payment_id=paid.id,
                customer_id=customer_id,
                e_account_id=account.id,
                account_tail=account.number[-4:],
                merchant_id=merchant.id,
                merchant=merchant.name,
                amount=paid.amount,
                currency=paid.currency,
                status=paid.status,
                occurred_at=now,
            ),
        )
        for listener in self.paid_listeners:
            listener(session, paid)
        return paid

    def _check_barcode_limit(
        self, session: Session, customer_id: int, payment: Payment, account: EAccount
    ) -> None:
        """银发〔2017〕296号 levels D (static) and B (dynamic), per customer and day,
        counted from the payments themselves under a per-customer lock; then the
        account's class limit (``check_outflow_limit``), read in the same round trip."""
        static = payment.channel == "static_qr"
        cap = self.barcode_limits.static_daily if static else self.barcode_limits.dynamic_daily
        start, end = self.accounts.business_day_bounds()
        with pipeline(session):
            advisory_lock(session, "epay_barcode", customer_id)
            barcode = run(
                session,
                _BARCODE_USED,
                {"c": customer_id, "start": start, "end": end, "static": static},
            )
            outflow = self.accounts.outflow_check(session, account, amount=payment.amount)
        row = barcode.fetchone()
        assert row is not None
        used = row[0]
        if int(used) + payment.amount > cap:
            left = max(cap - int(used), 0)
            raise BarcodeLimitExceeded(
                code_kind="static" if static else "dynamic",
                remaining=format_amount(left, scale=rules.CNY_SCALE),
            )
        outflow()
