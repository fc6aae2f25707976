"""A customer's password and sessions over the API: changing the password, resetting
a forgotten one through the registered mobile (with the token's challenge for those
who hold one), the sessions and devices logged in, and the login history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.auth import otp
from rongbank.chat import notices
from rongbank.chat.push import OUTBOX_READER
from rongbank.clock import FrozenClock
from rongbank.outbox import take
from rongbank.platform import Platform
from tests.factories.identity import resident_id
from tests.factories.people import PASSWORD, People
from tests.support.sms import sms_code, sms_texts

V1 = "/api/v1"
NEW = "Xin-mima-2027!"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
HOME = ("203.0.113.9", 40000)
STRANGER = ("198.51.100.7", 40000)


@pytest.fixture
def app(platform: Platform) -> Any:
    return create_app(platform, background=False)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, client=HOME) as client:
        yield client


@pytest.fixture
def stranger(app: Any) -> Iterator[TestClient]:
    with TestClient(app, client=STRANGER) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


@pytest.fixture
def alice(people: People) -> dict[str, Any]:
    return people.register("韩梅梅")


def log_in(client: TestClient, login_name: str, password: str, **headers: str) -> Any:
    return client.post(
        f"{V1}/sessions", json={"login_name": login_name, "password": password}, headers=headers
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def change(client: TestClient, who: dict[str, Any], current: str, new: str) -> Any:
    return client.put(
        f"{V1}/me/password",
        json={"current_password": current, "new_password": new},
        headers=who["headers"],
    )


def events_named(platform: Platform, name: str) -> list[Any]:
    with platform.transaction() as session:
        return [t.event for t in take(session, OUTBOX_READER) if t.event.name == name]


class TestChangePassword:
    def test_the_new_password_logs_in_and_every_other_session_ends(
        self, client: TestClient, people: People, alice: dict[str, Any]
    ) -> None:
        phone = people.login(alice["login_name"])
        answer = change(client, alice, PASSWORD, NEW)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"sessions_ended": 1}
        assert client.get(f"{V1}/me/accounts", headers=bearer(phone)).status_code == 401
        assert client.get(f"{V1}/me/accounts", headers=alice["headers"]).status_code == 200
        assert log_in(client, alice["login_name"], PASSWORD).status_code == 401
        assert log_in(client, alice["login_name"], NEW).status_code == 201

    def test_a_wrong_current_password_counts_towards_the_lockout(
        self, client: TestClient, alice: dict[str, Any]
    ) -> None:
        answers = [change(client, alice, "Wrong-pass-1", NEW) for _ in range(5)]
        assert [a.status_code for a in answers] == [422, 422, 422, 422, 403]
        assert answers[0].json()["error"] == {
            "code": "current_password_wrong",
            "message": "The current password is wrong.",
            "details": {"remaining_attempts": 4, "lockout_seconds": 900},
        }
        assert answers[4].json()["error"]["code"] == "login_locked"
        # The same lockout as at login: the right password is not even checked now.
        assert change(client, alice, PASSWORD, NEW).json()["error"]["code"] == "login_locked"
        assert log_in(client, alice["login_name"], PASSWORD).status_code == 403

    def test_a_weak_or_unchanged_password_is_refused_and_changes_nothing(
        self, client: TestClient, alice: dict[str, Any]
    ) -> None:
        assert change(client, alice, PASSWORD, "short").json()["error"]["code"] == "weak_password"
        mobile_inside = f"Ab-{alice['login_name']}"
        assert change(client, alice, PASSWORD, mobile_inside).json()["error"]["code"] == (
            "weak_password"
        )
        assert change(client, alice, PASSWORD, PASSWORD).json()["error"]["code"] == (
            "password_unchanged"
        )
        assert log_in(client, alice["login_name"], PASSWORD).status_code == 201

    def test_it_is_audited_and_the_customer_gets_a_security_notice(
        self, client: TestClient, platform: Platform, alice: dict[str, Any]
    ) -> None:
        change(client, alice, "Wrong-pass-1", NEW)
        change(client, alice, PASSWORD, NEW)
        with platform.transaction() as session:
            rows = session.execute(
                text(
                    "SELECT result, ip, details FROM audit_log WHERE action = 'password.change' "
                    "AND actor_id = :c ORDER BY id"
                ),
                {"c": alice["customer_id"]},
            ).all()
        assert [(r[0], r[1]) for r in rows] == [("refused", HOME[0]), ("ok", HOME[0])]
        assert rows[0][2] == {"error": "current_password_wrong"}
        assert "Wrong-pass-1" not in str(rows)
        assert NEW not in str(rows)
        [event] = events_named(platform, "auth.password_changed")
        notice = notices.notice_of(event)
        assert notice is not None
        assert (notice.customer_id, notice.kind) == (alice["customer_id"], "security")
        rendered = notices.render(notice.kind, notice.payload)
        (title, body), (title_en, _) = rendered.zh, rendered.en
        assert (title, title_en) == ("登录密码已修改", "Password changed")
        assert "网络 203.0.*.*修改" in body
        assert "203.0.113" not in body

    def test_staff_sessions_cannot_use_the_customers_route(
        self, client: TestClient, people: People
    ) -> None:
        ops = people.staff("operations")
        answer = client.put(
            f"{V1}/me/password",
            json={"current_password": PASSWORD, "new_password": NEW},
            headers=ops,
        )
        assert answer.status_code == 403


class TestSessions:
    def test_lists_each_session_with_its_device_and_network_masked(
        self, client: TestClient, stranger: TestClient, alice: dict[str, Any]
    ) -> None:
        log_in(stranger, alice["login_name"], PASSWORD, **{"User-Agent": CHROME})
        sessions = client.get(f"{V1}/me/sessions", headers=alice["headers"]).json()
        assert len(sessions) == 2
        chrome = next(s for s in sessions if not s["current"])
        assert chrome["device"] == "Chrome 120 · Windows 10"
        assert chrome["network"] == "198.51.*.*"
        mine = next(s for s in sessions if s["current"])
        assert mine["network"] == "203.0.*.*"
        assert "ip" not in mine
        assert "client" not in mine

    def test_signs_one_session_out(
        self, client: TestClient, people: People, alice: dict[str, Any]
    ) -> None:
        other = people.login(alice["login_name"])
        other_id = next(
            s["id"]
            for s in client.get(f"{V1}/me/sessions", headers=alice["headers"]).json()
            if not s["current"]
        )
        answer = client.delete(f"{V1}/me/sessions/{other_id}", headers=alice["headers"])
        assert answer.status_code == 204
        assert client.get(f"{V1}/me/accounts", headers=bearer(other)).status_code == 401
        assert client.get(f"{V1}/me/accounts", headers=alice["headers"]).status_code == 200
        again = client.delete(f"{V1}/me/sessions/{other_id}", headers=alice["headers"])
        assert again.json()["error"]["code"] == "session_not_found"

    def test_another_customers_session_cannot_be_signed_out(
        self, client: TestClient, people: People, alice: dict[str, Any]
    ) -> None:
        bob = people.register("李雷")
        bobs = client.get(f"{V1}/me/sessions", headers=bob["headers"]).json()[0]["id"]
        answer = client.delete(f"{V1}/me/sessions/{bobs}", headers=alice["headers"])
        assert answer.status_code == 404
        assert client.get(f"{V1}/me/accounts", headers=bob["headers"]).status_code == 200

    def test_sign_out_the_others(
        self, client: TestClient, people: People, alice: dict[str, Any]
    ) -> None:
        others = [people.login(alice["login_name"]) for _ in range(2)]
        answer = client.post(f"{V1}/me/session/logout-others", headers=alice["headers"])
        assert answer.json() == {"revoked": 2}
        for token in others:
            assert client.get(f"{V1}/me/accounts", headers=bearer(token)).status_code == 401
        assert len(client.get(f"{V1}/me/sessions", headers=alice["headers"]).json()) == 1


class TestLoginHistory:
    def test_shows_logins_and_refused_ones_newest_first_with_the_network_masked(
        self,
        client: TestClient,
        stranger: TestClient,
        clock: FrozenClock,
        alice: dict[str, Any],
    ) -> None:
        clock.advance(timedelta(minutes=1))
        log_in(stranger, alice["login_name"], "Wrong-pass-1")
        clock.advance(timedelta(minutes=1))
        log_in(client, alice["login_name"], PASSWORD)
        logins = client.get(f"{V1}/me/logins", headers=alice["headers"]).json()
        assert [(x["network"], x["result"]) for x in logins] == [
            ("203.0.*.*", "ok"),
            ("198.51.*.*", "wrong_password"),
            ("203.0.*.*", "ok"),
        ]

    def test_shows_no_one_elses_logins(
        self, client: TestClient, people: People, alice: dict[str, Any]
    ) -> None:
        bob = people.register("李雷")
        log_in(client, bob["login_name"], "Wrong-pass-1")
        logins = client.get(f"{V1}/me/logins", headers=alice["headers"]).json()
        assert len(logins) == 1


def start_reset(client: TestClient, mobile: str, identity: str) -> Any:
    return client.post(f"{V1}/password-resets", json={"mobile": mobile, "resident_id": identity})


def finish_reset(client: TestClient, reset_id: str, **body: str) -> Any:
    return client.post(f"{V1}/password-resets/{reset_id}", json=body)


ALICE_ID = resident_id(1)
"""Alice is the first customer ``People`` registers."""


class TestPasswordReset:
    def test_a_code_to_the_registered_mobile_sets_a_new_password_and_ends_every_session(
        self, client: TestClient, platform: Platform, people: People, alice: dict[str, Any]
    ) -> None:
        mobile = alice["login_name"]
        started = start_reset(client, mobile, ALICE_ID)
        assert started.status_code == 202, started.text
        assert "用于重置网上银行登录密码" in sms_texts(platform, mobile)[0]
        done = finish_reset(
            client, started.json()["reset_id"], code=sms_code(platform, mobile), new_password=NEW
        )
        assert done.status_code == 200, done.text
        assert done.json() == {"sessions_ended": 1}
        assert client.get(f"{V1}/me/accounts", headers=alice["headers"]).status_code == 401
        assert log_in(client, mobile, NEW).status_code == 201
        [event] = events_named(platform, "auth.password_changed")
        notice = notices.notice_of(event)
        assert notice is not None
        assert notices.render(notice.kind, notice.payload).zh[0] == "登录密码已重置"

    def test_the_answer_is_the_same_whether_or_not_the_mobile_banks_here(
        self, client: TestClient, platform: Platform, alice: dict[str, Any]
    ) -> None:
        known = start_reset(client, alice["login_name"], ALICE_ID)
        unknown = start_reset(client, "13700001111", ALICE_ID)
        wrong_id = start_reset(client, alice["login_name"], resident_id(77))
        assert known.status_code == unknown.status_code == wrong_id.status_code == 202
        assert known.json().keys() == unknown.json().keys() == wrong_id.json().keys()
        assert sms_texts(platform, "13700001111") == []
        assert len(sms_texts(platform, alice["login_name"])) == 1  # not for the wrong ID
        answers = [
            finish_reset(client, r.json()["reset_id"], code="000000", new_password=NEW)
            for r in (unknown, wrong_id)
        ]
        real = finish_reset(client, known.json()["reset_id"], code="000001", new_password=NEW)
        if sms_code(platform, alice["login_name"]) == "000001":
            pytest.skip("the code happened to be the guess")
        assert [a.json() for a in answers] == [real.json(), real.json()]
        assert real.json()["error"]["code"] == "password_reset_code_wrong"

    def test_five_wrong_codes_end_the_reset(
        self, client: TestClient, platform: Platform, alice: dict[str, Any]
    ) -> None:
        reset_id = start_reset(client, alice["login_name"], ALICE_ID).json()["reset_id"]
        right = sms_code(platform, alice["login_name"])
        wrong = "999999" if right != "999999" else "999998"
        answers = [finish_reset(client, reset_id, code=wrong, new_password=NEW) for _ in range(5)]
        assert [a.json()["error"]["details"].get("attempts_left") for a in answers[:4]] == [
            4,
            3,
            2,
            1,
        ]
        assert answers[4].json()["error"]["code"] == "password_reset_expired"
        late = finish_reset(client, reset_id, code=right, new_password=NEW)
        assert late.json()["error"]["code"] == "password_reset_expired"
        assert log_in(client, alice["login_name"], PASSWORD).status_code == 201

    def test_a_reset_expires_after_ten_minutes(
        self, client: TestClient, platform: Platform, clock: FrozenClock, alice: dict[str, Any]
    ) -> None:
        reset_id = start_reset(client, alice["login_name"], ALICE_ID).json()["reset_id"]
        clock.advance(timedelta(minutes=10))
        late = finish_reset(
            client, reset_id, code=sms_code(platform, alice["login_name"]), new_password=NEW
        )
        assert late.json()["error"]["code"] == "password_reset_expired"

    def test_the_new_password_follows_the_policy(
        self, client: TestClient, platform: Platform, alice: dict[str, Any]
    ) -> None:
        reset_id = start_reset(client, alice["login_name"], ALICE_ID).json()["reset_id"]
        code = sms_code(platform, alice["login_name"])
        weak = finish_reset(client, reset_id, code=code, new_password=f"x{ALICE_ID}")
        assert weak.json()["error"]["code"] == "weak_password"
        assert finish_reset(client, reset_id, code=code, new_password=NEW).status_code == 200

    def test_resets_are_limited_per_mobile_whoever_it_belongs_to(
        self, client: TestClient, clock: FrozenClock, alice: dict[str, Any]
    ) -> None:
        for mobile in (alice["login_name"], "13700001111"):
            answers = [start_reset(client, mobile, ALICE_ID) for _ in range(4)]
            assert [a.status_code for a in answers] == [202, 202, 202, 429]
            assert answers[3].json()["error"]["details"] == {"retry_after_seconds": 3600}
        clock.advance(timedelta(hours=1))
        assert start_reset(client, alice["login_name"], ALICE_ID).status_code == 202

    def test_resets_are_limited_per_network(self, client: TestClient) -> None:
        answers = [start_reset(client, f"137000011{n:02d}", ALICE_ID) for n in range(11)]
        assert [a.status_code for a in answers] == [202] * 10 + [429]

    def test_it_is_audited_without_the_code_or_the_password(
        self, client: TestClient, platform: Platform, alice: dict[str, Any]
    ) -> None:
        reset_id = start_reset(client, alice["login_name"], ALICE_ID).json()["reset_id"]
        code = sms_code(platform, alice["login_name"])
        finish_reset(client, reset_id, code=code, new_password=NEW)
        with platform.transaction() as session:
            rows = session.execute(
                text(
                    "SELECT actor_kind, action, target, result, details::text FROM audit_log "
                    "WHERE action LIKE 'password.reset%' ORDER BY id"
                )
            ).all()
        assert [(r[0], r[1], r[3]) for r in rows] == [
            ("anonymous", "password.reset.start", "ok"),
            ("customer", "password.reset", "ok"),
        ]
        assert rows[0][2] == alice["login_name"][:3] + "****" + alice["login_name"][-4:]
        assert code not in str(rows)
        assert NEW not in str(rows)
        assert reset_id not in str(rows)


class TestResetWithAToken:
    """A customer who holds a token answers its challenge too: the phone is not enough."""

    @pytest.fixture
    def key(self, platform: Platform, alice: dict[str, Any]) -> bytes:
        with platform.transaction() as session:
            _, token = platform.tools.provision_token(session, alice["customer_id"])
        return token.key

    def answer(self, platform: Platform, key: bytes, question: str) -> str:
        steps = otp.time_steps(int(platform.clock.now().timestamp()), otp.SIGNATURE_SUITE)
        return otp.ocra(otp.SIGNATURE_SUITE, key, question, timestamp=steps)

    def test_the_tokens_challenge_follows_the_code(
        self, client: TestClient, platform: Platform, alice: dict[str, Any], key: bytes
    ) -> None:
        reset_id = start_reset(client, alice["login_name"], ALICE_ID).json()["reset_id"]
        code = sms_code(platform, alice["login_name"])
        asked = finish_reset(client, reset_id, code=code, new_password=NEW)
        assert asked.status_code == 403
        challenge = asked.json()["error"]["details"]["challenge"]
        assert challenge["tool"] == "token"
        assert log_in(client, alice["login_name"], NEW).status_code == 401  # not yet
        done = finish_reset(
            client,
            reset_id,
            challenge_id=challenge["id"],
            response=self.answer(platform, key, challenge["question"]),
        )
        assert done.status_code == 200, done.text
        assert log_in(client, alice["login_name"], NEW).status_code == 201

    def test_a_blocked_token_stops_the_reset_online(
        self, client: TestClient, platform: Platform, alice: dict[str, Any], key: bytes
    ) -> None:
        reset_id = start_reset(client, alice["login_name"], ALICE_ID).json()["reset_id"]
        code = sms_code(platform, alice["login_name"])
        challenge = finish_reset(client, reset_id, code=code, new_password=NEW).json()["error"][
            "details"
        ]["challenge"]
        for _ in range(5):
            wrong = finish_reset(client, reset_id, challenge_id=challenge["id"], response="1")
        assert wrong.json()["error"]["code"] == "tool_blocked"
        # Blocking the token does not let the phone alone through.
        again = start_reset(client, alice["login_name"], ALICE_ID).json()["reset_id"]
        code = sms_code(platform, alice["login_name"])
        refused = finish_reset(client, again, code=code, new_password=NEW)
        assert refused.json()["error"]["code"] == "tool_blocked"
        assert log_in(client, alice["login_name"], PASSWORD).status_code == 201
