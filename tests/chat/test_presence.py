"""Presence shared by several gateways: two :class:`ChatService` instances (two
gateway processes' worth) over one database, and two real gateways over NATS."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import pytest
from sqlalchemy import text

from rongbank.chat.bus import take_events
from rongbank.chat.service import CUSTOMER, ChatService, Member
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.chat import test_nats
from tests.chat.conftest import CHAT, Chat

# The real gateways of the NATS tests.
nats_url = test_nats.nats_url
gateways = test_nats.gateways
people = test_nats.people


class Gateways:
    """Two gateways over the test's database: the platform's chat service and a
    second one, as another process would have."""

    def __init__(self, platform: Platform, chat: Chat) -> None:
        self.platform = platform
        self.one = platform.chat
        self.other = ChatService(platform.clock, platform.chat.bus, platform.chat.config)
        self.alice, self.bob = chat.customer(), chat.customer("李雷")
        self.conversation = chat.direct(self.alice, self.bob)
        self.a = Member(CUSTOMER, self.alice["customer_id"])
        self.b = Member(CUSTOMER, self.bob["customer_id"])

    def run(
        self, action: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> list[tuple[int, int, bool]]:
        """Run a presence change in a transaction of its own; the presence events it
        queued, as (addressee id, member id, online)."""
        with self.platform.transaction() as session:
            action(session, *args, **kwargs)
            events = take_events(session)
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
