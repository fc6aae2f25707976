"""Authentication use cases: passwords, logins with lockout, bearer sessions.

Wrong passwords lock out the source they come from, not the login name
(:mod:`rongbank.auth.throttle` says why and how).

The service never commits. One use case needs care about that: a failed login must
be *counted* even though the request fails. So :meth:`AuthService.login` does not
raise for a wrong name or password; it writes the failure count and returns a
:class:`LoginResult` holding the refusal, and the boundary commits before raising it::

    with unit_of_work(factory) as session:
        result = auth.login(session, username=name, password=password)
    new_session = result.unwrap()  # raises LoginFailed / AccountLocked after commit

Raising inside the unit of work would roll the count back, and a guesser would
never be locked out.

Any principal can be **disabled** (:meth:`AuthService.disable`: a merchant login
revoked, a member of staff deactivated): every session of theirs ends at once, and
a login is refused as a wrong password is, whatever password is typed. Not a
refusal of its own ("this login is disabled"): that would tell whoever tries a
revoked cashier's or a departed employee's password that the password is right (to
try wherever else it is used) or that the name is a login here at all. The owner
learns it from whoever disabled them; the audit trail keeps the real reason.

A customer is told at once (a 融e联 security notice, from
:class:`~rongbank.auth.events.LoginLockedOut`) when wrong passwords lock a source
out of their login: at most once per :data:`LOCKOUT_NOTICE_INTERVAL`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import psycopg
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.auth import repository as repo
from rongbank.auth import throttle
from rongbank.auth.errors import (
    AccountLocked,
    CurrentPasswordWrong,
    LoginFailed,
    LoginNameInvalid,
    PasswordUnchanged,
    SessionExpired,
    SessionInvalid,
    SessionNotFound,
    UsernameTaken,
)
from rongbank.auth.events import LoginLockedOut, PasswordChanged
from rongbank.auth.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_nothing,
    verify_password,
)
from rongbank.clock import Clock
from rongbank.db import driver_connection
from rongbank.errors import DomainError
from rongbank.pii import for_this_process

logger = logging.getLogger(__name__)

MAX_USERNAME = 128
MAX_CLIENT = 200

LOCKOUT_NOTICE_INTERVAL = timedelta(hours=1)
"""A customer is told of a lockout of their login at most this often: a guesser with
many addresses locks out one after the other, and each would otherwise be a notice."""

TOUCH_INTERVAL = timedelta(minutes=1)
"""``last_seen_at`` is written at most this often per session rather than on every
request: a login check is a read, and one request a minute of each session writes.
It can only make the inactivity timeout act up to this much *earlier* than the last
request plus ``inactivity``, never later."""


class PrincipalKind(StrEnum):
    CUSTOMER = "customer"
    """A customer of the bank, in the web bank, the app or chat."""
    STAFF = "staff"
    """A bank employee in the staff console."""
    MERCHANT = "merchant"
    """A merchant's user (owner or cashier) in e-Pay; see ``rongbank.payments``."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is authenticated as, and through which session."""

    kind: PrincipalKind
    id: int
    session_id: int


@dataclass(frozen=True, slots=True)
class NewSession:
    """What a successful login hands to the client. ``token`` exists only here: the
    bank keeps its hash. Never log it."""

    token: str = field(repr=False)
    principal: Principal
    expires_at: datetime
    history: repo.LoginHistory = field(default_factory=repo.LoginHistory)
    """The login before this one, and the wrong passwords tried in between: the
    customer is told, and can act if they were not theirs."""


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A login's outcome: a session, or the refusal to raise once the failure count
    is committed (see the module docstring)."""

    new_session: NewSession | None = None
    error: LoginFailed | AccountLocked | None = None
    disabled: bool = False
    """The password was right but the principal is disabled: refused as a wrong
    password is (see the module docstring). For the audit trail only."""
    login_of: tuple[PrincipalKind, int] | None = None
    """Whose login name was typed, refused or not (None: a name nobody has). For
    the audit trail, whence the owner's login history; never told to the client."""

    def unwrap(self) -> NewSession:
        if self.new_session is None:
            assert self.error is not None
            raise self.error
        return self.new_session


