"""Push notices: the bank's broadcasts to segments, and event notices.

Both become rows of ``chat_push_delivery`` (one per customer and notice): a
broadcast writes one per customer of its segment as it is sent
(:meth:`PushService.broadcast`); the push job (:meth:`PushService.deliver`, run by
the platform every few seconds) writes one per event the money paths recorded in
the outbox (:mod:`rongbank.outbox`, read as :data:`OUTBOX_READER`; the texts come
from :func:`rongbank.chat.notices.notice_of`) and one per thing falling due
(:meth:`PushService.remind_due`). The same job then delivers them: a customer who switched the
notice's kind off gets nothing (the row is ``skipped``, no message is written);
everyone else gets a message of kind ``notice`` in their notice box, whose body is
the JSON of :class:`rongbank.chat.schemas.NoticeBody`.

A broadcast's figures come from its rows and the recipients' receipts: ``sent``
(messages written), ``delivered`` and ``read`` (the recipient's delivered / read
position in their notice box reached the notice's ``seq``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.chat import notices
from rongbank.chat.errors import BroadcastConflict, BroadcastNotFound
from rongbank.chat.records import Conversation
from rongbank.chat.rules import mask_name
from rongbank.chat.sending import Draft
from rongbank.chat.service import ChatService

logger = logging.getLogger(__name__)

NOTICE_BOX_TITLE = "银行通知 Bank notices"
MAX_ATTEMPTS = 5
OUTBOX_READER = outbox.Reader("chat.push", notices.NOTIFIED)
"""The push job's queue in the outbox (a row of ``outbox_reader``)."""

_QUEUE_NOTICE = text(
    "INSERT INTO chat_push_delivery (customer_id, kind, event_key, payload, created_at) "
    "SELECT q.c, q.k, q.key, CAST(q.p AS jsonb), q.at FROM unnest(CAST(:c AS bigint[]), "
    "CAST(:k AS text[]), CAST(:key AS text[]), CAST(:p AS text[]), "
    "CAST(:at AS timestamptz[])) AS q(c, k, key, p, at) "
    "ON CONFLICT (event_key) DO NOTHING"
)

# The push job's batch, set-based (see PushService.deliver).
_PENDING = text(
    "SELECT d.id, d.customer_id, d.kind, d.broadcast_id, d.payload, d.attempts, "
    "b.title, b.body, coalesce(p.enabled, true), payer.name FROM chat_push_delivery d "
    "LEFT JOIN chat_push_broadcast b ON b.id = d.broadcast_id "
    "LEFT JOIN chat_push_preference p ON p.customer_id = d.customer_id AND p.kind = d.kind "
    # A transfer's notice names its payer (masked): read with the batch.
    "LEFT JOIN customer payer ON payer.id = CAST(d.payload ->> 'payer_id' AS bigint) "
    "WHERE d.status = 'pending' ORDER BY d.id LIMIT :l FOR UPDATE OF d SKIP LOCKED"
)
_FINISH = text(
    "UPDATE chat_push_delivery d SET status = :s, conversation_id = u.c, seq = u.seq, "
    "done_at = :at FROM unnest(CAST(:ids AS bigint[]), CAST(:c AS bigint[]), "
    "CAST(:seq AS bigint[])) AS u(id, c, seq) WHERE d.id = u.id"
)
_ATTEMPTED = text(
    "UPDATE chat_push_delivery SET attempts = attempts + 1, "
    "status = CASE WHEN attempts + 1 >= :max THEN 'failed' ELSE status END "
    "WHERE id = ANY(CAST(:ids AS bigint[]))"
)
# Boxes are made in customer order, so that two workers making the same wait for
# each other rather than deadlock.
_OPEN_BOXES = text(
    "INSERT INTO chat_conversation (kind, title, pair_key, customer_id, created_at) "
    "SELECT 'notice', :t, 'notice:' || c, c, :at FROM unnest(CAST(:c AS bigint[])) AS c "
    "ORDER BY c ON CONFLICT (pair_key) DO NOTHING RETURNING id, customer_id"
)
_OWN_BOXES = text(
    "INSERT INTO chat_member (conversation_id, member_kind, member_id, role, joined_at) "
    "SELECT n.id, 'customer', n.c, 'owner', :at "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:c AS bigint[])) AS n(id, c) "
    "ON CONFLICT (conversation_id, member_kind, member_id) DO UPDATE SET active = true"
)
_LOCK_BOXES = text(
    f"SELECT {', '.join(f.name for f in fields(Conversation))} FROM chat_conversation "  # noqa: S608
    "WHERE pair_key = ANY(CAST(:keys AS text[])) ORDER BY customer_id FOR UPDATE"
)

