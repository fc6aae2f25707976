"""Mobile and identity numbers at rest (``rongbank.pii``): nowhere in the database in
clear after a customer registers and uses the bank, yet logins, uniqueness, the staff
search and resets find them; a wrong key or a number moved to another row fails
loudly; keys rotate; rows written before encryption are converted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from rongbank.api.app import create_app
from rongbank.auth.service import PrincipalKind
from rongbank.cli.main import app as cli
from rongbank.clock import FrozenClock
from rongbank.ledger.service import LedgerService
from rongbank.pii import PersonalData, PersonalDataUnreadable
from rongbank.pii_rows import encrypt_existing
from rongbank.platform import Platform
from rongbank.settings import Settings, get_settings
from tests.conftest import START, session_factory_on
from tests.factories.identity import resident_id
from tests.factories.people import PASSWORD, V1

MOBILE = "13912345678"
OTHER_MOBILE = "13800001111"


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


def register(client: TestClient, mobile: str, number: str, name: str = "王芳") -> Any:
    body = {"name": name, "mobile": mobile, "resident_id": number, "password": PASSWORD}
    return client.post(f"{V1}/customers", json=body)


def login(client: TestClient, login_name: str) -> int:
    body = {"login_name": login_name, "password": PASSWORD}
    return client.post(f"{V1}/sessions", json=body).status_code


def dump(session: Session) -> str:
    """Every row of every table as text, as ``pg_dump`` would write them (bytea in
    hex): what a stolen backup gives away."""
    tables = session.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    ).scalars()
    rows = []
    for table in tables:
        if table == "fake_sms_outbox":
            continue  # the stand-in for the SMS operator, outside a real bank's database
        rows += session.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()  # noqa: S608
    return "\n".join(rows)


def appears(value: str, dumped: str) -> bool:
    """The value in clear, or its bytes in hex as a bytea column shows them."""
    return value in dumped or value.encode().hex() in dumped


def platform_with(connection: Connection, keys: list[str], hash_key: str = "h") -> Platform:
    """A platform over the test's transaction with these personal-data keys (the first
    seals; the others are read only)."""
    settings = Settings(
        pii_key=SecretStr(keys[0]),
        pii_old_keys=SecretStr(",".join(keys[1:])) if keys[1:] else None,
        pii_hash_key=SecretStr(hash_key),
    )
    clock = FrozenClock(START)
    return Platform(settings, session_factory_on(connection), clock, LedgerService(clock))


class TestNothingInClear:
    def test_registration_login_search_and_reset_leave_no_number_readable(
        self, client: TestClient, platform: Platform, session: Session
    ) -> None:
        number = resident_id(41)
        assert register(client, MOBILE, number).status_code == 201
        assert login(client, MOBILE) == 201
        assert login(client, MOBILE[:-1] + "0") == 401  # refused: audited, counted
        started = client.post(
            f"{V1}/password-resets", json={"mobile": MOBILE, "resident_id": number}
        )
        assert started.status_code == 202
        dumped = dump(session)
        assert "王芳" in dumped  # the dump read the customer's row
        for value in (MOBILE, number, MOBILE[:-1] + "0"):
            assert not appears(value, dumped), value
        # What is there: the sealed forms.
        row = session.execute(
            text(
                "SELECT mobile, resident_id, length(mobile_enc), length(resident_id_enc) "
                "FROM customer"
            )
        ).one()
        assert (row[0], row[1]) == (None, None)
        assert row[2] > len(MOBILE)
        assert row[3] > len(number)


class TestFound:
    def test_uniqueness_of_the_mobile_and_the_identity_number(self, client: TestClient) -> None:
        assert register(client, MOBILE, resident_id(41)).status_code == 201
        again = register(client, MOBILE, resident_id(42), name="李雷")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "customer_already_registered"
        same_id = register(client, OTHER_MOBILE, resident_id(41), name="李雷")
        assert same_id.status_code == 409
        assert register(client, OTHER_MOBILE, resident_id(42), name="李雷").status_code == 201

    def test_login_by_mobile_as_typed(self, client: TestClient) -> None:
        register(client, MOBILE, resident_id(41))
        assert login(client, MOBILE) == 201
        assert login(client, " １３９１２３４５６７８ ") == 201  # full width, spaces

    def test_staff_search_and_reset_find_the_customer(self, platform: Platform) -> None:
        number = resident_id(41)
        with platform.transaction() as session:
            ops = platform.accounts.create_staff(
                session, username="ops", name="ops", role="operations"
            )
            customer, _ = platform.accounts.register_person(
                session, name="王芳", mobile=MOBILE, resident_id=number
            )
            platform.auth.set_password(
                session,
                kind=PrincipalKind.CUSTOMER,
                principal_id=customer.id,
                username=MOBILE,
                password=PASSWORD,
            )
        with platform.transaction() as session:
            for query in (MOBILE, MOBILE[-4:], MOBILE[:7], number, number[-6:], number[:6]):
                found = platform.chat.desk.find_customers(session, staff_id=ops, query=query)
                assert [(c.id, c.mobile, c.resident_id) for c in found] == [
                    (customer.id, MOBILE, number)
                ], query
            assert platform.chat.desk.find_customers(session, staff_id=ops, query="0000") == []
            holder = platform.accounts.reset_holder(session, mobile=MOBILE, identity_number=number)
            assert holder is not None
            assert holder.customer_id == customer.id
            assert platform.accounts.customer(session, customer.id).mobile == MOBILE


class TestLoudFailures:
    def test_a_wrong_key_does_not_open_the_numbers(
        self, connection: Connection, platform: Platform
    ) -> None:
        with platform.transaction() as session:
            customer, _ = platform.accounts.register_person(
                session, name="王芳", mobile=MOBILE, resident_id=resident_id(41)
            )
        wrong = platform_with(connection, ["another key"])
        with wrong.transaction() as session, pytest.raises(PersonalDataUnreadable) as raised:
            wrong.accounts.customer(session, customer.id)
        assert "not among the configured keys" in str(raised.value)
        assert MOBILE not in str(raised.value)

    def test_a_number_moved_to_another_customer_does_not_open(
        self, platform: Platform, session: Session
    ) -> None:
        with platform.transaction() as s:
            one, _ = platform.accounts.register_person(
                s, name="王芳", mobile=MOBILE, resident_id=resident_id(41)
            )
            other, _ = platform.accounts.register_person(
                s, name="李雷", mobile=OTHER_MOBILE, resident_id=resident_id(42)
            )
        # Someone with write access gives one customer the other's sealed mobile (to
        # have the other's SMS codes sent to it, say).
        session.execute(
            text(
                "UPDATE customer SET mobile_enc = (SELECT mobile_enc FROM customer WHERE id = :b) "
                "WHERE id = :a"
            ),
            {"a": one.id, "b": other.id},
        )
        with platform.transaction() as s, pytest.raises(PersonalDataUnreadable) as raised:
            platform.accounts.customer(s, one.id)
        assert "altered, or moved from another row" in str(raised.value)


class TestKeys:
    def test_rotation_reseals_under_the_new_key_and_the_old_one_can_go(
        self, connection: Connection, session: Session
    ) -> None:
        old = platform_with(connection, ["key one"])
        with old.transaction() as s:
            customer, _ = old.accounts.register_person(
                s, name="王芳", mobile=MOBILE, resident_id=resident_id(41)
            )
        rotated = platform_with(connection, ["key two", "key one"])
        with rotated.transaction() as s:  # reads what the old key sealed meanwhile
            assert rotated.accounts.customer(s, customer.id).mobile == MOBILE

        converted = encrypt_existing(rotated.session_factory, rotated.pii)

        assert converted.customers == 1
        again = encrypt_existing(rotated.session_factory, rotated.pii)
        assert again.customers == 0  # nothing left: a second run changes nothing
        new_only = platform_with(connection, ["key two"])
        with new_only.transaction() as s:
            assert new_only.accounts.customer(s, customer.id).mobile == MOBILE
            found = new_only.chat.desk.find_customers(
                s, staff_id=_staff(new_only, s), query=MOBILE[-4:]
            )
            assert [c.id for c in found] == [customer.id]
        with old.transaction() as s, pytest.raises(PersonalDataUnreadable):
            old.accounts.customer(s, customer.id)


def _staff(platform: Platform, session: Session) -> int:
    return platform.accounts.create_staff(session, username="ops", name="ops", role="operations")


class TestRowsWrittenBefore:
    def test_encrypt_existing_seals_them_clears_the_plaintext_and_they_log_in(
        self, connection: Connection, platform: Platform, session: Session
    ) -> None:
        """A customer and a login as migration 0048 finds them: in clear."""
        number = resident_id(41)
        customer_id = session.execute(
            text(
                "INSERT INTO customer (kind, name, mobile, resident_id, created_at) "
                "VALUES ('person', '王芳', :m, :r, now()) RETURNING id"
            ),
            {"m": MOBILE, "r": number},
        ).scalar_one()
        with platform.transaction() as s:
            platform.auth.set_password(
                s,
                kind=PrincipalKind.CUSTOMER,
                principal_id=customer_id,
                username=MOBILE,
                password=PASSWORD,
            )
        session.execute(
            text("UPDATE auth_credential SET username = :m WHERE principal_id = :c"),
            {"m": MOBILE, "c": customer_id},
        )
        session.execute(
            text(
                "INSERT INTO lending_blacklist (resident_id, reason, created_at) "
                "VALUES (:r, 'fraud', now())"
            ),
            {"r": "11010519491231002X"},
        )
        factory = session_factory_on(connection)

        converted = encrypt_existing(factory, platform.pii)

        assert (converted.customers, converted.logins, converted.blacklisted) == (1, 1, 1)
        assert not appears(MOBILE, dump(session))
        assert not appears(number, dump(session))
        with platform.transaction() as s:
            assert platform.accounts.customer(s, customer_id).mobile == MOBILE
            login = platform.auth.login(s, username=MOBILE, password=PASSWORD)
            assert login.unwrap().principal.id == customer_id
        assert encrypt_existing(factory, platform.pii) == type(converted)(0, 0, 0)


class TestLogs:
    def test_no_number_reaches_the_logs(
        self, client: TestClient, platform: Platform, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Registering twice (refused: a unique index on the keyed hash), logging in
        right and wrong, a reset: whatever is logged at any level, no number in clear."""
        number = resident_id(41)
        with caplog.at_level(logging.DEBUG):
            register(client, MOBILE, number)
            register(client, MOBILE, number)
            login(client, MOBILE)
            login(client, OTHER_MOBILE)
            client.post(f"{V1}/password-resets", json={"mobile": MOBILE, "resident_id": number})
        logged = caplog.text
        assert "/api/v1/sessions" in logged  # the requests were logged
        for value in (MOBILE, OTHER_MOBILE, number):
            assert value not in logged


