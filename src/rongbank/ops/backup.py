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

PostgreSQL replays the archive in a server :func:`restore` starts and watches itself,
not through the embedded server's start-up, which waits for a server that is ready
and would wait forever for one that stopped: recovery stops the server when the
archive ends before ``recovery_target_time`` (a moment past the newest archived WAL,
or a segment missing), and the restore then fails saying so, with PostgreSQL's words.

The archive grows by a segment a minute at least (16 MB each when busy) until it is
pruned: :func:`prune` (``rongbank backup --prune``) keeps what the newest ``keep``
base backups need, that is every segment from where the oldest of them started, and
removes the older ones with ``pg_archivecleanup``. Which backups there are, the
archive itself says: PostgreSQL writes a backup history file
(``<segment>.<offset>.backup``) into it at the end of every base backup, whoever took
it. An older backup cannot be restored past its own end afterwards, and
:func:`restore` refuses it rather than stop at its end without a word.

Restoring never overwrites a data dir: it makes a new one, for an operator to check
(``rongbank ledger verify``, ``rongbank audit verify``) and then serve from. The keys
the bank keeps beside the database (``card-hash-key``, ``tool-key``...) are not in a
database backup: they are kept apart on purpose and backed up apart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from rongbank.embedded import (
    SERVER_USER,
    EmbeddedPostgres,
    archive_command,
    binaries,
    env_without_pg,
    give_to_server,
)

MANIFEST = "backup.json"
BASE = "base"
RECOVERED_WAIT_S = 300.0
ARCHIVED_WAIT_S = 120.0


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
    _check_archive_has(archive, _start_segment(backup))
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
    # Made now, and given to the server with the rest: it archives while it recovers,
    # and pg_ctl (run as the server's user) appends to the log that the recovery began.
    own_archive.mkdir(exist_ok=True)
    (pgdata / "log").touch()
    give_to_server(data_dir)
    try:
        _recover(pgdata, until)
    except BackupError:
        shutil.rmtree(pgdata, ignore_errors=True)  # ours, half made: the folder can be reused
        raise
    server = EmbeddedPostgres(data_dir, archive_dir=own_archive)
    server.start()
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        for name in ("recovery_target_time", "recovery_target_action", "restore_command"):
            conn.execute(f"ALTER SYSTEM RESET {name}".encode())
    return server


@dataclass(frozen=True, slots=True)
class Pruned:
    backups: int
    """The base backups the archive holds the WAL of (the newest ``keep``, or fewer)."""
    oldest_kept: str | None
    """The oldest segment kept: where the oldest of those backups started."""
    removed: int
    """Segments (and older backups' history files) removed."""


def prune(archive: Path, *, keep: int, after: Backup | None = None) -> Pruned:
    """Remove from ``archive`` the WAL that none of its newest ``keep`` base backups
    needs; ``after``: a backup just taken, counted once the archiver has its history
    file (archived like a segment: in a moment)."""
    if keep < 1:
        raise BackupError("keep at least one backup's WAL")
    start = after and _start_segment(after)
    deadline = time.monotonic() + ARCHIVED_WAIT_S
    while start is not None and not any(archive.glob(f"{start}.*.backup")):
        if time.monotonic() > deadline:
            raise BackupError("the server has not archived the new backup's history file yet")
        time.sleep(0.2)
    histories = sorted(p.name for p in archive.glob("*.backup"))  # by WAL position
    if not histories:
        return Pruned(0, None, 0)
    kept = histories[-keep:]
    before = set(_names(archive))
    # -b: the older backups' history files go too, so they are not counted again.
    _run(binaries() / "pg_archivecleanup", "-b", str(archive), kept[0])
    oldest = kept[0][:_SEGMENT_NAME_LENGTH]
    return Pruned(len(kept), oldest, len(before - set(_names(archive))))


_SEGMENT_NAME_LENGTH = 24
"""A WAL segment's file name: timeline, log and segment, 8 hexadecimal digits each."""


def _names(archive: Path) -> list[str]:
    return [p.name for p in archive.iterdir()]


def _start_segment(backup: Backup) -> str | None:
    """The WAL segment the base backup started in (its ``backup_label``)."""
    try:
        label = (backup.folder / BASE / "backup_label").read_text()
    except FileNotFoundError:
        return None
    found = re.search(r"^START WAL LOCATION: .*\(file ([0-9A-F]{24})\)", label, re.MULTILINE)
    return found[1] if found else None


def _check_archive_has(archive: Path, start: str | None) -> None:
    """Refuse a backup whose WAL was pruned from ``archive``: replay would end at the
    backup's own end and, without ``--until``, promote a database that old silently.
    (A segment not archived yet is no gap: segments are archived in order.)"""
    if start is None or (archive / start).exists():
        return
    segments = (n for n in _names(archive) if re.fullmatch(r"[0-9A-F]{24}", n))
    if any(name[8:] > start[8:] for name in segments):
        raise BackupError(
            f"the WAL archive no longer holds this backup's WAL (from {start} on; pruned "
            "by rongbank backup --prune?): restore a newer backup"
        )


def _recover(pgdata: Path, until: datetime | None) -> None:
    """Run PostgreSQL on ``pgdata`` until it has replayed the archive and promoted
    itself, then stop it; :class:`BackupError` if it stops on its own first."""
    log = pgdata / "log"
    with tempfile.TemporaryDirectory(prefix="rongbank-restore-") as sockets:
        give_to_server(Path(sockets))
        with log.open("ab") as out:
            server = subprocess.Popen(  # noqa: S603 (our own binary, arguments as a list)
                [
                    str(binaries() / "postgres"),
                    "-D",
                    str(pgdata),
                    "-c",
                    "listen_addresses=",
                    # Off, its state says "standby" until it is promoted: with hot
                    # standby it says "ready" as soon as it accepts read-only queries.
                    "-c",
                    "hot_standby=off",
                    "-k",
                    sockets,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env_without_pg(),
                user=SERVER_USER if os.geteuid() == 0 else None,
            )
        deadline = time.monotonic() + RECOVERED_WAIT_S
        try:
            signal_file = pgdata / "recovery.signal"  # gone at the end of recovery
            while _status(pgdata, server.pid) != "ready" or signal_file.exists():
                if server.poll() is not None:
                    raise BackupError(_why_recovery_stopped(log.read_text(errors="replace"), until))
                if time.monotonic() > deadline:
                    raise BackupError(f"the restored server is still replaying WAL: see {log}")
                time.sleep(0.2)
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
                server.wait(timeout=120)


def _status(pgdata: Path, pid: int) -> str | None:
    """The state a running postmaster ``pid`` writes in ``postmaster.pid``."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    if len(lines) < 8 or lines[0].strip() != str(pid):
        return None
    return lines[7].strip()


def _why_recovery_stopped(log: str, until: datetime | None) -> str:
    said = re.findall(r"(?:FATAL|PANIC):\s+(.*)", log)
    last_done = re.findall(r"LOG:\s+(last completed transaction .*)", log)
    why = said[-1].strip() if said else "see its log"
    reached = f" ({last_done[-1].strip()})" if last_done else ""
    if until is not None and "before configured recovery target" in why:
        return (
            f"the WAL archive ends before {until.isoformat()}{reached}: restore to an "
            "earlier moment, or leave --until out to restore to the newest archived WAL"
        )
    return f"PostgreSQL stopped replaying the WAL archive: {why}{reached}"


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
