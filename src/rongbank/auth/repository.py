"""Every query of authentication, as plain SQL in the caller's transaction.

Sessions are found by the SHA-256 of their token through a unique index: the token
itself is never compared, stored or sent to the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.db import driver_sql


@dataclass(frozen=True, slots=True)
class Counter:
    """Consecutive failed logins of one login name, and the end of its lockout."""

    failed_attempts: int = 0
    locked_until: datetime | None = None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True, slots=True)
class CredentialRow:
    username: str
    principal_kind: str
    principal_id: int
    password_hash: str
    counter: Counter


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    principal_kind: str
    principal_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    client: str
    ip: IPv4Address | IPv6Address | None


# ---------------------------------------------------------------------------
# Credentials

_CREDENTIAL = (
    "SELECT username, principal_kind, principal_id, password_hash, failed_attempts, "
    "locked_until FROM auth_credential"
)


def _credential(row: Any) -> CredentialRow:
    username, kind, principal_id, password_hash, failed, locked_until = row
    return CredentialRow(username, kind, principal_id, password_hash, Counter(failed, locked_until))


def lock_credential(session: Session, username: str) -> CredentialRow | None:
    """The credential of a login name, locked until the transaction ends, so that
    concurrent logins to one name count their failures one after the other."""
    row = session.execute(
        text(f"{_CREDENTIAL} WHERE username = :username FOR UPDATE"),
        {"username": username},
    ).one_or_none()
    return _credential(row) if row else None


def lock_credentials_of(
    session: Session, *, username: str, kind: str, principal_id: int
) -> list[CredentialRow]:
    """The credential holding ``username`` and the principal's own, locked (the
    same row, or none, or two)."""
    rows = session.execute(
        text(
            f"{_CREDENTIAL} WHERE username = :username "
            "OR (principal_kind = :kind AND principal_id = :principal_id) "
            "ORDER BY username FOR UPDATE"
        ),
        {"username": username, "kind": kind, "principal_id": principal_id},
    ).all()
    return [_credential(row) for row in rows]


def any_credential_of(session: Session, kind: str) -> bool:
    """Whether any principal of ``kind`` has (or had: credentials are never deleted)
    a login."""
    return bool(
        session.execute(
            text("SELECT EXISTS (SELECT 1 FROM auth_credential WHERE principal_kind = :kind)"),
            {"kind": kind},
        ).scalar_one()
    )


def insert_credential(
    session: Session,
    *,
    username: str,
    kind: str,
    principal_id: int,
    password_hash: str,
    now: datetime,
) -> bool:
    """Insert, or return False if a concurrent transaction took the name or gave
    the principal a credential first."""
    inserted = session.execute(
        text(
            "INSERT INTO auth_credential (username, principal_kind, principal_id, "
            "password_hash, created_at, password_changed_at) "
            "VALUES (:username, :kind, :principal_id, :password_hash, :now, :now) "
            "ON CONFLICT DO NOTHING RETURNING username"
        ),
        {
            "username": username,
            "kind": kind,
            "principal_id": principal_id,
            "password_hash": password_hash,
            "now": now,
        },
    ).one_or_none()
    return inserted is not None


def replace_credential(
    session: Session, *, old_username: str, username: str, password_hash: str, now: datetime
) -> None:
    """A new login name and password for an existing credential; a new password also
    clears the failure count and any lockout."""
    session.execute(
        text(
            "UPDATE auth_credential SET username = :username, password_hash = :password_hash, "
            "password_changed_at = :now, failed_attempts = 0, locked_until = NULL "
            "WHERE username = :old_username"
        ),
        {
            "username": username,
            "password_hash": password_hash,
            "now": now,
            "old_username": old_username,
        },
    )


def save_counter(session: Session, username: str, counter: Counter) -> None:
    session.execute(
        text(
            "UPDATE auth_credential SET failed_attempts = :failed, locked_until = :locked_until "
            "WHERE username = :username"
        ),
        {
            "failed": counter.failed_attempts,
            "locked_until": counter.locked_until,
            "username": username,
        },
    )


def record_success(session: Session, username: str, *, new_hash: str | None) -> None:
    """Clear the failure count; store ``new_hash`` when the old one was made with
    outdated parameters (this is not a password change)."""
    session.execute(
        text(
            "UPDATE auth_credential SET failed_attempts = 0, locked_until = NULL, "
            "password_hash = coalesce(:new_hash, password_hash) WHERE username = :username"
        ),
        {"new_hash": new_hash, "username": username},
    )


# ---------------------------------------------------------------------------
# Failure counters of login names without a credential


def lock_failed_name(session: Session, name_hash: bytes) -> Counter:
    """The counter of an unknown login name, created at zero if new, locked."""
    failed, locked_until = session.execute(
        text(
            "INSERT INTO auth_failed_login (name_hash) VALUES (:name_hash) "
            "ON CONFLICT (name_hash) DO UPDATE SET name_hash = EXCLUDED.name_hash "
            "RETURNING failed_attempts, locked_until"
        ),
        {"name_hash": name_hash},
    ).one()
    return Counter(failed, locked_until)


def save_failed_name(session: Session, name_hash: bytes, counter: Counter) -> None:
    session.execute(
        text(
            "UPDATE auth_failed_login SET failed_attempts = :failed, "
            "locked_until = :locked_until WHERE name_hash = :name_hash"
        ),
        {
            "failed": counter.failed_attempts,
            "locked_until": counter.locked_until,
            "name_hash": name_hash,
        },
    )


def forget_failed_name(session: Session, name_hash: bytes) -> None:
    """A name now given to a credential starts with the credential's own counter."""
    session.execute(
        text("DELETE FROM auth_failed_login WHERE name_hash = :name_hash"),
        {"name_hash": name_hash},
    )


