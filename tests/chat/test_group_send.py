"""Many senders' messages appended in one transaction (the gateway's group commit):
each request gets the outcome it would get alone, the logs stay gapless and chained."""

from __future__ import annotations

from concurrent.futures import Future

from rongbank.accounts.rules import luhn_check_digit
from rongbank.auth.service import PrincipalKind
from rongbank.chat.committer import GatewaySend
from rongbank.chat.committer import Outcome as SendOutcome
from rongbank.chat.errors import Blocked, ConversationNotFound, MessageEmpty, RateLimited
from rongbank.chat.sending import SendRequest, Sent
from rongbank.chat.service import CUSTOMER, Member
from rongbank.platform import Platform
from tests.chat.conftest import CHAT, Chat


def _member(person: dict[str, object]) -> Member:
    return Member(CUSTOMER, int(person["customer_id"]))  # type: ignore[call-overload]


def test_one_batch_gives_each_sender_their_own_outcome(chat: Chat, platform: Platform) -> None:
    names = ("张三", "李雷", "韩梅", "王五", "赵六")
    alice, bob, carol, dave, eve = (chat.customer(n) for n in names)
    ab, cd, ae = chat.direct(alice, bob), chat.direct(carol, dave), chat.direct(alice, eve)
    assert chat.send(alice, ab, "stored before", "old").status_code == 201
    blocked = chat.client.post(
        f"{CHAT}/blocks", headers=eve["headers"], json={"customer_id": alice["customer_id"]}
    )
    assert blocked.status_code == 204
    a, b, c = _member(alice), _member(bob), _member(carol)
    card = "622202123456789012"
    card += luhn_check_digit(card)
    with platform.transaction() as session:
        outcomes = platform.chat.send_many(
            session,
            [
                SendRequest(a, ab, "a1", "one"),
                SendRequest(b, ab, "b1", "two", reply_to=1),
                SendRequest(c, cd, "c1", f"卡号 {card} 别告诉别人"),
                SendRequest(c, ab, "c2", "not my conversation"),
                SendRequest(a, ab, "old", "a resend"),
                SendRequest(a, ab, "a1", "the same message twice in the batch"),
                SendRequest(b, ab, "b2", "   "),
                SendRequest(a, ae, "a2", "blocked"),
                SendRequest(a, ab, "a3", "three"),
            ],
        )
    sent = [o for o in outcomes if isinstance(o, Sent)]
    assert [(o.message.conversation_id, o.message.seq, o.created) for o in sent] == [
        (ab, 2, True),
        (ab, 3, True),
        (cd, 1, True),
        (ab, 1, False),
        (ab, 2, False),
        (ab, 4, True),
    ]
    assert sent[2].masked == ("card_number",)
    assert card not in sent[2].message.body
    assert sent[4].message == sent[0].message
    refused = [type(o) for o in outcomes if not isinstance(o, Sent)]
    assert refused == [ConversationNotFound, MessageEmpty, Blocked]
    assert [m["body"] for m in chat.history(bob, ab)] == ["stored before", "one", "two", "three"]
    assert chat.history(eve, ae) == []
    with platform.transaction() as session:
        assert platform.chat.verify(session, ab) == []
        assert platform.chat.verify(session, cd) == []
        # What one sends one has read; the other side has not read it yet.
        summary = platform.chat.membership(session, a, ab)
        assert (summary.last_read_seq, summary.unread) == (4, 0)
        assert platform.chat.membership(session, b, ab).last_read_seq == 3


def test_the_rate_limit_counts_every_message_of_a_batch(chat: Chat, platform: Platform) -> None:
    alice, bob = chat.customer(), chat.customer("李雷")
    conversation = chat.direct(alice, bob)
    burst = int(platform.chat.config.rate_burst)
    a = _member(alice)
    with platform.transaction() as session:
        outcomes = platform.chat.send_many(
            session, [SendRequest(a, conversation, f"r{i}", "x") for i in range(burst + 2)]
        )
    assert [isinstance(o, Sent) for o in outcomes] == [True] * burst + [False, False]
    assert all(isinstance(o, RateLimited) for o in outcomes[burst:])
    assert len(chat.history(bob, conversation)) == burst


def test_the_committer_answers_each_send_and_ends_logged_out_ones(live_chat: Chat) -> None:
    chat, platform = live_chat, live_chat.platform
    alice, bob = chat.customer(), chat.customer("李雷")
    conversation = chat.direct(alice, bob)
    gone = chat.customer("王五")
    with platform.transaction() as session:
        platform.auth.logout(session, gone["token"])
    a, g = _member(alice), _member(gone)
    futures: list[Future[list[SendOutcome]]] = [
        platform.chat_sends.submit_async(
            [
                GatewaySend(
                    alice["token"],
                    PrincipalKind.CUSTOMER,
                    SendRequest(a, conversation, f"m{i}", str(i)),
                )
            ]
        )
        for i in range(5)
    ]
    futures.append(
        platform.chat_sends.submit_async(
            [GatewaySend(gone["token"], None, SendRequest(g, conversation, "x", "logged out"))]
        )
    )
    # A token of someone else than the connection's member is not that member's login.
    futures.append(
        platform.chat_sends.submit_async(
            [GatewaySend(bob["token"], None, SendRequest(a, conversation, "y", "not bob"))]
        )
    )
    outcomes = [f.result(timeout=60)[0] for f in futures]
    bodies = [o.message.body for o in outcomes[:5] if isinstance(o, Sent)]
    assert sorted(bodies) == [str(i) for i in range(5)]
    assert outcomes[5:] == [None, None]
    # However they were batched, each of the five is stored once.
    assert sorted(m["body"] for m in chat.history(bob, conversation)) == bodies
