"""The WebSocket gateway, the managers' desk (routing, hand-back, transfer) and the
records side (moderation, export, the hash chain)."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from starlette.websockets import WebSocketDisconnect

from rongbank.chat import gateway
from rongbank.chat.rules import BusinessHours
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.chat.conftest import CHAT, STAFF_CHAT, Chat

WS = "/api/v1/chat/ws"


def next_of(ws: Any, kind: str, ref: Any = None) -> dict[str, Any]:
    """The next event of this type (and, for answers, with this id)."""
    for _ in range(20):
        event: dict[str, Any] = ws.receive_json()
        if event["type"] == kind and (ref is None or event.get("id") == ref):
            return event
    raise AssertionError(f"no {kind} event")


class TestGateway:
    def test_pushes_messages_receipts_and_typing_and_takes_sends(self, live_chat: Chat) -> None:
        chat = live_chat
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        with (
            chat.client.websocket_connect(WS, headers=bob["headers"]) as bob_ws,
            chat.client.websocket_connect(WS, headers=alice["headers"]) as alice_ws,
        ):
            assert next_of(bob_ws, "presence")["member"]["id"] == alice["customer_id"]
            chat.send(alice, conversation, "你好", "m1")
            pushed = next_of(bob_ws, "message")["message"]
            assert (pushed["seq"], pushed["body"]) == (1, "你好")
            bob_ws.send_json(
                {"type": "receipt", "id": "r", "conversation_id": conversation, "read_seq": 1}
            )
            assert next_of(bob_ws, "ack")["id"] == "r"
            receipt = next_of(alice_ws, "receipt")
            assert (receipt["member"]["id"], receipt["read_seq"]) == (bob["customer_id"], 1)
            bob_ws.send_json({"type": "typing", "conversation_id": conversation})
            assert next_of(alice_ws, "typing")["member"]["id"] == bob["customer_id"]
            frame = {
                "type": "send",
                "id": "s",
                "conversation_id": conversation,
                "client_id": "b1",
                "text": "在",
            }
            bob_ws.send_json(frame)
            ack = next_of(bob_ws, "ack", "s")
            assert ack["created"]
            assert ack["message"]["seq"] == 2
            assert next_of(alice_ws, "message")["message"]["body"] == "在"
            bob_ws.send_json(frame)
            assert next_of(bob_ws, "ack", "s")["created"] is False
        assert [m["seq"] for m in chat.history(alice, conversation)] == [1, 2]

    def test_a_send_comes_back_in_its_ack_and_to_the_senders_other_devices(
        self, live_chat: Chat
    ) -> None:
        chat = live_chat
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        with (
            chat.client.websocket_connect(WS, headers=bob["headers"]) as phone,
            chat.client.websocket_connect(WS, headers=bob["headers"]) as laptop,
        ):
            phone.send_json(
                {
                    "type": "send",
                    "id": "s",
                    "conversation_id": conversation,
                    "client_id": "b1",
                    "text": "在路上",
                }
            )
            assert next_of(laptop, "message")["message"]["seq"] == 1
            # Everything the phone is told, up to the answer of a later frame: its
            # own message only in the ack, not pushed a second time.
            phone.send_json({"type": "sync", "id": "after", "since": ""})
            told = [phone.receive_json()]
            while not (told[-1]["type"] == "ack" and told[-1]["id"] == "after"):
                told.append(phone.receive_json())
            (ack,) = [e for e in told if e["type"] == "ack" and e["id"] == "s"]
            assert (ack["message"]["seq"], ack["message"]["body"]) == (1, "在路上")
            assert [e for e in told if e["type"] == "message"] == []

    def test_errors_are_answered_on_the_socket(self, live_chat: Chat) -> None:
        chat = live_chat
        alice, bob, eve = chat.customer(), chat.customer("李雷"), chat.customer("韩梅梅")
        conversation = chat.direct(alice, bob)
        with chat.client.websocket_connect(WS, headers=eve["headers"]) as ws:
            ws.send_json(
                {
                    "type": "send",
                    "id": 1,
                    "conversation_id": conversation,
                    "client_id": "x",
                    "text": "hi",
                }
            )
            assert next_of(ws, "error")["error"]["code"] == "chat_conversation_not_found"
            ws.send_json({"type": "nonsense"})
            assert next_of(ws, "error")["error"]["code"] == "invalid_request"
            # A number beyond 64 bits anywhere in a frame, even its id, is refused as
            # every input path refuses it (rongbank.inputs); the socket goes on.
            ws.send_json({"type": "typing", "id": 2**70, "conversation_id": conversation})
            error = next_of(ws, "error")
            assert (error["id"], error["error"]["details"]["fields"]) == (None, ["id"])
            ws.send_text('{"type": "sync", "id": "d", "id": "e"}')
            assert next_of(ws, "error")["error"]["details"]["fields"] == ["id"]
            ws.send_json({"type": "sync", "id": "nul", "since": "\x00"})
            assert next_of(ws, "error")["error"]["details"]["fields"] == ["since"]
            ws.send_json({"type": "typing", "id": 3, "conversation_id": -1})
            assert next_of(ws, "error", 3)["error"]["code"] == "invalid_request"
            ws.send_json({"type": "sync", "id": "s"})
            assert next_of(ws, "ack", "s")["cursor"] == ""

    def test_refuses_without_a_session_and_cookies_from_other_sites(self, live_chat: Chat) -> None:
        chat = live_chat
        alice = chat.customer()
        with pytest.raises(WebSocketDisconnect) as anonymous, chat.client.websocket_connect(WS):
            pass
        assert anonymous.value.code == 4401
        chat.client.cookies.set("rb_session", alice["token"])
        try:
            with (
                pytest.raises(WebSocketDisconnect) as foreign,
                chat.client.websocket_connect(WS, headers={"Origin": "https://evil.example"}),
            ):
                pass
            assert foreign.value.code == 4403
            with chat.client.websocket_connect(WS, headers={"Origin": "http://testserver"}) as ws:
                ws.send_json({"type": "sync", "id": "s"})
                assert next_of(ws, "ack")["cursor"] == ""
        finally:
            chat.client.cookies.clear()

    @pytest.mark.timeout(60)  # were the login kept alive, the socket would stay open
    def test_an_idle_socket_does_not_keep_its_login_alive(
        self, live_chat: Chat, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(gateway, "RECHECK_SECONDS", 0.05)
        chat = live_chat
        alice = chat.customer()
        with chat.client.websocket_connect(WS, headers=alice["headers"]) as ws:
            # Minutes pass with the socket open and nothing typed: the gateway's
            # periodic checks must not count as activity.
            for _ in range(4):
                clock.advance(timedelta(minutes=5))
                time.sleep(0.2)
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()  # nothing else is sent to a lone customer
        assert closed.value.code == 4401

    @pytest.mark.timeout(60)
    def test_logging_out_closes_the_open_sockets_of_that_login_only(
        self, live_chat: Chat, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(gateway, "RECHECK_SECONDS", 0.05)
        chat = live_chat
        alice, bob = chat.customer(), chat.customer("李雷")
        with (
            chat.client.websocket_connect(WS, headers=alice["headers"]) as alice_ws,
            chat.client.websocket_connect(WS, headers=bob["headers"]) as bob_ws,
        ):
            with chat.platform.transaction() as session:
                chat.platform.auth.logout(session, alice["token"])
            with pytest.raises(WebSocketDisconnect) as closed:
                alice_ws.receive_json()  # closed by the periodic check, not by a frame
            assert closed.value.code == 4401
            bob_ws.send_json({"type": "sync", "id": "s"})
            assert next_of(bob_ws, "ack")["id"] == "s"

    def test_hidden_presence_is_not_announced(self, live_chat: Chat) -> None:
        chat = live_chat
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        chat.client.put(f"{CHAT}/presence", headers=alice["headers"], json={"visible": False})
        with chat.client.websocket_connect(WS, headers=alice["headers"]):
            members = chat.client.get(
                f"{CHAT}/conversations/{conversation}/members", headers=bob["headers"]
            ).json()
            assert all(not m["online"] for m in members)


@pytest.fixture
def desk(chat: Chat) -> dict[str, Any]:
    """Two managers (registration gives the customer the least loaded: the first)."""
    first = chat.staff_member("m1")
    second = chat.staff_member("m2")
    customer = chat.customer()
    return {"manager": first, "colleague": second, "customer": customer}


def open_bank(chat: Chat, customer: dict[str, Any]) -> int:
    response = chat.client.post(f"{CHAT}/conversations/bank", headers=customer["headers"])
    assert response.status_code == 201, response.text
    conversation_id: int = response.json()["id"]
    return conversation_id


def workspace(chat: Chat, staff: dict[str, Any]) -> dict[int, Any]:
    response = chat.client.get(f"{STAFF_CHAT}/workspace", headers=staff["headers"])
    assert response.status_code == 200, response.text
    return {item["conversation_id"]: item for item in response.json()}


class TestDesk:
    def test_the_manager_on_duty_gets_the_chat_and_answers_it(
        self, chat: Chat, desk: dict[str, Any], clock: FrozenClock
    ) -> None:
        manager, customer = desk["manager"], desk["customer"]
        conversation = open_bank(chat, customer)
        chat.send(customer, conversation, "请问理财", "q1")
        clock.advance(timedelta(seconds=45))
        item = workspace(chat, manager)[conversation]
        assert (item["assigned_staff_id"], item["routing"], item["waiting_seconds"]) == (
            manager["id"], "manager", 45,
        )  # fmt: skip
        assert item["unread"] == 1
        assert chat.send(manager, conversation, "您好", "a1").status_code == 201
        assert workspace(chat, manager)[conversation]["waiting_since"] is None
        times = chat.client.get(
            f"{STAFF_CHAT}/response-times",
            headers=manager["headers"],
            params={"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"},
        ).json()
        assert [(t["staff_id"], t["answered"], t["average_seconds"]) for t in times] == [
            (manager["id"], 1, 45.0)
        ]

    def test_off_duty_goes_to_a_colleague_and_comes_back(
        self, chat: Chat, desk: dict[str, Any]
    ) -> None:
        manager, colleague, customer = desk["manager"], desk["colleague"], desk["customer"]
        conversation = open_bank(chat, customer)
        chat.client.put(f"{STAFF_CHAT}/duty", headers=manager["headers"], json={"on_duty": False})
        chat.send(customer, conversation, "在吗", "q1")
        assert workspace(chat, colleague)[conversation]["routing"] == "colleague"
        assert chat.send(colleague, conversation, "我来帮您", "c1").status_code == 201
        chat.client.put(f"{STAFF_CHAT}/duty", headers=manager["headers"], json={"on_duty": True})
        item = workspace(chat, manager)[conversation]
        assert (item["assigned_staff_id"], item["routing"]) == (manager["id"], "manager")
        assert conversation not in workspace(chat, colleague)
        bodies = [m["body"] for m in chat.history(customer, conversation)]
        assert bodies[-1].startswith("经理m1")
        refused = chat.send(colleague, conversation, "还在", "c2")
        assert refused.status_code == 404

    def test_outside_hours_the_chat_waits_with_an_away_message(
        self, chat: Chat, desk: dict[str, Any], platform: Platform
    ) -> None:
        customer = desk["customer"]
        closed = BusinessHours(days=frozenset())
        platform.chat.config = replace(platform.chat.config, business_hours=closed)
        conversation = open_bank(chat, customer)
        chat.send(customer, conversation, "在吗", "q1")
        chat.send(customer, conversation, "急", "q2")
        messages = chat.history(customer, conversation)
        assert [m["kind"] for m in messages] == ["text", "system", "text"]
        assert workspace(chat, desk["colleague"])[conversation]["routing"] == "queued"
        claimed = chat.client.post(
            f"{STAFF_CHAT}/conversations/{conversation}/claim", headers=desk["colleague"]["headers"]
        )
        assert claimed.status_code == 204
        assert (
            workspace(chat, desk["colleague"])[conversation]["assigned_staff_id"]
            == desk["colleague"]["id"]
        )

    @pytest.mark.timeout(60)  # an event that never comes would block the socket read
    def test_every_managers_desk_hears_of_the_queue(self, live_chat: Chat) -> None:
        chat = live_chat
        platform = chat.platform
        platform.chat.config = replace(
            platform.chat.config, business_hours=BusinessHours(days=frozenset())
        )
        manager, colleague = chat.staff_member("m1"), chat.staff_member("m2")
        customer = chat.customer()
        conversation = open_bank(chat, customer)
        with chat.client.websocket_connect(WS, headers=colleague["headers"]) as ws:
            chat.send(customer, conversation, "在吗", "q1")
            queued = next_of(ws, "queue")
            assert (queued["conversation_id"], queued["queued"]) == (conversation, True)
            claimed = chat.client.post(
                f"{STAFF_CHAT}/conversations/{conversation}/claim", headers=manager["headers"]
            )
            assert claimed.status_code == 204
            left = next_of(ws, "queue")
            assert (left["conversation_id"], left["queued"]) == (conversation, False)

    def test_transfer_with_a_note_for_the_colleague(self, live_chat: Chat) -> None:
        chat = live_chat
        manager, colleague = chat.staff_member("m1"), chat.staff_member("m2")
        customer = chat.customer()
        conversation = open_bank(chat, customer)
        chat.send(customer, conversation, "贷款", "q1")
        with chat.client.websocket_connect(WS, headers=colleague["headers"]) as ws:
            moved = chat.client.post(
                f"{STAFF_CHAT}/conversations/{conversation}/transfer",
                headers=manager["headers"],
                json={"to_staff_id": colleague["id"], "note": "客户想了解经营贷"},
            )
            assert moved.status_code == 204
            assigned = next_of(ws, "assigned")
            assert (assigned["conversation_id"], assigned["note"]) == (
                conversation,
                "客户想了解经营贷",
            )
        customer_view = chat.history(customer, conversation)
        assert "经营贷" not in json.dumps(customer_view, ensure_ascii=False)
        assert workspace(chat, colleague)[conversation]["routing"] == "colleague"

    def test_canned_replies_own_and_shared(self, chat: Chat, desk: dict[str, Any]) -> None:
        manager = desk["manager"]
        lead = chat.staff_member("lead", role="supervisor")
        url = f"{STAFF_CHAT}/canned-replies"
        shared = {"title": "问候", "body": "您好", "shared": True}
        assert chat.client.post(url, headers=lead["headers"], json=shared).status_code == 201
        chat.client.post(url, headers=manager["headers"], json={"title": "mine", "body": "稍等"})
        replies = chat.client.get(url, headers=manager["headers"]).json()
        assert [(r["title"], r["shared"]) for r in replies] == [("问候", True), ("mine", False)]
        assert [
            r["title"] for r in chat.client.get(url, headers=desk["colleague"]["headers"]).json()
        ] == ["问候"]


class TestRecords:
    def test_moderation_hides_for_everyone_and_is_audited(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        ops = chat.staff_member("ops", role="operations")
        conversation = chat.direct(alice, bob)
        chat.send(alice, conversation, "spam spam", "1")
        reported = chat.client.post(
            f"{CHAT}/conversations/{conversation}/messages/1/report",
            headers=bob["headers"],
            json={"reason": "广告"},
        )
        assert reported.status_code == 201
        reports = chat.client.get(f"{STAFF_CHAT}/reports", headers=ops["headers"]).json()
        assert [(r["conversation_id"], r["seq"]) for r in reports] == [(conversation, 1)]
        hidden = chat.client.post(
            f"{STAFF_CHAT}/conversations/{conversation}/messages/1/hide",
            headers=ops["headers"],
            json={"reason": "广告"},
        )
        assert hidden.json()["kind"] == "hide"
        for who in (alice, bob):
            assert chat.history(who, conversation)[0]["body"] == ""
        with platform.transaction() as session:
            actions = (
                session.execute(
                    text("SELECT action FROM audit_log WHERE actor_kind = 'staff' ORDER BY id")
                )
                .scalars()
                .all()
            )
        assert "chat.hide" in actions

    def test_a_report_dismissed_closes_the_messages_reports_and_keeps_it(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        ops = chat.staff_member("ops", role="operations")
        conversation = chat.direct(alice, bob)
        chat.send(alice, conversation, "周末一起爬山", "1")
        report = chat.client.post(
            f"{CHAT}/conversations/{conversation}/messages/1/report",
            headers=bob["headers"],
            json={"reason": "骚扰"},
        ).json()
        url = f"{STAFF_CHAT}/reports"
        open_reports = chat.client.get(url, params={"open": "true"}, headers=ops["headers"])
        assert [r["id"] for r in open_reports.json()] == [report["report_id"]]
        for _ in range(2):  # dismissing again changes nothing
            dismissed = chat.client.post(
                f"{url}/{report['report_id']}/dismiss", headers=ops["headers"]
            )
            assert dismissed.status_code == 204
        assert chat.client.get(url, params={"open": "true"}, headers=ops["headers"]).json() == []
        assert [r["outcome"] for r in chat.client.get(url, headers=ops["headers"]).json()] == [
            "dismissed"
        ]
        assert chat.history(bob, conversation)[0]["body"] == "周末一起爬山"
        unknown = chat.client.post(f"{url}/999999/dismiss", headers=ops["headers"])
        assert unknown.json()["error"]["code"] == "chat_report_not_found"
        refused = chat.client.post(f"{url}/{report['report_id']}/dismiss", headers=alice["headers"])
        assert refused.status_code in (401, 403)

    def test_export_is_chained_and_verifiable_and_edits_are_found(
        self, chat: Chat, desk: dict[str, Any], platform: Platform
    ) -> None:
        customer, manager = desk["customer"], desk["manager"]
        ops = chat.staff_member("ops", role="operations")
        conversation = open_bank(chat, customer)
        chat.send(customer, conversation, "一", "1")
        chat.send(manager, conversation, "二", "2")
        chat.client.post(
            f"{CHAT}/conversations/{conversation}/messages/1/recall", headers=customer["headers"]
        )
        period = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
        url = f"{STAFF_CHAT}/customers/{customer['customer_id']}/export"
        exported = chat.client.get(url, headers=ops["headers"], params=period).json()
        entries = exported["entries"]
        assert [e["seq"] for e in entries] == [1, 2, 3]
        assert entries[0]["body"] == "一"
        assert entries[0]["recalled_at"] is not None
        assert all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(entries))
        csv_export = chat.client.get(
            url, headers=ops["headers"], params={**period, "format": "csv"}
        )
        assert csv_export.headers["content-type"].startswith("text/csv")
        assert len(csv_export.text.strip().splitlines()) == 4
        verify = f"{STAFF_CHAT}/conversations/{conversation}/verify"
        assert chat.client.get(verify, headers=ops["headers"]).json()["intact"]
        with platform.transaction() as session:
            # What an intruder with the database's superuser could do.
            session.execute(text("ALTER TABLE chat_message DISABLE TRIGGER chat_message_guard"))
            session.execute(
                text("UPDATE chat_message SET body = '改' WHERE conversation_id = :c AND seq = 2"),
                {"c": conversation},
            )
            session.execute(text("ALTER TABLE chat_message ENABLE TRIGGER chat_message_guard"))
        result = chat.client.get(verify, headers=ops["headers"]).json()
        assert not result["intact"]
        assert "entry 2: the content was changed" in result["problems"]
