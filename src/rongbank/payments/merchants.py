"""e-Pay merchants: onboarding by staff (four eyes), suspension, the merchant's
logins and API keys (each revocable at once, by the owner or by staff), the key that
signs its notifications and its static counter codes.

:class:`Merchants` is mixed into :class:`~rongbank.payments.service.PaymentsService`
(as ``LedgerReads`` is into ``LedgerService``): callers keep one service, and the
money path (orders, payments, refunds) is in the modules beside it (``service.py``
names them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import AccountsService, EAccount
from rongbank.auth.service import AuthService, PrincipalKind
from rongbank.clock import Clock
from rongbank.db import run, statement
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import LedgerService
from rongbank.payments.errors import (
    ApiKeyNotFound,
    CodeNotFound,
    MerchantAlreadyApproved,
    MerchantNotActive,
    MerchantNotFound,
    MerchantUserNotFound,
    OwnLoginNotRevocable,
    SameStaffApproval,
    SettlementAccountInvalid,
)

MerchantRole = Literal["owner", "cashier", "api"]

API_KEY_PREFIX = "rbmk_"


@dataclass(frozen=True, slots=True)
class Merchant:
    id: int
    customer_id: int
    name: str
    mcc: str
    settlement_account_id: int
    payable_account_id: int
    fee_bps: int
    status: str
    status_reason: str
    notify_key_version: int

    @property
    def number(self) -> str:
        """What customers are shown as the payee (and step-up binds codes to)."""
        return f"M{self.id:08d}"


@dataclass(frozen=True, slots=True)
class MerchantActor:
    """Who acts for a merchant: a user (owner or cashier) or the merchant's API key."""

    merchant_id: int
    role: MerchantRole
    user_id: int | None = None

    def may_refund(self) -> bool:
        """Refunds give money back: the owner and the merchant's own systems, never a
        cashier at the counter."""
        return self.role in ("owner", "api")


