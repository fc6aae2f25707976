"""Writes deferred to the transaction's next round trip (``db.defer``): sent with the
next pipeline, or before the commit, and never when their savepoint rolls back."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from rongbank.db import SessionFactory, defer, pipeline, run, statement, unit_of_work
from tests.conftest import session_factory_on

_NOTE = statement("INSERT INTO deferred_note (n) VALUES (:n)")
_COUNT = statement("SELECT coalesce(array_agg(n ORDER BY n), '{}') FROM deferred_note")


@pytest.fixture
def factory(connection: Connection) -> SessionFactory:
    connection.execute(text("CREATE TEMP TABLE deferred_note (n int) ON COMMIT DROP"))
    return session_factory_on(connection)


def notes(session: Session) -> list[int]:
    row = run(session, _COUNT).fetchone()
    assert row is not None
    return list(row[0])


def test_a_deferred_write_goes_with_the_next_pipeline_or_the_commit(
    factory: SessionFactory,
) -> None:
    with unit_of_work(factory) as session:
        defer(session, _NOTE, {"n": 1})
        assert notes(session) == []  # not sent yet
        with pipeline(session):
            later = run(session, _COUNT)
        assert later.fetchone() == ([1],)  # sent first, in the pipeline's round trip
        defer(session, _NOTE, {"n": 2})
    with unit_of_work(factory) as session:
        assert notes(session) == [1, 2]  # the second just before the commit


def deferred_then_refused(session: Session, n: int) -> None:
    defer(session, _NOTE, {"n": n})
    raise RuntimeError


def in_a_savepoint(session: Session, n: int) -> None:
    with session.begin_nested():
        deferred_then_refused(session, n)


def test_a_savepoint_rolled_back_takes_its_deferred_writes(factory: SessionFactory) -> None:
    with unit_of_work(factory) as session:
        defer(session, _NOTE, {"n": 1})
        with pytest.raises(RuntimeError):
            in_a_savepoint(session, 2)
    with unit_of_work(factory) as session:
        assert notes(session) == [1]
    with pytest.raises(RuntimeError), unit_of_work(factory) as session:
        deferred_then_refused(session, 3)
    with unit_of_work(factory) as session:
        assert notes(session) == [1]
