"""A lockout of a customer's login is announced (``auth.login_locked_out``), at most
once an hour per login; nobody else's is (staff and merchants have no notice box)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.auth.events import LoginLockedOut
from rongbank.auth.service import LOCKOUT_NOTICE_INTERVAL, AuthService, PrincipalKind
from rongbank.clock import FrozenClock

PASSWORD = "Correct-horse-9"


@pytest.fixture
def auth(clock: FrozenClock) -> AuthService:
    return AuthService(clock)


def lock_out(session: Session, auth: AuthService, name: str, ip: str) -> None:
    for _ in range(5):
        auth.login(session, username=name, password="Wrong-horse-9", ip=ip)


def announced(session: Session) -> list[dict[str, object]]:
    rows = session.execute(
        text("SELECT payload FROM outbox_event WHERE name = :n ORDER BY id"),
        {"n": LoginLockedOut.name},
    ).scalars()
    return list(rows)


@pytest.mark.parametrize("kind", [PrincipalKind.STAFF, PrincipalKind.MERCHANT])
def test_only_a_customers_lockout_is_announced(
    session: Session, auth: AuthService, kind: PrincipalKind
) -> None:
    auth.set_password(session, kind=kind, principal_id=1, username="someone", password=PASSWORD)
    lock_out(session, auth, "someone", "198.51.100.7")
    assert announced(session) == []


def test_once_an_hour_whatever_the_network(
    session: Session, auth: AuthService, clock: FrozenClock
) -> None:
    auth.set_password(
        session, kind=PrincipalKind.CUSTOMER, principal_id=42, username="alice", password=PASSWORD
    )
    lock_out(session, auth, "alice", "198.51.100.7")
    clock.advance(LOCKOUT_NOTICE_INTERVAL - timedelta(seconds=1))
    lock_out(session, auth, "alice", "203.0.113.9")
    assert [(e["customer_id"], e["source"]) for e in announced(session)] == [
        (42, "198.51.100.7")  # the bank's record keeps the address whole
    ]
    clock.advance(timedelta(seconds=1))
    lock_out(session, auth, "alice", "192.0.2.1")
    assert [e["source"] for e in announced(session)][1:] == ["192.0.2.1"]
