"""Conversations, the ordered log, idempotent sends, sync, receipts, recall, safety."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from rongbank.accounts.rules import luhn_check_digit
from rongbank.chat.service import CUSTOMER, Member
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.chat.conftest import CHAT, Chat


class TestConversations:
    def test_direct_conversation_is_one_per_pair_and_private(self, chat: Chat) -> None:
        alice, bob, eve = chat.customer(), chat.customer("李雷"), chat.customer("韩梅梅")
        first = chat.direct(alice, bob)
        assert chat.direct(bob, alice) == first
        assert chat.send(alice, first, "你好", "a1").status_code == 201
        assert [m["body"] for m in chat.history(bob, first)] == ["你好"]
        refused = chat.client.get(f"{CHAT}/conversations/{first}/messages", headers=eve["headers"])
        assert refused.status_code == 404
        assert chat.send(eve, first, "hi", "e1").status_code == 404
        listed = chat.client.get(f"{CHAT}/conversations", headers=eve["headers"]).json()
        assert listed == []

    def test_ones_own_and_malformed_numbers_are_refused(self, chat: Chat) -> None:
        """Refusals that say nothing of anyone else (whether a number banks here is
        never told: see test_direct_requests)."""
        alice = chat.customer()
        for mobile, code in (
            ("1399999", "mobile_number_invalid"),
            (alice["mobile"], "chat_with_self"),
        ):
            response = chat.client.post(
                f"{CHAT}/conversations/direct", headers=alice["headers"], json={"mobile": mobile}
            )
            assert (response.status_code, response.json()["error"]["code"]) == (422, code)

    def test_only_staff_post_in_a_channel(self, chat: Chat, platform: Platform) -> None:
        operations = chat.staff_member("ops", role="operations")
        alice = chat.customer()
        created = chat.client.post(
            "/api/v1/staff/chat/channels", headers=operations["headers"], json={"title": "公告"}
        )
        channel = created.json()["id"]
        subscribed = chat.client.put(
            f"{CHAT}/channels/{channel}/subscription", headers=alice["headers"]
        )
        assert subscribed.status_code == 200
        assert chat.send(operations, channel, "系统维护通知", "n1").status_code == 201
        refused = chat.send(alice, channel, "hello", "x")
        assert refused.json()["error"]["code"] == "chat_channel_read_only"
        assert [m["body"] for m in chat.history(alice, channel)] == ["系统维护通知"]


class TestSending:
    def test_a_resend_returns_the_original_and_writes_nothing(self, chat: Chat) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        first = chat.send(alice, conversation, "一", "same").json()
        again = chat.send(alice, conversation, "changed", "same").json()
        assert first["created"]
        assert not again["created"]
        assert again["message"] == first["message"]
        assert [m["seq"] for m in chat.history(bob, conversation)] == [1]

    def test_sequence_numbers_have_no_gaps_and_a_refused_send_takes_none(self, chat: Chat) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        chat.send(alice, conversation, "1", "a")
        assert chat.send(alice, conversation, "   ", "empty").status_code == 422
        chat.send(bob, conversation, "2", "b", reply_to=1)
        messages = chat.history(alice, conversation)
        assert [m["seq"] for m in messages] == [1, 2]
        assert messages[1]["reply_to"] == 1
        bad = chat.send(alice, conversation, "x", "c", reply_to=9)
        assert bad.json()["error"]["code"] == "chat_reply_to_unknown"

    def test_card_numbers_and_passwords_are_masked_with_a_warning(self, chat: Chat) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        number = "622202123456789012"
        number += luhn_check_digit(number)
        sent = chat.send(alice, conversation, f"卡号 {number} 密码是 Abc12345", "m").json()
        assert sent["warnings"] == ["card_number", "password"]
        seen = chat.history(bob, conversation)[0]["body"]
        assert number not in seen
        assert "Abc12345" not in seen
        assert seen == f"卡号 {number[:6]}******{number[-4:]} 密码是 ******"

    def test_sending_too_fast_is_refused_and_allowed_again_later(
        self, chat: Chat, platform: Platform, clock: FrozenClock
    ) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        burst = int(platform.chat.config.rate_burst)
        for i in range(burst):
            assert chat.send(alice, conversation, "x", f"r{i}").status_code == 201
        limited = chat.send(alice, conversation, "x", "over")
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "chat_rate_limited"
        clock.advance(timedelta(seconds=3))
        assert chat.send(alice, conversation, "x", "over").status_code == 201

    def test_blocking_stops_direct_messages_both_ways(self, chat: Chat) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        blocked = chat.client.post(
            f"{CHAT}/blocks", headers=bob["headers"], json={"customer_id": alice["customer_id"]}
        )
        assert blocked.status_code == 204
        for who in (alice, bob):
            assert chat.send(who, conversation, "hi", "b").json()["error"]["code"] == "chat_blocked"
        chat.client.delete(f"{CHAT}/blocks/{alice['customer_id']}", headers=bob["headers"])
        assert chat.send(alice, conversation, "hi", "b").status_code == 201


class TestRecall:
    def test_recall_leaves_a_tombstone_for_others_and_an_entry_in_the_log(
        self, chat: Chat, clock: FrozenClock
    ) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        chat.send(alice, conversation, "说错了", "m")
        clock.advance(timedelta(seconds=90))
        recalled = chat.client.post(
            f"{CHAT}/conversations/{conversation}/messages/1/recall", headers=alice["headers"]
        )
        assert recalled.status_code == 200
        assert recalled.json()["kind"] == "recall"
        assert recalled.json()["ref_seq"] == 1
        seen_by_bob = chat.history(bob, conversation)
        assert seen_by_bob[0]["body"] == ""
        assert seen_by_bob[0]["recalled"]
        assert seen_by_bob[1]["kind"] == "recall"
        assert chat.history(alice, conversation)[0]["body"] == "说错了"

    def test_only_the_sender_within_the_window(self, chat: Chat, clock: FrozenClock) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        chat.send(alice, conversation, "x", "m")
        by_bob = chat.client.post(
            f"{CHAT}/conversations/{conversation}/messages/1/recall", headers=bob["headers"]
        )
        assert by_bob.json()["error"]["code"] == "chat_recall_not_allowed"
        clock.advance(timedelta(minutes=2, seconds=1))
        late = chat.client.post(
            f"{CHAT}/conversations/{conversation}/messages/1/recall", headers=alice["headers"]
        )
        assert late.json()["error"]["code"] == "chat_recall_window_passed"


class TestReceipts:
    def test_positions_only_move_forward_and_reading_implies_delivery(self, chat: Chat) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        for i in range(3):
            chat.send(alice, conversation, str(i), f"m{i}")
        url = f"{CHAT}/conversations/{conversation}/receipts"
        marked = chat.client.post(url, headers=bob["headers"], json={"read_seq": 2}).json()
        assert (marked["last_delivered_seq"], marked["last_read_seq"], marked["unread"]) == (
            2,
            2,
            1,
        )
        back = chat.client.post(url, headers=bob["headers"], json={"delivered_seq": 1}).json()
        assert back["last_delivered_seq"] == 2
        beyond = chat.client.post(url, headers=bob["headers"], json={"read_seq": 99}).json()
        assert beyond["last_read_seq"] == 3
        members = chat.client.get(
            f"{CHAT}/conversations/{conversation}/members", headers=alice["headers"]
        ).json()
        assert {m["id"]: m["last_read_seq"] for m in members}[bob["customer_id"]] == 3


class TestSync:
    def test_an_offline_client_catches_up_in_pages_without_loss_or_repeats(
        self, chat: Chat
    ) -> None:
        alice, bob, carol = chat.customer(), chat.customer("李雷"), chat.customer("韩梅梅")
        one, two = chat.direct(alice, bob), chat.direct(carol, bob)
        for i in range(5):
            chat.send(alice, one, f"a{i}", f"a{i}")
        chat.send(carol, two, "c0", "c0")
        seen: list[tuple[int, int]] = []
        cursor = ""
        for _ in range(10):
            page = chat.client.get(
                f"{CHAT}/sync", headers=bob["headers"], params={"since": cursor, "limit": 2}
            ).json()
            seen += [
                (m["conversation_id"], m["seq"])
                for c in page["conversations"]
                for m in c["messages"]
            ]
            cursor = page["cursor"]
            if not page["conversations"]:
                break
        assert sorted(seen) == [(one, s) for s in range(1, 6)] + [(two, 1)]
        assert len(seen) == len(set(seen))
        chat.send(alice, one, "late", "late")
        page = chat.client.get(
            f"{CHAT}/sync", headers=bob["headers"], params={"since": cursor}
        ).json()
        assert [m["body"] for c in page["conversations"] for m in c["messages"]] == ["late"]

    def test_a_bad_cursor_is_refused(self, chat: Chat) -> None:
        alice = chat.customer()
        response = chat.client.get(f"{CHAT}/sync", headers=alice["headers"], params={"since": "x"})
        assert response.json()["error"]["code"] == "chat_cursor_invalid"

    @settings(
        max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        st.lists(
            st.one_of(
                st.tuples(st.just("send"), st.sampled_from(["a", "b"]), st.integers(0, 6)),
                st.tuples(st.just("sync"), st.integers(1, 3), st.just(0)),
            ),
            max_size=25,
        )
    )
    def test_sync_sees_every_message_exactly_once_in_order(
        self, platform: Platform, ops: list[tuple[str, object, int]]
    ) -> None:
        chat = platform.chat
        chat.config = type(chat.config)(rate_burst=1000)
        with platform.transaction() as session:
            ids = [
                int(
                    session.execute(
                        text(
                            "INSERT INTO customer (kind, name, mobile, resident_id, created_at) "
                            "VALUES ('person', 'x', :m, :m, now()) RETURNING id"
                        ),
                        {"m": uuid.uuid4().hex},
                    ).scalar_one()
                )
                for _ in range(2)
            ]
        a, b = Member(CUSTOMER, ids[0]), Member(CUSTOMER, ids[1])
        with platform.transaction() as session:
            group = chat.create_group(session, creator=a, title="t", customer_ids=[b.id])
        conversation = group.conversation.id
        cursor, seen, sent = "", [], set()
        for op, who, n in ops:
            with platform.transaction() as session:
                if op == "send":
                    sender = a if who == "a" else b
                    result = chat.send(
                        session,
                        sender,
                        conversation_id=conversation,
                        client_id=f"{who}{n}",
                        body="x",
                    )
                    sent.add(result.message.seq)
                else:
                    synced = chat.sync(session, b, cursor=cursor, limit=int(who))  # type: ignore[call-overload]
                    seen += [m.seq for batch in synced.batches for m in batch.messages]
                    cursor = synced.cursor
        with platform.transaction() as session:
            while True:
                synced = chat.sync(session, b, cursor=cursor, limit=2)
                if not synced.batches:
                    break
                seen += [m.seq for batch in synced.batches for m in batch.messages]
                cursor = synced.cursor
        assert seen == sorted(sent) == list(range(1, len(sent) + 1))


class TestSearch:
    def test_finds_chinese_by_bigrams_in_ones_own_conversations_only(self, chat: Chat) -> None:
        alice, bob, eve = chat.customer(), chat.customer("李雷"), chat.customer("韩梅梅")
        conversation = chat.direct(alice, bob)
        chat.send(alice, conversation, "我的转账失败了", "1")
        chat.send(alice, conversation, "转出的账户", "2")
        chat.direct(eve, bob)

        def search(who: dict[str, object], q: str) -> list[str]:
            response = chat.client.get(f"{CHAT}/search", headers=who["headers"], params={"q": q})  # type: ignore[arg-type]
            return [m["body"] for m in response.json()["messages"]]

        assert search(bob, "转账失败") == ["我的转账失败了"]
        assert search(bob, "账") == ["转出的账户", "我的转账失败了"]
        assert search(eve, "转账") == []


class TestArchive:
    def test_messages_cannot_be_deleted_or_edited(self, chat: Chat, platform: Platform) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        chat.send(alice, conversation, "x", "1")
        for statement in (
            "DELETE FROM chat_message WHERE conversation_id = :c",
            "UPDATE chat_message SET body = 'y' WHERE conversation_id = :c",
            "DELETE FROM chat_conversation WHERE id = :c",
        ):
            with (
                pytest.raises(DBAPIError, match="refused"),
                platform.transaction() as session,
            ):
                session.execute(text(statement), {"c": conversation})
