"""Resetting a forgotten login password through the registered mobile.

A customer who forgot their password proves who they are with what a stranger
should not hold all of: their mobile number and identity number typed in, a code
sent to that mobile, and, for a customer who holds a token or a U盾, that tool's
answer as well (a stolen phone and leaked identity data then still cannot take the
account over). In steps:

1. :meth:`PasswordResets.start` with the mobile and identity number. Only when they
   match a customer with a login is a code sent; either way a reset is made and
   answered alike, so the answer never tells whether the number banks here (nor, to
   whoever has the number but not the identity, whose it is).
2. :meth:`PasswordResets.check` with the code and the new password: a wrong code
   counts (:data:`MAX_CODE_FAILURES` end the reset), and like a login the refusal is
   returned for the boundary to raise once the count is committed. A reset that
   matched nobody answers every code as wrong.
3. :meth:`PasswordResets.finish`, in the transaction that the token's or U盾's
   challenge confirms when the customer holds one (the boundary runs it through
   ``Platform.confirmed`` with :meth:`PasswordResets.change`): the new password
   replaces the old, every session and every lockout of the login ends, and the
   customer is told (:class:`~rongbank.auth.events.PasswordChanged`).

Resets started are limited per mobile number and per network (:data:`PER_MOBILE`,
:data:`PER_SOURCE` an hour), whoever the number belongs to: each sends a text to a
customer's phone, and each is a few more guesses at a code.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.auth import throttle
from rongbank.auth.events import PasswordChanged
from rongbank.auth.passwords import check_password_policy, hash_password
from rongbank.auth.service import AuthService, PrincipalKind
from rongbank.auth.tools import PaymentRequest, ToolService
from rongbank.clock import Clock
from rongbank.db import advisory_lock
from rongbank.errors import Conflict, DomainError, InvalidRequest

RESET_TTL = timedelta(minutes=10)
MAX_CODE_FAILURES = 5
WINDOW = timedelta(hours=1)
PER_MOBILE = 3
"""Resets started for one mobile number per :data:`WINDOW`: texts to one phone."""
PER_SOURCE = 10
"""Resets started from one network per :data:`WINDOW`, whatever the numbers."""
CHANGE = "重置网上银行登录密码"
"""What the code and the tools' challenges confirm, in the words the SMS uses."""


class ResetExpired(Conflict):
    code = "password_reset_expired"
    message = (
        "This password reset has ended (it was used, expired after 10 minutes, or had "
        "too many wrong codes). Start again."
    )


class ResetCodeWrong(InvalidRequest):
    """The code is not the one sent for this reset (or the reset matched nobody, who
    was sent none: the same answer)."""

    code = "password_reset_code_wrong"
    message = "The code is not right."
    final = False


class ResetCodeMissing(InvalidRequest):
    code = "password_reset_code_missing"
    message = "Enter the code we sent to your mobile, and your new password."
    final = False


class ResetTooFrequent(DomainError):
    code = "password_reset_too_frequent"
    status = 429
    message = (
        "Too many password resets for this mobile number or from your network. "
        "Try again later (details.retry_after_seconds)."
    )


@dataclass(frozen=True, slots=True)
class Holder:
    """The customer a mobile and identity number match, who has a login."""

    customer_id: int
    mobile: str
    personal: tuple[str, ...]
    """What a new password must not contain (mobile, identity number, login name)."""


class Holders(Protocol):
    """Who is who: the direct bank answers it (``AccountsService``)."""

    def reset_holder(
        self, session: Session, *, mobile: str, identity_number: str
    ) -> Holder | None: ...

    def holder(self, session: Session, customer_id: int) -> Holder: ...


@dataclass(frozen=True, slots=True)
class StartedReset:
    id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ResetCheck:
    """A checked code and new password: whose reset it is, or the refusal to raise
    once the wrong code is counted."""

    customer_id: int | None = None
    error: ResetCodeWrong | ResetExpired | None = None

    def unwrap(self) -> int:
        if self.error is not None:
            raise self.error
        assert self.customer_id is not None
        return self.customer_id


