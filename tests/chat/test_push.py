"""Push notices: broadcasts to segments, event notices from real money movements,
the customer's preferences, and each broadcast's delivery and read counts."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from rongbank import outbox
from rongbank.accounts.events import TransferMade
from rongbank.api.bench_sql import counting
from rongbank.chat import notices
from rongbank.chat.push import MAX_ATTEMPTS
from rongbank.chat.schemas import NoticeBody
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.accounts.test_endpoints import transfer_confirmed
from tests.chat.conftest import CHAT, STAFF_CHAT, Chat
from tests.chat.samples import webp
from tests.chat.test_realtime_and_desk import WS, next_of
from tests.payments.helpers import Shop

TODAY = date(2026, 3, 2)  # the test clock's day in Beijing


def notices_of(chat: Chat, who: dict[str, Any]) -> list[dict[str, Any]]:
    """The customer's notice box as they see it: the notice bodies, oldest first."""
    listed = chat.client.get(f"{CHAT}/conversations", headers=who["headers"]).json()
    boxes = [c for c in listed if c["kind"] == "notice"]
    if not boxes:
        return []
    assert len(boxes) == 1
    messages = chat.history(who, boxes[0]["id"])
    assert all(m["kind"] == "notice" and m["sender"]["kind"] == "system" for m in messages)
    for m in messages:
        NoticeBody.model_validate_json(m["body"])  # the shape the pages are promised
    return [json.loads(m["body"]) | {"seq": m["seq"]} for m in messages]


def deliver(platform: Platform) -> Any:
    return platform.push.deliver(platform.transaction)


def set_born(platform: Platform, who: dict[str, Any], born: date) -> None:
    with platform.transaction() as session:
        session.execute(
            text("UPDATE customer SET birth_date = :b WHERE id = :id"),
            {"b": born, "id": who["customer_id"]},
        )


def broadcast(chat: Chat, staff: dict[str, Any], client_id: str = "b1", **body: Any) -> Any:
    fields = {"segment": "all", "kind": "announcement", "title": "系统维护", "text": "周六停机"}
    return chat.client.post(
        f"{STAFF_CHAT}/broadcasts",
        headers=staff["headers"],
        json={"client_id": client_id, **fields, **body},
    )


class TestAges:
    @given(st.dates(date(1900, 1, 1), date(2100, 12, 31)), st.integers(0, 120))
    def test_born_on_or_before_years_before_means_at_least_that_old(
        self, day: date, years: int
    ) -> None:
        cut = notices.years_before(day, years)
        for born in (cut, cut - timedelta(days=1), cut + timedelta(days=1)):
            if born <= day:
                assert (notices.age_on(born, day) >= years) == (born <= cut)

    def test_a_leap_day_birthday_counts_from_the_first_of_march(self) -> None:
        assert notices.age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
        assert notices.age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


class TestSegments:
    def test_students_and_seniors_by_the_birth_date_of_their_id(
        self, chat: Chat, platform: Platform
    ) -> None:
        ages = {"15": 15, "16": 16, "24": 24, "25": 25, "59": 59, "60": 60, "80": 80}
        people = {}
        for label, age in ages.items():
            person = chat.customer(f"客户{label}")
            set_born(platform, person, notices.years_before(TODAY, age))
            people[label] = person
        almost = chat.customer("明天满25")
        set_born(platform, almost, notices.years_before(TODAY, 25) + timedelta(days=1))
        operations = chat.staff_member("ops", role="operations")
        sizes = {
            s["segment"]: s["customers"]
            for s in chat.client.get(f"{STAFF_CHAT}/segments", headers=operations["headers"]).json()
        }
        assert (sizes["students"], sizes["seniors"], sizes["persons"]) == (3, 2, 8)
        assert (sizes["enterprises"], sizes["merchants"], sizes["borrowers"]) == (0, 0, 0)

        sent = broadcast(chat, operations, segment="students")
        assert sent.status_code == 201, sent.text
        assert sent.json()["recipients"] == 3 == sent.json()["pending"]
        deliver(platform)
        reached = {label for label, p in people.items() if notices_of(chat, p)}
        assert reached == {"16", "24"}
        assert notices_of(chat, almost)[0]["title"] == "系统维护"

    def test_merchants_are_customers_with_an_active_merchant(
        self, chat: Chat, platform: Platform
    ) -> None:
        shop = Shop(chat.client, platform, chat)
        other = chat.customer("不是商户")
        operations = chat.staff_member("ops", role="operations")
        sent = broadcast(chat, operations, segment="merchants", kind="promotion")
        assert sent.json()["recipients"] == 1
        deliver(platform)
        assert notices_of(chat, shop.seller)[0]["kind"] == "promotion"
        assert notices_of(chat, other) == []

    def test_borrowers_are_customers_with_a_credit_line(
        self, chat: Chat, platform: Platform
    ) -> None:
        chat.customer()
        with platform.transaction() as session:
            assert platform.push.segment_sizes(session)["borrowers"] == 0


