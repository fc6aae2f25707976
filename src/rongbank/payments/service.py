"""e-Pay (工银e支付) use cases: codes, payments, capture, refunds.

The service API, for the API endpoints and the web pages. Every method takes the
caller's session and never commits; a method that moves a customer's money must run
inside ``Platform.authorised`` (see ``rongbank.payments.endpoints``), which adds the
step-up decision of ``rongbank.auth`` to the same transaction.

Merchants (onboarding, status, logins and keys, counter codes) are
``rongbank.payments.merchants``, mixed into :class:`PaymentsService`.

Ways to pay (each payment is one ``payment`` row, unique per merchant order number:
the same request again answers the original result, a different one
:class:`OrderConflict`):
    - a merchant's static QR (counter): ``pay_static`` (the customer enters the amount;
      the order number is the customer's client id);
    - a merchant's dynamic QR or web-shop order: ``create_order`` (merchant), then
      ``order_for_customer`` / ``pay_order`` (customer);
    - a customer's payment code (付款码): ``issue_code`` (customer), then
      ``collect_by_code`` (cashier); when step-up wants a challenge, the order waits
      for the customer's confirmation (``await_customer``) and is paid by
      ``pay_order``.

A payment the fraud engine sends to review is ``held``: its money a pending transfer
to the merchant's payable, its merchant told so, until the review releases it (then
``paid``, or ``authorised`` with manual capture) or voids it (``declined``), exactly
once (:meth:`PaymentsService.held_resolved`, ``rongbank.risk.engine.holds``).

Money: a payment moves the amount from the customer's e-account to the merchant's
own "merchant payable" ledger account (a pending transfer with manual capture, then
``capture`` or ``void``); ``refund`` moves money back from it, never more than was
captured nor more than the payable holds beyond the fees due (:class:`MerchantFunds`);
settlement (``rongbank.payments.settlement``) empties it into the settlement e-account
and the bank's fee income. A payment's fee is on what it keeps until it is settled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox, review_hold
from rongbank.accounts.errors import (
    AccountFrozen,
    AccountNotActive,
    AccountNumberInvalid,
    EAccountNotFound,
    NotYourAccount,
)
from rongbank.accounts.service import AccountsService, EAccount
from rongbank.auth.service import AuthService
from rongbank.auth.tools import PaymentRequest
from rongbank.clock import Clock
from rongbank.db import advisory_lock, pipeline, run, statement
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.errors import PendingExpired
from rongbank.ledger.service import LedgerService, PostPending, Transfer, VoidPending
from rongbank.money import format_amount
from rongbank.payments import rules
from rongbank.payments.errors import (
    BarcodeLimitExceeded,
    CodeExpired,
    CodeNotFound,
    MerchantNotActive,
    NotCapturable,
    OrderConflict,
    OrderNotPayable,
    PaymentNotFound,
    RefundConflict,
    RefundExceedsMerchantFunds,
    RefundExceedsPayment,
)
from rongbank.payments.events import PaymentMade, PaymentRefunded
from rongbank.payments.merchants import Merchant, Merchants
from rongbank.payments.urls import Resolver, check_url, resolve

Channel = Literal["static_qr", "dynamic_qr", "payment_code", "online"]
Capture = Literal["immediate", "manual"]
HOLD_TIMEOUT = timedelta(days=30)
"""How long an authorised (not yet captured) payment keeps the customer's money."""
FEE_INCOME_ACCOUNT = "bank:fee-income:epay"


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
class Refund:
    id: int
    payment_id: int
    refund_no: str
    amount: int
    entry_id: int
    business_day: date
    created_at: datetime


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


_PAYMENT = ", ".join(f.name for f in fields(Payment))
_REFUND = ", ".join(f.name for f in fields(Refund))
_FIND = statement(f"SELECT {_PAYMENT} FROM payment WHERE merchant_id = :m AND order_no = :o")  # noqa: S608
_LOCK = statement(f"SELECT {_PAYMENT} FROM payment WHERE id = :id FOR UPDATE")  # noqa: S608
_BY_TOKEN = statement(f"SELECT {_PAYMENT} FROM payment WHERE token = :t")  # noqa: S608
_REQUEST_HASH = statement("SELECT request_hash FROM payment WHERE id = :id")
_INSERT_ORDER = statement(
    "INSERT INTO payment (merchant_id, order_no, token, request_hash, channel, "  # noqa: S608
    "capture, status, amount, description, return_url, notify_url, customer_id, "
    "created_at, expires_at) VALUES (:m, :o, :t, :h, :ch, :cap, 'created', :a, "
    ":d, :r, :n, :c, :now, :exp) ON CONFLICT (merchant_id, order_no) DO NOTHING "
    f"RETURNING {_PAYMENT}"
)
_PAID = statement(
    "UPDATE payment SET status = :s, customer_id = :c, e_account_id = :a, "  # noqa: S608
    "entry_id = :e, captured = :cap, fee = :fee, business_day = :day, paid_at = :now "
    f"WHERE id = :id RETURNING {_PAYMENT}"
)
_HELD = statement(
    "UPDATE payment SET status = 'held', customer_id = :c, e_account_id = :a, "  # noqa: S608
    f"entry_id = :e, paid_at = :now WHERE id = :id RETURNING {_PAYMENT}"
)
_HELD_BY_ENTRY = statement(
    f"SELECT {_PAYMENT} FROM payment WHERE entry_id = :e AND status = 'held' FOR UPDATE"  # noqa: S608
)
_DECLINED = statement(
    f"UPDATE payment SET status = 'declined' WHERE id = :id RETURNING {_PAYMENT}"  # noqa: S608
)
_BARCODE_USED = statement(
    "SELECT coalesce(sum(amount), 0) FROM payment WHERE customer_id = :c "
    "AND paid_at >= :start AND paid_at < :end AND status NOT IN ('created', 'declined') "
    "AND (channel = 'static_qr') = :static AND channel <> 'online'"
)


