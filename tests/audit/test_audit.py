"""The audit trail records what happened, masks personal data, and any edit or
deletion of a sealed row is detected."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from rongbank.api.app import create_app
from rongbank.audit.service import AuditLog, mask
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.accounts.test_endpoints import People, pay


def test_personal_data_and_secrets_are_masked() -> None:
    masked = mask(
        {
            "note": "card 6222020200112233445, id 11010519491231002X, tel 13812345678",
            "password": "hunter2",
        }
    )
    assert masked["password"] == "***"
    assert "6222020200112233445" not in masked["note"]
    assert "11010519491231002X" not in masked["note"]
    assert "13812345678" not in masked["note"]
    assert "138****5678" in masked["note"]


@pytest.fixture
def log(clock: FrozenClock) -> AuditLog:
    return AuditLog(clock)


def record_three(session: Session, log: AuditLog) -> None:
    for action in ("login", "transfer", "freeze"):
        log.record(session, actor_kind="customer", actor_id=7, action=action, ip="10.0.0.1")


def test_a_sealed_chain_verifies(session: Session, log: AuditLog) -> None:
    record_three(session, log)
    assert log.seal(session) == 3
    assert log.seal(session) == 0
    log.record(session, actor_kind="staff", actor_id=1, action="unfreeze")
    assert log.seal(session) == 1
    assert log.verify(session) == []


def test_the_database_refuses_edits_and_deletions(session: Session, log: AuditLog) -> None:
    record_three(session, log)
    log.seal(session)
    for sql in ("UPDATE audit_log SET result = 'refused'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError), session.begin_nested():
            session.execute(text(sql))


def test_an_edited_row_is_detected(session: Session, log: AuditLog) -> None:
    record_three(session, log)
    log.seal(session)
    # What a superuser could do around the trigger.
    session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard"))
    session.execute(text("UPDATE audit_log SET action = 'nothing' WHERE action = 'transfer'"))
    problems = log.verify(session)
    assert any("changed after sealing" in p for p in problems)


def test_a_deleted_row_is_detected(session: Session, log: AuditLog) -> None:
    record_three(session, log)
    log.seal(session)
    session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard"))
    session.execute(text("DELETE FROM audit_log WHERE action = 'transfer'"))
    problems = log.verify(session)
    assert any("missing" in p for p in problems)


def test_logins_and_transfers_are_audited_with_their_outcome(platform: Platform) -> None:
    with TestClient(create_app(platform, background=False)) as client:
        people = People(client, platform)
        alice, bob = people.register(), people.register("李雷")
        people.fund(alice, 10_000)
        client.post(
            "/api/v1/sessions", json={"login_name": alice["login_name"], "password": "x" * 9}
        )
        assert pay(client, alice, bob["account"]["number"], "10.00", "a1").status_code == 201
        assert pay(client, alice, bob["account"]["number"], "999.00", "a2").status_code == 422
    with platform.transaction() as session:
        rows = session.execute(
            text("SELECT action, result, target, details FROM audit_log ORDER BY id")
        ).all()
        assert platform.audit.seal(session) == len(rows)
        assert platform.audit.verify(session) == []
    outcomes = [(r.action, r.result) for r in rows]
    assert ("login", "refused") in outcomes
    assert outcomes.count(("transfer", "ok")) == 1
    assert ("transfer", "refused") in outcomes
    refused = next(r for r in rows if r.action == "transfer" and r.result == "refused")
    assert refused.details["error"] == "insufficient_funds"
    assert alice["account"]["number"] not in refused.target  # masked