class TestBroadcasts:
    def test_counts_follow_delivery_preferences_and_read_receipts(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice, bob, carol = chat.customer(), chat.customer("李雷"), chat.customer("韩梅梅")
        switched = chat.client.put(
            f"{CHAT}/notice-preferences", headers=carol["headers"], json={"promotion": False}
        )
        assert switched.json()["promotion"] is False
        operations = chat.staff_member("ops", role="operations")
        sent = broadcast(chat, operations, kind="promotion", title="理财节", text="新品上市")
        assert sent.status_code == 201
        assert deliver(platform).sent == 2

        assert notices_of(chat, carol) == []
        seen = notices_of(chat, alice)
        assert seen == [
            {
                "kind": "promotion",
                "title": "理财节",
                "text": "新品上市",
                "broadcast_id": sent.json()["id"],
                "data": {},
                "seq": 1,
            }
        ]
        listed = chat.client.get(f"{CHAT}/conversations", headers=bob["headers"]).json()
        box = next(c for c in listed if c["kind"] == "notice")
        chat.client.post(
            f"{CHAT}/conversations/{box['id']}/receipts",
            headers=bob["headers"],
            json={"read_seq": 1},
        )
        alice_box = next(
            c
            for c in chat.client.get(f"{CHAT}/conversations", headers=alice["headers"]).json()
            if c["kind"] == "notice"
        )
        chat.client.post(
            f"{CHAT}/conversations/{alice_box['id']}/receipts",
            headers=alice["headers"],
            json={"delivered_seq": 1},
        )
        figures = chat.client.get(f"{STAFF_CHAT}/broadcasts", headers=operations["headers"])
        counts = {k: figures.json()[0][k] for k in
                  ("recipients", "pending", "skipped", "sent", "delivered", "read")}  # fmt: skip
        assert counts == {
            "recipients": 3, "pending": 0, "skipped": 1, "sent": 2, "delivered": 2, "read": 1
        }  # fmt: skip

    def test_a_resend_answers_the_original_and_another_notice_under_its_id_is_refused(
        self, chat: Chat, platform: Platform
    ) -> None:
        chat.customer()
        operations = chat.staff_member("ops", role="operations")
        first = broadcast(chat, operations)
        again = broadcast(chat, operations)
        assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
        other = broadcast(chat, operations, text="另一条")
        assert other.json()["error"]["code"] == "chat_broadcast_conflict"
        deliver(platform)
        one = chat.client.get(
            f"{STAFF_CHAT}/broadcasts/{first.json()['id']}", headers=operations["headers"]
        ).json()
        assert (one["recipients"], one["sent"]) == (1, 1)
        missing = chat.client.get(f"{STAFF_CHAT}/broadcasts/999999", headers=operations["headers"])
        assert missing.status_code == 404

    def test_the_job_delivers_batch_after_batch_while_they_come_full(
        self, chat: Chat, platform: Platform
    ) -> None:
        people = [chat.customer(f"客户{n}") for n in range(5)]
        operations = chat.staff_member("ops", role="operations")
        assert broadcast(chat, operations).json()["recipients"] == 5
        platform.deliver_push(batch=2, batches=2)
        assert sum(1 for p in people if notices_of(chat, p)) == 4
        platform.deliver_push(batch=2)
        assert all(notices_of(chat, p) for p in people)

    def test_account_managers_may_not_broadcast(self, chat: Chat) -> None:
        manager = chat.staff_member("mgr")
        assert broadcast(chat, manager).status_code == 403


class TestPreferences:
    def test_every_kind_is_on_until_switched_off(self, chat: Chat) -> None:
        alice = chat.customer()
        url = f"{CHAT}/notice-preferences"
        assert set(chat.client.get(url, headers=alice["headers"]).json().values()) == {True}
        changed = chat.client.put(
            url, headers=alice["headers"], json={"payment_made": False, "due_soon": False}
        ).json()
        assert [k for k, on in changed.items() if not on] == ["payment_made", "due_soon"]
        back = chat.client.put(url, headers=alice["headers"], json={"due_soon": True}).json()
        assert [k for k, on in back.items() if not on] == ["payment_made"]
        unknown = chat.client.put(url, headers=alice["headers"], json={"spam": False})
        assert unknown.status_code == 422


class TestEventNotices:
    def test_a_transfer_tells_the_payee_once_with_the_payer_masked(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice, bob = chat.customer("张三"), chat.customer("李雷")
        chat.fund(alice, 100_000)
        body = {
            "client_id": "t1",
            "source": alice["account"]["number"],
            "destination": bob["account"]["number"],
            "amount": "12.34",
        }
        assert transfer_confirmed(chat.client, alice, body).status_code == 201
        assert transfer_confirmed(chat.client, alice, body).status_code in (200, 201)  # a retry
        deliver(platform)
        (notice,) = notices_of(chat, bob)
        tail = bob["account"]["number"][-4:]
        assert notice["kind"] == "money_received"
        assert notice["data"] == {
            "source": "transfer", "amount": "12.34", "currency": "CNY", "account_tail": tail,
            "payer": "*三",
        }  # fmt: skip
        assert notice["title"] == "收到转账"
        assert notice["text"] == f"您尾号{tail}的账户收到*三转账 12.34元。"
        assert notice["en"] == {
            "title": "Money received",
            "text": f"Your account ending {tail} received 12.34 CNY from *三.",
        }
        assert notices_of(chat, alice) == []

    def test_the_job_takes_events_batch_after_batch_while_they_come_full(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice, bob = chat.customer("张三"), chat.customer("李雷")
        with platform.transaction() as session:
            for entry_id, payee in ((1, alice), (2, alice), (3, bob)):  # to oneself: no notice
                outbox.record(
                    session,
                    TransferMade(
                        entry_id=entry_id,
                        payer_customer_id=alice["customer_id"],
                        payer_account_id=1,
                        payee_customer_id=payee["customer_id"],
                        payee_account_id=2,
                        payee_account_tail=payee["account"]["number"][-4:],
                        amount=100,
                        currency="CNY",
                        occurred_at=platform.clock.now(),
                    ),
                )
        platform.deliver_push(batch=2)
        assert [n["data"]["amount"] for n in notices_of(chat, bob)] == ["1.00"]
        assert notices_of(chat, alice) == []

    def test_switched_off_means_no_message(self, chat: Chat, platform: Platform) -> None:
        alice, bob = chat.customer("张三"), chat.customer("李雷")
        chat.fund(alice, 100_000)
        chat.client.put(
            f"{CHAT}/notice-preferences", headers=bob["headers"], json={"money_received": False}
        )
        body = {
            "client_id": "t1",
            "source": alice["account"]["number"],
            "destination": bob["account"]["number"],
            "amount": "1.00",
        }
        assert transfer_confirmed(chat.client, alice, body).status_code == 201
        assert deliver(platform).skipped == 1
        assert notices_of(chat, bob) == []

    def test_an_epay_payment_and_its_refund(self, chat: Chat, platform: Platform) -> None:
        shop = Shop(chat.client, platform, chat)
        payer = shop.customer("王五")
        paid = shop.pay(payer, shop.token(shop.order("N-1", "88.00")))
        assert paid.status_code == 200, paid.text
        refunded = chat.client.post(
            "/api/v1/merchant/orders/N-1/refunds",
            headers=shop.owner,
            json={"refund_no": "r1", "amount": "8.00"},
        )
        assert refunded.status_code == 201, refunded.text
        platform.deliver_push()  # what the platform's background job runs
        made, back = notices_of(chat, payer)
        assert (made["kind"], made["data"]["merchant"], made["data"]["amount"]) == (
            "payment_made", "老王面馆", "88.00"
        )  # fmt: skip
        assert made["data"]["status"] == "paid"
        assert (back["kind"], back["data"]["source"], back["data"]["amount"]) == (
            "money_received", "refund", "8.00"
        )  # fmt: skip

    def test_an_authorisation_about_to_run_out_is_noticed_once(
        self, chat: Chat, platform: Platform, clock: FrozenClock
    ) -> None:
        shop = Shop(chat.client, platform, chat)
        payer = shop.customer("王五")
        held = shop.pay(payer, shop.token(shop.order("H-1", "50.00", capture="manual")))
        assert held.status_code == 200, held.text
        deliver(platform)
        assert [n["data"]["status"] for n in notices_of(chat, payer)] == ["authorised"]
        clock.advance(timedelta(days=26))  # the hold lasts 30 days; notice 3 days before
        payer["headers"] = {"Authorization": f"Bearer {chat.login(payer['login_name'])}"}
        deliver(platform)
        assert len(notices_of(chat, payer)) == 1
        clock.advance(timedelta(days=1, minutes=1))
        deliver(platform)
        deliver(platform)
        payer["headers"] = {"Authorization": f"Bearer {chat.login(payer['login_name'])}"}
        due = notices_of(chat, payer)[1:]
        assert [n["kind"] for n in due] == ["due_soon"]
        assert due[0]["data"]["merchant"] == "老王面馆"
        assert "50.00元" in due[0]["text"]


class TestLoginLockouts:
    """Wrong passwords that lock a network out of a customer's login tell the customer
    at once (a security notice, which cannot be switched off), at most once an hour,
    and without the network's address whole."""

    GUESS = "Wrong-guess-2026"

    def guess(self, chat: Chat, ip: str, login_name: str) -> list[tuple[int, Any]]:
        """Five wrong passwords from ``ip``: the answers as the guesser sees them."""
        guesser = TestClient(chat.client.app, client=(ip, 40000))
        answers = [
            guesser.post(
                "/api/v1/sessions", json={"login_name": login_name, "password": self.GUESS}
            )
            for _ in range(5)
        ]
        return [(a.status_code, a.json()) for a in answers]

    def test_the_customer_is_told_at_once_and_not_again_within_the_hour(
        self, chat: Chat, platform: Platform, clock: FrozenClock
    ) -> None:
        alice = chat.customer("张三")
        chat.client.put(  # the kinds a customer can switch off are all off
            f"{CHAT}/notice-preferences",
            headers=alice["headers"],
            json=dict.fromkeys(notices.NOTICE_KINDS, False),
        )
        answers = self.guess(chat, "198.51.100.7", alice["login_name"])
        assert [status for status, _ in answers] == [401, 401, 401, 401, 403]
        deliver(platform)
        (notice,) = notices_of(chat, alice)
        assert notice["kind"] == "security"
        assert notice["data"] == {
            "event": "login_locked",
            "source": "198.51.*.*",
            "failures": 5,
            "locked_until": (clock.now() + timedelta(minutes=15)).isoformat(),
        }
        assert notice["title"] == "登录密码多次输错"
        assert "198.51.*.*" in notice["text"]
        assert "198.51.100" not in json.dumps(notice)
        assert "修改登录密码" in notice["text"]
        assert "change your password" in notice["en"]["text"]

        self.guess(chat, "203.0.113.9", alice["login_name"])  # another network, same hour
        deliver(platform)
        assert len(notices_of(chat, alice)) == 1

        clock.advance(timedelta(hours=1))
        assert self.guess(chat, "2001:db8:1:2::99", alice["login_name"])[-1][0] == 403
        deliver(platform)
        alice["headers"] = {"Authorization": f"Bearer {chat.login(alice['login_name'])}"}
        later = notices_of(chat, alice)[1:]
        assert [(n["data"]["source"], n["data"]["failures"]) for n in later] == [("2001:db8:*", 15)]

    def test_an_unknown_login_name_gets_the_same_answers_and_nobody_is_told(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice = chat.customer("张三")
        known = self.guess(chat, "198.51.100.7", alice["login_name"])
        with platform.transaction() as session:
            recorded = session.execute(text("SELECT count(*) FROM outbox_event")).scalar_one()
        unknown = self.guess(chat, "198.51.100.7", "13900009999")
        assert unknown == known
        with platform.transaction() as session:
            assert session.execute(text("SELECT count(*) FROM outbox_event")).scalar() == recorded


class TestFailures:
    def test_a_notice_that_cannot_be_delivered_holds_up_no_other(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        with platform.transaction() as session:
            refund = {"amount": 100, "currency": "CNY", "merchant": "店", "source": "refund"}
            for who, payload in ((alice, {}), (bob, refund)):  # alice's has no text
                session.execute(
                    text(
                        "INSERT INTO chat_push_delivery (customer_id, kind, event_key, "
                        "payload, created_at) VALUES (:c, 'money_received', 'k' || :c, "
                        "CAST(:p AS jsonb), now())"
                    ),
                    {"c": who["customer_id"], "p": json.dumps(payload)},
                )
        assert deliver(platform).sent == 1
        assert notices_of(chat, bob)[0]["data"]["amount"] == "1.00"
        for _ in range(MAX_ATTEMPTS - 1):
            assert deliver(platform).failed == 1
        with platform.transaction() as session:
            status = session.execute(
                text("SELECT status, attempts FROM chat_push_delivery WHERE customer_id = :c"),
                {"c": alice["customer_id"]},
            ).one()
        assert tuple(status) == ("failed", MAX_ATTEMPTS)
        assert deliver(platform).failed == 0
        assert notices_of(chat, alice) == []


def record_transfers(platform: Platform, pairs: list[tuple[Any, Any]], first: int) -> None:
    """One transfer event each (payer, payee), as the money path records it."""
    with platform.transaction() as session:
        for n, (payer, payee) in enumerate(pairs, start=first):
            outbox.record(
                session,
                TransferMade(
                    entry_id=n,
                    payer_customer_id=payer["customer_id"],
                    payer_account_id=1,
                    payee_customer_id=payee["customer_id"],
                    payee_account_id=2,
                    payee_account_tail=payee["account"]["number"][-4:],
                    amount=n,
                    currency="CNY",
                    occurred_at=platform.clock.now(),
                ),
            )


class TestBatches:
    def test_a_batch_costs_the_same_statements_whatever_its_size_and_keeps_order(
        self, chat: Chat, platform: Platform
    ) -> None:
        people = [chat.customer(name) for name in ("张三", "李雷", "韩梅")]
        ring = [(people[n % 3], people[(n + 1) % 3]) for n in range(30)]
        record_transfers(platform, ring[:3], first=1)
        assert deliver(platform).sent == 3  # the notice boxes opened
        spent = []
        for size, first in ((3, 100), (30, 200)):
            record_transfers(platform, ring[:size], first=first)
            with counting() as tally:
                assert deliver(platform).sent == size
            spent.append(tally.statements)
        assert spent[0] == spent[1] <= 16
        for who in people:  # each box: its notices in the order they came, seq by seq
            got = notices_of(chat, who)
            assert len(got) == 1 + 1 + 10
            assert [n["seq"] for n in got] == list(range(1, 13))
            amounts = [int(n["data"]["amount"].replace(".", "")) for n in got]
            assert amounts == sorted(amounts)
        with platform.transaction() as session:
            unmatched = session.execute(
                text(
                    "SELECT count(*) FROM chat_push_delivery d LEFT JOIN chat_message m "
                    "ON m.conversation_id = d.conversation_id AND m.seq = d.seq "
                    "AND m.client_id = 'push:' || d.id WHERE m.seq IS NULL"
                )
            ).scalar_one()
        assert unmatched == 0  # each delivery names its own message

    def test_a_notice_the_database_refuses_holds_up_no_other_in_its_batch(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice, bob, carol = (chat.customer(name) for name in ("张三", "李雷", "韩梅"))
        with platform.transaction() as session:
            for n, (who, merchant) in enumerate(((bob, "店"), (alice, "店" * 3000), (carol, "铺"))):
                refund = {"amount": 100 + n, "currency": "CNY", "merchant": merchant}
                session.execute(
                    text(
                        "INSERT INTO chat_push_delivery (customer_id, kind, event_key, "
                        "payload, created_at) VALUES (:c, 'money_received', 'k' || :c, "
                        "CAST(:p AS jsonb), now())"
                    ),
                    {"c": who["customer_id"], "p": json.dumps(refund | {"source": "refund"})},
                )
        # alice's notice is too long for a message: the batch fails, then only hers.
        outcome = deliver(platform)
        assert (outcome.sent, outcome.failed) == (2, 1)
        assert [n["data"]["amount"] for n in notices_of(chat, bob)] == ["1.00"]
        assert [n["data"]["amount"] for n in notices_of(chat, carol)] == ["1.02"]
        assert notices_of(chat, alice) == []
        with platform.transaction() as session:
            left = session.execute(
                text("SELECT status, attempts FROM chat_push_delivery WHERE customer_id = :c"),
                {"c": alice["customer_id"]},
            ).one()
        assert tuple(left) == ("pending", 1)


@pytest.mark.parametrize("kind", notices.NOTICE_KINDS)
def test_every_kind_is_a_preference(chat: Chat, kind: str) -> None:
    alice = chat.customer()
    response = chat.client.put(
        f"{CHAT}/notice-preferences", headers=alice["headers"], json={kind: False}
    )
    assert response.json()[kind] is False


def test_a_notice_and_an_image_reach_a_connected_client_at_once(live_chat: Chat) -> None:
    """With real commits: the push job's notice and an upload are pushed over the
    WebSocket as they commit."""
    chat = live_chat
    alice, bob = chat.customer(), chat.customer("李雷")
    operations = chat.staff_member("ops", role="operations")
    conversation = chat.direct(alice, bob)
    with chat.client.websocket_connect(WS, headers=bob["headers"]) as ws:
        assert broadcast(chat, operations, segment="persons").status_code == 201
        chat.platform.deliver_push()
        pushed = next_of(ws, "message")["message"]
        assert pushed["kind"] == "notice"
        assert json.loads(pushed["body"])["title"] == "系统维护"
        sent = chat.client.post(
            f"{CHAT}/conversations/{conversation}/attachments",
            headers=alice["headers"],
            files={"file": ("a.webp", webp(), "image/webp")},
            data={"client_id": "i"},
        )
        assert sent.status_code == 201, sent.text
        image = next_of(ws, "message")["message"]
        assert (image["kind"], image["conversation_id"]) == ("image", conversation)