class PaymentsService(Merchants):
    def __init__(
        self,
        ledger: LedgerService,
        accounts: AccountsService,
        clock: Clock,
        *,
        auth: AuthService,
        barcode_limits: rules.BarcodeLimits,
        key: bytes,
        order_ttl: timedelta = timedelta(minutes=30),
        public_url: str,
        allow_private_urls: bool = False,
        resolver: Resolver = resolve,
    ) -> None:
        self.ledger = ledger
        self.accounts = accounts
        self.clock = clock
        self.auth = auth
        self.barcode_limits = barcode_limits
        self.order_ttl = order_ttl
        self.public_url = public_url.rstrip("/")
        self.allow_private_urls = allow_private_urls
        """Merchants' notify and return URLs may point at private addresses (tests and
        development only: see ``rongbank.payments.urls``)."""
        self.resolver = resolver
        self.refund_listeners: list[Callable[[Session, Payment, Refund], None]] = []
        """Called in each refund's transaction once the money is back in the payer's
        account: the seam through which another domain (逸贷, whose loan paid the
        order) acts on it, e-Pay knowing nothing of it."""
        self.settlement_listeners: list[Callable[[Session, Merchant, Any], None]] = []
        """Called in each settlement run's transaction (``settlement.settle``, once per
        merchant and day) with the merchant and its ``Settlement``, once the payout is
        in the settlement account: lending takes an operating loan's share of it."""
        self.paid_listeners: list[Callable[[Session, Payment], None]] = []
        """Called in each payment's transaction once it is paid or authorised, however
        it was paid (``pay_order``, ``paid_otherwise``): the mall marks its checkout
        paid with it, or refuses a payment whose reservation has lapsed."""
        self.settled_elsewhere: set[int] = set()
        """Merchants whose payable another domain pays out, never e-Pay's settlement:
        the 融e购 mall's clearing merchant, whose payable holds buyers' money until
        each seller's part is released (``rongbank.mall.orders``)."""
        self._code_key = hmac.new(key, b"rongbank-payments:payment-codes", "sha256").digest()
        self._notify_key = hmac.new(key, b"rongbank-payments:notify", "sha256").digest()

    # -- the customer's side -----------------------------------------------------------

    def payer_account(
        self, session: Session, customer_id: int, number: str, *, lock: bool = False
    ) -> EAccount:
        try:
            account = self.accounts.account(session, number, lock=lock)
        except (AccountNumberInvalid, EAccountNotFound):  # not the customer's either way
            raise NotYourAccount() from None
        if account.customer_id != customer_id:
            raise NotYourAccount()
        return account

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
                return self._same(session, existing, order), False
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
            return self._same(session, found, order), False
        return Payment(*row), True

    def _same(self, session: Session, payment: Payment, order: OrderRequest) -> Payment:
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
        return self._lock(session, payment_id)

    def _lock(self, session: Session, payment_id: int) -> Payment:
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
                f"SELECT {_PAYMENT} FROM payment WHERE customer_id = :c "  # noqa: S608
                "AND status <> 'created' ORDER BY id DESC LIMIT :l"
            ),
            {"c": customer_id, "l": limit},
        ).all()
        return [Payment(*row) for row in rows]

    def awaiting(self, session: Session, customer_id: int) -> list[Payment]:
        """Payment-code payments waiting for the customer's confirmation."""
        rows = session.execute(
            text(
                f"SELECT {_PAYMENT} FROM payment WHERE customer_id = :c "  # noqa: S608
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
                f"SELECT {_PAYMENT} FROM payment WHERE merchant_id = :m "  # noqa: S608
                "ORDER BY id DESC LIMIT :l"
            ),
            {"m": merchant_id, "l": limit},
        ).all()
        return [Payment(*row) for row in rows]

    # -- paying ------------------------------------------------------------------------

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
            return self._same(session, existing, order)
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
            return self._same(
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
        return self._lock(session, payment.id)

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
            payment = self._lock(session, payment.id)
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
            self._notify(session, held, "payment.held")
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
            self._notify(session, Payment(*row), "payment.declined")
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
                f"WHERE id = :id RETURNING {_PAYMENT}"
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
        self._notify(session, paid, "payment.authorised" if manual else "payment.paid")
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

    # -- after payment: capture, void, refund ------------------------------------------

    def capture(
        self, session: Session, *, merchant_id: int, order_no: str, amount: int | None = None
    ) -> Payment:
        """Take (part of) an authorised payment; the rest of the hold is released. A
        repeat answers the captured payment."""
        payment = self._lock(
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
                f"WHERE id = :id RETURNING {_PAYMENT}"
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
        self._notify(session, captured, "payment.captured")
        return captured

    def void(self, session: Session, *, merchant_id: int, order_no: str) -> Payment:
        """Release an authorised payment's hold in full; a repeat answers the same."""
        payment = self._lock(
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
                f"WHERE id = :id RETURNING {_PAYMENT}"
            ),
            {"e": entry_id, "id": payment.id},
        ).one()
        voided = Payment(*row)
        self._notify(session, voided, "payment.voided")
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
        payment = self._lock(session, found.id)
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
        self._notify(session, self._lock(session, payment.id), "payment.refunded")
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

    # -- notifications -----------------------------------------------------------------

    def _notify(self, session: Session, payment: Payment, event: str) -> None:
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