@dataclass(frozen=True, slots=True)
class _Row:
    customer_id: int | None
    code_hash: bytes | None
    failures: int
    status: str
    password_hash: str | None
    expires_at: datetime


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class PasswordResets:
    def __init__(
        self,
        clock: Clock,
        auth: AuthService,
        tools: ToolService,
        holders: Holders,
        *,
        ttl: timedelta = RESET_TTL,
    ) -> None:
        self.clock = clock
        self.auth = auth
        self.tools = tools
        self.holders = holders
        self.ttl = ttl

    def start(
        self, session: Session, *, mobile: str, identity_number: str, ip: str | None
    ) -> StartedReset:
        """Start a reset for whoever ``mobile`` (normalised) and ``identity_number``
        belong to; a code goes to the mobile only when they match a customer with a
        login. Raises :class:`ResetTooFrequent` past the hourly limits."""
        now = self.clock.now()
        # Keyed (as a login name is): a plain SHA-256 of an 11-digit number is undone by
        # trying them all.
        mobile_hash = _sha256(self.auth.stored_name(mobile))
        source = throttle.source_of(ip)
        # One start per number at a time: concurrent ones cannot all slip under the limit.
        advisory_lock(
            session, "password_reset", int.from_bytes(mobile_hash[:8], "big", signed=True)
        )
        self._check_rate(session, now, mobile_hash=mobile_hash, source=source)
        holder = self.holders.reset_holder(session, mobile=mobile, identity_number=identity_number)
        reset_id = secrets.token_urlsafe(24)
        code_hash = (
            None
            if holder is None
            else self.tools.send_code(session, mobile=holder.mobile, to=CHANGE, nonce=reset_id)
        )
        session.execute(
            text(
                "INSERT INTO password_reset (public_id, mobile_hash, source, customer_id, "
                "code_hash, created_at, expires_at) VALUES (:id, :mobile, :source, :customer, "
                ":code, :now, :expires)"
            ),
            {
                "id": reset_id,
                "mobile": mobile_hash,
                "source": source,
                "customer": None if holder is None else holder.customer_id,
                "code": code_hash,
                "now": now,
                "expires": now + self.ttl,
            },
        )
        return StartedReset(reset_id, now + self.ttl)

    def _check_rate(
        self, session: Session, now: datetime, *, mobile_hash: bytes, source: str
    ) -> None:
        since = now - WINDOW
        rows = session.execute(
            text(
                "SELECT 'mobile', count(*), min(created_at) FROM password_reset "
                "WHERE mobile_hash = :mobile AND created_at > :since "
                "UNION ALL SELECT 'source', count(*), min(created_at) FROM password_reset "
                "WHERE source = :source AND created_at > :since"
            ),
            {"mobile": mobile_hash, "source": source, "since": since},
        ).all()
        limits = {"mobile": PER_MOBILE, "source": PER_SOURCE}
        for kind, count, oldest in rows:
            if count >= limits[kind]:
                wait = (oldest + WINDOW - now).total_seconds()
                raise ResetTooFrequent(retry_after_seconds=max(1, math.ceil(wait)))

    def check(
        self, session: Session, reset_id: str, *, code: str | None, password: str | None
    ) -> ResetCheck:
        """Check the code (when given) and keep the new password (when given, hashed)
        until the reset finishes. A second round that answers the tool's challenge
        may leave both out: the reset keeps them from the first.

        Raises :class:`ResetExpired`, :class:`ResetCodeMissing`, or
        :class:`WeakPassword`; a wrong code is returned (see :class:`ResetCheck`)."""
        row = self._row(session, reset_id)
        if code is not None:
            right = row.code_hash is not None and self.tools.code_matches(
                nonce=reset_id, code=code, code_hash=row.code_hash
            )
            if not right:
                return ResetCheck(error=self._wrong_code(session, reset_id, row))
        elif row.status != "verified":
            raise ResetCodeMissing()
        assert row.customer_id is not None  # a right code: sent to a customer
        password_hash = row.password_hash
        if password is not None:
            holder = self.holders.holder(session, row.customer_id)
            check_password_policy(password, personal=holder.personal)
            password_hash = hash_password(password)
        if password_hash is None:
            raise ResetCodeMissing()
        session.execute(
            text(
                "UPDATE password_reset SET status = 'verified', password_hash = :hash "
                "WHERE public_id = :id"
            ),
            {"hash": password_hash, "id": reset_id},
        )
        return ResetCheck(customer_id=row.customer_id)

    def _wrong_code(
        self, session: Session, reset_id: str, row: _Row
    ) -> ResetCodeWrong | ResetExpired:
        failures = row.failures + 1
        ended = failures >= MAX_CODE_FAILURES
        session.execute(
            text(
                "UPDATE password_reset SET failures = :failures, "
                "status = CASE WHEN :ended THEN 'failed' ELSE status END WHERE public_id = :id"
            ),
            {"failures": failures, "ended": ended, "id": reset_id},
        )
        if ended:
            return ResetExpired()
        return ResetCodeWrong(attempts_left=MAX_CODE_FAILURES - failures)

    def change(self, customer_id: int, reset_id: str) -> PaymentRequest:
        """The change a token's or U盾's challenge confirms: this very reset."""
        return PaymentRequest.security_change(customer_id, CHANGE, f"password-reset:{reset_id}")

    def finish(self, session: Session, reset_id: str, *, ip: str | None) -> int:
        """Give the customer the new password checked before: every session of theirs
        and every lockout of their login ends, and they are told. How many sessions
        ended. Raises :class:`ResetExpired` for a reset not checked or over."""
        row = self._row(session, reset_id)
        if row.status != "verified" or row.customer_id is None or row.password_hash is None:
            raise ResetExpired()
        ended = self.auth.replace_password(
            session,
            kind=PrincipalKind.CUSTOMER,
            principal_id=row.customer_id,
            password_hash=row.password_hash,
        )
        session.execute(
            text(
                "UPDATE password_reset SET status = 'done', password_hash = NULL "
                "WHERE public_id = :id"
            ),
            {"id": reset_id},
        )
        outbox.record(
            session,
            PasswordChanged(
                customer_id=row.customer_id,
                reset=True,
                sessions_ended=ended,
                source=throttle.source_of(ip),
                ref=f"reset:{reset_id}",
                occurred_at=self.clock.now(),
            ),
        )
        return ended

    def _row(self, session: Session, reset_id: str) -> _Row:
        """The reset, locked; :class:`ResetExpired` unless it can still be used."""
        found = session.execute(
            text(
                "SELECT customer_id, code_hash, failures, status, password_hash, expires_at "
                "FROM password_reset WHERE public_id = :id FOR UPDATE"
            ),
            {"id": reset_id},
        ).one_or_none()
        if found is None:
            raise ResetExpired()
        row = _Row(
            found[0],
            None if found[1] is None else bytes(found[1]),
            found[2],
            found[3],
            found[4],
            found[5],
        )
        if row.status in ("done", "failed") or row.expires_at <= self.clock.now():
            raise ResetExpired()
        return row
