"""The unit of work runs what its services queued for after the commit, and only then."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from rongbank.db import (
    SessionFactory,
    after_commit,
    autocommit,
    driver_connection,
    make_engine,
    make_session_factory,
    run,
    statement,
    unit_of_work,
)
from tests.conftest import session_factory_on


class Refused(Exception):
    pass


@pytest.fixture
def factory(connection: Connection) -> SessionFactory:
    return session_factory_on(connection)


def note(session: Session, ran: list[str], name: str) -> None:
    after_commit(session, lambda: ran.append(name))


def refused_after(factory: SessionFactory, work: Callable[[Session], None]) -> None:
    with unit_of_work(factory) as session:
        work(session)
        raise Refused


def savepoint_refused_after(session: Session, ran: list[str]) -> None:
    with session.begin_nested():
        note(session, ran, "in the failed savepoint")
        with session.begin_nested():  # released, but inside the one that failed
            note(session, ran, "in a savepoint within it")
        raise Refused


class TestAfterCommitHooks:
    def test_run_after_the_commit_in_the_order_queued(self, factory: SessionFactory) -> None:
        ran: list[str] = []
        with unit_of_work(factory) as session:
            note(session, ran, "first")
            note(session, ran, "second")
            assert ran == []  # nothing before the commit
        assert ran == ["first", "second"]

    def test_dropped_when_the_work_rolls_back(self, factory: SessionFactory) -> None:
        ran: list[str] = []
        with pytest.raises(Refused):
            refused_after(factory, lambda session: note(session, ran, "rolled back"))
        with unit_of_work(factory) as session:
            note(session, ran, "next")
        assert ran == ["next"]

    def test_dropped_with_the_savepoint_they_were_queued_in(self, factory: SessionFactory) -> None:
        ran: list[str] = []
        with unit_of_work(factory) as session:
            note(session, ran, "before")
            with pytest.raises(Refused):
                savepoint_refused_after(session, ran)
            with session.begin_nested():
                note(session, ran, "in a released savepoint")
            note(session, ran, "after")
        assert ran == ["before", "in a released savepoint", "after"]

    def test_a_failing_hook_is_logged_and_the_work_stays_committed(
        self, factory: SessionFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        ran: list[str] = []

        def broken() -> None:
            raise RuntimeError("the bus is down")

        with unit_of_work(factory) as session:
            session.execute(text("CREATE TEMPORARY TABLE kept (n int)"))
            session.execute(text("INSERT INTO kept VALUES (1)"))
            after_commit(session, broken)
            note(session, ran, "the next hook")
        assert ran == ["the next hook"]
        assert "after-commit hook" in caplog.text
        assert "broken" in caplog.text
        assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)
        with unit_of_work(factory) as session:
            assert session.execute(text("SELECT n FROM kept")).scalar_one() == 1


def test_a_hook_sees_the_work_committed_from_another_connection(fresh_db: str) -> None:
    """With real commits: what a hook announces is already there for anyone to read."""
    engine = make_engine(fresh_db, pool_size=2)
    factory = make_session_factory(engine)
    seen: list[int] = []

    def read_from_elsewhere() -> None:
        with engine.connect() as other:
            seen.append(other.execute(text("SELECT count(*) FROM committed")).scalar_one())

    try:
        with unit_of_work(factory) as session:
            session.execute(text("CREATE TABLE committed (n int)"))
        with unit_of_work(factory) as session:
            session.execute(text("INSERT INTO committed VALUES (1)"))
            after_commit(session, read_from_elsewhere)
        assert seen == [1]
    finally:
        engine.dispose()


def test_autocommit_commits_each_statement_and_leaves_the_pool_transactional(
    fresh_db: str,
) -> None:
    """``db.autocommit``: a statement counts at once (nothing to roll back), and the
    connection goes back to the pool as it came, so that the next unit of work on it
    still rolls back as a whole."""
    engine = make_engine(fresh_db, pool_size=1)  # one connection: the same one each time
    factory = make_session_factory(engine)
    try:
        with unit_of_work(factory) as session:
            session.execute(text("CREATE TABLE counted (n int)"))
        with pytest.raises(Refused):
            insert_then_refuse(autocommit(factory), 1)
        with pytest.raises(Refused):
            insert_then_refuse(unit_of_work(factory), 2)
        with unit_of_work(factory) as session:
            assert session.execute(text("SELECT array_agg(n) FROM counted")).scalar_one() == [1]
    finally:
        engine.dispose()


def test_autocommit_runs_driver_statements_without_a_session_transaction(
    fresh_db: str,
) -> None:
    """``db.run`` in ``db.autocommit`` goes straight to the pooled connection (a login
    check's statement costs no SQLAlchemy transaction begun and closed); what then
    goes through the session itself runs on that same connection, and counts at once."""
    engine = make_engine(fresh_db, pool_size=2)
    factory = make_session_factory(engine)
    backend = statement("SELECT pg_backend_pid()")
    try:
        with unit_of_work(factory) as session:
            session.execute(text("CREATE TABLE counted (n int)"))
        with autocommit(factory) as session:
            pid = run(session, backend).fetchone()
            assert not session.in_transaction()
            session.execute(text("INSERT INTO counted VALUES (1)"))
            assert session.execute(text("SELECT pg_backend_pid()")).one() == pid
            assert run(session, backend).fetchone() == pid
        with unit_of_work(factory) as session:
            assert session.execute(text("SELECT array_agg(n) FROM counted")).scalar_one() == [1]
    finally:
        engine.dispose()


def insert_then_refuse(work: AbstractContextManager[Session], n: int) -> None:
    with work as session:
        session.execute(text("INSERT INTO counted VALUES (:n)"), {"n": n})
        raise Refused


def test_statements_run_on_the_connection_of_the_sessions_transaction_now(
    fresh_db: str,
) -> None:
    """``db.run`` finds the session's psycopg connection once a transaction: a session
    kept past its commit runs the next transaction's statements on the connection that
    transaction got from the pool, not on the one before (now another's)."""
    engine = make_engine(fresh_db, pool_size=2)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            first = driver_connection(session)
            assert run(session, statement("SELECT 1")).fetchone() == (1,)
            session.commit()
            with engine.connect() as other:  # takes the first connection from the pool
                assert other.connection.driver_connection is first
                second = driver_connection(session)
                assert second is not first
                assert second is session.connection().connection.driver_connection
                assert run(session, statement("SELECT 2")).fetchone() == (2,)
            session.commit()
    finally:
        engine.dispose()
