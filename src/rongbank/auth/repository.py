"""Every query of authentication, as plain SQL in the caller's transaction.

Sessions are found by the SHA-256 of their token through a unique index: the token
itself is never compared, stored or sent to the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.auth.throttle import SourceCounter
from rongbank.db import bytea_array, driver_sql


@dataclass(frozen=True, slots=True)
class CredentialRow:
    username: str
    principal_kind: str
    principal_id: int
    password_hash: str
    disabled_at: datetime | None
    """Set while the principal may not log in (``AuthService.disable``)."""
    lockout_noticed_at: datetime | None
    """When the principal was last told that a source was locked out of this login."""


@dataclass(frozen=True, slots=True)
class LoginHistory:
    """What a principal is told of their login: when they last logged in before this
    login, and how many wrong passwords were tried on it in between."""

    previous_login_at: datetime | None = None
    failures_before_login: int = 0


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

_CREDENTIAL_COLUMNS = ", ".join(f.name for f in fields(CredentialRow))
_CREDENTIAL = f"SELECT {_CREDENTIAL_COLUMNS} FROM auth_credential"  # noqa: S608 (the row's fields)


def _credential(row: Any) -> CredentialRow:
    return CredentialRow(*row)


def set_disabled(session: Session, *, kind: str, principal_id: int, at: datetime | None) -> None:
    """Disable the principal's login from ``at`` (kept if it already was), or enable it
    (``at`` None). The row stays locked until the transaction ends, so a login of the
    name waits for this one (``lock_credential``)."""
    session.execute(
        text(
            "UPDATE auth_credential SET disabled_at = CASE WHEN CAST(:at AS timestamptz) IS NULL "
            "THEN NULL ELSE coalesce(disabled_at, :at) END "
            "WHERE principal_kind = :kind AND principal_id = :principal_id"
        ),
        {"at": at, "kind": kind, "principal_id": principal_id},
    )


def note_lockout_notice(session: Session, username: str, now: datetime) -> None:
    session.execute(
        text("UPDATE auth_credential SET lockout_noticed_at = :now WHERE username = :username"),
        {"now": now, "username": username},
    )


def lock_credential(session: Session, username: str) -> CredentialRow | None:
    """The credential of a login name, locked until the transaction ends."""
    row = session.execute(
        text(f"{_CREDENTIAL} WHERE username = :username FOR UPDATE"),
        {"username": username},
    ).one_or_none()
    return _credential(row) if row else None


def lock_credential_of(
    session: Session, *, kind: str, principal_id: int, lock: bool = True
) -> CredentialRow | None:
    """The principal's credential, locked until the transaction ends (``lock``)."""
    row = session.execute(
        text(
            f"{_CREDENTIAL} WHERE principal_kind = :kind AND principal_id = :id"
            + (" FOR UPDATE" if lock else "")
        ),
        {"kind": kind, "id": principal_id},
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
    """A new login name and password for an existing credential."""
    session.execute(
        text(
            "UPDATE auth_credential SET username = :username, password_hash = :password_hash, "
            "password_changed_at = :now WHERE username = :old_username"
        ),
        {
            "username": username,
            "password_hash": password_hash,
            "now": now,
            "old_username": old_username,
        },
    )


def record_login(
    session: Session, username: str, *, now: datetime, failures: int, new_hash: str | None
) -> LoginHistory:
    """Note a successful login after ``failures`` wrong passwords since the one
    before; store ``new_hash`` when the old one was made with outdated parameters
    (this is not a password change). Returns what the login is to be told."""
    previous = session.execute(
        text("SELECT last_login_at FROM auth_credential WHERE username = :username"),
        {"username": username},
    ).scalar_one()
    session.execute(
        text(
            "UPDATE auth_credential SET previous_login_at = last_login_at, "
            "last_login_at = :now, failures_before_login = :failures, "
            "password_hash = coalesce(:new_hash, password_hash) WHERE username = :username"
        ),
        {"now": now, "failures": failures, "new_hash": new_hash, "username": username},
    )
    return LoginHistory(previous, failures)


def login_history(session: Session, *, kind: str, principal_id: int) -> LoginHistory:
    row = session.execute(
        text(
            "SELECT previous_login_at, failures_before_login FROM auth_credential "
            "WHERE principal_kind = :kind AND principal_id = :principal_id"
        ),
        {"kind": kind, "principal_id": principal_id},
    ).one_or_none()
    return LoginHistory() if row is None else LoginHistory(*row)


# ---------------------------------------------------------------------------
# Failed logins, per login name (known or not: the answers never tell) and source


def lock_login_name(session: Session, name_hash: bytes) -> int:
    """The wrong passwords typed for a login name since it last logged in (any
    source), its row created if new and locked: one login to a name at a time."""
    failures: int = session.execute(
        text(
            "INSERT INTO auth_login_name (name_hash) VALUES (:name_hash) "
            "ON CONFLICT (name_hash) DO UPDATE SET name_hash = EXCLUDED.name_hash "
            "RETURNING failures"
        ),
        {"name_hash": name_hash},
    ).scalar_one()
    return failures


def count_name_failure(session: Session, name_hash: bytes, now: datetime) -> None:
    session.execute(
        text(
            "UPDATE auth_login_name SET failures = failures + 1, last_failure_at = :now "
            "WHERE name_hash = :name_hash"
        ),
        {"now": now, "name_hash": name_hash},
    )


def source_counter(session: Session, name_hash: bytes, source: str) -> SourceCounter:
    row = session.execute(
        text(
            "SELECT failures, lockouts, locked_until, last_failure_at FROM auth_login_source "
            "WHERE name_hash = :name_hash AND source = :source"
        ),
        {"name_hash": name_hash, "source": source},
    ).one_or_none()
    return SourceCounter() if row is None else SourceCounter(*row)


def save_source_counter(
    session: Session, name_hash: bytes, source: str, counter: SourceCounter
) -> None:
    session.execute(
        text(
            "INSERT INTO auth_login_source (name_hash, source, failures, lockouts, "
            "locked_until, last_failure_at) VALUES (:name_hash, :source, :failures, "
            ":lockouts, :locked_until, :last_failure_at) ON CONFLICT (name_hash, source) "
            "DO UPDATE SET failures = EXCLUDED.failures, lockouts = EXCLUDED.lockouts, "
            "locked_until = EXCLUDED.locked_until, last_failure_at = EXCLUDED.last_failure_at"
        ),
        {
            "name_hash": name_hash,
            "source": source,
            "failures": counter.failures,
            "lockouts": counter.lockouts,
            "locked_until": counter.locked_until,
            "last_failure_at": counter.last_failure_at,
        },
    )


def forget_failures(session: Session, name_hash: bytes, *, source: str | None = None) -> None:
    """After a login from ``source``: its counter, and the count of all sources'.
    Without a source (a new password): every source's lockout ends too."""
    session.execute(
        text("UPDATE auth_login_name SET failures = 0 WHERE name_hash = :name_hash"),
        {"name_hash": name_hash},
    )
    session.execute(
        text(
            "DELETE FROM auth_login_source WHERE name_hash = :name_hash "
            "AND (CAST(:source AS text) IS NULL OR source = :source)"
        ),
        {"name_hash": name_hash, "source": source},
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


_FIND_SESSIONS = (
    f"SELECT token_hash, {_SESSION.removeprefix('SELECT ')} "
    "WHERE token_hash = ANY(CAST(:h AS bytea[]))"  # db.bytea_array
)
_FIND = text(_FIND_SESSIONS)
_FIND_AND_TOUCH = text(
    # Locked in id order, so that concurrent touches never deadlock.
    "WITH touched AS (UPDATE auth_session SET last_seen_at = :now WHERE id IN ("  # noqa: S608
    "SELECT id FROM auth_session WHERE token_hash = ANY(CAST(:h AS bytea[])) "
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
    hashes = bytea_array(token_hashes)
    if touch_at is None:
        cur.execute(_FIND_SQL, {"h": hashes})
    else:
        cur.execute(
            _FIND_AND_TOUCH_SQL,
            {"h": hashes, "now": touch_at, "idle_since": idle_since, "stale": stale_before},
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


def revoke_own(
    session: Session,
    *,
    kind: str,
    principal_id: int,
    session_id: int,
    now: datetime,
    idle_since: datetime,
) -> bool:
    """Revoke the principal's live session ``session_id``; whether there was one."""
    result = session.execute(
        text(
            "UPDATE auth_session SET revoked_at = :now WHERE id = :id "  # noqa: S608
            f"AND principal_kind = :kind AND principal_id = :principal_id AND {_LIVE} "
            "RETURNING id"
        ),
        {
            "now": now,
            "id": session_id,
            "kind": kind,
            "principal_id": principal_id,
            "idle_since": idle_since,
        },
    )
    return result.first() is not None


def revoke_all(session: Session, *, kind: str, principal_id: int, now: datetime) -> int:
    """Revoke every session of the principal not revoked yet; how many."""
    result = session.execute(
        text(
            "UPDATE auth_session SET revoked_at = :now WHERE principal_kind = :kind "
            "AND principal_id = :principal_id AND revoked_at IS NULL RETURNING id"
        ),
        {"now": now, "kind": kind, "principal_id": principal_id},
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
