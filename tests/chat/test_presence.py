"""Presence shared by several gateways: two :class:`ChatService` instances (two
gateway processes' worth) over one database, and two real gateways over NATS."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketDisconnect

from rongbank.chat.presence import OpenHere
from rongbank.chat.service import CUSTOMER, STAFF, ChatService, Member
from rongbank.clock import FrozenClock
from rongbank.db import advisory_key, advisory_lock
from rongbank.platform import Platform
from tests.chat import test_nats
from tests.chat.conftest import CHAT, Chat
from tests.chat.test_realtime_and_desk import WS, next_of
from tests.support.bus import RecordingBus

# The real gateways of the NATS tests.
nats_url = test_nats.nats_url
gateways = test_nats.gateways
people = test_nats.people


class Gateways:
    """Two gateways over the test's database: the platform's chat service and a
    second one, as another process would have, sharing one bus."""

    def __init__(self, platform: Platform, chat: Chat) -> None:
        self.platform = platform
        self.bus = RecordingBus()
        self.one = platform.chat
        self.one.bus = self.bus
        self.other = ChatService(platform.clock, self.bus, platform.chat.config)
        self.alice, self.bob = chat.customer(), chat.customer("李雷")
        self.conversation = chat.direct(self.alice, self.bob)
        self.a = Member(CUSTOMER, self.alice["customer_id"])
        self.b = Member(CUSTOMER, self.bob["customer_id"])

    def run(
        self, action: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> list[tuple[int, int, bool]]:
        """Run a presence change in a transaction of its own; the presence events it
        published, as (addressee id, member id, online)."""
        events = self.bus.recorded()
        with self.platform.transaction() as session:
            action(session, *args, **kwargs)
        return [
            (int(name.rsplit(".", 1)[1]), e["member"]["id"], e["online"])
            for name, e in events
            if e["type"] == "presence"
        ]

    def online(self, gateway: ChatService, member: Member) -> bool:
        """Whether ``member`` is online in the member list, asked of ``gateway``."""
        with self.platform.transaction() as session:
            listed = gateway.members(session, self.b, self.conversation)
        return next(m.online for m in listed if m.id == member.id)

    def rows(self) -> int:
        with self.platform.transaction() as session:
            return int(session.execute(text("SELECT count(*) FROM chat_presence")).scalar_one())

    def counts(self) -> dict[tuple[int, str], int]:
        """Connections per (member id, gateway: one or other)."""
        names = {self.one.gateway_id: "one", self.other.gateway_id: "other"}
        with self.platform.transaction() as session:
            rows = session.execute(
                text("SELECT member_id, gateway_id, connections FROM chat_presence")
            ).all()
        return {(int(m), names[g]): int(n) for m, g, n in rows}

    def fail_disconnect(self, gateway: ChatService, member: Member) -> None:
        """A disconnect whose transaction fails (the database errs as it commits):
        what it wrote is rolled back."""

        def disconnect_and_fail(session: Session) -> None:
            gateway.disconnected(session, member)
            session.execute(text("SELECT 1 / 0"))

        with pytest.raises(DataError):
            self.run(disconnect_and_fail)


@pytest.fixture
def two(platform: Platform, chat: Chat) -> Gateways:
    return Gateways(platform, chat)


class TestAcrossGateways:
    def test_online_with_the_first_connection_anywhere_offline_with_the_last(
        self, two: Gateways
    ) -> None:
        alice, bob = two.a.id, two.b.id
        assert two.run(two.one.connected, two.a) == [(bob, alice, True)]
        assert two.run(two.other.connected, two.a) == []
        assert two.online(two.one, two.a)
        assert two.online(two.other, two.a)

        assert two.run(two.one.disconnected, two.a) == []
        # Asked of the gateway she left: still online, by her other connection.
        assert two.online(two.one, two.a)

        assert two.run(two.other.disconnected, two.a) == [(bob, alice, False)]
        assert not two.online(two.one, two.a)
        assert not two.online(two.other, two.a)
        assert two.rows() == 0

    def test_two_connections_to_one_gateway_are_two(self, two: Gateways) -> None:
        assert two.run(two.one.connected, two.a) == [(two.b.id, two.a.id, True)]
        assert two.run(two.one.connected, two.a) == []
        assert two.run(two.one.disconnected, two.a) == []
        assert two.online(two.other, two.a)
        assert two.run(two.one.disconnected, two.a) == [(two.b.id, two.a.id, False)]

    def test_hidden_presence_is_never_announced_nor_listed(self, two: Gateways) -> None:
        alice, bob = two.a.id, two.b.id
        assert two.run(two.one.set_presence_visible, two.a, visible=False) == []
        assert two.run(two.one.connected, two.a) == []
        assert two.run(two.other.connected, two.a) == []
        assert not two.online(two.one, two.a)
        # Shown again while connected (to either gateway): announced by whichever.
        assert two.run(two.one.set_presence_visible, two.a, visible=True) == [(bob, alice, True)]
        assert two.online(two.other, two.a)
        assert two.run(two.one.disconnected, two.a) == []
        assert two.run(two.other.set_presence_visible, two.a, visible=False) == [
            (bob, alice, False)
        ]
        assert two.run(two.other.disconnected, two.a) == []

    def test_showing_presence_while_connected_nowhere_announces_nothing(
        self, two: Gateways
    ) -> None:
        assert two.run(two.one.set_presence_visible, two.a, visible=False) == []
        assert two.run(two.one.set_presence_visible, two.a, visible=True) == []


def test_gateways_racing_on_one_member_announce_each_change_once(live_chat: Chat) -> None:
    """Both gateways connect her at once, then both disconnect her at once: each
    round must tell bob exactly once that she came and once that she went."""
    two = Gateways(live_chat.platform, live_chat)
    rounds = 15
    together = threading.Barrier(2)
    told: list[tuple[int, int, bool]] = []

    def gateway(service: ChatService) -> None:
        for _ in range(rounds):
            for change in (service.connected, service.disconnected):
                together.wait(timeout=30)
                told.extend(two.run(change, two.a))

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(gateway, g) for g in (two.one, two.other)]:
            done.result()
    assert sorted(told) == sorted(
        [(two.b.id, two.a.id, True), (two.b.id, two.a.id, False)] * rounds
    )
    assert two.rows() == 0


class TestDeadGateways:
    def test_a_gateway_that_renews_its_lease_keeps_counting(
        self, two: Gateways, clock: FrozenClock
    ) -> None:
        two.run(two.one.connected, two.a)
        lease = two.one.config.presence_lease
        for _ in range(3):
            clock.advance(lease * 2 / 3)
            two.run(two.one.renew_lease)
        assert two.online(two.other, two.a)

    def test_the_connections_of_a_gateway_whose_lease_ran_out_do_not_count(
        self, two: Gateways, clock: FrozenClock
    ) -> None:
        two.run(two.one.connected, two.a)
        clock.advance(two.one.config.presence_lease)
        two.run(two.other.renew_lease)
        assert not two.online(two.other, two.a)
        # Reconnecting to a live gateway announces her again.
        assert two.run(two.other.connected, two.a) == [(two.b.id, two.a.id, True)]
        assert two.online(two.other, two.a)

    def test_a_live_gateway_sweeps_a_dead_ones_rows_announcing_who_left(
        self, two: Gateways, chat: Chat, clock: FrozenClock
    ) -> None:
        carol = chat.customer("韩梅梅")
        chat.direct(carol, two.alice)
        c = Member(CUSTOMER, carol["customer_id"])
        for member in (two.a, c):
            two.run(two.one.connected, member)
        two.run(two.other.connected, two.b)
        two.run(two.one.connected, two.b)  # also on the live gateway
        clock.advance(two.one.config.presence_lease)
        two.run(two.other.renew_lease)

        # A batch at a time: alice first (members in order), the gateway kept.
        swept = two.run(two.other.sweep_presence, limit=1)
        assert sorted(swept) == [(two.b.id, two.a.id, False), (c.id, two.a.id, False)]
        assert two.rows() == 3
        # Then bob, whom the live gateway still holds: nothing to say.
        assert two.run(two.other.sweep_presence, limit=1) == []
        # Then carol, with no contact connected and every contact told all the same.
        assert two.run(two.other.sweep_presence, limit=1) == [(two.a.id, c.id, False)]
        assert two.run(two.other.sweep_presence, limit=1) == []
        with two.platform.transaction() as session:
            left = session.execute(text("SELECT id FROM chat_gateway")).scalars().all()
        assert left == [two.other.gateway_id]
        assert two.online(two.other, two.b)
        assert two.rows() == 1

        # The sweeper's own lease is never its business; with nothing dead, it stops.
        with two.platform.transaction() as session:
            assert not two.other.sweep_presence(session)

    def test_a_disconnect_after_the_sweep_tells_no_one_twice(
        self, two: Gateways, clock: FrozenClock
    ) -> None:
        two.run(two.one.connected, two.a)
        clock.advance(two.one.config.presence_lease)
        two.run(two.other.renew_lease)
        assert two.run(two.other.sweep_presence) == [(two.b.id, two.a.id, False)]
        # The dead gateway was only cut off: its connection closes later and finds
        # its row gone; it announces her offline again, which is still true.
        assert two.run(two.one.disconnected, two.a) == [(two.b.id, two.a.id, False)]
        assert two.rows() == 0

    def test_the_platform_job_renews_and_sweeps(
        self, two: Gateways, platform: Platform, clock: FrozenClock
    ) -> None:
        two.run(two.other.connected, two.a)
        clock.advance(two.one.config.presence_lease)
        platform.keep_presence()
        assert two.rows() == 0
        assert not two.online(two.one, two.a)
        with platform.transaction() as session:
            gateways = session.execute(text("SELECT id FROM chat_gateway")).scalars().all()
        assert gateways == [platform.chat.gateway_id]


def sockets(
    counted: dict[Member, int] | None = None, changing: tuple[Member, ...] = ()
) -> Callable[[], OpenHere]:
    """What a gateway says of its open sockets."""
    return lambda: OpenHere(counted or {}, frozenset(changing))


class TestReconcilingWithTheSockets:
    def test_a_count_left_by_a_failed_disconnect_is_put_right_by_the_next_renewal(
        self, two: Gateways
    ) -> None:
        alice, bob = two.a.id, two.b.id
        two.run(two.one.connected, two.a)
        two.fail_disconnect(two.one, two.a)
        assert two.online(two.other, two.a)  # wrongly: she has no socket left

        assert two.run(two.one.reconcile_presence, sockets()) == [(bob, alice, False)]
        assert not two.online(two.other, two.a)
        assert two.rows() == 0
        # Nothing more to put right, nor to say.
        assert two.run(two.one.reconcile_presence, sockets()) == []

    def test_one_of_two_sockets_failing_to_disconnect_leaves_her_online_with_one(
        self, two: Gateways
    ) -> None:
        alice, bob = two.a.id, two.b.id
        for _ in range(2):
            two.run(two.one.connected, two.a)
        two.fail_disconnect(two.one, two.a)
        assert two.counts() == {(alice, "one"): 2}

        assert two.run(two.one.reconcile_presence, sockets({two.a: 1})) == []
        assert two.counts() == {(alice, "one"): 1}
        # So that closing her last socket announces her offline.
        assert two.run(two.one.disconnected, two.a) == [(bob, alice, False)]

    def test_connections_elsewhere_keep_her_online(self, two: Gateways) -> None:
        two.run(two.one.connected, two.a)
        two.run(two.other.connected, two.a)
        two.fail_disconnect(two.one, two.a)
        assert two.run(two.one.reconcile_presence, sockets()) == []
        assert two.counts() == {(two.a.id, "other"): 1}
        assert two.online(two.one, two.a)

    def test_only_this_gateways_rows_of_settled_members_are_touched(self, two: Gateways) -> None:
        two.run(two.one.connected, two.a)
        two.run(two.one.connected, two.b)
        two.run(two.other.connected, two.b)
        # Bob's socket here is closing: his disconnect, under way, will count it.
        assert two.run(two.one.reconcile_presence, sockets({two.a: 1}, (two.b,))) == []
        assert two.counts() == {(two.a.id, "one"): 1, (two.b.id, "one"): 1, (two.b.id, "other"): 1}

    def test_a_member_swept_while_the_gateway_was_cut_off_is_announced_again(
        self, two: Gateways, clock: FrozenClock
    ) -> None:
        alice, bob = two.a.id, two.b.id
        two.run(two.one.connected, two.a)
        clock.advance(two.one.config.presence_lease)
        two.run(two.other.renew_lease)
        assert two.run(two.other.sweep_presence) == [(bob, alice, False)]

        # Back in touch, her socket still open.
        two.run(two.one.renew_lease)
        assert two.run(two.one.reconcile_presence, sockets({two.a: 1})) == [(bob, alice, True)]
        assert two.counts() == {(alice, "one"): 1}
        assert two.online(two.other, two.a)

    def test_hidden_presence_is_put_right_without_a_word(self, two: Gateways) -> None:
        two.run(two.one.set_presence_visible, two.a, visible=False)
        two.run(two.one.connected, two.a)
        two.fail_disconnect(two.one, two.a)
        assert two.run(two.one.reconcile_presence, sockets()) == []
        assert two.rows() == 0

    def test_the_platform_job_reconciles_with_the_gateways_sockets(
        self, two: Gateways, platform: Platform
    ) -> None:
        two.run(two.one.connected, two.a)
        two.run(two.one.connected, two.b)
        two.fail_disconnect(two.one, two.a)
        platform.chat.open_here = sockets({two.b: 1})
        platform.keep_presence()
        assert two.counts() == {(two.b.id, "one"): 1}

    def test_the_job_reconciles_when_given_cause_else_every_so_often(
        self, two: Gateways, platform: Platform, clock: FrozenClock
    ) -> None:
        chat = platform.chat
        chat.open_here = sockets()
        platform.keep_presence()  # a gateway's first renewal always reconciles
        two.run(two.one.connected, two.a)  # a row no socket of this gateway stands behind
        platform.keep_presence()
        assert two.counts() == {(two.a.id, "one"): 1}  # nothing gave cause
        chat.presence_suspect = True  # as the gateway does when a disconnect fails
        platform.keep_presence()
        assert two.counts() == {}
        two.run(two.one.connected, two.a)
        renewal = chat.config.presence_lease / 3
        waited = renewal
        while waited < chat.config.presence_recheck:
            clock.advance(renewal)
            platform.keep_presence()
            assert two.counts() == {(two.a.id, "one"): 1}
            waited += renewal
        clock.advance(renewal)
        platform.keep_presence()
        assert two.counts() == {}

    def test_a_lease_found_lapsed_makes_the_rows_suspect(
        self, two: Gateways, platform: Platform, clock: FrozenClock
    ) -> None:
        chat = platform.chat
        chat.open_here = sockets({two.a: 1})
        platform.keep_presence()
        assert not chat.presence_suspect
        clock.advance(chat.config.presence_lease)  # cut off for a whole lease
        with platform.transaction() as session:
            chat.renew_lease(session)
        assert chat.presence_suspect


@pytest.mark.parametrize("another_socket", [False, True])
def test_renewals_racing_connects_and_disconnects_put_nothing_wrong(
    live_chat: Chat, another_socket: bool
) -> None:
    """One thread opens and closes a socket of alice's, keeping the books as the
    gateway does; another reconciles all the while. With nothing failing, the
    renewals must never change a count nor announce anything."""
    two = Gateways(live_chat.platform, live_chat)
    books = threading.Lock()
    counted: Counter[Member] = Counter()
    changing: Counter[Member] = Counter()

    def here() -> OpenHere:
        with books:
            return OpenHere(Counter(counted), frozenset(+changing))

    def keep(member: Member, counted_by: int, changing_by: int) -> None:
        with books:
            counted[member] += counted_by
            changing[member] += changing_by

    told: list[tuple[int, int, bool]] = []
    if another_socket:
        told += two.run(two.one.connected, two.a)
        keep(two.a, 1, 0)
    done = threading.Event()
    rounds = 25

    def sockets() -> None:
        try:
            for _ in range(rounds):
                keep(two.a, 0, 1)  # opening
                told.extend(two.run(two.one.connected, two.a))
                keep(two.a, 1, -1)
                keep(two.a, -1, 1)  # closing
                told.extend(two.run(two.one.disconnected, two.a))
                keep(two.a, 0, -1)
        finally:
            done.set()

    def renewals() -> int:
        runs = 0
        while not done.is_set() or runs == 0:
            told.extend(two.run(two.one.reconcile_presence, here))
            runs += 1
        return runs

    with ThreadPoolExecutor(2) as pool:
        socket_thread, renewal_thread = pool.submit(sockets), pool.submit(renewals)
        socket_thread.result()
        assert renewal_thread.result() > 0
    online, offline = (two.b.id, two.a.id, True), (two.b.id, two.a.id, False)
    assert told == ([online] if another_socket else [online, offline] * rounds)
    assert two.counts() == ({(two.a.id, "one"): 1} if another_socket else {})


def test_a_gateway_whose_disconnect_failed_announces_offline_at_its_renewal(
    live_chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real gateway: its socket closes as the database fails; its next lease
    renewal finds the socket gone and tells bob."""
    chat, platform = live_chat, live_chat.platform
    alice, bob = chat.customer(), chat.customer("李雷")
    chat.direct(alice, bob)
    real = platform.chat.disconnected
    failed = threading.Event()

    def disconnect_and_fail(session: Session, member: Member) -> None:
        real(session, member)
        if member.id == alice["customer_id"]:
            failed.set()
            session.execute(text("SELECT 1 / 0"))

    def alices_rows() -> int:
        with platform.transaction() as session:
            return int(
                session.execute(
                    text("SELECT count(*) FROM chat_presence WHERE member_id = :m"),
                    {"m": alice["customer_id"]},
                ).scalar_one()
            )

    with chat.client.websocket_connect(WS, headers=bob["headers"]) as bob_ws:
        with ExitStack() as hers:
            alice_ws = hers.enter_context(
                chat.client.websocket_connect(WS, headers=alice["headers"])
            )
            assert next_of(bob_ws, "presence")["online"] is True
            platform.keep_presence()  # reconciled: only a failure gives cause again
            assert not platform.chat.presence_suspect
            monkeypatch.setattr(platform.chat, "disconnected", disconnect_and_fail)
            # The gateway closes her socket itself (her login ended), so that it
            # runs her disconnect to its end.
            with platform.transaction() as session:
                platform.auth.logout(session, alice["token"])
            alice_ws.send_json({"type": "sync", "id": "s"})
            with pytest.raises(WebSocketDisconnect):
                next_of(alice_ws, "the close")  # after any presence of bob's
            here = platform.chat.open_here
            assert here is not None
            test_nats._wait_until(lambda: failed.is_set() and not here().changing, "her disconnect")
            assert here().counted == {Member(CUSTOMER, bob["customer_id"]): 1}
            assert alices_rows() == 1  # the disconnect rolled back
            with pytest.raises(DataError):  # the gateway's, as the test client hands it on
                hers.close()
            assert platform.chat.presence_suspect

        platform.keep_presence()
        assert alices_rows() == 0
        offline = next_of(bob_ws, "presence")
        assert (offline["member"]["id"], offline["online"]) == (alice["customer_id"], False)


