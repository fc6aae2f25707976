"""Test harness: one embedded PostgreSQL per test session.

- ``session``: a SQLAlchemy session inside a transaction that is rolled back after
  the test; code under test may "commit" (it releases a savepoint instead).
- ``fresh_db``: a new database cloned from a migrated template, for tests that need
  real commits seen by other connections or processes (concurrency, crash).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from rongbank.db import make_engine, migrate
from rongbank.embedded import EmbeddedPostgres

TEMPLATE = "rongbank_template"
SHARED = "rongbank_test"


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("pg")), database=TEMPLATE)
    migrate(server.start())
    server.create_database(SHARED, template=TEMPLATE)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def engine(pg: EmbeddedPostgres) -> Iterator[Engine]:
    engine = make_engine(pg.url(SHARED))
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


@pytest.fixture
def fresh_db(pg: EmbeddedPostgres) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg.create_database(name, template=TEMPLATE)
    yield pg.url(name)
    pg.drop_database(name)