# ---------------------------------------------------------------------------
# Sessions

_SESSION = (
    "SELECT id, principal_kind, principal_id, created_at, last_seen_at, expires_at, "
    "revoked_at, client, ip FROM auth_session"
)

_LIVE = "revoked_at IS NULL AND expires_at > :now AND last_seen_at >= :idle_since"
"""A session still usable: not revoked, before its absolute expiry, not idle too long."""


def insert_session(
    session: Session,
    *,
    token_hash: bytes,
    kind: str,
    principal_id: int,
    now: datetime,
    expires_at: datetime,
    client: str,
    ip: IPv4Address | IPv6Address | None,
) -> int:
    session_id: int = session.execute(
        text(
            "INSERT INTO auth_session (token_hash, principal_kind, principal_id, created_at, "
            "last_seen_at, expires_at, client, ip) "
            "VALUES (:token_hash, :kind, :principal_id, :now, :now, :expires_at, :client, :ip) "
            "RETURNING id"
        ),
        {
            "token_hash": token_hash,
            "kind": kind,
            "principal_id": principal_id,
            "now": now,
            "expires_at": expires_at,
            "client": client,
            "ip": ip,
        },
    ).scalar_one()
    return session_id


_FIND_SESSIONS = f"SELECT token_hash, {_SESSION.removeprefix('SELECT ')} WHERE token_hash = ANY(:h)"
_FIND = text(_FIND_SESSIONS)
_FIND_AND_TOUCH = text(
    # Locked in id order, so that concurrent touches never deadlock.
    "WITH touched AS (UPDATE auth_session SET last_seen_at = :now WHERE id IN ("  # noqa: S608
    "SELECT id FROM auth_session WHERE token_hash = ANY(:h) "
    "AND revoked_at IS NULL AND expires_at > :now AND last_seen_at >= :idle_since "
    f"AND last_seen_at < :stale ORDER BY id FOR UPDATE)) {_FIND_SESSIONS}"
)
_FIND_SQL = driver_sql(_FIND)
_FIND_AND_TOUCH_SQL = driver_sql(_FIND_AND_TOUCH)


def find_sessions(
    conn: psycopg.Connection[Any],
    token_hashes: list[bytes],
    *,
    touch_at: datetime | None = None,
    idle_since: datetime | None = None,
    stale_before: datetime | None = None,
) -> Callable[[], dict[bytes, SessionRow]]:
    """The sessions of these tokens as they were before this statement; with
    ``touch_at``, the live ones (used since ``idle_since``) last seen before
    ``stale_before`` are marked seen at ``touch_at`` by the same statement. The
    statement is queued on the driver connection and the function returned reads its
    answer: in a pipeline it goes in one round trip with the statements queued beside
    it (the chat gateway checks a batch of frames' logins on its hot path)."""
    cur = conn.cursor(row_factory=tuple_row)
    if touch_at is None:
        cur.execute(_FIND_SQL, {"h": token_hashes})
    else:
        cur.execute(
            _FIND_AND_TOUCH_SQL,
            {"h": token_hashes, "now": touch_at, "idle_since": idle_since, "stale": stale_before},
        )
    return lambda: {bytes(row[0]): SessionRow(*row[1:]) for row in cur.fetchall()}


def revoke_session(session: Session, token_hash: bytes, now: datetime) -> None:
    session.execute(
        text(
            "UPDATE auth_session SET revoked_at = :now "
            "WHERE token_hash = :token_hash AND revoked_at IS NULL"
        ),
        {"now": now, "token_hash": token_hash},
    )


def revoke_others(
    session: Session,
    *,
    kind: str,
    principal_id: int,
    keep_id: int,
    now: datetime,
    idle_since: datetime,
) -> int:
    """Revoke the principal's live sessions except ``keep_id``; how many."""
    result = session.execute(
        text(
            "UPDATE auth_session SET revoked_at = :now "  # noqa: S608
            "WHERE principal_kind = :kind AND principal_id = :principal_id AND id <> :keep_id "
            f"AND {_LIVE} RETURNING id"
        ),
        {
            "now": now,
            "kind": kind,
            "principal_id": principal_id,
            "keep_id": keep_id,
            "idle_since": idle_since,
        },
    )
    return len(result.all())


def live_sessions(
    session: Session, *, kind: str, principal_id: int, now: datetime, idle_since: datetime
) -> list[SessionRow]:
    rows = session.execute(
        text(
            f"{_SESSION} WHERE principal_kind = :kind AND principal_id = :principal_id "
            f"AND {_LIVE} ORDER BY last_seen_at DESC, id DESC"
        ),
        {"kind": kind, "principal_id": principal_id, "now": now, "idle_since": idle_since},
    ).all()
    return [SessionRow(*row) for row in rows]
