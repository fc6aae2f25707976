"""Base backups and point-in-time recovery of the bank's database.

A backup is what ``pg_basebackup`` copies of the running server (plain files, with
the WAL that makes them consistent), in ``<backup>/base``, and ``backup.json`` saying
when it was taken and where the server archives its WAL (``archive_command``, which
``rongbank.embedded`` sets: every finished 16 MB segment, and at least one a minute).
Together they restore the database as it was at any moment from the end of the
backup to the newest archived WAL: :func:`restore` copies the base into a new data
dir, has PostgreSQL replay the archive up to the time asked (``recovery_target_time``;
transactions committed after it are not there) and promote itself, and the server it
leaves behind archives into a WAL archive of its own, so the old one stays as it was.

Restoring never overwrites a data dir: it makes a new one, for an operator to check
(``rongbank ledger verify``, ``rongbank audit verify``) and then serve from. The keys
the bank keeps beside the database (``card-hash-key``, ``tool-key``...) are not in a
database backup: they are kept apart on purpose and backed up apart.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from rongbank.embedded import (
    EmbeddedPostgres,
    archive_command,
    binaries,
    env_without_pg,
    give_to_server,
)

MANIFEST = "backup.json"
BASE = "base"
RECOVERED_WAIT_S = 300.0


class BackupError(Exception):
    """A backup or restore that cannot be done as asked; says why."""


@dataclass(frozen=True, slots=True)
class Backup:
    folder: Path
    finished_at: datetime
    """The server's clock when the backup ended: the earliest time it restores to."""
    archive: Path | None
    """Where the server archived its WAL when the backup was taken."""

    @classmethod
    def read(cls, folder: Path) -> Backup:
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise BackupError(f"{folder} holds no backup ({MANIFEST} is missing)") from None
        archive = manifest.get("archive")
        return cls(
            folder, datetime.fromisoformat(manifest["finished_at"]), archive and Path(archive)
        )


def take(url: str, folder: Path, *, archive: Path | None) -> Backup:
    """A base backup of the server at ``url`` into ``folder`` (new or empty)."""
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    label = f"rongbank {datetime.now().astimezone():%Y-%m-%d %H:%M:%S%z}"
    _run(
        binaries() / "pg_basebackup",
        "--dbname",
        _libpq(url),
        "--pgdata",
        str(folder / BASE),
        "--format",
        "plain",
        "--wal-method",
        "stream",
        "--checkpoint",
        "fast",
        "--label",
        label,
        "--no-password",
    )
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        # The segment the backup ended in goes to the archive now, not within a minute.
        conn.execute("SELECT pg_switch_wal()")
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    backup = Backup(folder, row[0], archive)
    manifest = {
        "finished_at": backup.finished_at.isoformat(),
        "label": label,
        "archive": str(archive) if archive else None,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return backup


def restore(
    backup: Backup, data_dir: Path, *, until: datetime | None, archive: Path | None = None
) -> EmbeddedPostgres:
    """A new embedded server in ``data_dir`` with the database as it was at ``until``
    (None: the newest archived WAL), started and promoted; the caller stops it."""
    archive = archive or backup.archive
    if archive is None or not archive.is_dir():
        raise BackupError("the WAL archive to replay is not there; say where it is")
    if until is not None and until < backup.finished_at:
        raise BackupError(
            f"{until.isoformat()} is before the backup ended ({backup.finished_at.isoformat()})"
        )
    pgdata = data_dir / "pgdata"
    if pgdata.exists():
        raise BackupError(f"{data_dir} already holds a database; restore into a new folder")
    data_dir.mkdir(parents=True, exist_ok=True)
    # The embedded server's socket (and its lock file) live in its data dir, and
    # pg_basebackup copies the lock; the source's process list and log are its own.
    leftovers = shutil.ignore_patterns(".s.PGSQL.*", ".handle_pids.json", "log")
    shutil.copytree(backup.folder / BASE, pgdata, ignore=leftovers)
    pgdata.chmod(0o700)
    own_archive = data_dir / "wal-archive"
    settings = {
        "restore_command": f"cp {archive}/%f %p",
        "recovery_target_action": "promote",
        # The restored server's own history goes into its own archive.
        "archive_command": archive_command(own_archive),
    }
    if until is not None:
        settings["recovery_target_time"] = until.isoformat()
    with (pgdata / "postgresql.auto.conf").open("a") as conf:
        conf.write("# rongbank restore\n")
        for name, value in settings.items():
            conf.write(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n")
    (pgdata / "recovery.signal").touch()
    give_to_server(data_dir)
    server = EmbeddedPostgres(data_dir, archive_dir=own_archive)
    server.start()
    _wait_until_promoted(server.url("postgres"))
    return server


def _wait_until_promoted(url: str) -> None:
    deadline = time.monotonic() + RECOVERED_WAIT_S
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is not None and not row[0]:
                for name in ("recovery_target_time", "recovery_target_action", "restore_command"):
                    conn.execute(f"ALTER SYSTEM RESET {name}".encode())
                return
            if time.monotonic() > deadline:
                raise BackupError("the restored server is still replaying WAL")
            time.sleep(0.2)


def _libpq(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def _run(program: Path, *args: str) -> None:
    done = subprocess.run(  # noqa: S603 (our own binaries, arguments as a list)
        [str(program), *args], capture_output=True, text=True, env=env_without_pg(), check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{program.name} failed: {done.stderr.strip()}")
