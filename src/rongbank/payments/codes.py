"""e-Pay payment codes (付款码): the code a customer shows, the cashier scans.

:class:`PaymentCodes` is mixed into :class:`~rongbank.payments.service.PaymentsService`:
``issue_code`` (customer), then ``collect_by_code`` (cashier); when step-up wants a
challenge, or the code is for instalments (逸贷付款码), the order waits for the
customer's confirmation (``await_customer``) and is paid by ``pay_order``. A code is
kept only as its keyed hash.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import EAccount
from rongbank.payments import rules
from rongbank.payments.errors import CodeExpired, CodeNotFound
from rongbank.payments.orders import OrderRequest, Payment
from rongbank.payments.paying import Paying


class PaymentCodes(Paying):
    """Payment-code use cases, mixed into ``PaymentsService``; every method takes the
    caller's session and never commits."""

    _code_key: bytes

    def issue_code(
        self, session: Session, *, customer_id: int, account_number: str, instalments: bool = False
    ) -> tuple[str, datetime]:
        """A payment code for the cashier to scan: single use, valid a minute. With
        ``instalments`` (逸贷付款码), the payment scanned always waits for the
        customer, who pays it on their phone by instalments (or by e-Pay)."""
        account = self.payer_account(session, customer_id, account_number)
        code = rules.PAYMENT_CODE_PREFIX + f"{secrets.randbelow(10**16):016d}"
        now = self.clock.now()
        expires = now + self.barcode_limits.code_ttl
        session.execute(
            text(
                "INSERT INTO payment_code (code_hash, customer_id, e_account_id, created_at, "
                "expires_at, instalments) VALUES (:h, :c, :a, :now, :exp, :i)"
            ),
            {
                "h": self._code_hash(code),
                "c": customer_id,
                "a": account.id,
                "now": now,
                "exp": expires,
                "i": instalments,
            },
        )
        return code, expires

    def _code_hash(self, code: str) -> bytes:
        return hmac.new(self._code_key, code.strip().encode(), "sha256").digest()

    def code_holder(self, session: Session, code: str) -> tuple[int, EAccount]:
        """The customer and account behind a payment code (used or not)."""
        customer_id, account, _ = self.code_of(session, code)
        return customer_id, account

    def code_of(self, session: Session, code: str) -> tuple[int, EAccount, bool]:
        """:meth:`code_holder`, and whether the code is for instalments (it waits)."""
        row = session.execute(
            text(
                "SELECT pc.customer_id, a.number, pc.instalments FROM payment_code pc "
                "JOIN e_account a ON a.id = pc.e_account_id WHERE pc.code_hash = :h"
            ),
            {"h": self._code_hash(code)},
        ).first()
        if row is None:
            raise CodeNotFound()
        return int(row[0]), self.accounts.account(session, str(row[1])), bool(row[2])

    def _spend_code(self, session: Session, code: str) -> None:
        spent = session.execute(
            text(
                "UPDATE payment_code SET used_at = :now WHERE code_hash = :h "
                "AND used_at IS NULL AND expires_at > :now"
            ),
            {"h": self._code_hash(code), "now": self.clock.now()},
        ).rowcount  # type: ignore[attr-defined]
        if not spent:
            raise CodeExpired()

    def collect_by_code(
        self,
        session: Session,
        *,
        merchant_id: int,
        code: str,
        order_no: str,
        amount: int,
        description: str = "",
        notify_url: str = "",
        holder: tuple[int, EAccount] | None = None,
    ) -> Payment:
        """The cashier scanned the customer's payment code: spend it and pay.
        ``holder``: the code's :meth:`code_holder` as the caller read it (a code's
        holder never changes; read here otherwise)."""
        order = self._code_order(code, order_no, amount, description, notify_url)
        existing = self.find(session, merchant_id=merchant_id, order_no=order_no)
        if existing is not None and existing.status != "created":
            return self.same_order(session, existing, order)
        customer_id, account = holder or self.code_holder(session, code)
        self._spend_code(session, code)
        payment, _ = self.create_order(
            session, merchant_id=merchant_id, order=order, customer_id=customer_id
        )
        return self.pay_order(
            session, customer_id=customer_id, payment=payment, account_number=account.number
        )

    def await_customer(
        self,
        session: Session,
        *,
        merchant_id: int,
        code: str,
        order_no: str,
        amount: int,
        description: str = "",
        notify_url: str = "",
        challenge_id: str | None,
    ) -> Payment:
        """The payment needs the customer's confirmation (a step-up challenge was
        opened for them, or the code is for instalments: ``challenge_id`` None): keep
        the order, bound to them, and spend the code. A repeat answers the order."""
        existing = self.find(session, merchant_id=merchant_id, order_no=order_no)
        if existing is not None:
            return self.same_order(
                session, existing, self._code_order(code, order_no, amount, description, notify_url)
            )
        order = self._code_order(code, order_no, amount, description, notify_url)
        customer_id, _ = self.code_holder(session, code)
        self._spend_code(session, code)
        payment, _ = self.create_order(
            session, merchant_id=merchant_id, order=order, customer_id=customer_id
        )
        session.execute(
            text("UPDATE payment SET challenge_id = :ch, expires_at = :exp WHERE id = :id"),
            {"ch": challenge_id, "exp": self.clock.now() + self.order_ttl, "id": payment.id},
        )
        return self.lock_order(session, payment.id)

    def _code_order(
        self, code: str, order_no: str, amount: int, description: str, notify_url: str
    ) -> OrderRequest:
        return OrderRequest(
            order_no=order_no,
            amount=amount,
            channel="payment_code",
            description=description,
            notify_url=notify_url,
            detail=self._code_hash(code).hex(),
        )
