"""Test harness: one embedded PostgreSQL per test session.

- ``session``: a SQLAlchemy session inside a transaction that is rolled back after
  the test; code under test may "commit" (it releases a savepoint instead).
- ``fresh_db``: a new database cloned from a migrated template, for tests that need
  real commits seen by other connections or processes (concurrency, crash).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from pydantic import SecretStr
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from rongbank.api.app import create_app
from rongbank.auth.service import PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.db import SessionFactory, make_engine, migrate
from rongbank.embedded import EmbeddedPostgres
from rongbank.ledger.service import LedgerService
from rongbank.platform import Platform
from rongbank.settings import Settings, get_settings
from tests.support.hashing import (  # noqa: F401  # autouse: passwords hashed cheaply
    banks_hashing_when_marked,
    cheap_password_hashing,
)

# xdist starts its workers with COLUMNS=80 (and LINES) in their environment, and rich
# reads it once, when a module-level Console is made (``wealth/cli.py``): the CLI
# tests' own COLUMNS would then do nothing and their output be wrapped at 80. A plain
# run has none, so that each Console follows the COLUMNS of the moment.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)


LONGEST = Path(__file__).with_name("longest.txt")
"""The longest test modules, seconds and path a line (``scripts/longest_tests`` writes
it from a run's ``--junitxml``)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest modules first, then those with a ``slow`` test (browsers, servers,
    benchmarks), then the others, each group by number of tests, each module's tests
    in their own order. xdist hands a worker a module at a time in this order
    (``scripts/test``: ``--dist loadfile --no-loadscope-reorder``); by number of
    tests alone, its default, a long module of one to four tests (a browser flow, a
    benchmark, a model trained) came last and ran alone while the other workers sat
    idle. A module missing from :data:`LONGEST` only loses its place in the queue."""
    seconds: dict[str, float] = {}
    if LONGEST.exists():
        for line in LONGEST.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                took, path = line.split()
                seconds[path] = float(took)
    tests = Counter(_module(item) for item in items)
    slow = {_module(item) for item in items if item.get_closest_marker("slow")}
    items.sort(
        key=lambda item: (
            -seconds.get(_module(item), 0.0),
            _module(item) not in slow,
            -tests[_module(item)],
        )
    )


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


TEMPLATE = "rongbank_template"
SHARED = "rongbank_test"


@pytest.fixture(autouse=True)
def _settings_read_afresh() -> Iterator[None]:
    """``get_settings()`` keeps the environment it first read: a test that changed the
    environment (``monkeypatch.setenv``) would otherwise hand its settings, a database
    since dropped among them, to the next test in the process (the next file, under
    xdist)."""
    yield
    get_settings.cache_clear()


THROWAWAY = {"fsync": "off", "full_page_writes": "off"}
"""What the test server does without: both only guard against the machine crashing
(its data is deleted after the session anyway). With them every ``fresh_db`` paid
for two forced checkpoints, CREATE and DROP DATABASE each flushing every dirty page
to disk (seconds each on a disk that others use), and every commit a flush."""


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("pg")), database=TEMPLATE)
    url = server.start()
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        for name, value in THROWAWAY.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
            )
        conn.execute("SELECT pg_reload_conf()")
    migrate(url)
    server.create_database(SHARED, template=TEMPLATE)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def engine(pg: EmbeddedPostgres) -> Iterator[Engine]:
    engine = make_engine(pg.url(SHARED))
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose outer transaction is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


def session_factory_on(connection: Connection) -> SessionFactory:
    """Sessions that join the test's transaction: their commit releases a savepoint."""
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint")


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    session = session_factory_on(connection)()
    try:
        yield session
    finally:
        session.close()


START = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


OPERATOR_TOKEN = "test-operator-token"


def platform_on(connection: Connection, clock: FrozenClock) -> Platform:
    """The platform over ``connection``'s transaction, with a frozen clock and
    without group commit (which needs its own connections: see ``fresh_db``)."""
    # Merchants' notification receivers in tests listen on localhost.
    settings = Settings(
        operator_token=SecretStr(OPERATOR_TOKEN), payments_allow_private_notify=True
    )
    return Platform(
        settings=settings,
        session_factory=session_factory_on(connection),
        clock=clock,
        ledger=LedgerService(clock),
    )


STAFF_PASSWORD = "Ledger-Keeper-2026!"


def staff_token(platform: Platform, *, username: str, role: str) -> tuple[int, str]:
    """A member of staff with a login (so the operator token is retired) and a
    session: their id and bearer token."""
    with platform.transaction() as session:
        staff_id = platform.accounts.create_staff(
            session, username=username, name="测试员工", role=role
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.STAFF,
            principal_id=staff_id,
            username=username,
            password=STAFF_PASSWORD,
        )
        login = platform.auth.open_session(
            session, kind=PrincipalKind.STAFF, principal_id=staff_id, client="tests"
        )
    return staff_id, login.token


class StaffLogin(httpx.Auth):
    """Sends a member of staff's session token, logging them in again when a test
    has moved the clock past the session's life; a request that says who it is
    (its own Authorization header) is left as it is."""

    def __init__(self, platform: Platform, staff_id: int, token: str) -> None:
        self.platform, self.staff_id, self.token = platform, staff_id, token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if "Authorization" in request.headers:
            yield request
            return
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:
            with self.platform.transaction() as session:
                self.token = self.platform.auth.open_session(
                    session, kind=PrincipalKind.STAFF, principal_id=self.staff_id, client="tests"
                ).token
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request


@pytest.fixture
def platform(connection: Connection, clock: FrozenClock) -> Platform:
    """The platform over the rolled-back test transaction."""
    return platform_on(connection, clock)


@pytest.fixture
def api(platform: Platform) -> Iterator[TestClient]:
    """An HTTP client for the app, logged in as a member of staff in operations (who
    keeps the ledger), as a bank that has staff logins runs it."""
    staff_id, token = staff_token(platform, username="ops-api", role="operations")
    with TestClient(create_app(platform, background=False)) as client:
        client.auth = StaffLogin(platform, staff_id, token)
        yield client


@pytest.fixture
def fresh_db(pg: EmbeddedPostgres) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg.create_database(name, template=TEMPLATE)
    yield pg.url(name)
    pg.drop_database(name)
