"""How chat events reach the connections that want them.

Services put events on the session (:func:`queue_event`) while they work; the
boundary publishes them on the :class:`Bus` once the transaction has committed
(:func:`chat_transaction`), so that no one is told of a message that was rolled
back. A process that dies between commit and publish loses only the push: the
message is in the log, and every client catches up with ``sync`` when it
reconnects, so the push is a hint, never the record.

One process uses :class:`InProcessBus`. Several API processes need a broker
(``RONGBANK_NATS_URL``): a ``NatsBus`` would implement the same two methods over
NATS subjects named like the topics here (``chat.customer.12``), and presence would
move to a JetStream key-value bucket. It is not written yet; the setting refuses to
start rather than silently run with one process's view.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_PENDING = "rongbank.chat.events"

Event = dict[str, Any]
Callback = Callable[[Event], None]


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
        """Call ``callback`` (from any thread, and it must not block) for each event
        published on ``topic`` until the subscription is closed."""
        ...


@dataclass
class _InProcessSubscription:
    bus: InProcessBus
    topic: str
    callback: Callback

    def close(self) -> None:
        self.bus._remove(self)


@dataclass
class InProcessBus:
    """Fan-out inside one process."""

    _subscribers: dict[str, list[_InProcessSubscription]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, topic: str, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(topic, ()))
        for subscription in subscribers:
            try:
                subscription.callback(event)
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


def queue_event(session: Session, topic: str, event: Event) -> None:
    """Publish ``event`` on ``topic`` once ``session``'s transaction commits."""
    session.info.setdefault(_PENDING, []).append((topic, event))


def take_events(session: Session) -> list[tuple[str, Event]]:
    pending: list[tuple[str, Event]] = session.info.pop(_PENDING, [])
    return pending


@contextmanager
def chat_transaction(
    transaction: Callable[[], AbstractContextManager[Session]], bus: Bus
) -> Iterator[Session]:
    """``transaction()`` (the platform's unit of work), whose queued chat events are
    published after it commits and dropped if it does not."""
    pending: list[tuple[str, Event]] = []
    with transaction() as session:
        try:
            yield session
        finally:
            pending = take_events(session)
    for name, event in pending:
        bus.publish(name, event)
