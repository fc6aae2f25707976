"""Direct chats start as requests: a mobile number tells nobody whether, or who, banks
with it. The asker sees the number they typed (masked) and nobody else until the
other accepts; the one asked sees a masked name. Elsewhere (groups, blocks, presence)
a customer's name and presence reach only their contacts and staff."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event

from rongbank.chat.service import CUSTOMER, Member
from rongbank.clock import FrozenClock
from tests.chat.conftest import CHAT, Chat
from tests.support.bus import RecordingBus

NOBODY = "13900009998"
"""A number no customer has."""


def ask(chat: Chat, who: dict[str, Any], mobile: str) -> Any:
    return chat.client.post(
        f"{CHAT}/conversations/direct", headers=who["headers"], json={"mobile": mobile}
    )


def members(chat: Chat, who: dict[str, Any], conversation: int) -> list[dict[str, Any]]:
    response = chat.client.get(
        f"{CHAT}/conversations/{conversation}/members", headers=who["headers"]
    )
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def listed(chat: Chat, who: dict[str, Any]) -> dict[int, dict[str, Any]]:
    response = chat.client.get(f"{CHAT}/conversations", headers=who["headers"])
    return {c["id"]: c for c in response.json()}


def block(chat: Chat, who: dict[str, Any], customer_id: int) -> Any:
    return chat.client.post(
        f"{CHAT}/blocks", headers=who["headers"], json={"customer_id": customer_id}
    )


@contextmanager
def statements(connection: Connection) -> Iterator[list[str]]:
    """The SQL statements run on the test's connection meanwhile."""
    ran: list[str] = []

    def count(*args: Any) -> None:
        ran.append(args[2])

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield ran
    finally:
        event.remove(connection, "before_cursor_execute", count)


@pytest.fixture
def people(chat: Chat) -> dict[str, Any]:
    """Alice, who asks; Bob, a customer; Carol, a customer who has blocked Alice."""
    alice, bob, carol = chat.customer("王小明"), chat.customer("李雷"), chat.customer("韩梅梅")
    assert block(chat, carol, alice["customer_id"]).status_code == 204
    return {"alice": alice, "bob": bob, "carol": carol}


class TestANumberGivesNothingAway:
    def test_the_same_answer_for_a_customer_a_blocker_and_nobody(
        self, chat: Chat, people: dict[str, Any], connection: Connection
    ) -> None:
        alice = people["alice"]
        answers, ran = {}, {}
        for who, mobile in (
            ("customer", people["bob"]["mobile"]),
            ("blocker", people["carol"]["mobile"]),
            ("nobody", NOBODY),
        ):
            with statements(connection) as seen:
                answers[who] = ask(chat, alice, mobile)
            ran[who] = seen
        for who, mobile in (
            ("customer", people["bob"]["mobile"]),
            ("blocker", people["carol"]["mobile"]),
            ("nobody", NOBODY),
        ):
            answer = answers[who]
            assert answer.status_code == 201, answer.text
            body = answer.json()
            assert body["title"] == f"{mobile[:3]}****{mobile[-4:]}"
            assert {k: v for k, v in body.items() if k not in ("id", "title")} == {
                "kind": "direct",
                "last_seq": 0,
                "last_delivered_seq": 0,
                "last_read_seq": 0,
                "unread": 0,
                "routing": None,
                "request": "sent",
            }
            conversation = body["id"]
            # Nobody else shows in it, and asking again finds the same one.
            me = [{"kind": "customer", "id": alice["customer_id"]}]
            assert [
                {"kind": m["kind"], "id": m["id"]} for m in members(chat, alice, conversation)
            ] == me
            assert ask(chat, alice, mobile).json()["id"] == conversation
        # The same database work whoever has the number: no early return.
        assert len(ran["customer"]) == len(ran["blocker"]) == len(ran["nobody"])

    def test_a_greeting_and_nothing_more_whoever_has_the_number(
        self, chat: Chat, people: dict[str, Any]
    ) -> None:
        alice = people["alice"]
        for mobile in (people["bob"]["mobile"], people["carol"]["mobile"], NOBODY):
            conversation = ask(chat, alice, mobile).json()["id"]
            answers = [
                chat.send(alice, conversation, f"你好 {n}", f"hi-{mobile}-{n}").status_code
                for n in range(4)
            ]
            assert answers == [201, 201, 201, 409]
            more = chat.send(alice, conversation, "在吗", f"more-{mobile}")
            assert more.json()["error"]["code"] == "chat_request_pending"
            card = chat.client.post(
                f"{CHAT}/conversations/{conversation}/cards",
                headers=alice["headers"],
                json={"kind": "request", "client_id": f"c-{mobile}", "amount": "1.00",
                      "account": alice["account"]["number"]},
            )  # fmt: skip
            assert (card.status_code, card.json()["error"]["code"]) == (
                409,
                "chat_request_pending",
            )

    def test_lookups_are_limited_per_customer_whatever_the_number(
        self, chat: Chat, people: dict[str, Any], clock: FrozenClock
    ) -> None:
        platform = chat.platform
        platform.chat.config = replace(platform.chat.config, lookup_burst=2, lookups_per_hour=6)
        alice = people["alice"]
        assert ask(chat, alice, NOBODY).status_code == 201
        assert ask(chat, alice, people["bob"]["mobile"]).status_code == 201
        for mobile in (people["carol"]["mobile"], "13900009997"):
            refused = ask(chat, alice, mobile)
            assert (refused.status_code, refused.json()["error"]["code"]) == (
                429,
                "chat_lookup_rate_limited",
            )
            assert refused.json()["error"]["details"] == {"retry_after_seconds": 600}
        assert ask(chat, people["bob"], NOBODY).status_code == 201  # per customer
        clock.advance(timedelta(minutes=10))
        assert ask(chat, alice, "13900009997").status_code == 201


