"""How chat events reach the connections that want them.

Services put events on the session (:func:`queue_event`) while they work; the
unit of work publishes them on the :class:`Bus` once it has committed
(:func:`rongbank.db.after_commit`), whatever the boundary, so that no one is told of
a message that was rolled back. A process that dies between commit and publish
loses only the push: the message is in the log, and every client catches up with
``sync`` when it reconnects, so the push is a hint, never the record.

One process uses :class:`InProcessBus`. Several API processes share a NATS server
(``RONGBANK_NATS_URL``) through :class:`NatsBus`, or, without one, the bank's
database (:class:`rongbank.chat.pg_bus.PostgresBus`, ``RONGBANK_CHAT_FANOUT=postgres``).
With NATS, every topic is a NATS subject (``rongbank.chat.customer.12``), so an event
published by the process that committed reaches the connections of every process.
NATS keeps nothing (core NATS, at most once): a gateway that stops, or a NATS outage,
costs pushes, never messages, which clients fetch with ``sync`` when they reconnect.

Presence events (came online, went offline) travel on the bus like any other event;
the count of a member's connections is in the database, shared by every gateway
(:meth:`rongbank.chat.service.ChatService.connected`): one row per gateway and
member, so that a member is announced online by their first connection anywhere
and offline by their last, and ``online`` in member lists is true while they are
connected to any gateway. Not in NATS: it keeps nothing (above). A gateway that
dies cannot take its rows with it, so each gateway holds a lease it renews every
third of its length (``ChatConfig.presence_lease``, 90 s), rows under a lapsed
lease do not count, and the next live gateway sweeps them away and announces
offline those connected nowhere else. The lease is one row per gateway rather
than a time on every member's row, so renewing it is one write however many are
connected. Connect and disconnect are each a lock and one statement; messages
cost nothing more. After each renewal the gateway makes its rows match the sockets
it has open (two statements however many): a disconnect whose transaction failed
would otherwise leave its member online until the lease lapsed, and a gateway cut
off from the database for longer than a lease, whose members were swept as
offline, counts and announces them again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import nats
import orjson
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from sqlalchemy.orm import Session

from rongbank.db import after_commit

logger = logging.getLogger(__name__)

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Push:
    """An event on its way to sockets, with its JSON text: encoded once per process,
    however many sockets it goes to."""

    event: Event
    text: str


Callback = Callable[[Push], None]


def encode(event: Event) -> str:
    """An event's JSON, compact and with Chinese as is (as a WebSocket text frame)."""
    try:
        return orjson.dumps(event).decode()
    except TypeError:
        # What orjson leaves to others: integers beyond 64 bits (a client's own
        # frame id, echoed back). Whatever is not JSON at all still raises.
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def topic(kind: str, member_id: int) -> str:
    """The topic of one user: every device they are connected from listens to it."""
    return f"chat.{kind}.{member_id}"


class Subscription(Protocol):
    def close(self) -> None: ...


class Bus(Protocol):
    def publish(self, topic: str, event: Event) -> None:
        """Deliver ``event`` to every current subscriber of ``topic``; never blocks on
        a slow subscriber."""
        ...

    def subscribe(self, topic: str, callback: Callback) -> Subscription:
        """Call ``callback`` (from any thread, and it must not block) with each event
        published on ``topic``, until the subscription is closed."""
        ...

    def close(self) -> None:
        """Stop delivering; events already published are sent first where possible."""
        ...


@dataclass
class _InProcessSubscription:
    bus: InProcessBus
    topic: str
    callback: Callback

    def close(self) -> None:
        self.bus._remove(self)


@dataclass
class LastEncoded:
    """The last event encoded and its text: a message is published to each of its
    members' topics in turn, so one event arrives several times in a row."""

    event: Event | None = None
    text: str = ""

    def text_of(self, event: Event) -> str:
        if event is not self.event:
            # Kept alive here, so ``is`` cannot match a new event at a reused address.
            self.event, self.text = event, encode(event)
        return self.text


@dataclass
class InProcessBus:
    """Fan-out inside one process."""

    _subscribers: dict[str, list[_InProcessSubscription]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last: LastEncoded = field(default_factory=LastEncoded)

    def publish(self, topic: str, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(topic, ()))
            if not subscribers:
                return
            try:
                push = Push(event, self._last.text_of(event))
            except TypeError:
                logger.exception("chat event on %s is not JSON; not published", topic)
                return
        self._deliver(topic, subscribers, push)

    def deliver(self, topic: str, push: Push) -> None:
        """Hand an event already encoded (one that came from another process) to
        this process's subscribers of ``topic``."""
        with self._lock:
            subscribers = list(self._subscribers.get(topic, ()))
        self._deliver(topic, subscribers, push)

    @staticmethod
    def _deliver(topic: str, subscribers: list[_InProcessSubscription], push: Push) -> None:
        for subscription in subscribers:
            try:
                subscription.callback(push)
            except Exception:
                # One broken connection must not stop delivery to the others.
                logger.exception("chat subscriber on %s failed", topic)

    def subscribe(self, topic: str, callback: Callback) -> Subscription:
        subscription = _InProcessSubscription(self, topic, callback)
        with self._lock:
            self._subscribers.setdefault(topic, []).append(subscription)
        return subscription

    def _remove(self, subscription: _InProcessSubscription) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscription.topic, [])
            if subscription in subscribers:
                subscribers.remove(subscription)
            if not subscribers:
                self._subscribers.pop(subscription.topic, None)

    def close(self) -> None:
        """Nothing to release: subscribers go with their connections."""