class TestLargeIds:
    BIG = 2**40 + 7

    def test_presence_works_for_ids_beyond_32_bits(self, two: Gateways) -> None:
        big = Member(CUSTOMER, self.BIG)
        staff = Member(STAFF, 2**62 + 1)
        for member in (big, staff):
            two.run(two.one.connected, member)
            two.run(two.other.connected, member)
        two.fail_disconnect(two.one, big)
        two.run(two.one.reconcile_presence, sockets({staff: 1}))
        assert two.counts() == {
            (self.BIG, "other"): 1,
            (staff.id, "one"): 1,
            (staff.id, "other"): 1,
        }
        two.run(two.other.disconnected, big)
        assert (self.BIG, "other") not in two.counts()

    @pytest.mark.parametrize(
        ("held", "wanted", "waits"),
        [
            (BIG, BIG, True),
            (BIG, BIG + 1, False),
            (2**31, 2**31, True),
            (2**31, 0, False),
            (2**63 - 1, 2**63 - 1, True),
            (2**63 - 1, 2**31 - 1, False),
            (5, 5, True),
            (5, 6, False),
        ],
    )
    def test_a_lock_on_any_bigint_id_excludes_that_id(
        self, session: Session, engine: Engine, held: int, wanted: int, waits: bool
    ) -> None:
        advisory_lock(session, "wealth_buy", held)
        with engine.connect() as other:
            taken = other.execute(
                text(f"SELECT pg_try_advisory_xact_lock({advisory_key(':n', ':k')})"),
                {"n": "wealth_buy", "k": wanted},
            ).scalar_one()
            other.rollback()
        assert taken is not waits

    def test_ids_below_2_31_keep_the_lock_they_always_had(self, session: Session) -> None:
        # Processes of the previous version keep serialising with these.
        key = session.execute(
            text(f"SELECT ROW({advisory_key(':n', ':k')})::text"), {"n": "auth_usage", "k": 123}
        ).scalar_one()
        old = session.execute(text("SELECT ROW(hashtext('auth_usage'), 123)::text")).scalar_one()
        assert key == old

    def test_another_namespace_does_not_wait(self, session: Session, engine: Engine) -> None:
        advisory_lock(session, "wealth_buy", self.BIG)
        with engine.connect() as other:
            taken = other.execute(
                text(f"SELECT pg_try_advisory_xact_lock({advisory_key(':n', ':k')})"),
                {"n": "wealth_redeem", "k": self.BIG},
            ).scalar_one()
            other.rollback()
        assert taken


