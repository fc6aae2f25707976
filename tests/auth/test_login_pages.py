"""Logging in over HTTP while someone guesses: the stranger's network is locked out,
the customer's is not, and the customer is told of the wrong passwords."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.auth.service import PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.identity import resident_id

MOBILE = "13900000901"
PASSWORD = "Mima-2026-secure"
STRANGER = ("198.51.100.7", 40000)
CUSTOMER = ("203.0.113.9", 40000)


@pytest.fixture
def clients(platform: Platform) -> Iterator[dict[str, TestClient]]:
    app = create_app(platform, background=False)
    with TestClient(app, client=STRANGER) as stranger, TestClient(app, client=CUSTOMER) as me:
        yield {"stranger": stranger, "customer": me}


@pytest.fixture(autouse=True)
def customer(platform: Platform) -> int:
    with platform.transaction() as session:
        person, _ = platform.accounts.register_person(
            session, name="韩梅梅", mobile=MOBILE, resident_id=resident_id(901)
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.CUSTOMER,
            principal_id=person.id,
            username=MOBILE,
            password=PASSWORD,
        )
    return person.id


def log_in(client: TestClient, password: str) -> dict[str, object]:
    response = client.post("/api/v1/sessions", json={"login_name": MOBILE, "password": password})
    body: dict[str, object] = response.json()
    return body


def test_a_stranger_who_locks_their_network_out_leaves_the_customer_in(
    clients: dict[str, TestClient], clock: FrozenClock
) -> None:
    first = log_in(clients["customer"], PASSWORD)
    assert first["previous_login_at"] is None
    assert first["failed_attempts_since_previous_login"] == 0
    refusals = [log_in(clients["stranger"], "Wrong-pass-1")["error"] for _ in range(5)]
    assert [r["details"] for r in refusals[:4]] == [  # type: ignore[index]
        {"remaining_attempts": n, "lockout_seconds": 900} for n in (4, 3, 2, 1)
    ]
    assert refusals[4]["code"] == "login_locked"  # type: ignore[index]
    assert log_in(clients["stranger"], PASSWORD)["error"]["code"] == "login_locked"  # type: ignore[index]

    mine = log_in(clients["customer"], PASSWORD)
    assert mine["token"]
    assert mine["failed_attempts_since_previous_login"] == 5
    assert mine["previous_login_at"] == clock.now().isoformat().replace("+00:00", "Z")


def test_the_web_bank_tells_the_customer_of_wrong_passwords(
    clients: dict[str, TestClient],
) -> None:
    stranger, me = clients["stranger"], clients["customer"]
    for _ in range(3):
        page = stranger.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        stranger.post(
            "/login",
            data={"login_name": MOBILE, "password": "Wrong-pass-1", "csrf": token.group(1)},
        )
    page = me.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    accounts = me.post(
        "/login", data={"login_name": MOBILE, "password": PASSWORD, "csrf": token.group(1)}
    )
    assert accounts.status_code == 200
    assert "我的账户" in accounts.text
    warning = re.search(r'id="failed-logins">([^<]*)<', accounts.text)
    assert warning
    assert "3 次" in warning.group(1)