@dataclass(frozen=True, slots=True)
class MerchantUser:
    """A login of the merchant's (its name to log in with is ``auth``'s)."""

    id: int
    merchant_id: int
    role: str
    name: str
    active: bool
    """False once revoked: its sessions are refused from the next request on."""
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key of the merchant's servers, as listed (the key itself is shown only when
    made; the bank keeps its SHA-256)."""

    id: int
    merchant_id: int
    label: str
    created_at: datetime
    revoked_at: datetime | None


_MERCHANT = ", ".join(f.name for f in fields(Merchant))
_USER = ", ".join(f.name for f in fields(MerchantUser))
_API_KEY = ", ".join(f.name for f in fields(ApiKey))


_FIND_MERCHANT = statement(f"SELECT {_MERCHANT} FROM merchant WHERE id = :id")  # noqa: S608
_LOCK_MERCHANT = statement(f"SELECT {_MERCHANT} FROM merchant WHERE id = :id FOR UPDATE")  # noqa: S608
_QR_MERCHANT = statement(
    f"SELECT {', '.join('m.' + f.name for f in fields(Merchant))} "  # noqa: S608
    "FROM merchant_qr q JOIN merchant m ON m.id = q.merchant_id "
    "WHERE q.token = :t AND q.revoked_at IS NULL"
)


def _active(merchant: Merchant) -> Merchant:
    if merchant.status != "active":
        raise MerchantNotActive(status=merchant.status)
    return merchant


def sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class Merchants:
    """Merchant use cases, mixed into ``PaymentsService``; every method takes the
    caller's session and never commits."""

    ledger: LedgerService
    accounts: AccountsService
    auth: AuthService
    clock: Clock
    public_url: str
    _notify_key: bytes

    # -- merchants ---------------------------------------------------------------------

    def onboard(
        self,
        session: Session,
        *,
        staff_id: int | None,
        customer_id: int,
        name: str,
        mcc: str,
        settlement_account: str,
        fee_bps: int,
    ) -> Merchant:
        """A new merchant profile, pending approval by another member of staff;
        ``staff_id`` None: a merchant the bank opens for itself (the 融e购 clearing),
        active at once."""
        customer = self.accounts.customer(session, customer_id)
        account = self.accounts.account(session, settlement_account)
        if account.customer_id != customer.id or account.status != "active":
            raise SettlementAccountInvalid()
        merchant_id = int(
            session.execute(
                text("SELECT nextval(pg_get_serial_sequence('merchant', 'id'))")
            ).scalar_one()
        )
        payable, _ = self.ledger.create_account(
            session,
            code=f"mpay:{merchant_id}",
            name=f"payable to merchant {merchant_id}",
            currency="CNY",
            type=AccountType.LIABILITY,
            # What the bank holds for the merchant never goes below zero: a refund or a
            # settlement can give out only what customers paid in and is still here.
            rule=BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS,
        )
        row = session.execute(
            text(
                "INSERT INTO merchant (id, customer_id, name, mcc, settlement_account_id, "  # noqa: S608
                "payable_account_id, fee_bps, status, onboarded_by, created_at) "
                "OVERRIDING SYSTEM VALUE VALUES (:id, :c, :n, :mcc, :s, :p, :fee, :status, "
                f":staff, :at) RETURNING {_MERCHANT}"
            ),
            {
                "id": merchant_id,
                "c": customer.id,
                "n": name.strip(),
                "mcc": mcc,
                "s": account.id,
                "p": payable.id,
                "fee": fee_bps,
                "status": "pending" if staff_id is not None else "active",
                "staff": staff_id,
                "at": self.clock.now(),
            },
        ).one()
        return Merchant(*row)

    def merchant(self, session: Session, merchant_id: int, *, lock: bool = False) -> Merchant:
        row = run(
            session, _LOCK_MERCHANT if lock else _FIND_MERCHANT, {"id": merchant_id}
        ).fetchone()
        if row is None:
            raise MerchantNotFound(merchant_id=merchant_id)
        return Merchant(*row)

    def merchants(
        self,
        session: Session,
        *,
        customer_id: int | None = None,
        status: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[Merchant]:
        """Merchants, oldest first (or newest): all, a customer's, or those of one
        status; the first ``limit`` of them (None: every one)."""
        rows = session.execute(
            text(
                f"SELECT {_MERCHANT} FROM merchant "  # noqa: S608
                "WHERE (CAST(:c AS bigint) IS NULL OR customer_id = :c) "
                "AND (CAST(:s AS text) IS NULL OR status = :s) "
                f"ORDER BY id {'DESC' if newest_first else ''} LIMIT :limit"
            ),
            {"c": customer_id, "s": status, "limit": limit},
        ).all()
        return [Merchant(*row) for row in rows]

    def merchant_names(self, session: Session, merchant_ids: list[int]) -> dict[int, str]:
        """The names of these merchants (a page naming a few, among many)."""
        rows = session.execute(
            text("SELECT id, name FROM merchant WHERE id = ANY(:ids)"), {"ids": merchant_ids}
        ).all()
        return {int(r[0]): str(r[1]) for r in rows}

    def pending_count(self, session: Session) -> int:
        """Merchants onboarded and waiting for a second member of staff to approve."""
        return int(
            session.execute(text("SELECT count(*) FROM merchant WHERE status = 'pending'")).one()[0]
        )

    def approve(self, session: Session, *, merchant_id: int, staff_id: int) -> Merchant:
        merchant = self.merchant(session, merchant_id, lock=True)
        if merchant.status != "pending":
            raise MerchantAlreadyApproved(status=merchant.status)
        onboarded_by = session.execute(
            text("SELECT onboarded_by FROM merchant WHERE id = :id"), {"id": merchant_id}
        ).scalar_one()
        if onboarded_by == staff_id:
            raise SameStaffApproval()
        return self._update_merchant(
            session,
            merchant_id,
            "status = 'active', approved_by = :staff, approved_at = :at",
            {"staff": staff_id, "at": self.clock.now()},
        )

    def set_status(
        self, session: Session, *, merchant_id: int, status: str, reason: str
    ) -> Merchant:
        """Suspend (``status="suspended"``) or reinstate (``"active"``) an approved
        merchant. A suspended merchant takes no payments and gives no refunds (a
        merchant suspended for fraud must not pay its takings out as "refunds");
        authorised payments can still be captured or voided, and settlement goes on."""
        if status not in ("active", "suspended"):
            raise ValueError(f"unknown merchant status {status!r}")
        merchant = self.merchant(session, merchant_id, lock=True)
        if merchant.status == "pending":
            raise MerchantNotActive(status=merchant.status)
        return self._update_merchant(
            session, merchant_id, "status = :s, status_reason = :r", {"s": status, "r": reason}
        )

    def _update_merchant(
        self, session: Session, merchant_id: int, assignments: str, values: dict[str, Any]
    ) -> Merchant:
        row = session.execute(
            text(
                f"UPDATE merchant SET {assignments} WHERE id = :id RETURNING {_MERCHANT}"  # noqa: S608
            ),
            {**values, "id": merchant_id},
        ).one()
        return Merchant(*row)

    def e_account(self, session: Session, account_id: int, *, lock: bool = False) -> EAccount:
        """An e-account by its id (payments and merchants keep ids, not numbers)."""
        number = session.execute(
            text("SELECT number FROM e_account WHERE id = :id"), {"id": account_id}
        ).scalar_one()
        return self.accounts.account(session, str(number), lock=lock)

    def active_merchant(self, session: Session, merchant_id: int) -> Merchant:
        return _active(self.merchant(session, merchant_id))

    # -- merchant logins and keys ------------------------------------------------------

    def add_user(self, session: Session, *, merchant_id: int, role: str, name: str) -> int:
        """A merchant user; the caller gives it a login (``AuthService.set_password``
        with ``PrincipalKind.MERCHANT`` and this id)."""
        if role not in ("owner", "cashier"):
            raise ValueError(f"unknown merchant role {role!r}")
        self.merchant(session, merchant_id)
        return int(
            session.execute(
                text(
                    "INSERT INTO merchant_user (merchant_id, role, name, created_at) "
                    "VALUES (:m, :r, :n, :at) RETURNING id"
                ),
                {"m": merchant_id, "r": role, "n": name, "at": self.clock.now()},
            ).scalar_one()
        )

    def user_actor(self, session: Session, user_id: int) -> MerchantActor | None:
        """Who a merchant user's session acts as; None once the login is revoked (its
        sessions were ended then too: this is a second line)."""
        row = session.execute(
            text("SELECT merchant_id, role FROM merchant_user WHERE id = :id AND active"),
            {"id": user_id},
        ).first()
        return None if row is None else MerchantActor(int(row[0]), row[1], user_id)

    def users(self, session: Session, merchant_id: int) -> list[MerchantUser]:
        rows = session.execute(
            text(
                f"SELECT {_USER} FROM merchant_user WHERE merchant_id = :m ORDER BY id"  # noqa: S608
            ),
            {"m": merchant_id},
        ).all()
        return [MerchantUser(*row) for row in rows]

    def revoke_user(
        self, session: Session, *, merchant_id: int, user_id: int, by_user: int | None = None
    ) -> MerchantUser:
        """End a merchant login (a cashier who left, a stolen password): it is
        disabled and its sessions ended in this transaction (``AuthService.disable``),
        so its next request is refused and it cannot log in again. ``by_user`` is the
        owner revoking, who may not revoke their own login (the merchant would be left
        with no one to manage it). A repeat answers the revoked user."""
        if user_id == by_user:
            raise OwnLoginNotRevocable()
        row = session.execute(
            text(
                "UPDATE merchant_user SET active = false, "  # noqa: S608
                "revoked_at = coalesce(revoked_at, :at) WHERE id = :u AND merchant_id = :m "
                f"RETURNING {_USER}"
            ),
            {"u": user_id, "m": merchant_id, "at": self.clock.now()},
        ).first()
        if row is None:
            raise MerchantUserNotFound(user_id=user_id)
        self.auth.disable(session, kind=PrincipalKind.MERCHANT, principal_id=user_id)
        return MerchantUser(*row)

    def create_api_key(
        self, session: Session, *, merchant_id: int, label: str = ""
    ) -> tuple[ApiKey, str]:
        """A new key for the merchant's servers: the key itself is returned only here
        (the bank keeps its hash)."""
        key = f"{API_KEY_PREFIX}{secrets.token_urlsafe(32)}"
        row = session.execute(
            text(
                "INSERT INTO merchant_api_key (merchant_id, key_hash, label, created_at) "  # noqa: S608
                f"VALUES (:m, :h, :l, :at) RETURNING {_API_KEY}"
            ),
            {"m": merchant_id, "h": sha256(key), "l": label, "at": self.clock.now()},
        ).one()
        return ApiKey(*row), key

    def api_keys(self, session: Session, merchant_id: int) -> list[ApiKey]:
        rows = session.execute(
            text(
                f"SELECT {_API_KEY} FROM merchant_api_key WHERE merchant_id = :m ORDER BY id"  # noqa: S608
            ),
            {"m": merchant_id},
        ).all()
        return [ApiKey(*row) for row in rows]

    def revoke_api_key(self, session: Session, *, merchant_id: int, key_id: int) -> ApiKey:
        """Stop a key now: the next request with it is refused (``api_key_actor``). A
        repeat answers the revoked key."""
        row = session.execute(
            text(
                "UPDATE merchant_api_key SET revoked_at = coalesce(revoked_at, :at) "  # noqa: S608
                f"WHERE id = :k AND merchant_id = :m RETURNING {_API_KEY}"
            ),
            {"k": key_id, "m": merchant_id, "at": self.clock.now()},
        ).first()
        if row is None:
            raise ApiKeyNotFound(key_id=key_id)
        return ApiKey(*row)

    def api_key_actor(self, session: Session, key: str) -> MerchantActor | None:
        row = session.execute(
            text(
                "SELECT merchant_id FROM merchant_api_key WHERE key_hash = :h "
                "AND revoked_at IS NULL"
            ),
            {"h": sha256(key)},
        ).first()
        return None if row is None else MerchantActor(int(row[0]), "api")

    def notify_key(self, merchant: Merchant) -> bytes:
        """The key that signs the merchant's notifications: derived, never stored."""
        label = f"{merchant.id}:{merchant.notify_key_version}".encode()
        return hmac.new(self._notify_key, label, "sha256").digest()

    def rotate_notify_key(self, session: Session, *, merchant_id: int) -> bytes:
        merchant = self._update_merchant(
            session, merchant_id, "notify_key_version = notify_key_version + 1", {}
        )
        return self.notify_key(merchant)

    def static_qr(self, session: Session, *, merchant_id: int, label: str = "") -> str:
        """A new static code for the counter; returns what the QR code carries."""
        self.active_merchant(session, merchant_id)
        token = "S" + secrets.token_urlsafe(18)
        session.execute(
            text(
                "INSERT INTO merchant_qr (token, merchant_id, label, created_at) "
                "VALUES (:t, :m, :l, :at)"
            ),
            {"t": token, "m": merchant_id, "l": label, "at": self.clock.now()},
        )
        return self.qr_content(token)

    def qr_content(self, token: str) -> str:
        """What a QR code carries: a link any phone camera opens in the web bank."""
        return f"{self.public_url}/pay/{token}"

    @staticmethod
    def token_of(content: str) -> str:
        """The token of scanned QR content (the whole link, or just the token)."""
        return content.strip().rstrip("/").rsplit("/", 1)[-1]

    def static_qr_merchant(self, session: Session, content: str) -> Merchant:
        """The active merchant of a static code (one statement: the code's merchant is
        read with the code)."""
        row = run(session, _QR_MERCHANT, {"t": self.token_of(content)}).fetchone()
        if row is None:
            raise CodeNotFound()
        return _active(Merchant(*row))
