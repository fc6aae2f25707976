"""Chat fan-out across API processes through PostgreSQL's LISTEN/NOTIFY, for a bank
that runs several processes (``rongbank up --workers N``) and no NATS server.

An event published in a process goes to that process's own sockets at once (as
with :class:`~rongbank.chat.bus.InProcessBus`), and to the others through one
notification channel of the bank's database: a thread sends what was published, a
batch to a transaction, on a connection of its own; another listens on a second
one and hands what the other processes sent to this one's subscribers. Every
process hears every event and keeps those its sockets want, which suits a few
processes on one database; NATS (``RONGBANK_NATS_URL``) subscribes per topic and is
for many.

Like NATS, PostgreSQL keeps nothing for a listener that is not there: a process
whose connection is cut misses what was sent meanwhile (it reconnects, and its
clients sync from their cursor), so pushes stay hints, never the record. A
notification carries at most 8000 bytes; a longer event (a 4,000-character message
in Chinese) goes in parts that the listeners put back together, parts of one
transaction arriving together and in order.
"""

from __future__ import annotations

import itertools
import logging
import queue
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
import psycopg

from rongbank.chat.bus import (
    Callback,
    Event,
    InProcessBus,
    LastEncoded,
    Push,
    Subscription,
)

logger = logging.getLogger(__name__)

Connect = Callable[[], psycopg.Connection[Any]]

CHANNEL = "rongbank_chat"
PART_CHARS = 1_900
"""Characters of an event's JSON per notification: at most 4 bytes each in UTF-8,
with the header well within PostgreSQL's 8000 bytes."""
BATCH = 500
"""Notifications sent in one transaction at most."""
LISTEN_WAIT_S = 0.5
"""How long the listener waits for notifications before it looks whether to stop."""
RECONNECT_WAIT_S = 1.0
PARTIAL_KEPT = 1_000
"""Events in parts waiting for the rest (parts lost to a reconnection are dropped)."""


class PostgresBus:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._local = InProcessBus()
        self._origin = secrets.token_hex(6)
        """Tells this process's own notifications apart, to deliver them once."""
        self._numbers = itertools.count()
        self._last = LastEncoded()
        self._encoding = threading.Lock()
        self._outbox: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._partial: OrderedDict[tuple[str, str], list[str | None]] = OrderedDict()
        # Listening before this returns: an event sent by any process after a
        # subscribe here reaches its subscriber.
        listening = self._listen()
        self._listener = threading.Thread(
            target=self._listen_forever, args=(listening,), name="chat-pg-listen", daemon=True
        )
        self._sender = threading.Thread(target=self._send_forever, name="chat-pg-send", daemon=True)
        self._listener.start()
        self._sender.start()

    def publish(self, topic: str, event: Event) -> None:
        try:
            with self._encoding:
                text = self._last.text_of(event)
        except TypeError:
            logger.exception("chat event on %s is not JSON; not published", topic)
            return
        self._local.deliver(topic, Push(event, text))
        if not self._closing.is_set():
            self._outbox.put((topic, text))

    def subscribe(self, topic: str, callback: Callback) -> Subscription:
        return self._local.subscribe(topic, callback)

    def close(self) -> None:
        """Send what is waiting, then stop both threads."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._outbox.put(None)
        self._sender.join()
        self._listener.join()

    # -- sending ------------------------------------------------------------------------

    def _payloads(self, topic: str, text: str) -> list[str]:
        number = next(self._numbers)
        parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
        return [
            f"{self._origin} {number} {n}/{len(parts)} {topic}\n{part}"
            for n, part in enumerate(parts, 1)
        ]

    def _send_forever(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        stopping = False
        while not stopping:
            first = self._outbox.get()
            batch = [] if first is None else [first]
            stopping = first is None
            while len(batch) < BATCH and not stopping:
                try:
                    item = self._outbox.get_nowait()
                except queue.Empty:
                    break
                stopping = item is None
                if item is not None:
                    batch.append(item)
            if not batch:
                continue
            payloads = [p for topic, text in batch for p in self._payloads(topic, text)]
            try:
                conn = conn or self._connect()
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.executemany("SELECT pg_notify(%s, %s)", [(CHANNEL, p) for p in payloads])
            except psycopg.Error as error:
                # Lost pushes, never messages: the clients sync when they reconnect.
                logger.warning("chat events not sent to other processes: %r", error)
                _close(conn)
                conn = None
        _close(conn)

    # -- listening ----------------------------------------------------------------------

    def _listen(self) -> psycopg.Connection[Any]:
        conn = self._connect()
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _listen_forever(self, conn: psycopg.Connection[Any] | None) -> None:
        while not self._closing.is_set():
            try:
                conn = conn or self._listen()
                for note in conn.notifies(timeout=LISTEN_WAIT_S):
                    self._heard(note.payload)
            except psycopg.Error as error:
                logger.warning("chat listener lost its connection; reconnecting: %r", error)
                _close(conn)
                conn = None
                self._closing.wait(RECONNECT_WAIT_S)
        _close(conn)

    def _heard(self, payload: str) -> None:
        try:
            header, part = payload.split("\n", 1)
            origin, number, of, topic = header.split(" ", 3)
            if origin == self._origin:
                return  # delivered here when it was published
            index, total = (int(n) for n in of.split("/"))
            text = part if total == 1 else self._joined(origin, number, index, total, part)
            if text is not None:
                self._local.deliver(topic, Push(orjson.loads(text), text))
        except ValueError:  # orjson's JSONDecodeError is one
            logger.warning("a chat notification that is not ours was ignored")

    def _joined(self, origin: str, number: str, index: int, total: int, part: str) -> str | None:
        key = (origin, number)
        parts = self._partial.setdefault(key, [None] * total)
        parts[index - 1] = part
        if any(p is None for p in parts):
            while len(self._partial) > PARTIAL_KEPT:
                self._partial.popitem(last=False)
            return None
        del self._partial[key]
        return "".join(p for p in parts if p is not None)


def _close(conn: psycopg.Connection[Any] | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except psycopg.Error:
            logger.debug("closing a chat bus connection failed", exc_info=True)
