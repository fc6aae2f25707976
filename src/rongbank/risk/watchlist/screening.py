"""Screening at onboarding and of saved payees, as a reader of the outbox.

Accounts announces a registration (:class:`~rongbank.accounts.events.CustomerRegistered`)
and a saved payee (:class:`~rongbank.accounts.events.PayeeSaved`); this reader
(``risk.screening``) screens the names they carry against the watch lists and
writes each hit at or above the threshold into ``screening_hits`` for an analyst,
announcing it (:class:`~rongbank.risk.watchlist.events.ScreeningHit`) for the alerts
and cases to come.
Nobody is refused: a watch-list hit is often a namesake, and only an analyst can
tell. Accounts never calls into risk (ARCHITECTURE.md: risk consumes events); the
hit is written in the transaction that takes the event off the queue, so each
event is screened exactly once, even with several processes reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.events import CustomerRegistered, PayeeSaved
from rongbank.risk.watchlist.events import ScreeningHit
from rongbank.risk.watchlist.lists import DEFAULT_THRESHOLD, Match, screen_name

READER = outbox.Reader("risk.screening", (CustomerRegistered, PayeeSaved))
"""The screening's queue in the outbox (a row of ``outbox_reader``)."""


_HIT = text(
    "INSERT INTO screening_hits (subject, subject_id, customer_id, screened_name, "
    "list_name, entry_id, listed_name, matched_name, score, created_at) "
    "VALUES (:subject, :subject_id, :customer_id, :screened, :list, :entry, "
    ":listed, :matched, :score, :at) ON CONFLICT DO NOTHING RETURNING id"
)


@dataclass(frozen=True, slots=True)
class Screened:
    events: int
    names: int
    hits: int

    def __add__(self, other: Screened) -> Screened:
        return Screened(
            self.events + other.events, self.names + other.names, self.hits + other.hits
        )


@dataclass(frozen=True, slots=True)
class Subject:
    """Who is screened: ``customer`` (its id) or ``payee`` (the saved payee's id),
    and the customer the hit is filed under."""

    kind: str
    id: int
    customer_id: int


def _subjects(event: outbox.Event) -> list[tuple[Subject, str]]:
    if isinstance(event, CustomerRegistered):
        subject = Subject("customer", event.customer_id, event.customer_id)
        names = [event.customer_name, event.legal_rep_name]
        return [(subject, n) for n in names if n]
    if isinstance(event, PayeeSaved):
        return [(Subject("payee", event.payee_id, event.customer_id), event.holder_name)]
    return []


def record_hits(
    session: Session, subject: Subject, name: str, matches: list[Match], *, at: datetime
) -> int:
    """Write the hits of one screened name; a hit already there is kept as it is."""
    written = 0
    for m in matches:
        row = session.execute(
            _HIT,
            {
                "subject": subject.kind,
                "subject_id": subject.id,
                "customer_id": subject.customer_id,
                "screened": name,
                "list": m.list_name,
                "entry": m.entry_id,
                "listed": m.listed_name,
                "matched": m.matched,
                "score": m.score,
                "at": at,
            },
        ).first()
        if row is not None:
            written += 1
            outbox.record(
                session,
                ScreeningHit(
                    occurred_at=at,
                    hit_id=int(row[0]),
                    subject=subject.kind,
                    subject_id=subject.id,
                    customer_id=subject.customer_id,
                    list_name=m.list_name,
                    score=m.score,
                ),
            )
    return written


def screen_events(
    session: Session, *, at: datetime, threshold: float = DEFAULT_THRESHOLD, limit: int = 200
) -> Screened:
    """Screen up to ``limit`` events from the reader's queue, in ``session``'s transaction."""
    taken = outbox.take(session, READER, limit=limit)
    names = hits = 0
    for each in taken:
        for subject, name in _subjects(each.event):
            names += 1
            matches = screen_name(session, name, threshold=threshold)
            hits += record_hits(session, subject, name, matches, at=at)
    outbox.acknowledge(session, READER, taken)
    return Screened(len(taken), names, hits)