def test_the_command_converts_with_the_keys_in_the_data_dir(
    fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rongbank pii encrypt-existing`` on an install from before migration 0048: its
    keys generated into the data dir (mode 0600), the plaintext sealed under them."""
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path))
    for name in ("RONGBANK_PII_KEY", "RONGBANK_PII_HASH_KEY", "RONGBANK_PII_OLD_KEYS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    with psycopg.connect(fresh_db) as conn:
        conn.execute(
            "INSERT INTO customer (kind, name, mobile, resident_id, created_at) "
            "VALUES ('person', '王芳', %s, %s, now())",
            (MOBILE, resident_id(41)),
        )

    result = CliRunner().invoke(cli, ["pii", "encrypt-existing"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "1 customers sealed" in result.output
    assert oct((tmp_path / "pii-key").stat().st_mode & 0o777) == "0o600"
    with psycopg.connect(fresh_db) as conn:
        row = conn.execute("SELECT mobile, mobile_enc, mobile_hash FROM customer").fetchone()
    assert row is not None
    assert row[0] is None
    keys = PersonalData(
        [(tmp_path / "pii-key").read_text().strip().encode()],
        (tmp_path / "pii-hash-key").read_text().strip().encode(),
    )
    assert bytes(row[2]) == keys.hash("mobile", MOBILE)
    again = CliRunner().invoke(cli, ["pii", "encrypt-existing"], env={"COLUMNS": "200"})
    assert "0 customers sealed" in again.output
