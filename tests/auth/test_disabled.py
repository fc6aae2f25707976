"""A disabled principal (a revoked merchant login, a deactivated member of staff)
cannot log in, is told no more than a wrong password tells, and every session of
theirs ends at once. Staff are deactivated by an administrator (API) or the operator
(CLI), audited; never oneself, never the last active administrator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.errors import LastAdministrator
from rongbank.api.app import create_app
from rongbank.auth.errors import LoginFailed, SessionInvalid
from rongbank.auth.service import AuthService, PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.settings import Settings

V1 = "/api/v1"
PASSWORD = "Correct-horse-9"
WRONG = "Wrong-horse-9"


@pytest.fixture
def auth(clock: FrozenClock) -> AuthService:
    return AuthService(clock)


def with_login(session: Session, auth: AuthService, name: str, principal_id: int) -> str:
    auth.set_password(
        session,
        kind=PrincipalKind.CUSTOMER,
        principal_id=principal_id,
        username=name,
        password=PASSWORD,
    )
    return name


def refused(session: Session, auth: AuthService, name: str, password: str) -> LoginFailed:
    result = auth.login(session, username=name, password=password, ip="203.0.113.9")
    assert isinstance(result.error, LoginFailed), result
    return result.error


class TestDisabled:
    def test_the_right_password_is_refused_as_a_wrong_one_is(
        self, session: Session, auth: AuthService
    ) -> None:
        alice = with_login(session, auth, "alice", 1)
        bob = with_login(session, auth, "bob", 2)
        auth.disable(session, kind=PrincipalKind.CUSTOMER, principal_id=1)
        right = refused(session, auth, alice, PASSWORD)
        wrong = refused(session, auth, bob, WRONG)  # enabled, a wrong password
        assert (right.code, right.detail_message, right.details) == (
            wrong.code,
            wrong.detail_message,
            wrong.details,
        )
        assert auth.login(session, username=alice, password=PASSWORD).disabled
        assert not auth.login(session, username=bob, password=WRONG).disabled

    def test_every_session_ends_at_once(self, session: Session, auth: AuthService) -> None:
        alice = with_login(session, auth, "alice", 1)
        bob = with_login(session, auth, "bob", 2)
        phone, web = (auth.login(session, username=alice, password=PASSWORD).unwrap() for _ in "ab")
        others = auth.login(session, username=bob, password=PASSWORD).unwrap()
        assert auth.disable(session, kind=PrincipalKind.CUSTOMER, principal_id=1) == 2
        for ended in (phone, web):
            with pytest.raises(SessionInvalid):
                auth.authenticate(session, ended.token)
        assert auth.authenticate(session, others.token).id == 2
        assert auth.disable(session, kind=PrincipalKind.CUSTOMER, principal_id=1) == 0

    def test_enabled_again_logs_in_with_the_password_it_had(
        self, session: Session, auth: AuthService
    ) -> None:
        alice = with_login(session, auth, "alice", 1)
        auth.disable(session, kind=PrincipalKind.CUSTOMER, principal_id=1)
        with_login(session, auth, "alice", 1)  # a new password does not enable it
        refused(session, auth, alice, PASSWORD)
        auth.enable(session, kind=PrincipalKind.CUSTOMER, principal_id=1)
        assert auth.login(session, username=alice, password=PASSWORD).unwrap().principal.id == 1

    def test_the_same_id_of_another_kind_is_not_touched(
        self, session: Session, auth: AuthService
    ) -> None:
        alice = with_login(session, auth, "alice", 7)
        auth.disable(session, kind=PrincipalKind.STAFF, principal_id=7)
        assert auth.login(session, username=alice, password=PASSWORD).new_session is not None


# -- staff, over HTTP -------------------------------------------------------------------


class Bank:
    def __init__(self, client: TestClient, platform: Platform) -> None:
        self.client, self.platform = client, platform

    def staff(self, username: str, role: str) -> dict[str, Any]:
        with self.platform.transaction() as session:
            staff_id = self.platform.accounts.create_staff(
                session, username=username, name=username, role=role
            )
            self.platform.auth.set_password(
                session,
                kind=PrincipalKind.STAFF,
                principal_id=staff_id,
                username=username,
                password=PASSWORD,
            )
        return {"id": staff_id, "name": username, "headers": self.login(username)}

    def log_in(self, username: str, password: str = PASSWORD) -> Any:
        return self.client.post(
            f"{V1}/sessions", json={"login_name": username, "password": password}
        )

    def login(self, username: str) -> dict[str, str]:
        answer = self.log_in(username)
        assert answer.status_code == 201, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    def change(self, admin: dict[str, Any], who: dict[str, Any], action: str, **body: Any) -> Any:
        return self.client.post(
            f"{V1}/staff/members/{who['id']}/{action}", headers=admin["headers"], json=body
        )

    def audited(self, action: str) -> list[tuple[Any, ...]]:
        with self.platform.transaction() as session:
            rows = session.execute(
                text(
                    "SELECT actor_id, target, result, details FROM audit_log "
                    "WHERE action = :a ORDER BY id"
                ),
                {"a": action},
            ).all()
        return [tuple(r) for r in rows]


@pytest.fixture
def bank(platform: Platform) -> Iterator[Bank]:
    with TestClient(create_app(platform, background=False)) as client:
        yield Bank(client, platform)


class TestStaffDeactivation:
    def test_an_administrator_deactivates_a_manager_who_is_out_at_once(self, bank: Bank) -> None:
        admin = bank.staff("admin", "administrator")
        manager = bank.staff("manager", "account_manager")
        ops = bank.staff("ops", "operations")
        phone = bank.login("manager")  # a second session
        assert bank.client.get(f"{V1}/staff/chat/workspace", headers=phone).status_code == 200

        done = bank.change(admin, manager, "deactivate", reason="left the bank")
        assert done.status_code == 200, done.text
        assert (done.json()["username"], done.json()["active"]) == ("manager", False)
        for session_of in (manager["headers"], phone):
            ended = bank.client.get(f"{V1}/staff/chat/workspace", headers=session_of)
            assert ended.status_code == 401
            assert ended.json()["error"]["code"] == "session_invalid"
        right, wrong = bank.log_in("manager"), bank.log_in("manager", WRONG)
        assert (right.status_code, right.json()["error"]["code"]) == (401, "login_failed")
        assert right.json()["error"]["message"] == wrong.json()["error"]["message"]
        assert bank.client.get(f"{V1}/staff/chat/conversations", headers=ops["headers"]).is_success
        assert bank.audited("staff.deactivate") == [
            (admin["id"], str(manager["id"]), "ok", {"reason": "left the bank"})
        ]
        logins = [d for _, target, _, d in bank.audited("login") if target == "manager"]
        assert logins[-2:] == [
            # The bank knows why, and whose login it was (for their login history).
            {"error": "login_failed", "disabled": True, "login_of": f"staff:{manager['id']}"},
            {"error": "login_failed", "login_of": f"staff:{manager['id']}"},
        ]
        listed = bank.client.get(f"{V1}/staff/members", headers=admin["headers"]).json()
        assert {m["username"]: m["active"] for m in listed} == {
            "admin": True,
            "manager": False,
            "ops": True,
        }

        again = bank.change(admin, manager, "reactivate", reason="came back")
        assert (again.status_code, again.json()["active"]) == (200, True)
        back = bank.login("manager")
        assert bank.client.get(f"{V1}/staff/chat/workspace", headers=back).status_code == 200
        assert [a[2] for a in bank.audited("staff.reactivate")] == ["ok"]

    def test_an_administrator_cannot_deactivate_themselves(self, bank: Bank) -> None:
        admin = bank.staff("admin", "administrator")
        bank.staff("admin2", "administrator")
        refused = bank.change(admin, admin, "deactivate")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "own_login_not_deactivatable"
        assert bank.client.get(f"{V1}/staff/members", headers=admin["headers"]).is_success
        assert [a[2:] for a in bank.audited("staff.deactivate")] == [
            ("refused", {"reason": "", "error": "own_login_not_deactivatable"})
        ]

    def test_only_administrators_and_an_unknown_member_is_404(self, bank: Bank) -> None:
        admin = bank.staff("admin", "administrator")
        ops = bank.staff("ops", "operations")
        assert bank.change(ops, admin, "deactivate").status_code == 403
        missing = bank.change(admin, {"id": admin["id"] + 100}, "deactivate")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "staff_not_found")


def test_two_administrators_deactivating_each_other_at_once_leave_one(
    fresh_db: str, clock: FrozenClock
) -> None:
    """Each alone would pass the "last administrator" count (there are two); taken
    one after the other, the second finds the first's target gone and is refused."""
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    accounts = platform.accounts
    try:
        with platform.transaction() as session:
            one, two = (
                accounts.create_staff(session, username=u, name=u, role="administrator")
                for u in ("one", "two")
            )
        first_done, release = threading.Event(), threading.Event()
        outcome: dict[str, object] = {}

        def first() -> None:
            with platform.transaction() as session:
                accounts.deactivate_staff(session, staff_id=two, by=one)
                first_done.set()
                release.wait(timeout=120)
            outcome["first"] = "deactivated"

        def second() -> None:
            try:
                with platform.transaction() as session:
                    accounts.deactivate_staff(session, staff_id=one, by=two)
                outcome["second"] = "deactivated"
            except LastAdministrator as error:
                outcome["second"] = error.code

        threads = [threading.Thread(target=first)]
        threads[0].start()
        assert first_done.wait(timeout=120)
        threads.append(threading.Thread(target=second))
        threads[1].start()
        while threads[1].is_alive() and not waiting_on_a_lock(platform):
            threads[1].join(timeout=0.05)
        release.set()
        for thread in threads:
            thread.join(timeout=120)
        assert outcome == {"first": "deactivated", "second": "last_administrator"}
        with platform.transaction() as session:
            active = {m.username for m in accounts.staff_members(session) if m.active}
        assert active == {"one"}
    finally:
        release.set()
        platform.close()


def waiting_on_a_lock(platform: Platform) -> bool:
    with platform.transaction() as session:
        return bool(
            session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )
