"""e-Pay orders: the ``payment`` row and the merchant's order it is made from.

:class:`Orders` is mixed into :class:`~rongbank.payments.service.PaymentsService`:
making an order (unique per merchant order number: the same request again answers
the original, a different one :class:`OrderConflict`), finding and locking it, the
lists of a customer's and a merchant's payments, and the merchant's notification of
each change of a payment, queued in its transaction (sent by
``rongbank.payments.notify``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.db import run, statement
from rongbank.money import format_amount
from rongbank.payments import rules
from rongbank.payments.errors import OrderConflict, PaymentNotFound
from rongbank.payments.merchants import Merchant, Merchants
from rongbank.payments.urls import Resolver, check_url

Channel = Literal["static_qr", "dynamic_qr", "payment_code", "online"]
Capture = Literal["immediate", "manual"]


@dataclass(frozen=True, slots=True)
class Payment:
    id: int
    merchant_id: int
    order_no: str
    token: str
    channel: str
    capture: str
    status: str
    """``created`` (waiting for the customer), ``authorised`` (money held, to capture),
    ``paid``, ``voided`` (authorisation released), ``expired``, ``held`` (for the
    fraud checks' review) or ``declined`` (voided by the review)."""
    amount: int
    captured: int
    refunded: int
    fee: int
    currency: str
    description: str
    return_url: str
    notify_url: str
    customer_id: int | None
    e_account_id: int | None
    challenge_id: str | None
    entry_id: int | None
    capture_entry_id: int | None
    business_day: date | None
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    settled_day: date | None
    """The business day of the settlement run that took the payment (None: not yet)."""

    @property
    def refundable(self) -> int:
        return self.captured - self.refunded


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a merchant asks for; its digest decides whether a repeated order number
    is a retry (same digest) or a conflict."""

    order_no: str
    amount: int
    channel: Channel
    description: str = ""
    return_url: str = ""
    notify_url: str = ""
    capture: Capture = "immediate"
    detail: str = ""
    """What else binds the order (the static code and payer; the payment code)."""

    def digest(self) -> bytes:
        values = [getattr(self, f.name) for f in fields(self)]
        return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).digest()


PAYMENT_COLUMNS = ", ".join(f.name for f in fields(Payment))
_FIND = statement(f"SELECT {PAYMENT_COLUMNS} FROM payment WHERE merchant_id = :m AND order_no = :o")  # noqa: S608
_LOCK = statement(f"SELECT {PAYMENT_COLUMNS} FROM payment WHERE id = :id FOR UPDATE")  # noqa: S608
_BY_TOKEN = statement(f"SELECT {PAYMENT_COLUMNS} FROM payment WHERE token = :t")  # noqa: S608
_REQUEST_HASH = statement("SELECT request_hash FROM payment WHERE id = :id")
_INSERT_ORDER = statement(
    "INSERT INTO payment (merchant_id, order_no, token, request_hash, channel, "  # noqa: S608
    "capture, status, amount, description, return_url, notify_url, customer_id, "
    "created_at, expires_at) VALUES (:m, :o, :t, :h, :ch, :cap, 'created', :a, "
    ":d, :r, :n, :c, :now, :exp) ON CONFLICT (merchant_id, order_no) DO NOTHING "
    f"RETURNING {PAYMENT_COLUMNS}"
)


class Orders(Merchants):
    """Order use cases, mixed into ``PaymentsService``; every method takes the
    caller's session and never commits."""

    order_ttl: timedelta
    barcode_limits: rules.BarcodeLimits
    allow_private_urls: bool
    resolver: Resolver

    # -- orders ------------------------------------------------------------------------

    def create_order(
        self,
        session: Session,
        *,
        merchant_id: int,
        order: OrderRequest,
        customer_id: int | None = None,
        merchant: Merchant | None = None,
    ) -> tuple[Payment, bool]:
        """The merchant's order (dynamic QR, web shop, or a payment code's), or the one
        made before with this order number; and whether it was created now.

        ``merchant``: the order's merchant, read and found active by the caller; an
        order made before is then found by the insert's conflict, a statement less
        for a new one (with no merchant, a merchant no longer active still answers
        an order made before)."""
        if merchant is None:
            existing = self.find(session, merchant_id=merchant_id, order_no=order.order_no)
            if existing is not None:
                return self.same_order(session, existing, order), False
            merchant = self.active_merchant(session, merchant_id)
        for field, url in (("notify_url", order.notify_url), ("return_url", order.return_url)):
            check_url(
                url, field=field, allow_private=self.allow_private_urls, resolver=self.resolver
            )
        now = self.clock.now()
        ttl = self.order_ttl if order.channel == "online" else self.barcode_limits.code_ttl
        row = run(
            session,
            _INSERT_ORDER,
            {
                "m": merchant.id,
                "o": order.order_no,
                "t": ("D" if order.channel == "dynamic_qr" else "P") + secrets.token_urlsafe(18),
                "h": order.digest(),
                "ch": order.channel,
                "cap": order.capture,
                "a": order.amount,
                "d": order.description,
                "r": order.return_url,
                "n": order.notify_url,
                "c": customer_id,
                "now": now,
                "exp": now + ttl,
            },
        ).fetchone()
        if row is None:  # made before, or a concurrent request with this order number won
            found = self.find(session, merchant_id=merchant_id, order_no=order.order_no)
            assert found is not None
            return self.same_order(session, found, order), False
        return Payment(*row), True

    def same_order(self, session: Session, payment: Payment, order: OrderRequest) -> Payment:
        """``payment``, made before with ``order``'s number, if ``order`` is the request
        that made it (a retry); :class:`OrderConflict` if not."""
        row = run(session, _REQUEST_HASH, {"id": payment.id}).fetchone()
        assert row is not None
        if bytes(row[0]) != order.digest():
            raise OrderConflict(order_no=order.order_no)
        return payment

    def find(self, session: Session, *, merchant_id: int, order_no: str) -> Payment | None:
        row = run(session, _FIND, {"m": merchant_id, "o": order_no}).fetchone()
        return None if row is None else Payment(*row)

    def get(self, session: Session, *, merchant_id: int, order_no: str) -> Payment:
        found = self.find(session, merchant_id=merchant_id, order_no=order_no)
        if found is None:
            raise PaymentNotFound(order_no=order_no)
        return found

    def lock_order(self, session: Session, payment_id: int) -> Payment:
        """The payment as it is, locked until the transaction ends: whoever pays it
        another way (逸贷) locks it first, as ``pay_order`` does."""
        row = run(session, _LOCK, {"id": payment_id}).fetchone()
        assert row is not None
        return Payment(*row)

    def by_token(self, session: Session, token: str) -> Payment:
        row = run(session, _BY_TOKEN, {"t": self.token_of(token)}).fetchone()
        if row is None:
            raise PaymentNotFound()
        return Payment(*row)

    def order_for_customer(self, session: Session, *, customer_id: int, token: str) -> Payment:
        """An order as the customer about to pay it sees it: one that is open to
        anyone with its link, or that is theirs."""
        payment = self.by_token(session, token)
        if payment.customer_id not in (None, customer_id) or payment.channel == "static_qr":
            raise PaymentNotFound()
        return payment

    def paid_by(self, session: Session, *, customer_id: int, token: str) -> bool:
        """Whether the customer already paid this order (a retry needs no new
        authentication: ``Platform.authorised``'s ``already_done``)."""
        return bool(
            session.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM payment WHERE token = :t AND customer_id = :c "
                    "AND status IN ('authorised', 'paid', 'voided', 'held', 'declined'))"
                ),
                {"t": self.token_of(token), "c": customer_id},
            ).scalar_one()
        )

    def payments_of_customer(
        self, session: Session, customer_id: int, *, limit: int = 100
    ) -> list[Payment]:
        rows = session.execute(
            text(
                f"SELECT {PAYMENT_COLUMNS} FROM payment WHERE customer_id = :c "  # noqa: S608
                "AND status <> 'created' ORDER BY id DESC LIMIT :l"
            ),
            {"c": customer_id, "l": limit},
        ).all()
        return [Payment(*row) for row in rows]

    def awaiting(self, session: Session, customer_id: int) -> list[Payment]:
        """Payment-code payments waiting for the customer's confirmation."""
        rows = session.execute(
            text(
                f"SELECT {PAYMENT_COLUMNS} FROM payment WHERE customer_id = :c "  # noqa: S608
                "AND status = 'created' AND expires_at > :now ORDER BY id"
            ),
            {"c": customer_id, "now": self.clock.now()},
        ).all()
        return [Payment(*row) for row in rows]

    def payments_of_merchant(
        self, session: Session, merchant_id: int, *, limit: int = 100
    ) -> list[Payment]:
        rows = session.execute(
            text(
                f"SELECT {PAYMENT_COLUMNS} FROM payment WHERE merchant_id = :m "  # noqa: S608
                "ORDER BY id DESC LIMIT :l"
            ),
            {"m": merchant_id, "l": limit},
        ).all()
        return [Payment(*row) for row in rows]

    # -- notifications -----------------------------------------------------------------

    def notify_merchant(self, session: Session, payment: Payment, event: str) -> None:
        """Queue the merchant's notification in the payment's own transaction; it is
        sent after commit (``rongbank.payments.notify``)."""
        if not payment.notify_url:
            return
        now = self.clock.now()
        body = json.dumps(
            {
                "event": event,
                "merchant_id": payment.merchant_id,
                "order_no": payment.order_no,
                "status": payment.status,
                "amount": format_amount(payment.amount, scale=rules.CNY_SCALE),
                "captured": format_amount(payment.captured, scale=rules.CNY_SCALE),
                "refunded": format_amount(payment.refunded, scale=rules.CNY_SCALE),
                "currency": payment.currency,
                "at": now.isoformat(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        session.execute(
            text(
                "INSERT INTO payment_notification (payment_id, event, url, body, status, "
                "next_attempt_at, created_at) VALUES (:p, :e, :u, :b, 'pending', :now, :now)"
            ),
            {"p": payment.id, "e": event, "u": payment.notify_url, "b": body, "now": now},
        )
