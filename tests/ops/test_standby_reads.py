"""Statements read from a standby where ``RONGBANK_READ_DATABASE_URL`` names one
(issue 22: reports and statements may read from a replica), and from the primary
where it is unset."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories.people import V1, People

STANDBY = "standby-reads"


def reading(url: str) -> int:
    """Connections open on the database under the standby URL's name."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [STANDBY]
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def served_with_standby(
    fresh_db: str, tmp_path: Path, clock: FrozenClock
) -> Iterator[tuple[TestClient, Platform]]:
    # The same database under another name stands in for the standby: what is read
    # through it shows in pg_stat_activity.
    keys = ("payments_key", "tool_key", "card_hash_key", "operator_token")
    settings = Settings(
        database_url=fresh_db,
        read_database_url=f"{fresh_db}&application_name={STANDBY}",
        data_dir=tmp_path,
        **{k: SecretStr(secrets.token_urlsafe(32)) for k in keys},  # type: ignore[arg-type]
    )
    platform = Platform.connect(fresh_db, settings, clock=clock)
    try:
        with TestClient(create_app(platform, background=False)) as client:
            yield client, platform
    finally:
        platform.close()


def test_a_statement_is_read_on_the_standby_url(
    served_with_standby: tuple[TestClient, Platform], fresh_db: str
) -> None:
    client, platform = served_with_standby
    people = People(client, platform)
    person = people.register("周九")
    people.fund(person, 12_345)
    assert reading(fresh_db) == 0
    number = person["account"]["number"]
    answer = client.get(f"{V1}/me/accounts/{number}/statement.csv", headers=person["headers"])
    assert answer.status_code == 200, answer.text
    assert "123.45" in answer.content.decode("utf-8-sig")
    assert reading(fresh_db) == 1  # the standby pool's connection, idle now


def test_without_a_standby_statements_read_the_primary(
    served: tuple[TestClient, Platform], fresh_db: str
) -> None:
    client, platform = served
    people = People(client, platform)
    person = people.register("吴十")
    people.fund(person, 500)
    number = person["account"]["number"]
    answer = client.get(f"{V1}/me/accounts/{number}/statement.csv", headers=person["headers"])
    assert answer.status_code == 200, answer.text
    assert "5.00" in answer.content.decode("utf-8-sig")
    assert reading(fresh_db) == 0
