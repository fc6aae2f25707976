"""Structured logs and request ids (issue 22): the load balancer's request id comes
back in the answer, is on every line logged for the request and on the audit rows it
wrote; and what a login and a payment log holds no password, identity, mobile or card
number."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank import logs
from rongbank.audit.service import AuditRow, mask_text
from rongbank.platform import Platform
from tests.factories.cards import CARD
from tests.factories.identity import resident_id
from tests.factories.people import PASSWORD, V1, People
from tests.support.api import ApiCustomer
from tests.support.funding import CardHolder


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """Everything logged meanwhile, as the servers write it (rongbank.logs)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logs.attach(handler, mask=mask_text)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_the_load_balancers_request_id_comes_back_and_a_missing_one_is_made(
    served: tuple[TestClient, Platform],
) -> None:
    client, _ = served
    given = client.get("/healthz", headers={"X-Request-Id": "haproxy-0a1b2c"})
    assert given.headers["x-request-id"] == "haproxy-0a1b2c"
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 16
    assert made != client.get("/healthz").headers["x-request-id"]
    forged = client.get("/healthz", headers={"X-Request-Id": 'a" level="ERROR'})
    assert forged.headers["x-request-id"] != 'a" level="ERROR'


def test_the_request_id_is_on_its_log_lines_and_audit_rows(
    served: tuple[TestClient, Platform], logged: io.StringIO
) -> None:
    client, platform = served
    people = People(client, platform)
    person = people.register("钱七")
    login = client.post(
        f"{V1}/sessions",
        json={"login_name": person["login_name"], "password": PASSWORD},
        headers={"X-Request-Id": "lb-login-42"},
    )
    assert login.status_code == 201
    assert login.headers["x-request-id"] == "lb-login-42"

    with platform.transaction() as session:
        actions = session.execute(
            text("SELECT action FROM audit_log WHERE request_id = 'lb-login-42'")
        ).scalars()
        assert list(actions) == ["login"]
        assert platform.audit.seal(session) > 0
    with platform.transaction() as session:
        assert platform.audit.verify(session) == []

    lines = [json.loads(line) for line in logged.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == "lb-login-42"]
    assert [line["message"] for line in mine] == ["POST /api/v1/sessions 201"]
    assert mine[0]["logger"] == "rongbank.access"


def test_the_request_id_is_sealed_into_the_chain() -> None:
    row = AuditRow(1, datetime(2026, 3, 2, tzinfo=UTC), "customer", 7, "login", "", "ok", None, {})
    assert b"request_id" not in row.canonical()  # rows sealed before it still verify
    tagged = AuditRow(*[getattr(row, f) for f in AuditRow.__slots__][:9], request_id="lb-1")
    assert tagged.canonical() != row.canonical()


def test_a_login_and_a_payment_log_no_secret_and_no_personal_data(
    served: tuple[TestClient, Platform], logged: io.StringIO
) -> None:
    client, platform = served
    people = People(client, platform)
    payer, payee = people.register("张三"), people.register("周九")  # the card is 张三's
    people.fund(payer, 100_000)
    holder = CardHolder(client, platform, payer)
    card = holder.bind_confirmed()
    assert holder.top_up(card["id"], "20.00", "top-up-1").status_code in (200, 201, 202)
    paid = ApiCustomer(client, platform, payer).confirmed(
        "/me/transfers",
        {
            "client_id": "logs-1",
            "source": payer["account"]["number"],
            "destination": payee["account"]["number"],
            "amount": "5.00",
        },
    )
    assert paid.status_code == 201, paid.text
    client.post(f"{V1}/sessions", json={"login_name": payer["login_name"], "password": "wrong"})
    # Code that logs personal data by mistake, with and without a traceback.
    careless = logging.getLogger("rongbank.careless")
    careless.warning("customer %s, card %s", payer["login_name"], CARD)
    try:
        raise ValueError(f"no such customer {resident_id(1)}")
    except ValueError:
        careless.exception("lookup failed")

    written = logged.getvalue()
    assert "POST /api/v1/me/transfers 201" in written
    assert "lookup failed" in written
    personal = (resident_id(1), resident_id(2), payer["login_name"], payee["login_name"], CARD)
    for secret in (PASSWORD, *personal):
        assert secret not in written, secret
    for line in written.splitlines():
        json.loads(line)


def test_a_group_committed_transfer_audits_the_request_that_sent_it(
    served: tuple[TestClient, Platform],
) -> None:
    """Single ledger transfers are written by the group committer's threads, in one
    batch with others' transfers; each audit row still names its own request."""
    client, platform = served
    assert platform.committer is not None
    token = platform.settings.operator_token
    assert token is not None
    keeper = {"Authorization": f"Bearer {token.get_secret_value()}"}
    for code, kind in (("bank:vault", "asset"), ("cust:alice", "liability")):
        made = client.post(
            f"{V1}/ledger/accounts",
            json={"code": code, "currency": "CNY", "type": kind},
            headers=keeper,
        )
        assert made.status_code == 201, made.text
    moved = client.post(
        f"{V1}/ledger/transfers",
        json={
            "client_id": "rid-1",
            "debit_account": "bank:vault",
            "credit_account": "cust:alice",
            "amount": "3.00",
            "currency": "CNY",
        },
        headers={**keeper, "X-Request-Id": "lb-ledger-7"},
    )
    assert moved.status_code == 201, moved.text
    with platform.transaction() as session:
        ids = session.execute(
            text(
                "SELECT request_id FROM audit_log "
                "WHERE target LIKE '%rid-1%' OR details::text LIKE '%rid-1%'"
            )
        ).scalars()
        assert list(ids) == ["lb-ledger-7"]