class TestTheOneAsked:
    def test_sees_a_masked_name_and_the_greeting_and_accepts(
        self, chat: Chat, people: dict[str, Any]
    ) -> None:
        alice, bob = people["alice"], people["bob"]
        conversation = ask(chat, alice, bob["mobile"]).json()["id"]
        assert chat.send(alice, conversation, "我是小明", "hi").status_code == 201
        seen = listed(chat, bob)[conversation]
        assert (seen["request"], seen["title"], seen["unread"]) == ("received", "", 1)
        assert [m["body"] for m in chat.history(bob, conversation)] == ["我是小明"]
        assert {(m["id"], m["name"]) for m in members(chat, bob, conversation)} == {
            (alice["customer_id"], "*小明"),
            (bob["customer_id"], "李雷"),
        }
        early = chat.send(bob, conversation, "你是谁", "b1")
        assert (early.status_code, early.json()["error"]["code"]) == (
            409,
            "chat_request_not_accepted",
        )
        accepted = chat.client.post(
            f"{CHAT}/conversations/{conversation}/accept", headers=bob["headers"]
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["request"] is None
        # Contacts now: each sees the other's name, and both write freely.
        assert {(m["id"], m["name"]) for m in members(chat, alice, conversation)} == {
            (alice["customer_id"], "王小明"),
            (bob["customer_id"], "李雷"),
        }
        assert listed(chat, alice)[conversation]["request"] is None
        assert chat.send(bob, conversation, "你好", "b2").status_code == 201
        assert chat.send(alice, conversation, "5", "a5").status_code == 201

    def test_only_the_one_asked_accepts(self, chat: Chat, people: dict[str, Any]) -> None:
        alice, bob = people["alice"], people["bob"]
        conversation = ask(chat, alice, bob["mobile"]).json()["id"]
        refused = chat.client.post(
            f"{CHAT}/conversations/{conversation}/accept", headers=alice["headers"]
        )
        assert (refused.status_code, refused.json()["error"]["code"]) == (
            409,
            "chat_request_not_yours",
        )

    def test_a_declined_request_looks_to_the_asker_like_one_nobody_answers(
        self, chat: Chat, people: dict[str, Any]
    ) -> None:
        alice, bob = people["alice"], people["bob"]
        conversation = ask(chat, alice, bob["mobile"]).json()["id"]
        before = listed(chat, alice)[conversation]
        declined = chat.client.post(
            f"{CHAT}/conversations/{conversation}/decline", headers=bob["headers"]
        )
        assert declined.status_code == 204, declined.text
        assert conversation not in listed(chat, bob)
        assert listed(chat, alice)[conversation] == before
        assert chat.send(alice, conversation, "在吗", "a1").status_code == 201
        assert ask(chat, alice, bob["mobile"]).json()["id"] == conversation
        assert conversation not in listed(chat, bob)  # asking again does not ask again
        # Bob may still ask Alice himself: it is his request now.
        again = ask(chat, bob, alice["mobile"]).json()
        assert (again["id"], again["request"]) == (conversation, "sent")
        assert listed(chat, alice)[conversation]["request"] == "received"

    def test_blocking_the_asker_closes_the_request_unseen(
        self, chat: Chat, people: dict[str, Any]
    ) -> None:
        alice, bob = people["alice"], people["bob"]
        conversation = ask(chat, alice, bob["mobile"]).json()["id"]
        assert block(chat, bob, alice["customer_id"]).status_code == 204
        assert conversation not in listed(chat, bob)
        assert listed(chat, alice)[conversation]["request"] == "sent"
        assert chat.send(alice, conversation, "在吗", "a1").status_code == 201


class TestWhatReachesTheAskerBeforeAcceptance:
    def test_no_presence_receipt_or_typing_until_accepted(
        self, chat: Chat, people: dict[str, Any]
    ) -> None:
        platform, alice, bob = chat.platform, people["alice"], people["bob"]
        a, b = Member(CUSTOMER, alice["customer_id"]), Member(CUSTOMER, bob["customer_id"])
        conversation = ask(chat, alice, bob["mobile"]).json()["id"]
        chat.send(alice, conversation, "你好", "hi")

        bus = platform.chat.bus = RecordingBus()

        def told(action: Any) -> list[tuple[str, str]]:
            events = bus.recorded()
            with platform.transaction() as session:
                action(session)
            return [(name, e["type"]) for name, e in events]

        assert told(lambda s: platform.chat.connected(s, a)) == []  # nobody to tell
        assert told(lambda s: platform.chat.connected(s, b)) == []
        assert told(lambda s: platform.chat.mark(s, b, conversation_id=conversation, read=1)) == []
        assert told(lambda s: platform.chat.typing(s, b, conversation_id=conversation)) == []
        accepted = told(
            lambda s: platform.chat.contacts.accept(
                s, customer_id=bob["customer_id"], conversation_id=conversation
            )
        )
        # Now contacts: told of the acceptance, and that the other is online.
        assert sorted(accepted) == sorted(
            [
                (a.topic, "accepted"),
                (b.topic, "accepted"),
                (a.topic, "presence"),
                (b.topic, "presence"),
            ]
        )
        assert told(lambda s: platform.chat.disconnected(s, b)) == [(a.topic, "presence")]


class TestStrangersElsewhere:
    def test_a_group_shows_non_contacts_masked_and_takes_contacts_only(
        self, chat: Chat, people: dict[str, Any]
    ) -> None:
        alice, bob = people["alice"], people["bob"]
        dave = chat.customer("赵四")
        chat.direct(alice, bob)
        chat.direct(alice, dave)
        for mobiles in ([bob["mobile"], people["carol"]["mobile"]], [bob["mobile"], NOBODY]):
            refused = chat.client.post(
                f"{CHAT}/groups", headers=alice["headers"], json={"mobiles": mobiles}
            )
            assert (refused.status_code, refused.json()["error"]["code"]) == (
                422,
                "chat_not_a_contact",
            )
        group = chat.client.post(
            f"{CHAT}/groups",
            headers=alice["headers"],
            json={"title": "周末", "mobiles": [bob["mobile"], dave["mobile"]]},
        ).json()["id"]
        assert {m["name"] for m in members(chat, bob, group)} == {"王小明", "李雷", "*四"}
        assert {m["name"] for m in members(chat, alice, group)} == {"王小明", "李雷", "赵四"}
        platform = chat.platform
        bus = platform.chat.bus = RecordingBus()
        events = bus.recorded()
        with platform.transaction() as session:
            platform.chat.connected(session, Member(CUSTOMER, dave["customer_id"]))
        told = {name for name, e in events if e["type"] == "presence"}
        assert told == {Member(CUSTOMER, alice["customer_id"]).topic}  # not Bob
        dave_seen_by_bob = [m for m in members(chat, bob, group) if m["id"] == dave["customer_id"]]
        assert dave_seen_by_bob[0]["online"] is False

    def test_blocking_tells_nothing_of_ids_or_names(
        self, chat: Chat, people: dict[str, Any]
    ) -> None:
        alice = people["alice"]
        stranger = chat.customer("钱五")
        assert block(chat, alice, 999_999).status_code == 204  # no such customer
        assert block(chat, alice, stranger["customer_id"]).status_code == 204
        blocks = chat.client.get(f"{CHAT}/blocks", headers=alice["headers"]).json()
        assert blocks == [stranger["customer_id"]]
        with chat.platform.transaction() as session:
            names = chat.platform.chat.contacts.names(
                session, Member(CUSTOMER, alice["customer_id"]), blocks
            )
        assert names == {stranger["customer_id"]: "*五"}