@pytest.mark.skipif(test_nats.NATS_SERVER is None, reason="nats-server is not installed")
def test_two_gateways_announce_a_member_once_and_offline_with_the_last_connection(
    gateways: list[test_nats.Gateway], people: Chat
) -> None:
    one, other = gateways
    alice, bob = people.customer(), people.customer("李雷")
    conversation = people.direct(alice, bob)
    platform = people.platform

    def alices_gateways() -> set[Any]:
        with platform.transaction() as session:
            rows = session.execute(
                text("SELECT gateway_id FROM chat_presence WHERE member_id = :m"),
                {"m": alice["customer_id"]},
            )
            return set(rows.scalars())

    def alice_online() -> bool:
        members = people.client.get(
            f"{CHAT}/conversations/{conversation}/members", headers=bob["headers"]
        ).json()
        return next(bool(m["online"]) for m in members if m["id"] == alice["customer_id"])

    with ExitStack() as sockets:
        bob_ws = one.connect(bob, sockets)
        on_one = one.connect(alice, sockets)
        assert bob_ws.next("presence")["online"] is True
        on_other = other.connect(alice, sockets)
        # Sent from the second gateway, after any presence it published for her.
        on_other.ask(test_nats._send(conversation, "a1", "两台都在"), "s1")
        assert bob_ws.message(1)["body"] == "两台都在"

        on_one.ws.close()
        test_nats._wait_until(
            lambda: alices_gateways() == {other.platform.chat.gateway_id}, "the disconnect"
        )
        assert alice_online()  # asked of the gateway she left

        on_other.ws.close()
        assert bob_ws.next("presence")["online"] is False
        assert not alice_online()

        # Published by the first gateway after anything its earlier disconnect sent.
        one.connect(alice, sockets)
        assert bob_ws.next("presence")["online"] is True
        announced = [
            e["online"]
            for e in bob_ws.seen
            if e["type"] == "presence" and e["member"]["id"] == alice["customer_id"]
        ]
        assert announced == [True, False, True]
