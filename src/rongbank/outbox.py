"""The transactional outbox: what the domains announce, kept for whoever must hear it.

A domain that does something others act on (money moved, a merchant paid) records
a typed :class:`Event` (a frozen dataclass in its ``<domain>/events.py``) with
:func:`record`, in the transaction that does it. That is one INSERT, so the event
exists exactly when the work commits; and it is never skipped: if the insert fails,
the work fails with it (a notice may wait, but an anti-money-laundering check must
see every movement). The event's :attr:`~Event.key` makes recording idempotent: a
retried movement records nothing new.

Readers (``chat.push``, ``risk.screening``, ``risk.engine``, ``risk.cases``) are
rows of ``outbox_reader``, each with the kinds of event it handles (``kinds``), and
each a :class:`Reader` in the code that declares the same kinds. An event is queued
(``outbox_pending``) for every reader of its kind registered when it is recorded, and
for no other: a payment's event costs the readers that skip payments nothing, neither
a queue row nor its decoding. Each reader works through its own queue: it takes
events (:func:`take`), handles them and acknowledges them (:func:`acknowledge`) in one
transaction, so an event leaves its queue exactly when its handling commits, whatever
the other readers do. Processes of one reader share its queue (rows are claimed with
SKIP LOCKED).

A queue per reader rather than a read position: event ids come from a sequence at
insert, but transactions commit in another order, so a reader that remembered "up
to id N" would never see an event with a lower id that committed after it read.
Events stay in ``outbox_event`` once every reader is done with them, as the record.

A reader's kinds are stored so that the recording statement can choose the queues
in the database (it knows no reader's code). Changing the kinds a reader declares
takes a migration that changes its row the same way (``tests/test_outbox.py`` checks
that they agree): a kind added later is heard from then on, as a reader added later.

This module knows no domain: an event is stored under its class's :attr:`Event.name`
and read back as that class, which a reader imports to handle it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property
from typing import Any, ClassVar

import orjson
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from rongbank.db import run, run_later, statement

_KINDS: dict[str, type[Event]] = {}


@dataclass(frozen=True, kw_only=True)
class Event(ABC):
    """A fact a domain announces. Subclasses are frozen, keyword-only dataclasses
    whose fields are JSON scalars or datetimes, and name themselves."""

    name: ClassVar[str]
    """The event's kind as stored, e.g. ``payments.payment_made``: never derived
    from the module, so that moving the class does not orphan what was recorded."""

    occurred_at: datetime

    @property
    @abstractmethod
    def key(self) -> str:
        """What makes the event one of a kind (the payment, the ledger entry...):
        recording an event whose key is already there changes nothing."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if not isinstance(name, str):
            raise TypeError(f"{cls.__qualname__} must name itself (name: ClassVar[str])")
        known = _KINDS.get(name)
        if known is not None and _where(known) != _where(cls):
            raise TypeError(f"{_where(cls)} and {_where(known)} are both {name!r}")
        _KINDS[name] = cls


@dataclass(frozen=True)
class Reader:
    """Who reads the outbox, and the kinds of event it handles: what :func:`take`
    gives it, and what is queued for it (its ``outbox_reader`` row, which must list
    the same kinds)."""

    name: str
    kinds: tuple[type[Event], ...]

    def __post_init__(self) -> None:
        if not self.kinds:
            raise TypeError(f"reader {self.name!r} handles no kind of event")

    @cached_property
    def names(self) -> list[str]:
        """The kinds as stored, sorted."""
        return sorted({kind.name for kind in self.kinds})


_RECORD = statement(
    "WITH recorded AS (INSERT INTO outbox_event (name, event_key, payload, occurred_at) "
    "VALUES (:name, :key, CAST(:payload AS jsonb), :at) "
    "ON CONFLICT (event_key) DO NOTHING RETURNING id, name) "
    "INSERT INTO outbox_pending (reader, event_id) "
    "SELECT r.name, recorded.id FROM recorded JOIN outbox_reader r ON recorded.name = ANY(r.kinds)"
)


def record(session: Session, event: Event) -> None:
    """Record ``event`` in ``session``'s transaction and queue it for every reader of
    its kind: one statement, sent with the transaction's next round trip
    (``run_later``). What the database raises of it is raised there: the caller's
    work must not commit without its event."""
    run_later(
        session,
        _RECORD,
        {
            "name": event.name,
            "key": event.key,
            "payload": orjson.dumps(event).decode(),
            "at": event.occurred_at,
        },
    )


@dataclass(frozen=True, slots=True)
class Taken:
    """An event in a reader's queue, held by the reader's transaction."""

    id: int
    event: Event


_TAKE = statement(
    "SELECT p.event_id, e.name, e.payload FROM outbox_pending p "
    "JOIN outbox_event e ON e.id = p.event_id "
    "WHERE p.reader = :reader AND e.name = ANY(:kinds) "
    "ORDER BY p.event_id LIMIT :limit FOR UPDATE OF p SKIP LOCKED"
)


def take(session: Session, reader: Reader, *, limit: int = 500) -> list[Taken]:
    """The oldest events in ``reader``'s queue, up to ``limit``, locked until the
    transaction ends (other processes of the reader skip them): only of the kinds
    it declares. Only those are queued for it; one that this process's reader does
    not declare (a newer version's reader handles more) is left for one that does."""
    rows = run(
        session, _TAKE, {"reader": reader.name, "kinds": reader.names, "limit": limit}
    ).fetchall()
    return [
        Taken(int(event_id), _adapter(_KINDS[name]).validate_python(payload))
        for event_id, name, payload in rows
    ]


_ACKNOWLEDGE = statement(
    "DELETE FROM outbox_pending WHERE reader = :reader AND event_id = ANY(:ids)"
)


def acknowledge(session: Session, reader: Reader, taken: Collection[Taken]) -> None:
    """Take events out of ``reader``'s queue, in the transaction that handled them."""
    if taken:
        run(session, _ACKNOWLEDGE, {"reader": reader.name, "ids": [t.id for t in taken]})


def _where(kind: type[Event]) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


@cache
def _adapter(kind: type[Event]) -> TypeAdapter[Event]:
    return TypeAdapter(kind)
