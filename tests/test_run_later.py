"""Writes queued with ``run_later`` (an audit row, a usage count, an outbox event) go
with the transaction's next round trip: whatever runs after them in the transaction
sees them, they commit and roll back with it (and with a savepoint made after them or
around them), and an error in one is raised in the transaction, as the session
raises it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rongbank.db import (
    SessionFactory,
    autocommit,
    driver_connection,
    make_engine,
    make_session_factory,
    queue_commit,
    run,
    run_later,
    statement,
    unit_of_work,
)
from rongbank.embedded import EmbeddedPostgres

_ADD = statement("INSERT INTO later_note (name) VALUES (:name)")
_NAMES = statement("SELECT name FROM later_note ORDER BY id")


class Refused(Exception):
    pass


@pytest.fixture(scope="module")
def engine(pg: EmbeddedPostgres) -> Iterator[Engine]:
    name = f"later_{uuid.uuid4().hex[:12]}"
    pg.create_database(name)
    engine = make_engine(pg.url(name), pool_size=1)  # one connection: tests meet it again
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE later_note (id serial PRIMARY KEY, name text UNIQUE NOT NULL)")
        )
    yield engine
    engine.dispose()
    pg.drop_database(name)


@pytest.fixture
def factory(engine: Engine) -> Iterator[SessionFactory]:
    yield make_session_factory(engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM later_note"))


def names(factory: SessionFactory) -> list[str]:
    with unit_of_work(factory) as session:
        return [name for (name,) in run(session, _NAMES).fetchall()]


def add(session: Session, name: str) -> None:
    run_later(session, _ADD, {"name": name})


def test_later_statements_see_them_and_they_commit_with_the_work(
    factory: SessionFactory,
) -> None:
    with unit_of_work(factory) as session:
        add(session, "a")
        seen_by_orm = session.execute(text("SELECT count(*) FROM later_note")).scalar()
        add(session, "b")
        seen_by_run = run(session, _NAMES).fetchall()
        add(session, "c")
    assert seen_by_orm == 1
    assert seen_by_run == [("a",), ("b",)]
    assert names(factory) == ["a", "b", "c"]


def test_they_roll_back_with_the_work(factory: SessionFactory) -> None:
    def refused() -> None:
        with unit_of_work(factory) as session:
            add(session, "lost")
            raise Refused

    with pytest.raises(Refused):
        refused()
    # The same pooled connection again: nothing of the refused work comes with it.
    with unit_of_work(factory) as session:
        add(session, "kept")
    assert names(factory) == ["kept"]


def test_a_savepoint_rolled_back_takes_those_queued_in_it_only(factory: SessionFactory) -> None:
    with unit_of_work(factory) as session:
        add(session, "before")
        try:
            with session.begin_nested():
                add(session, "inside")
                raise Refused
        except Refused:
            pass
        add(session, "after")
    assert names(factory) == ["before", "after"]


def test_a_commit_queued_on_the_driver_connection_sends_them_first(
    factory: SessionFactory,
) -> None:
    with unit_of_work(factory) as session:
        conn = driver_connection(session)
        add(session, "a")
        with conn.pipeline():
            queue_commit(conn)
    assert names(factory) == ["a"]


def test_a_session_committed_without_the_unit_of_work_sends_them(
    factory: SessionFactory,
) -> None:
    with factory() as session:
        add(session, "a")
        session.commit()
    assert names(factory) == ["a"]


def test_in_autocommit_they_run_at_once(factory: SessionFactory) -> None:
    with autocommit(factory) as session:
        add(session, "a")
        assert names(factory) == ["a"]  # seen from another transaction already


def test_what_the_database_refuses_of_one_is_raised_in_the_transaction(
    factory: SessionFactory,
) -> None:
    def twice() -> None:
        with unit_of_work(factory) as session:
            add(session, "twice")
            add(session, "twice")

    with pytest.raises(IntegrityError):
        twice()
    assert names(factory) == []


def test_a_statement_run_inside_a_savepoint_rolls_back_with_it(factory: SessionFactory) -> None:
    """The driver connection found before a savepoint is not used inside it as if the
    savepoint were made: SQLAlchemy makes it when the session is asked for its
    connection inside."""
    with unit_of_work(factory) as session:
        run(session, _ADD, {"name": "before"})
        try:
            with session.begin_nested():
                run(session, _ADD, {"name": "inside"})
                raise Refused
        except Refused:
            pass
    assert names(factory) == ["before"]