SUBJECT_PREFIX = "rongbank."
CONNECT_TIMEOUT_S = 10.0
SUBSCRIBE_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 10.0


@dataclass
class _NatsSubscription:
    bus: NatsBus
    subscription: NatsSubscription

    def close(self) -> None:
        self.bus._submit(self.subscription.unsubscribe(), "unsubscribe")


class NatsBus:
    """Fan-out across processes through a NATS server.

    nats-py is asyncio-only, while the bus is called from worker threads (after a
    commit) and from the servers' event loops, so the client lives on an event loop
    of its own in a daemon thread, and the methods hand it work thread-safely.
    """

    def __init__(self, url: str, *, name: str | None = None) -> None:
        self._closing = False
        self._last = LastEncoded()
        self._encoding = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="chat-nats", daemon=True
        )
        self._thread.start()
        connecting = asyncio.run_coroutine_threadsafe(
            nats.connect(
                url,
                name=name or f"rongbank-chat-{os.getpid()}",
                connect_timeout=int(CONNECT_TIMEOUT_S),
                # Keep trying for as long as the process runs: an outage of the
                # broker costs pushes, and clients resync once it is back.
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            ),
            self._loop,
        )
        try:
            self._client: NatsClient = connecting.result(CONNECT_TIMEOUT_S + 5)
        except BaseException:
            self._stop_loop()
            raise

    def publish(self, topic: str, event: Event) -> None:
        try:
            with self._encoding:
                data = self._last.text_of(event).encode()
        except TypeError:
            # Called after the commit: the caller must not fail for a push.
            logger.exception("chat event on %s is not JSON; not published", topic)
            return
        # Not waited for: the client only buffers it (and flushes in the background),
        # and calls are run in the order they are handed over.
        self._submit(self._client.publish(SUBJECT_PREFIX + topic, data), "publish")

    def subscribe(self, topic: str, callback: Callback) -> Subscription:
        """Waits until the server has the subscription, so that an event published
        anywhere after this returns reaches ``callback``. Blocking: call it from a
        worker thread, not from an event loop."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("NatsBus.subscribe would wait on its own event loop")

        async def deliver(message: Msg) -> None:
            try:
                # Passed on as it came: only read, never encoded again.
                callback(Push(orjson.loads(message.data), message.data.decode()))
            except Exception:
                logger.exception("chat subscriber on %s failed", topic)

        async def subscribe() -> NatsSubscription:
            subscription = await self._client.subscribe(SUBJECT_PREFIX + topic, cb=deliver)
            try:
                await self._client.flush(timeout=int(SUBSCRIBE_TIMEOUT_S))
            except Exception as error:
                # Disconnected: the client subscribes again when it reconnects, and
                # the connection's client resyncs in any case.
                logger.warning("chat subscription not confirmed by NATS: %r", error)
            return subscription

        future = asyncio.run_coroutine_threadsafe(subscribe(), self._loop)
        return _NatsSubscription(self, future.result(SUBSCRIBE_TIMEOUT_S + 5))

    def close(self) -> None:
        """Send what is buffered, then disconnect and stop the loop thread."""
        if not self._loop.is_running():
            return
        self._closing = True
        closing = asyncio.run_coroutine_threadsafe(self._client.drain(), self._loop)
        try:
            closing.result(CLOSE_TIMEOUT_S)
        except Exception as error:
            logger.warning("NATS chat bus did not drain: %r", error)
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLOSE_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()

    def _submit(self, work: Any, what: str) -> None:
        if self._loop.is_closed():
            work.close()  # never awaited: the bus is closed
            logger.warning("NATS chat bus closed; %s dropped", what)
            return
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        future.add_done_callback(lambda done: _log_failure(done, what))

    async def _on_error(self, error: Exception) -> None:
        logger.warning("NATS chat bus error: %r", error)

    async def _on_disconnected(self) -> None:
        if not self._closing:
            logger.warning("NATS chat bus disconnected; reconnecting")

    async def _on_reconnected(self) -> None:
        logger.info("NATS chat bus reconnected")


def _log_failure(done: Any, what: str) -> None:
    if not done.cancelled() and done.exception() is not None:
        logger.warning("NATS chat bus %s failed: %r", what, done.exception())


def queue_event(session: Session, bus: Bus, topic: str, event: Event) -> None:
    """Publish ``event`` on ``topic`` once ``session``'s unit of work commits (see
    :func:`rongbank.db.after_commit`): never if it, or the savepoint it was queued
    in, rolls back."""
    after_commit(session, partial(bus.publish, topic, event))