_REFUSED = (SQLAlchemyError, psycopg.Error)
"""What the database may answer a batch with: the set-based write goes to the driver."""

_SEGMENT_SQL: dict[str, str] = {
    "all": "true",
    "persons": "kind = 'person'",
    "enterprises": "kind = 'enterprise'",
    "students": "kind = 'person' AND birth_date > :born_after AND birth_date <= :born_by",
    "seniors": "kind = 'person' AND birth_date <= :born_by",
    "merchants": "EXISTS (SELECT 1 FROM merchant m WHERE m.customer_id = customer.id "
    "AND m.status = 'active')",
    "borrowers": "(EXISTS (SELECT 1 FROM loans lo WHERE lo.customer_id = customer.id "
    "AND lo.status = 'active') OR EXISTS (SELECT 1 FROM e_account e JOIN ledger_account l "
    "ON l.id = e.ledger_account_id WHERE e.customer_id = customer.id "
    "AND e.status <> 'closed' AND l.overdraft_limit > 0))",
}
assert set(_SEGMENT_SQL) == set(notices.SEGMENTS)


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    staff_id: int
    client_id: str
    segment: str
    kind: str
    title: str
    body: str
    recipients: int
    created_at: datetime


_BROADCAST = "id, staff_id, client_id, segment, kind, title, body, recipients, created_at"


@dataclass(frozen=True, slots=True)
class BroadcastFigures:
    broadcast: Broadcast
    pending: int
    skipped: int
    """Recipients who switched this kind of notice off: no message was written."""
    failed: int
    sent: int
    """Messages written into recipients' notice boxes."""
    delivered: int
    """Of those, reached a device of the recipient (their delivered receipt)."""
    read: int
    """Of those, read (their read receipt reached the notice)."""


@dataclass(frozen=True, slots=True)
class Delivered:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    events: int = 0
    """Events taken from the outbox (some tell no one: money between one's own accounts)."""


@dataclass(frozen=True, slots=True)
class _Ready:
    """A notice whose message is ready to write into its customer's notice box."""

    id: int
    customer_id: int
    body: str


def _notice_key(customer_id: int) -> str:
    """The notice box's key: one box per customer."""
    return f"notice:{customer_id}"


@dataclass(frozen=True, slots=True)
class NoticeBoxState:
    conversation_id: int
    last_seq: int
    last_read_seq: int

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.last_read_seq)


