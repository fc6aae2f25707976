"""A database connection lost under a request (the primary failed over): the request
answers a retryable 503 ``database_unavailable``, never a 500, and the pool gives the
next request a new connection rather than the next dead one."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import psycopg.errors
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from rongbank.api.errors import install_error_handlers
from rongbank.db import (
    connection_lost,
    make_engine,
    make_session_factory,
    run,
    sqlalchemy_url,
    statement,
    unit_of_work,
)
from rongbank.platform import Platform
from tests.factories.people import V1, People

_ONE = statement("SELECT 1")


def cut_connections(url: str) -> int:
    """What a failover does to the pool: every connection of the bank's database
    ended by the server, as a lost primary ends them."""
    with psycopg.connect(url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def fill_pool(engine: Engine, size: int) -> None:
    held = [engine.connect() for _ in range(size)]
    for connection in held:
        connection.close()


def test_a_lost_connection_empties_the_pool_so_one_request_pays_for_it(fresh_db: str) -> None:
    """The rollback meets the lost connection too, and SQLAlchemy then drops every
    pooled one (``rongbank.db.unit_of_work``): the next requests connect afresh."""
    engine = make_engine(fresh_db, pool_size=3)
    factory = make_session_factory(engine)
    try:
        fill_pool(engine, 3)
        assert cut_connections(fresh_db) >= 3
        with pytest.raises(DBAPIError) as lost, unit_of_work(factory) as session:
            run(session, _ONE)  # the driver-level path, which SQLAlchemy does not watch
        assert connection_lost(lost.value)
        for _ in range(3):  # each would have met a dead connection
            with unit_of_work(factory) as session:
                assert run(session, _ONE).fetchone() == (1,)
    finally:
        engine.dispose()


def test_what_the_database_refused_is_not_a_lost_connection(fresh_db: str) -> None:
    engine = make_engine(fresh_db, pool_size=1)
    try:
        with pytest.raises(DBAPIError) as refused, unit_of_work(make_session_factory(engine)) as s:
            run(s, statement("SELECT 1 / 0"))
        assert not connection_lost(refused.value)
    finally:
        engine.dispose()


def test_a_request_that_loses_its_database_answers_a_retryable_503(
    served: tuple[TestClient, Platform], fresh_db: str
) -> None:
    client, _ = served
    people = People(client, served[1])
    person = people.register("孙八")
    headers = person["headers"]
    assert client.get(f"{V1}/me/accounts", headers=headers).status_code == 200
    cut_connections(fresh_db)
    answer = client.get(f"{V1}/me/accounts", headers=headers)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "database_unavailable"
    assert answer.headers["retry-after"] == "1"
    assert client.get(f"{V1}/me/accounts", headers=headers).status_code == 200


def test_a_multi_host_url_keeps_every_host_for_libpq() -> None:
    url = (
        "postgresql://bank:pw@10.0.0.1:5432,10.0.0.2:5433/rongbank?target_session_attrs=read-write"
    )
    engine = make_engine(url)
    try:
        _, params = engine.dialect.create_connect_args(engine.url)
    finally:
        engine.dispose()
    assert sqlalchemy_url(url).startswith("postgresql+psycopg://bank:pw@/rongbank?host=")
    assert params["host"] == "10.0.0.1,10.0.0.2"
    assert params["port"] == "5432,5433"
    assert params["target_session_attrs"] == "read-write"
    assert params["dbname"] == "rongbank"


def test_only_a_lost_connection_is_retryable_other_database_errors_stay_500s() -> None:
    app = FastAPI()
    install_error_handlers(app)

    def failing(error: psycopg.Error) -> Callable[[], None]:
        def route() -> None:
            raise DBAPIError.instance("SELECT 1", None, error, psycopg.Error)

        return route

    app.add_api_route("/lost", failing(psycopg.OperationalError("the connection is lost")))
    app.add_api_route("/shutdown", failing(psycopg.errors.AdminShutdown("terminating")))
    app.add_api_route("/refused", failing(psycopg.errors.DivisionByZero("division by zero")))
    client = TestClient(app, raise_server_exceptions=False)
    for path in ("/lost", "/shutdown"):
        answer = client.get(path)
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "database_unavailable"
    refused = client.get("/refused")
    assert refused.status_code == 500
    assert refused.json()["error"]["code"] == "internal_error"