@dataclass(frozen=True, slots=True)
class PasswordChange:
    """A password change's outcome: the sessions it ended, or the refusal to raise
    once the failure count is committed (as for :class:`LoginResult`)."""

    sessions_ended: int = 0
    error: CurrentPasswordWrong | AccountLocked | None = None

    def unwrap(self) -> int:
        if self.error is not None:
            raise self.error
        return self.sessions_ended


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session as its owner sees it in "devices logged in"; no token."""

    id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client: str
    ip: str | None
    current: bool


def normalise_username(username: str) -> str:
    """The form a login name is stored and looked up in: full-width characters
    folded to ASCII (NFKC, as Chinese input methods type ``１３８…``), surrounding
    spaces stripped, lower case."""
    return unicodedata.normalize("NFKC", username).strip().lower()


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _owner(credential: repo.CredentialRow) -> tuple[PrincipalKind, int]:
    return PrincipalKind(credential.principal_kind), credential.principal_id


def _parse_ip(ip: str | None) -> IPv4Address | IPv6Address | None:
    """The client address if it is one; informational only, so anything else (a
    test client's "testclient", a missing value) is stored as unknown."""
    if ip is None:
        return None
    try:
        return ip_address(ip)
    except ValueError:
        return None


class AuthService:
    def __init__(
        self,
        clock: Clock,
        *,
        inactivity: timedelta = timedelta(minutes=15),
        absolute: timedelta = timedelta(hours=12),
        stored_name: Callable[[str], str] | None = None,
    ) -> None:
        self.clock = clock
        # Login names are stored as keyed hashes (``rongbank.pii``): a customer's is
        # their mobile number, which must not lie in the database readable.
        self.stored_name = stored_name or for_this_process().login_name
        self.inactivity = inactivity
        self.absolute = absolute

    # -- credentials -----------------------------------------------------------

    def set_password(
        self,
        session: Session,
        *,
        kind: PrincipalKind,
        principal_id: int,
        username: str,
        password: str,
        personal: Sequence[str] = (),
    ) -> None:
        """Give the principal this login name and password, creating its credential
        or replacing the one it has (which ends every lockout of the name). ``personal`` holds
        the values the password must not contain (mobile number, ID number); the
        login name is always one of them.

        Raises :class:`WeakPassword`, :class:`LoginNameInvalid`, or
        :class:`UsernameTaken` when another principal has the name."""
        kind = PrincipalKind(kind)
        name = normalise_username(username)
        if not 1 <= len(name) <= MAX_USERNAME:
            raise LoginNameInvalid()
        check_password_policy(password, personal=[*personal, name])
        name = self.stored_name(name)
        password_hash = hash_password(password)
        now = self.clock.now()
        rows = repo.lock_credentials_of(
            session, username=name, kind=kind, principal_id=principal_id
        )
        if any(
            row.username == name and (row.principal_kind, row.principal_id) != (kind, principal_id)
            for row in rows
        ):
            raise UsernameTaken()
        own = next(
            (row for row in rows if (row.principal_kind, row.principal_id) == (kind, principal_id)),
            None,
        )
        if own is not None:
            repo.replace_credential(
                session,
                old_username=own.username,
                username=name,
                password_hash=password_hash,
                now=now,
            )
        elif not repo.insert_credential(
            session,
            username=name,
            kind=kind,
            principal_id=principal_id,
            password_hash=password_hash,
            now=now,
        ):
            # A concurrent request took the name (or, rarer, registered this principal)
            # between our read and insert; the caller may retry.
            raise UsernameTaken()
        repo.forget_failures(session, _sha256(name))

    def change_password(
        self,
        session: Session,
        principal: Principal,
        *,
        current: str,
        new: str,
        ip: str | None = None,
        personal: Sequence[str] = (),
    ) -> PasswordChange:
        """Replace the principal's password, the current one typed again, and end
        every other session of theirs (one a thief opened among them); the customer
        is told (:class:`~rongbank.auth.events.PasswordChanged`). ``personal`` as for
        :meth:`set_password`.

        The current password is checked as a login checks it: a wrong one counts
        towards the lockout of the source ``ip`` counts as, and while that source is
        locked out it is not even checked. Otherwise whoever found a session open
        could try passwords here without limit. Like :meth:`login`, the refusal is
        returned, not raised, once its count is written; a new password that breaks
        the policy raises :class:`WeakPassword` (nothing is counted for it)."""
        kind = PrincipalKind(principal.kind)
        now = self.clock.now()
        credential = repo.lock_credential_of(session, kind=kind, principal_id=principal.id)
        if credential is None:
            raise SessionInvalid()  # a session without a login: none exists but in tests
        name_hash = _sha256(credential.username)
        source = throttle.source_of(ip)
        wide = repo.lock_login_name(session, name_hash)
        counter = throttle.current(repo.source_counter(session, name_hash, source), now)
        if counter.locked_at(now):
            return PasswordChange(error=self._locked(counter, now))
        if not verify_password(current, password_hash=credential.password_hash):
            refused = self._wrong_password(session, credential, name_hash, source, counter, wide)
            if isinstance(refused, LoginFailed):
                return PasswordChange(error=CurrentPasswordWrong(**refused.details))
            return PasswordChange(error=refused)
        if new == current:
            raise PasswordUnchanged()
        check_password_policy(new, personal=[*personal, credential.username])
        repo.replace_credential(
            session,
            old_username=credential.username,
            username=credential.username,
            password_hash=hash_password(new),
            now=now,
        )
        repo.forget_failures(session, name_hash)
        ended = repo.revoke_others(
            session,
            kind=kind,
            principal_id=principal.id,
            keep_id=principal.session_id,
            now=now,
            idle_since=now - self.inactivity,
        )
        if kind is PrincipalKind.CUSTOMER:
            outbox.record(
                session,
                PasswordChanged(
                    customer_id=principal.id,
                    reset=False,
                    sessions_ended=ended,
                    source=source,
                    ref=f"session:{principal.session_id}:{now.isoformat()}",
                    occurred_at=now,
                ),
            )
        return PasswordChange(sessions_ended=ended)

    def replace_password(
        self,
        session: Session,
        *,
        kind: PrincipalKind,
        principal_id: int,
        password_hash: str,
    ) -> int:
        """Give the principal a password already checked against the policy and hashed
        (a reset: ``rongbank.auth.reset``), end every lockout of their login and every
        session of theirs. How many sessions ended."""
        now = self.clock.now()
        credential = repo.lock_credential_of(session, kind=kind, principal_id=principal_id)
        if credential is None:
            raise SessionInvalid()
        repo.replace_credential(
            session,
            old_username=credential.username,
            username=credential.username,
            password_hash=password_hash,
            now=now,
        )
        repo.forget_failures(session, _sha256(credential.username))
        return repo.revoke_all(session, kind=kind, principal_id=principal_id, now=now)

    def login_name_of(self, session: Session, *, kind: PrincipalKind, principal_id: int) -> str:
        """The principal's login name as stored (a keyed hash, ``stored_name``); ""
        when they have none."""
        credential = repo.lock_credential_of(
            session, kind=kind, principal_id=principal_id, lock=False
        )
        return "" if credential is None else credential.username

    def disable(self, session: Session, *, kind: PrincipalKind, principal_id: int) -> int:
        """Stop the principal from logging in and end every session of theirs, in the
        caller's transaction: from its commit, their next request is refused (401) and
        every login refused as a wrong password. How many sessions ended. Idempotent;
        a principal without a login has only sessions to end (none, but for
        :meth:`open_session`).

        A login under way waits for this (both lock the credential) and then either
        finds it disabled or committed a session first, which this then ends."""
        kind = PrincipalKind(kind)
        now = self.clock.now()
        repo.set_disabled(session, kind=kind, principal_id=principal_id, at=now)
        ended = repo.revoke_all(session, kind=kind, principal_id=principal_id, now=now)
        logger.info("%s %s disabled; %d sessions ended", kind, principal_id, ended)
        return ended

    def enable(self, session: Session, *, kind: PrincipalKind, principal_id: int) -> None:
        """Let a disabled principal log in again (with the password they had)."""
        repo.set_disabled(session, kind=PrincipalKind(kind), principal_id=principal_id, at=None)

    def staff_logins_exist(self, session: Session) -> bool:
        """Whether a member of staff was ever given a login (from then on the staff
        APIs are for staff sessions only, see ``rongbank.api.deps``)."""
        return repo.any_credential_of(session, PrincipalKind.STAFF.value)

    # -- login -----------------------------------------------------------------

    def login(
        self,
        session: Session,
        *,
        username: str,
        password: str,
        client: str = "",
        ip: str | None = None,
    ) -> LoginResult:
        """Check a login name and password and open a session.

        Never raises for a refused login: the result holds :class:`LoginFailed`
        (with ``remaining_attempts``) or :class:`AccountLocked` (with
        ``retry_after_seconds``), and the failure counts are already written in
        ``session``. The boundary commits, then calls :meth:`LoginResult.unwrap`.

        Failures lock out the source ``ip`` counts as, not the login name
        (:mod:`rongbank.auth.throttle`). An unknown name and a wrong password get
        the same answer, take about the same time (one argon2 verification each)
        and count down and lock alike. While a source is locked, the password is
        not even checked, so the answer cannot say whether it was right. A disabled
        principal's login is refused, and counted, as a wrong password is.

        When a source is locked out of a customer's login, the customer is told (an
        event for 融e联, at most one per :data:`LOCKOUT_NOTICE_INTERVAL`)."""
        now = self.clock.now()
        name = self.stored_name(normalise_username(username))
        name_hash = _sha256(name)
        source = throttle.source_of(ip)
        credential = repo.lock_credential(session, name)
        wide = repo.lock_login_name(session, name_hash)
        counter = throttle.current(repo.source_counter(session, name_hash, source), now)
        if counter.locked_at(now):
            return LoginResult(
                error=self._locked(counter, now),
                login_of=None if credential is None else _owner(credential),
            )

        disabled = False
        if credential is None:
            verify_nothing(password)
        elif verify_password(password, password_hash=credential.password_hash):
            if credential.disabled_at is None:
                repo.forget_failures(session, name_hash, source=source)
                return LoginResult(
                    new_session=self._open(
                        session, credential, password, client, ip, failures=wide
                    ),
                    login_of=_owner(credential),
                )
            disabled = True
        return LoginResult(
            error=self._wrong_password(session, credential, name_hash, source, counter, wide),
            disabled=disabled,
            login_of=None if credential is None else _owner(credential),
        )

    def _wrong_password(
        self,
        session: Session,
        credential: repo.CredentialRow | None,
        name_hash: bytes,
        source: str,
        counter: throttle.SourceCounter,
        wide: int,
    ) -> LoginFailed | AccountLocked:
        """Count a wrong password for the login from ``source`` and say what the source
        is told: the tries it has left, or its lockout (the customer is told of it)."""
        now = self.clock.now()
        counter = throttle.after_failure(counter, now=now, wide_failures=wide)
        repo.save_source_counter(session, name_hash, source, counter)
        repo.count_name_failure(session, name_hash, now)
        if counter.locked_until is None:
            remaining = throttle.remaining(counter, wide_failures=wide + 1)
            lockout = int(throttle.next_lockout(counter).total_seconds())
            return LoginFailed(remaining_attempts=remaining, lockout_seconds=lockout)
        if credential is not None:
            logger.warning(
                "login of %s %s locked for a source after %d failures in a row",
                credential.principal_kind,
                credential.principal_id,
                throttle.allowance(wide),
            )
            self._tell_of_lockout(session, credential, source, counter, failures=wide + 1)
        return self._locked(counter, now)

    def _tell_of_lockout(
        self,
        session: Session,
        credential: repo.CredentialRow,
        source: str,
        counter: throttle.SourceCounter,
        *,
        failures: int,
    ) -> None:
        """Record that a source was locked out of a customer's login, unless the
        customer was told of one within :data:`LOCKOUT_NOTICE_INTERVAL` (the
        credential row is locked: two lockouts at once make one notice)."""
        now = self.clock.now()
        last = credential.lockout_noticed_at
        if credential.principal_kind != PrincipalKind.CUSTOMER or (
            last is not None and now - last < LOCKOUT_NOTICE_INTERVAL
        ):
            return
        assert counter.locked_until is not None
        outbox.record(
            session,
            LoginLockedOut(
                customer_id=credential.principal_id,
                source=source,
                failures=failures,
                locked_until=counter.locked_until,
                occurred_at=now,
            ),
        )
        repo.note_lockout_notice(session, credential.username, now)

    @staticmethod
    def _locked(counter: throttle.SourceCounter, now: datetime) -> AccountLocked:
        assert counter.locked_until is not None
        wait = (counter.locked_until - now).total_seconds()
        return AccountLocked(retry_after_seconds=math.ceil(wait))

    def _open(
        self,
        session: Session,
        credential: repo.CredentialRow,
        password: str,
        client: str,
        ip: str | None,
        *,
        failures: int,
    ) -> NewSession:
        new_hash = hash_password(password) if needs_rehash(credential.password_hash) else None
        history = repo.record_login(
            session, credential.username, now=self.clock.now(), failures=failures, new_hash=new_hash
        )
        opened = self.open_session(
            session,
            kind=PrincipalKind(credential.principal_kind),
            principal_id=credential.principal_id,
            client=client,
            ip=ip,
        )
        return replace(opened, history=history)

    def login_history(self, session: Session, principal: Principal) -> repo.LoginHistory:
        """What the principal was told at their last login (for the pages of it)."""
        return repo.login_history(session, kind=principal.kind, principal_id=principal.id)

    def open_session(
        self,
        session: Session,
        *,
        kind: PrincipalKind,
        principal_id: int,
        client: str = "",
        ip: str | None = None,
    ) -> NewSession:
        """A new session for a principal the caller has already authenticated: a
        login after the password, the payment benchmark for the customers it made.
        Never reachable from a request without a login."""
        now = self.clock.now()
        token = secrets.token_urlsafe(32)
        expires_at = now + self.absolute
        session_id = repo.insert_session(
            session,
            token_hash=_sha256(token),
            kind=kind,
            principal_id=principal_id,
            now=now,
            expires_at=expires_at,
            client=client[:MAX_CLIENT],
            ip=_parse_ip(ip),
        )
        principal = Principal(kind, principal_id, session_id)
        return NewSession(token=token, principal=principal, expires_at=expires_at)

    # -- sessions --------------------------------------------------------------

    def authenticate(self, session: Session, token: str, *, touch: bool = True) -> Principal:
        """The principal of a bearer token, or :class:`SessionInvalid` (unknown,
        logged out) or :class:`SessionExpired` (idle longer than ``inactivity``, or
        past the absolute expiry set at login). ``touch=False`` checks without counting
        as activity: an idle open socket must not keep its login alive."""
        found = self.authenticate_many(session, [token], touch=touch)[0]
        if isinstance(found, DomainError):
            raise found
        return found

    def authenticate_many(
        self, session: Session, tokens: Sequence[str], *, touch: bool = True
    ) -> list[Principal | DomainError]:
        """:meth:`authenticate` for many tokens in one query (the chat gateway checks
        the sessions of a whole batch of frames at once)."""
        return self.authenticate_later(driver_connection(session), tokens, touch=touch)()

    def authenticate_later(
        self, conn: psycopg.Connection[Any], tokens: Sequence[str], *, touch: bool = True
    ) -> Callable[[], list[Principal | DomainError]]:
        """:meth:`authenticate_many` queued on the session's driver connection: the
        function returned reads the answer, so that in a pipeline the check goes in
        one round trip with what the caller queues beside it."""
        hashes = [_sha256(token) for token in tokens]
        now = self.clock.now()
        # Touched as the rules below would: live, and not seen for TOUCH_INTERVAL.
        found_rows = repo.find_sessions(
            conn,
            hashes,
            touch_at=now if touch else None,
            idle_since=now - self.inactivity,
            stale_before=now - TOUCH_INTERVAL,
        )

        def principals() -> list[Principal | DomainError]:
            rows = found_rows()
            found: list[Principal | DomainError] = []
            for token_hash in hashes:
                row = rows.get(token_hash)
                if row is None or row.revoked_at is not None:
                    found.append(SessionInvalid())
                elif now >= row.expires_at or now - row.last_seen_at > self.inactivity:
                    found.append(SessionExpired())
                else:
                    found.append(
                        Principal(PrincipalKind(row.principal_kind), row.principal_id, row.id)
                    )
            return found

        return principals

    def logout(self, session: Session, token: str) -> None:
        """End the token's session. Idempotent: an unknown or already ended session
        is left as it is."""
        repo.revoke_session(session, _sha256(token), self.clock.now())

    def logout_others(self, session: Session, token: str) -> int:
        """End every other live session of the token's principal ("log out other
        devices"); how many were ended. The token must be valid itself."""
        principal = self.authenticate(session, token)
        now = self.clock.now()
        return repo.revoke_others(
            session,
            kind=principal.kind,
            principal_id=principal.id,
            keep_id=principal.session_id,
            now=now,
            idle_since=now - self.inactivity,
        )

    def logout_session(self, session: Session, principal: Principal, session_id: int) -> None:
        """End one live session of the principal's own ("sign out this device"), the
        current one too. Raises :class:`SessionNotFound` for any other id, which is
        all the answer says about other people's sessions."""
        now = self.clock.now()
        if not repo.revoke_own(
            session,
            kind=principal.kind,
            principal_id=principal.id,
            session_id=session_id,
            now=now,
            idle_since=now - self.inactivity,
        ):
            raise SessionNotFound()

    def sessions_of(self, session: Session, principal: Principal) -> list[SessionInfo]:
        """The principal's live sessions, most recently used first."""
        now = self.clock.now()
        rows = repo.live_sessions(
            session,
            kind=principal.kind,
            principal_id=principal.id,
            now=now,
            idle_since=now - self.inactivity,
        )
        return [
            SessionInfo(
                id=row.id,
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                expires_at=row.expires_at,
                client=row.client,
                ip=None if row.ip is None else str(row.ip),
                current=row.id == principal.session_id,
            )
            for row in rows
        ]
