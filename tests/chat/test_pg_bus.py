"""Chat fan-out through PostgreSQL's LISTEN/NOTIFY (``rongbank.chat.pg_bus``): what one
process publishes reaches the subscribers of every process once, in order, however
long; what one process publishes reaches its own subscribers without a round trip."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from rongbank.chat.bus import Push
from rongbank.chat.pg_bus import PostgresBus

WAIT_S = 30.0  # a guard against hanging, not a measurement


@pytest.fixture
def buses(fresh_db: str) -> Iterator[tuple[PostgresBus, PostgresBus]]:
    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(fresh_db, autocommit=True)

    one, other = PostgresBus(connect), PostgresBus(connect)
    try:
        yield one, other
    finally:
        one.close()
        other.close()


def heard(bus: PostgresBus, topic: str) -> queue.SimpleQueue[Push]:
    pushes: queue.SimpleQueue[Push] = queue.SimpleQueue()
    bus.subscribe(topic, pushes.put)
    return pushes


def test_an_event_reaches_every_process_once_and_in_order(
    buses: tuple[PostgresBus, PostgresBus],
) -> None:
    one, other = buses
    here, there = heard(one, "chat.customer.1"), heard(other, "chat.customer.1")
    elsewhere = heard(other, "chat.customer.2")
    for n in range(50):
        one.publish("chat.customer.1", {"type": "message", "seq": n, "body": "你好"})
    assert [here.get(timeout=WAIT_S).event["seq"] for _ in range(50)] == list(range(50))
    assert [there.get(timeout=WAIT_S).event["seq"] for _ in range(50)] == list(range(50))
    one.publish("chat.customer.2", {"type": "typing"})  # the next one there
    assert elsewhere.get(timeout=WAIT_S).event == {"type": "typing"}
    assert here.empty()  # each once
    assert there.empty()


def test_an_event_longer_than_a_notification_arrives_whole(
    buses: tuple[PostgresBus, PostgresBus],
) -> None:
    one, other = buses
    there = heard(other, "chat.customer.7")
    body = "长" * 4_000  # 12,000 bytes of JSON: PostgreSQL takes 8,000 a notification
    one.publish("chat.customer.7", {"type": "message", "body": body})
    one.publish("chat.customer.7", {"type": "message", "body": "短"})
    push = there.get(timeout=WAIT_S)
    assert push.event["body"] == body
    assert push.text == '{"type":"message","body":"' + body + '"}'
    assert there.get(timeout=WAIT_S).event["body"] == "短"


def test_a_subscriber_in_the_publishing_process_hears_it_at_once(
    buses: tuple[PostgresBus, PostgresBus],
) -> None:
    one, _ = buses
    here = heard(one, "chat.staff.3")
    one.publish("chat.staff.3", {"type": "assigned"})
    assert here.get_nowait().event == {"type": "assigned"}  # before any notification


def test_what_is_published_before_close_is_sent(fresh_db: str) -> None:
    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(fresh_db, autocommit=True)

    listener = PostgresBus(connect)
    try:
        there = heard(listener, "chat.customer.9")
        closing = PostgresBus(connect)
        for n in range(200):
            closing.publish("chat.customer.9", {"n": n})
        closing.close()
        assert [there.get(timeout=WAIT_S).event["n"] for _ in range(200)] == list(range(200))
    finally:
        listener.close()
