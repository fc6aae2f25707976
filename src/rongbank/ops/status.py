"""What the operations staff see of the database: its role (primary or replica), the
replicas streaming from it (or, on a replica, the primary it streams from), and WAL
archiving, which backups depend on. Read from PostgreSQL's own views, a few rows
each; the monitoring views show other sessions' details only to a member of
``pg_monitor`` (the embedded server's user is a superuser)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class Replica:
    name: str
    address: str | None
    state: str
    sync_state: str
    replay_lag_seconds: float | None


@dataclass(frozen=True, slots=True)
class Upstream:
    """On a replica: the primary it streams from."""

    status: str
    host: str | None
    last_message_at: datetime | None


@dataclass(frozen=True, slots=True)
class Archiving:
    mode: str
    archived: int
    last_archived_wal: str | None
    last_archived_at: datetime | None
    failed: int
    last_failed_at: datetime | None


@dataclass(frozen=True, slots=True)
class DatabaseState:
    role: str
    """``primary`` or ``replica``."""
    version: str
    replicas: list[Replica]
    upstream: Upstream | None
    archiving: Archiving


def database_state(session: Session) -> DatabaseState:
    in_recovery, version, mode = session.execute(
        text(
            "SELECT pg_is_in_recovery(), current_setting('server_version'), "
            "current_setting('archive_mode')"
        )
    ).one()
    replicas = [
        Replica(str(r[0] or ""), r[1], str(r[2]), str(r[3]), r[4].total_seconds() if r[4] else None)
        for r in session.execute(
            text(
                "SELECT application_name, host(client_addr), state, sync_state, replay_lag "
                "FROM pg_stat_replication ORDER BY application_name"
            )
        )
    ]
    upstream = None
    if in_recovery:
        row = session.execute(
            text("SELECT status, sender_host, last_msg_receipt_time FROM pg_stat_wal_receiver")
        ).first()
        upstream = Upstream("stopped", None, None) if row is None else Upstream(*row)
    archived = session.execute(
        text(
            "SELECT archived_count, last_archived_wal, last_archived_time, failed_count, "
            "last_failed_time FROM pg_stat_archiver"
        )
    ).one()
    return DatabaseState(
        role="replica" if in_recovery else "primary",
        version=str(version),
        replicas=replicas,
        upstream=upstream,
        archiving=Archiving(str(mode), *archived),
    )