class PushService:
    def __init__(self, chat: ChatService, *, due_notice: timedelta = timedelta(days=3)) -> None:
        self.chat = chat
        self.due_notice = due_notice

    # -- preferences -----------------------------------------------------------------

    def preferences(self, session: Session, customer_id: int) -> dict[str, bool]:
        """Every kind with whether the customer receives it (on unless switched off)."""
        rows = session.execute(
            text("SELECT kind, enabled FROM chat_push_preference WHERE customer_id = :c"),
            {"c": customer_id},
        ).all()
        chosen = {str(r[0]): bool(r[1]) for r in rows}
        return {kind: chosen.get(kind, True) for kind in notices.NOTICE_KINDS}

    def set_preferences(
        self, session: Session, customer_id: int, changes: dict[str, bool]
    ) -> dict[str, bool]:
        for kind, enabled in changes.items():
            session.execute(
                text(
                    "INSERT INTO chat_push_preference (customer_id, kind, enabled, updated_at) "
                    "VALUES (:c, :k, :e, :at) ON CONFLICT (customer_id, kind) "
                    "DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at"
                ),
                {"c": customer_id, "k": kind, "e": enabled, "at": self.chat.clock.now()},
            )
        return self.preferences(session, customer_id)

    # -- segments and broadcasts ----------------------------------------------------------

    def _segment(self, segment: str) -> tuple[str, dict[str, Any]]:
        born_after, born_by = notices.birth_window(
            segment, self.chat.clock.now().astimezone(notices.BEIJING).date()
        )
        return _SEGMENT_SQL[segment], {"born_after": born_after, "born_by": born_by}

    def segment_sizes(self, session: Session) -> dict[str, int]:
        """How many customers each segment holds now."""
        sizes = {}
        for segment in notices.SEGMENTS:
            where, params = self._segment(segment)
            sizes[segment] = int(
                session.execute(
                    text(f"SELECT count(*) FROM customer WHERE {where}"),  # noqa: S608
                    params,
                ).scalar_one()
            )
        return sizes

    def broadcast(
        self,
        session: Session,
        *,
        staff_id: int,
        client_id: str,
        segment: str,
        kind: str,
        title: str,
        body: str,
    ) -> tuple[Broadcast, bool]:
        """Send a notice to every customer of ``segment`` as it is now, once per
        ``client_id`` of the author (a resend answers the original; the same id for
        another notice is :class:`BroadcastConflict`). Returns it and whether it is
        new. The notices are delivered by the push job."""
        now = self.chat.clock.now()
        row = session.execute(
            text(
                "INSERT INTO chat_push_broadcast (staff_id, client_id, segment, kind, title, "  # noqa: S608
                "body, recipients, created_at) VALUES (:s, :cid, :seg, :k, :t, :b, 0, :at) "
                f"ON CONFLICT (staff_id, client_id) DO NOTHING RETURNING {_BROADCAST}"
            ),
            {
                "s": staff_id,
                "cid": client_id,
                "seg": segment,
                "k": kind,
                "t": title.strip(),
                "b": body.strip(),
                "at": now,
            },
        ).first()
        if row is None:
            existing = self._broadcast_by_client_id(session, staff_id, client_id)
            asked = (segment, kind, title.strip(), body.strip())
            if (existing.segment, existing.kind, existing.title, existing.body) != asked:
                raise BroadcastConflict()
            return existing, False
        created = Broadcast(*row)
        where, params = self._segment(segment)
        recipients = session.execute(
            text(
                "INSERT INTO chat_push_delivery (customer_id, kind, broadcast_id, created_at) "  # noqa: S608
                f"SELECT id, :k, :b, :at FROM customer WHERE {where}"
            ),
            {"k": kind, "b": created.id, "at": now, **params},
        ).rowcount  # type: ignore[attr-defined]
        session.execute(
            text("UPDATE chat_push_broadcast SET recipients = :n WHERE id = :id"),
            {"n": recipients, "id": created.id},
        )
        return replace(created, recipients=recipients), True

    def _broadcast_by_client_id(self, session: Session, staff_id: int, client_id: str) -> Broadcast:
        row = session.execute(
            text(
                f"SELECT {_BROADCAST} FROM chat_push_broadcast "  # noqa: S608
                "WHERE staff_id = :s AND client_id = :c"
            ),
            {"s": staff_id, "c": client_id},
        ).one()
        return Broadcast(*row)

    def figures(
        self, session: Session, *, broadcast_id: int | None = None, limit: int = 100
    ) -> list[BroadcastFigures]:
        """Broadcasts, newest first, with what became of their notices."""
        rows = session.execute(
            text(
                f"SELECT {', '.join('b.' + c.strip() for c in _BROADCAST.split(','))}, "  # noqa: S608
                "count(d.id) FILTER (WHERE d.status = 'pending'), "
                "count(d.id) FILTER (WHERE d.status = 'skipped'), "
                "count(d.id) FILTER (WHERE d.status = 'failed'), "
                "count(d.id) FILTER (WHERE d.status = 'delivered'), "
                "count(m.member_id) FILTER (WHERE m.last_delivered_seq >= d.seq), "
                "count(m.member_id) FILTER (WHERE m.last_read_seq >= d.seq) "
                "FROM chat_push_broadcast b "
                "LEFT JOIN chat_push_delivery d ON d.broadcast_id = b.id "
                "LEFT JOIN chat_member m ON m.conversation_id = d.conversation_id "
                "AND m.member_kind = 'customer' AND m.member_id = d.customer_id "
                "WHERE CAST(:id AS bigint) IS NULL OR b.id = :id "
                "GROUP BY b.id ORDER BY b.id DESC LIMIT :limit"
            ),
            {"id": broadcast_id, "limit": limit},
        ).all()
        if broadcast_id is not None and not rows:
            raise BroadcastNotFound()
        return [BroadcastFigures(Broadcast(*r[:9]), *(int(x) for x in r[9:])) for r in rows]

    # -- due dates -------------------------------------------------------------------------

    def remind_due(self, session: Session) -> int:
        """Queue a ``due_soon`` notice, once each, for every e-Pay authorisation whose
        hold runs out within the notice period (the money goes back to the customer
        then unless the merchant captures it). Returns how many were queued."""
        now = self.chat.clock.now()
        rows = session.execute(
            text(
                "SELECT p.id, p.customer_id, p.amount, p.currency, m.name, h.expires_at "
                "FROM payment p JOIN ledger_hold h ON h.entry_id = p.entry_id "
                "JOIN merchant m ON m.id = p.merchant_id "
                "WHERE p.status = 'authorised' AND h.state = 'pending' "
                "AND h.expires_at > :now AND h.expires_at <= :until "
                "AND NOT EXISTS (SELECT 1 FROM chat_push_delivery d "
                "WHERE d.event_key = 'epay-hold-due:' || p.id)"
            ),
            {"now": now, "until": now + self.due_notice},
        ).all()
        self._queue(
            session,
            [
                notices.EventNotice(
                    int(customer_id),
                    "due_soon",
                    f"epay-hold-due:{payment_id}",
                    {
                        "source": "epay_authorisation",
                        "amount": int(amount),
                        "currency": currency,
                        "merchant": merchant,
                        "due_at": expires_at.isoformat(),
                    },
                    now,
                )
                for payment_id, customer_id, amount, currency, merchant, expires_at in rows
            ],
        )
        return len(rows)

    def take_events(self, session: Session, *, limit: int = 500) -> int:
        """Queue a notice for each event in the push job's outbox queue that tells a
        customer something, once per event, and take them all off the queue (in
        ``session``'s transaction: both or neither). Returns how many were taken."""
        taken = outbox.take(session, OUTBOX_READER, limit=limit)
        self._queue(session, [n for t in taken if (n := notices.notice_of(t.event)) is not None])
        outbox.acknowledge(session, OUTBOX_READER, taken)
        return len(taken)

    @staticmethod
    def _queue(session: Session, queued: list[notices.EventNotice]) -> None:
        if queued:  # one statement, not one per notice
            session.execute(
                _QUEUE_NOTICE,
                {
                    "c": [n.customer_id for n in queued],
                    "k": [n.kind for n in queued],
                    "key": [n.key for n in queued],
                    "p": [json.dumps(n.payload, ensure_ascii=False) for n in queued],
                    "at": [n.at for n in queued],
                },
            )

    # -- delivery --------------------------------------------------------------------------

    def deliver(
        self, transaction: Callable[[], AbstractContextManager[Session]], *, limit: int = 500
    ) -> Delivered:
        """Deliver up to ``limit`` pending notices in one transaction (several
        workers share the work: rows are claimed with SKIP LOCKED). A notice that
        fails is retried on the next run, up to :data:`MAX_ATTEMPTS` times; it never
        holds up the others.

        The batch is written set-based, in the same few statements whatever its size
        (:meth:`_deliver_all`); one notice at a time, each in its own savepoint, only
        when that fails, so that what fails alone is found and fails alone."""
        with transaction() as session:
            events = self.take_events(session, limit=limit)
            self.remind_due(session)
            rows = session.execute(_PENDING, {"l": limit}).all()
            skipped = [int(r[0]) for r in rows if not r[8]]
            ready: list[_Ready] = []
            failed: list[int] = []
            # Each customer's notices in the order they came.
            for row in sorted(rows, key=lambda r: (int(r[1]), int(r[0]))):
                if not row[8]:
                    continue
                try:
                    ready.append(_Ready(int(row[0]), int(row[1]), self._body(row)))
                except (KeyError, ValueError):
                    logger.exception("notice %d has no text; retrying next run", row[0])
                    failed.append(int(row[0]))
            self._finish(session, "skipped", [(d, None, None) for d in skipped])
            not_written = self._deliver_all(session, ready)
            failed += not_written
            if failed:
                session.execute(_ATTEMPTED, {"ids": failed, "max": MAX_ATTEMPTS})
        return Delivered(len(ready) - len(not_written), len(skipped), len(failed), events)

    def _deliver_all(self, session: Session, ready: list[_Ready]) -> list[int]:
        """Write ``ready``'s notices into their customers' notice boxes; the ids of
        those that could not be written. All at once first; if that fails, one at a
        time, each rolling back to its own savepoint (taking its chat events along)."""
        if not ready:
            return []
        try:
            with session.begin_nested():
                self._write_notices(session, ready)
            return []
        except _REFUSED:
            logger.warning("a batch of notices failed; one at a time", exc_info=True)
        failed = []
        for notice in ready:
            try:
                with session.begin_nested():
                    self._write_notices(session, [notice])
            except _REFUSED:
                logger.exception("notice %d not delivered; retrying next run", notice.id)
                failed.append(notice.id)
        return failed

    def _write_notices(self, session: Session, ready: list[_Ready]) -> None:
        """Notices as messages, each customer's in order, and their rows delivered:
        six statements whatever their number (seven when a box is new)."""
        boxes = self.notice_boxes(session, sorted({n.customer_id for n in ready}))
        messages = self.chat.append_many(
            session,
            [(boxes[n.customer_id], Draft(None, f"push:{n.id}", "notice", n.body)) for n in ready],
        )
        self._finish(
            session,
            "delivered",
            [(n.id, m.conversation_id, m.seq) for n, m in zip(ready, messages, strict=True)],
        )

    def _body(self, row: Any) -> str:
        kind, broadcast_id = str(row[2]), None if row[3] is None else int(row[3])
        english: dict[str, str] | None = None
        if broadcast_id is not None:  # as staff wrote it, in one language
            title, body, data = str(row[6]), str(row[7]), {}
        else:
            payload = dict(row[4])
            if "payer_id" in payload:
                if row[9] is None:
                    raise ValueError(f"no customer {payload['payer_id']} paid this")
                payload["payer"] = mask_name(str(row[9]))
            text_of = notices.render(kind, payload)
            (title, body), (title_en, body_en) = text_of.zh, text_of.en
            english = {"title": title_en, "text": body_en}
            data = notices.public_data(payload)
        return json.dumps(
            {
                "kind": kind,
                "title": title,
                "text": body,
                # The same in English, for customers who read the bank in English.
                **({"en": english} if english else {}),
                "broadcast_id": broadcast_id,
                "data": data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    def _finish(
        self, session: Session, status: str, done: list[tuple[int, int | None, int | None]]
    ) -> None:
        """Mark deliveries ``status``: (id, conversation, seq) each, in one statement."""
        if done:
            ids, conversations, seqs = (list(column) for column in zip(*done, strict=True))
            session.execute(
                _FINISH,
                {
                    "s": status,
                    "ids": ids,
                    "c": conversations,
                    "seq": seqs,
                    "at": self.chat.clock.now(),
                },
            )

    def notice_box_state(self, session: Session, customer_id: int) -> NoticeBoxState | None:
        """Where the customer's notice box stands (None before its first notice),
        in one query by its unique key: cheap enough for every page's menu badge."""
        row = session.execute(
            text(
                "SELECT c.id, c.last_seq, m.last_read_seq FROM chat_conversation c "
                "JOIN chat_member m ON m.conversation_id = c.id AND m.member_kind = 'customer' "
                "AND m.member_id = :c WHERE c.pair_key = :key"
            ),
            {"c": customer_id, "key": _notice_key(customer_id)},
        ).first()
        return NoticeBoxState(*row) if row else None

    def notice_boxes(self, session: Session, customer_ids: list[int]) -> dict[int, Conversation]:
        """The customers' notice boxes (by customer), opened on first use, their rows
        locked in customer order, as one at a time locks them (so that workers wait
        for each other, never deadlock)."""
        now = self.chat.clock.now()
        opened = session.execute(
            _OPEN_BOXES, {"c": customer_ids, "t": NOTICE_BOX_TITLE, "at": now}
        ).all()
        if opened:
            # The owner: it is theirs, they cannot leave it (preferences say what comes).
            session.execute(
                _OWN_BOXES,
                {"ids": [int(r[0]) for r in opened], "c": [int(r[1]) for r in opened], "at": now},
            )
        locked = session.execute(
            _LOCK_BOXES, {"keys": [_notice_key(c) for c in customer_ids]}
        ).all()
        return {int(r[3]): Conversation(*r) for r in locked}

    def notice_box(self, session: Session, customer_id: int) -> Conversation:
        """The customer's notice box, opened on first use, its row locked."""
        return self.notice_boxes(session, [customer_id])[customer_id]
