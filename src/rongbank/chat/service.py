"""融e联 chat use cases: conversations, the ordered message log, receipts, sync,
recall, safety (masking, rate limit, blocks, reports, moderation), search, export.

The vocabulary:

- a **conversation** is ``direct`` (two customers), ``bank`` (a customer and the
  bank, served by their account manager: see :mod:`rongbank.chat.desk`), ``group``
  (customers, or an enterprise with its bank team) or ``channel`` (bank notices,
  only staff post, customers subscribe);
- a **member** is a customer or a staff member in a conversation; only active
  members read or write it, and to everyone else it does not exist;
- each conversation is an ordered **log**: every message, and every recall or
  moderation of one, takes the next ``seq`` under the conversation's row lock, so a
  client that remembers the last ``seq`` it saw per conversation (the sync cursor)
  catches up without missing or repeating anything.

The service never commits; what it wants pushed to connected clients is queued on
the session and published once the unit of work commits
(:func:`rongbank.chat.bus.queue_event`). Message texts are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

import orjson
import psycopg
from psycopg.rows import tuple_row
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.chat import rules
from rongbank.chat.bus import Bus, InProcessBus, NatsBus, queue_event
from rongbank.chat.contacts import GREETINGS, KNOWN, Contacts
from rongbank.chat.desk import Desk
from rongbank.chat.errors import (
    AlreadyReported,
    Blocked,
    ChannelReadOnly,
    ChatUserNotFound,
    ConversationNotFound,
    GroupTooLarge,
    MessageEmpty,
    MessageNotFound,
    MessageTooLong,
    RateLimited,
    ReasonRequired,
    RecallNotAllowed,
    RecallWindowPassed,
    ReplyToUnknown,
    ReportNotFound,
    RequestNotAccepted,
    RequestPending,
)
from rongbank.chat.members import CUSTOMER as CUSTOMER
from rongbank.chat.members import STAFF as STAFF
from rongbank.chat.members import SYSTEM as SYSTEM
from rongbank.chat.members import Member as Member
from rongbank.chat.pg_bus import Connect, PostgresBus
from rongbank.clock import Clock
from rongbank.db import advisory_key, driver_connection, driver_sql
from rongbank.errors import DomainError
from rongbank.pii import PersonalData, for_this_process
from rongbank.settings import Settings

MAX_TEXT = 2000
MAX_GROUP = 200
WITHDRAWABLE = ("text", "image", "file")
"""Kinds of message a sender can recall and a moderator can hide."""


@dataclass(frozen=True, slots=True)
class ChatConfig:
    recall_window: timedelta = timedelta(minutes=2)
    rate_per_minute: float = 30.0
    rate_burst: float = 10.0
    business_hours: rules.BusinessHours = field(default_factory=rules.BusinessHours)
    away_message: str = (
        "您好，现在不是服务时间或客户经理暂时不在，我们会尽快回复您。"
        "Our account managers are away now; we will answer as soon as we can."
    )
    presence_lease: timedelta = timedelta(seconds=90)
    """How long a gateway's connections count without it renewing its lease (it
    renews every third of this): a gateway silent for longer is taken for dead."""
    presence_recheck: timedelta = timedelta(minutes=10)
    """How often a gateway puts its presence rows right (:meth:`ChatService.
    reconcile_presence`) when nothing gave it cause to sooner."""
    lookups_per_hour: float = 10.0
    lookup_burst: float = 10.0
    """Opening chats by mobile number, per customer (see :mod:`rongbank.chat.contacts`)."""
    request_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    """Keys the hash that stands for a number nobody here has in the chat that asks
    it (``rongbank.chat.contacts``); derived from a key of the bank's (a key of this
    process only, where none is given: tests)."""


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    kind: str
    title: str
    customer_id: int | None
    last_seq: int
    assigned_staff_id: int | None
    routing: str | None
    waiting_since: datetime | None
    away_sent: bool
    created_at: datetime
    request: str | None
    """A direct chat's ``pending``, ``accepted`` or ``closed`` (see
    :mod:`rongbank.chat.contacts`); None for the other kinds."""
    requested_by: int | None
    """The customer who asked for a direct chat (None: made accepted)."""

    @property
    def is_request(self) -> bool:
        """A direct chat the customer asked has not accepted (pending, or closed to
        the asker): nobody in it learns who the other is."""
        return self.request in ("pending", "closed")


_CONVERSATION = (
    "id, kind, title, customer_id, last_seq, assigned_staff_id, routing, waiting_since, "
    "away_sent, created_at, request, requested_by"
)
_CONVERSATION_COLUMNS = len(fields(Conversation))


@dataclass(frozen=True, slots=True)
class Message:
    """One entry of a conversation's log. ``kind`` is ``text``, ``system`` (from the
    bank's routing: away message, transfer), ``recall`` or ``hide`` (the message
    ``ref_seq`` was recalled by its sender or hidden by a moderator)."""

    conversation_id: int
    seq: int
    sender_kind: str
    sender_id: int | None
    client_id: str
    kind: str
    body: str
    reply_to: int | None
    ref_seq: int | None
    masked: tuple[str, ...]
    at: datetime
    recalled: bool
    hidden: bool

    def seen_by(self, member: Member) -> Message:
        """The message as ``member`` sees it: a recalled message is a tombstone for
        everyone but its sender, a hidden one for everyone."""
        own = (self.sender_kind, self.sender_id) == (member.kind, member.id)
        if self.hidden or (self.recalled and not own):
            return replace(self, body="")
        return self

    def payload(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "sender": {"kind": self.sender_kind, "id": self.sender_id},
            "client_id": self.client_id,
            "kind": self.kind,
            "body": self.body,
            "reply_to": self.reply_to,
            "ref_seq": self.ref_seq,
            "masked": list(self.masked),
            "at": self.at.isoformat(),
            "recalled": self.recalled,
            "hidden": self.hidden,
        }


_MESSAGE = (
    "conversation_id, seq, sender_kind, sender_id, client_id, kind, body, reply_to, ref_seq, "
    "masked, at, recalled_at IS NOT NULL, hidden_at IS NOT NULL"
)


def _message(row: Any) -> Message:
    values = list(row)
    values[9] = tuple(values[9])
    return Message(*values)


@dataclass(frozen=True, slots=True)
class Admission:
    """A member asking to post the next entry of a conversation: a ``text``, or
    another kind (a card, an attachment), which a request does not take."""

    member: Member
    conversation_id: int
    client_id: str
    reply_to: int | None = None
    kind: str = "text"

    @property
    def key(self) -> tuple[int, str, int, str]:
        """What makes a resend: the same sender's client id in the conversation."""
        return (self.conversation_id, self.member.kind, self.member.id, self.client_id)


@dataclass(frozen=True, slots=True)
class SendRequest:
    member: Member
    conversation_id: int
    client_id: str
    body: str
    reply_to: int | None = None

    @property
    def admission(self) -> Admission:
        return Admission(self.member, self.conversation_id, self.client_id, self.reply_to)


@dataclass(frozen=True, slots=True)
class Draft:
    """An entry to append to a log; ``sender`` None is the bank's system."""

    sender: Member | None
    client_id: str
    kind: str
    body: str = ""
    reply_to: int | None = None
    ref_seq: int | None = None
    masked: tuple[str, ...] = ()


@dataclass(slots=True)
class _Members:
    active: set[Member] = field(default_factory=set)
    left: set[Member] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Locked:
    """What locking a batch's conversations read: their members, and each log's
    head (last ``seq`` and hash); and the send tokens left to store (``spend``,
    written with the messages)."""

    members: dict[int, _Members]
    heads: dict[int, tuple[int, bytes]]
    spend: list[dict[str, Any]] = field(default_factory=list)


# The statements of the send path, built once (see ChatService.send_many). Arrays
# carry a batch; the rows to write travel as one JSON document (bytes as hex), which
# costs the driver far less to send than a dozen arrays.
_LOCK_CONVERSATIONS = text(
    f"SELECT {_CONVERSATION}, last_hash, (SELECT coalesce(json_agg(json_build_array("  # noqa: S608
    "m.member_kind, m.member_id, m.active)), '[]') FROM chat_member m "
    "WHERE m.conversation_id = chat_conversation.id), "
    # A direct conversation whose two customers are blocked either way (a block made
    # while this waited for the lock is seen by the next send: it is not money).
    # A request is closed by a block instead (its asker is not told).
    "kind = 'direct' AND request = 'accepted' AND EXISTS (SELECT 1 FROM chat_block b "
    "JOIN chat_member x ON x.member_id = b.blocker_id "
    "JOIN chat_member y ON y.member_id = b.blocked_id "
    "WHERE x.conversation_id = chat_conversation.id AND x.member_kind = 'customer' "
    "AND y.conversation_id = chat_conversation.id AND y.member_kind = 'customer') "
    "FROM chat_conversation WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"
)
_MEMBERS = text(
    "SELECT conversation_id, member_kind, member_id, active FROM chat_member "
    "WHERE conversation_id = ANY(:ids)"
)
_ORIGINALS = text(
    f"SELECT {_MESSAGE} FROM chat_message JOIN unnest(CAST(:c AS bigint[]), "  # noqa: S608
    "CAST(:k AS text[]), CAST(:m AS bigint[]), CAST(:cid AS text[])) AS r(c, k, m, cid) "
    "ON conversation_id = r.c AND sender_kind = r.k AND sender_id = r.m AND client_id = r.cid"
)
_LOCK_BUCKETS = text(
    "INSERT INTO chat_rate_bucket AS b (member_kind, member_id, tokens, at) "
    "SELECT w.k, w.m, :burst, :at FROM unnest(CAST(:k AS text[]), CAST(:m AS bigint[])) "
    "AS w(k, m) ORDER BY w.k, w.m "
    "ON CONFLICT (member_kind, member_id) DO UPDATE SET tokens = b.tokens "
    "RETURNING member_kind, member_id, tokens, at"
)
# The rows a statement updates from a JSON document are also named by key arrays
# (``= ANY``): the planner takes a document for a hundred rows and, with nothing
# else, would scan the whole table and hash-join it, in every batch.
_SPEND = (
    "UPDATE chat_rate_bucket b SET tokens = s.t, at = s.at "
    "FROM jsonb_to_recordset(CAST(:spend AS jsonb)) "
    "AS s(k text, m bigint, t double precision, at timestamptz) "
    "WHERE b.member_kind = ANY(CAST(:spend_k AS text[])) "
    "AND b.member_id = ANY(CAST(:spend_m AS bigint[])) "
    "AND b.member_kind = s.k AND b.member_id = s.m"
)
_SPEND_SQL = driver_sql(text(_SPEND))
_LOCK_CONVERSATIONS_SQL = driver_sql(_LOCK_CONVERSATIONS)
_ORIGINALS_SQL = driver_sql(_ORIGINALS)
_LOCK_BUCKETS_SQL = driver_sql(_LOCK_BUCKETS)
_TAKE_SEQS = text(
    "UPDATE chat_conversation c SET last_seq = c.last_seq + n.k "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:counts AS bigint[])) AS n(id, k) "
    "WHERE c.id = n.id RETURNING c.id, c.last_seq - n.k, c.last_hash"
)
_WRITE = text(
    "WITH written AS (INSERT INTO chat_message (conversation_id, seq, sender_kind, sender_id, "  # noqa: S608
    "client_id, kind, body, reply_to, ref_seq, masked, at, content_hash, hash, search) "
    "SELECT w.c, w.s, w.sk, w.si, w.cid, w.k, w.b, w.r, w.ref, "
    "ARRAY(SELECT jsonb_array_elements_text(w.masked)), :at, decode(w.ch, 'hex'), "
    "decode(w.h, 'hex'), array_to_tsvector(ARRAY(SELECT jsonb_array_elements_text(w.tokens))) "
    "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS w(c bigint, s bigint, sk text, "
    "si bigint, cid text, k text, b text, r bigint, ref bigint, masked jsonb, ch text, h text, "
    "tokens jsonb) RETURNING 1), "
    "chained AS (UPDATE chat_conversation c SET last_seq = u.s, last_hash = decode(u.h, 'hex') "
    "FROM jsonb_to_recordset(CAST(:heads AS jsonb)) AS u(id bigint, s bigint, h text) "
    "WHERE c.id = ANY(CAST(:head_ids AS bigint[])) AND c.id = u.id RETURNING 1), "
    "seen AS (UPDATE chat_member mb SET "
    "last_delivered_seq = greatest(mb.last_delivered_seq, x.s), "
    "last_read_seq = greatest(mb.last_read_seq, x.s) "
    "FROM jsonb_to_recordset(CAST(:seen AS jsonb)) AS x(c bigint, k text, m bigint, s bigint) "
    "WHERE mb.conversation_id = ANY(CAST(:head_ids AS bigint[])) "
    "AND mb.conversation_id = x.c AND mb.member_kind = x.k AND mb.member_id = x.m RETURNING 1), "
    f"spent AS ({_SPEND} RETURNING 1) "
    "SELECT (SELECT count(*) FROM written)"
)
_WRITE_SQL = driver_sql(_WRITE)


Rows = psycopg.Cursor[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _Reads:
    """What admitting messages reads, queued on the driver connection (see
    :meth:`ChatService._queue_admission`): in a pipeline, one round trip."""

    now: datetime
    conversations: Rows
    originals: Rows
    buckets: Rows


@dataclass(frozen=True, slots=True)
class SendBatch:
    """Sends whose reads are queued (:meth:`ChatService.queue_sends`), to finish
    (:meth:`ChatService.finish_sends`) once the pipeline has been sent."""

    requests: Sequence[SendRequest]
    texts: list[rules.Masked | DomainError]
    reads: _Reads


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    created: bool
    """False for a resend of a client id already sent: the original is returned."""
    masked: tuple[str, ...]
    """What was masked in this message, for the warning to its sender."""


@dataclass(frozen=True, slots=True)
class Summary:
    """A conversation as one member sees it in their list."""

    conversation: Conversation
    member: Member
    role: str
    last_delivered_seq: int
    last_read_seq: int

    @property
    def unread(self) -> int:
        return max(0, self.conversation.last_seq - self.last_read_seq)

    @property
    def request(self) -> Literal["sent", "received"] | None:
        """For a direct chat not accepted: ``sent`` (this member asked for it) or
        ``received`` (they are asked); else None."""
        c = self.conversation
        if not c.is_request:
            return None
        return "sent" if self.member == Member(CUSTOMER, c.requested_by or 0) else "received"

    @property
    def title(self) -> str:
        """The conversation's title; a direct chat's (the number its asker typed,
        masked) is the asker's alone."""
        c = self.conversation
        asker = c.requested_by is not None and self.member == Member(CUSTOMER, c.requested_by)
        return c.title if c.kind != "direct" or asker else ""


@dataclass(frozen=True, slots=True)
class SyncBatch:
    summary: Summary
    messages: list[Message]
    more: bool
    """More messages follow in this conversation: sync again with the new cursor."""


@dataclass(frozen=True, slots=True)
class SyncResult:
    batches: list[SyncBatch]
    cursor: str


@dataclass(frozen=True, slots=True)
class MemberInfo:
    kind: str
    id: int
    name: str
    role: str
    last_delivered_seq: int
    last_read_seq: int
    online: bool


_LIVE_PRESENCE = (
    "SELECT 1 FROM chat_presence pr JOIN chat_gateway g ON g.id = pr.gateway_id "
    "AND g.lease_until > :now WHERE pr.member_kind = {kind} AND pr.member_id = {id}"
)
"""The member's connections to gateways that are alive (whose lease holds)."""
_VISIBLE = (
    "coalesce((SELECT presence_visible FROM chat_profile WHERE member_kind = :k "
    "AND member_id = :m), true)"
)
"""Whether the member :k :m lets their contacts see when they are online."""
_PRESENCE_LOCK = advisory_key("'chat_presence_' || {kind}", "{id}")
"""The two keys of a member's presence lock (:meth:`ChatService._lock_presence`); also
the order in which several are taken, so that no two transactions deadlock."""


@dataclass(frozen=True, slots=True)
class OpenHere:
    """The sockets this gateway process has open, as the gateway knows them (see
    :meth:`ChatService.reconcile_presence`)."""

    counted: Mapping[Member, int]
    """Per member, the sockets whose connect committed and whose disconnect has not
    begun."""
    changing: frozenset[Member]
    """Members with a socket in between: connecting, or closing and disconnecting."""


class ChatService:
    def __init__(
        self,
        clock: Clock,
        bus: Bus,
        config: ChatConfig | None = None,
        *,
        pii: PersonalData | None = None,
    ) -> None:
        self.clock = clock
        self.pii = pii or for_this_process()
        self.bus = bus
        self.config = config or ChatConfig()
        self.desk = Desk(self)
        self.contacts = Contacts(self)
        # This process's name in the shared presence tables (see "presence" below).
        self.gateway_id = uuid.uuid4()
        self._gateway_name = f"{socket.gethostname()}:{os.getpid()}"[:200]
        self.open_here: Callable[[], OpenHere] | None = None
        """This process's sockets, set by its gateway (``rongbank.chat.gateway``) once
        it serves one: what :meth:`reconcile_presence` makes the rows match."""
        self.presence_suspect = True
        """Whether this gateway's presence rows may be wrong: at start, after a
        connect or disconnect whose transaction failed (the gateway says so), after its
        lease lapsed (:meth:`renew_lease`). Otherwise the rows are right by
        construction, and :meth:`presence_due` spares 5,000 sockets' worth of
        reconciling every renewal."""
        self._reconciled_at: datetime | None = None

    # -- conversations ---------------------------------------------------------------

    def conversation(
        self, session: Session, conversation_id: int, *, lock: bool = False
    ) -> Conversation:
        row = session.execute(
            text(
                f"SELECT {_CONVERSATION} FROM chat_conversation WHERE id = :id"  # noqa: S608
                + (" FOR UPDATE" if lock else "")
            ),
            {"id": conversation_id},
        ).first()
        if row is None:
            raise ConversationNotFound()
        return Conversation(*row)

    def membership(self, session: Session, member: Member, conversation_id: int) -> Summary:
        """The member's view of a conversation; :class:`ConversationNotFound` if they
        are not an active member (the same answer as for one that does not exist)."""
        row = session.execute(
            text(
                "SELECT role, last_delivered_seq, last_read_seq FROM chat_member "
                "WHERE conversation_id = :c AND member_kind = :k AND member_id = :m AND active"
            ),
            {"c": conversation_id, "k": member.kind, "m": member.id},
        ).first()
        if row is None:
            raise ConversationNotFound()
        return Summary(
            self.conversation(session, conversation_id),
            member,
            str(row[0]),
            int(row[1]),
            int(row[2]),
        )

    def conversations(self, session: Session, member: Member) -> list[Summary]:
        rows = session.execute(
            text(
                f"SELECT {', '.join('c.' + c.strip() for c in _CONVERSATION.split(','))}, "  # noqa: S608
                "m.role, m.last_delivered_seq, m.last_read_seq "
                "FROM chat_member m JOIN chat_conversation c ON c.id = m.conversation_id "
                "WHERE m.member_kind = :k AND m.member_id = :m AND m.active ORDER BY c.id"
            ),
            {"k": member.kind, "m": member.id},
        ).all()
        n = _CONVERSATION_COLUMNS
        return [
            Summary(Conversation(*row[:n]), member, row[n], row[n + 1], row[n + 2]) for row in rows
        ]

    def _create(
        self,
        session: Session,
        *,
        kind: str,
        title: str = "",
        pair_key: str | None = None,
        customer_id: int | None = None,
        routing: str | None = None,
    ) -> int | None:
        """Insert a conversation; None when ``pair_key`` is taken (it exists). A direct
        chat is made a request still to be asked (see ``Contacts._ask``), ``closed``."""
        row = session.execute(
            text(
                "INSERT INTO chat_conversation (kind, title, pair_key, customer_id, routing, "
                "request, created_at) VALUES (:k, :t, :p, :c, :r, :q, :at) "
                "ON CONFLICT (pair_key) DO NOTHING RETURNING id"
            ),
            {
                "k": kind,
                "t": title.strip()[:100],
                "p": pair_key,
                "c": customer_id,
                "r": routing,
                "q": "closed" if kind == "direct" else None,
                "at": self.clock.now(),
            },
        ).first()
        return None if row is None else int(row[0])

    def open_keyed(
        self,
        session: Session,
        *,
        key: str,
        kind: str,
        title: str = "",
        customer_id: int | None = None,
        routing: str | None = None,
    ) -> tuple[int, bool]:
        """The one conversation of ``key`` (a pair of customers, a customer's bank
        chat or notice box), made on first use: its id, and whether it is new (the
        caller then adds its members)."""
        new = self._create(
            session, kind=kind, title=title, pair_key=key, customer_id=customer_id, routing=routing
        )
        if new is not None:
            return new, True
        found = session.execute(
            text("SELECT id FROM chat_conversation WHERE pair_key = :p"), {"p": key}
        ).scalar_one()
        return int(found), False

    def add_member(
        self, session: Session, conversation_id: int, member: Member, *, role: str = "member"
    ) -> None:
        """Make ``member`` an active member; a returning member reads on from where
        they were."""
        session.execute(
            text(
                "INSERT INTO chat_member (conversation_id, member_kind, member_id, role, "
                "joined_at) VALUES (:c, :k, :m, :r, :at) "
                "ON CONFLICT (conversation_id, member_kind, member_id) DO UPDATE SET active = true"
            ),
            {
                "c": conversation_id,
                "k": member.kind,
                "m": member.id,
                "r": role,
                "at": self.clock.now(),
            },
        )

    def remove_member(self, session: Session, conversation_id: int, member: Member) -> None:
        session.execute(
            text(
                "UPDATE chat_member SET active = false "
                "WHERE conversation_id = :c AND member_kind = :k AND member_id = :m"
            ),
            {"c": conversation_id, "k": member.kind, "m": member.id},
        )

    def open_bank(self, session: Session, *, customer_id: int) -> Summary:
        """The customer's conversation with the bank, opened on first use and routed
        to their account manager (see :class:`~rongbank.chat.desk.Desk`)."""
        conversation_id, new = self.open_keyed(
            session,
            key=f"bank:{customer_id}",
            kind="bank",
            customer_id=customer_id,
            routing="queued",
        )
        if new:
            self.add_member(session, conversation_id, Member(CUSTOMER, customer_id), role="owner")
            self.desk.opened(session, self.conversation(session, conversation_id, lock=True))
        return self.membership(session, Member(CUSTOMER, customer_id), conversation_id)

    def create_group(
        self,
        session: Session,
        *,
        creator: Member,
        title: str,
        customer_ids: list[int],
        staff_ids: list[int] = (),  # type: ignore[assignment]
        enterprise_id: int | None = None,
    ) -> Summary:
        """A group: customers, or (``enterprise_id``) an enterprise with its bank
        team. A customer who blocked the creator is not added."""
        members = {creator} | {Member(CUSTOMER, c) for c in customer_ids}
        members |= {Member(STAFF, s) for s in staff_ids}
        if enterprise_id is not None:
            members.add(Member(CUSTOMER, enterprise_id))
        if len(members) > MAX_GROUP:
            raise GroupTooLarge()
        known = self._existing(session, members)
        if known != members:
            raise ChatUserNotFound()
        conversation_id = self._create(
            session, kind="group", title=title or "群聊", customer_id=enterprise_id
        )
        assert conversation_id is not None
        for member in sorted(members, key=lambda m: (m.kind, m.id)):
            if (
                creator.kind == CUSTOMER
                and member.kind == CUSTOMER
                and member != creator
                and self.contacts.blocked_between(session, creator.id, member.id)
            ):
                continue
            self.add_member(
                session, conversation_id, member, role="owner" if member == creator else "member"
            )
        return self.membership(session, creator, conversation_id)

    def _existing(self, session: Session, members: set[Member]) -> set[Member]:
        customers = [m.id for m in members if m.kind == CUSTOMER]
        staff = [m.id for m in members if m.kind == STAFF]
        found = {
            Member(CUSTOMER, int(r[0]))
            for r in session.execute(
                text("SELECT id FROM customer WHERE id = ANY(:ids)"), {"ids": customers}
            )
        }
        found |= {
            Member(STAFF, int(r[0]))
            for r in session.execute(
                text("SELECT id FROM staff WHERE id = ANY(:ids) AND active"), {"ids": staff}
            )
        }
        return found

    def create_channel(self, session: Session, *, staff_id: int, title: str) -> Summary:
        conversation_id = self._create(session, kind="channel", title=title)
        assert conversation_id is not None
        self.add_member(session, conversation_id, Member(STAFF, staff_id), role="owner")
        return self.membership(session, Member(STAFF, staff_id), conversation_id)

    def channels(self, session: Session) -> list[Conversation]:
        rows = session.execute(
            text(
                f"SELECT {_CONVERSATION} FROM chat_conversation "  # noqa: S608
                "WHERE kind = 'channel' ORDER BY id"
            )
        ).all()
        return [Conversation(*row) for row in rows]

    def subscribe(self, session: Session, *, customer_id: int, conversation_id: int) -> Summary:
        conversation = self.conversation(session, conversation_id)
        if conversation.kind != "channel":
            raise ConversationNotFound()
        self.add_member(session, conversation_id, Member(CUSTOMER, customer_id), role="subscriber")
        return self.membership(session, Member(CUSTOMER, customer_id), conversation_id)

    def unsubscribe(self, session: Session, *, customer_id: int, conversation_id: int) -> None:
        if (
            self.membership(session, Member(CUSTOMER, customer_id), conversation_id).role
            != "subscriber"
        ):
            raise ConversationNotFound()
        self.remove_member(session, conversation_id, Member(CUSTOMER, customer_id))

    def members(self, session: Session, member: Member, conversation_id: int) -> list[MemberInfo]:
        """The conversation's members as ``member`` sees them: staff and their own
        contacts by name and presence, any other customer masked ("*小明") and never
        online (see :mod:`rongbank.chat.contacts`); in a request they asked for, only
        themselves, as in one nobody can answer."""
        summary = self.membership(session, member, conversation_id)
        known = KNOWN.format(
            viewer_kind=":vk", viewer_id=":vm", kind="m.member_kind", id="m.member_id"
        )
        rows = session.execute(
            text(
                "SELECT m.member_kind, m.member_id, coalesce(cu.name, st.name, ''), m.role, "  # noqa: S608
                "m.last_delivered_seq, m.last_read_seq, coalesce(p.presence_visible, true), "
                f"EXISTS ({_LIVE_PRESENCE.format(kind='m.member_kind', id='m.member_id')}), "
                f"{known} "
                "FROM chat_member m "
                "LEFT JOIN customer cu ON m.member_kind = 'customer' AND cu.id = m.member_id "
                "LEFT JOIN staff st ON m.member_kind = 'staff' AND st.id = m.member_id "
                "LEFT JOIN chat_profile p ON p.member_kind = m.member_kind "
                "AND p.member_id = m.member_id "
                "WHERE m.conversation_id = :c AND m.active AND m.role <> 'subscriber' "
                "ORDER BY m.member_kind, m.member_id"
            ),
            {"c": conversation_id, "now": self.clock.now(), "vk": member.kind, "vm": member.id},
        ).all()
        asker = summary.request == "sent"
        return [
            MemberInfo(
                kind=r[0],
                id=int(r[1]),
                name=r[2] if r[8] else rules.mask_name(r[2]),
                role=r[3],
                last_delivered_seq=int(r[4]),
                last_read_seq=int(r[5]),
                online=bool(r[6]) and bool(r[7]) and bool(r[8]),
            )
            for r in rows
            if not asker or Member(str(r[0]), int(r[1])) == member
        ]

    # -- messages ----------------------------------------------------------------------
    #
    # Every entry of every log is written by `_write` and every message a member
    # sends is cleared by `admit_many`, both set-based: the WebSocket gateway commits
    # many senders' messages in one transaction (group commit, see
    # rongbank.chat.committer), a REST send or a card is a batch of one. A batch
    # costs the same handful of statements whatever its size.

    def send(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        client_id: str,
        body: str,
        reply_to: int | None = None,
    ) -> Sent:
        """Append a text message, once per ``client_id``: a resend (after a lost
        answer or a reconnect) returns the original message and writes nothing.

        Card numbers, identity numbers and announced passwords are masked before the
        text is stored, so neither the other side nor any transcript ever holds
        them; ``Sent.masked`` tells the sender what was masked."""
        outcome = self.send_many(
            session, [SendRequest(member, conversation_id, client_id, body, reply_to)]
        )[0]
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    def send_many(
        self, session: Session, requests: Sequence[SendRequest]
    ) -> list[Sent | DomainError]:
        """:meth:`send` for many senders at once, each request with its own outcome:
        one refused request (not a member, rate limited…) leaves the others be."""
        conn = driver_connection(session)
        with conn.pipeline():
            batch = self.queue_sends(conn, requests)
        return self.finish_sends(session, batch)

    def queue_sends(
        self, conn: psycopg.Connection[Any], requests: Sequence[SendRequest]
    ) -> SendBatch:
        """The first half of :meth:`send_many`: queue on the session's driver
        connection what admitting ``requests`` reads (in the caller's pipeline, with
        what it queues beside them: the gateway's login check), and mask the texts
        while they run."""
        reads = self._queue_admission(conn, [r.admission for r in requests])
        texts: list[rules.Masked | DomainError] = []
        for request in requests:
            stripped = request.body.strip()
            if not stripped:
                texts.append(MessageEmpty())
            elif len(stripped) > MAX_TEXT:
                texts.append(MessageTooLong(max_length=MAX_TEXT))
            else:
                texts.append(rules.mask_sensitive(stripped))
        return SendBatch(requests, texts, reads)

    def finish_sends(
        self,
        session: Session,
        batch: SendBatch,
        only: Sequence[int] | None = None,
        *,
        commit: Callable[[], None] | None = None,
    ) -> list[Sent | DomainError]:
        """The second half of :meth:`send_many`, once the queued reads are back: the
        outcomes of the batch's requests, or of those ``only`` names (in its order;
        the others, whose sockets' logins have ended, are neither sent nor refused).

        ``commit``, the boundary's commit queued on the driver connection
        (:func:`rongbank.db.queue_commit`), ends the transaction in the write's round
        trip when nothing has to follow the write (no message for the account-manager
        desk to route); otherwise, or without it, the boundary commits as usual."""
        chosen = range(len(batch.requests)) if only is None else only
        requests = [batch.requests[i] for i in chosen]
        texts = [batch.texts[i] for i in chosen]
        # The same message twice in one batch (two devices racing): the second is
        # answered as a resend of the first.
        first: dict[tuple[int, str, int, str], int] = {}
        for i, request in enumerate(requests):
            first.setdefault(request.admission.key, i)
        unique = sorted(first.values())
        admitted, locked = self._judge(
            batch.reads,
            [requests[i].admission for i in unique],
            refused=[t if isinstance(t, DomainError) else None for t in (texts[i] for i in unique)],
        )
        drafts: list[tuple[Conversation, Draft]] = []
        for i, outcome in zip(unique, admitted, strict=True):
            masked = texts[i]
            if isinstance(outcome, Conversation) and isinstance(masked, rules.Masked):
                request = requests[i]
                drafts.append(
                    (
                        outcome,
                        Draft(
                            request.member,
                            request.client_id,
                            "text",
                            masked.text,
                            reply_to=request.reply_to,
                            masked=masked.found,
                        ),
                    )
                )
        routed = any(conversation.kind == "bank" for conversation, _ in drafts)
        conn = driver_connection(session)
        with conn.pipeline():
            written = iter(self._write(session, drafts, locked))
            if commit is not None and not routed:
                commit()
        results: dict[int, Sent | DomainError] = {}
        for i, outcome in zip(unique, admitted, strict=True):
            if isinstance(outcome, Conversation):
                message = next(written)
                results[i] = Sent(message, created=True, masked=message.masked)
                if outcome.kind == "bank":
                    self.desk.message_added(session, outcome, message)
            elif isinstance(outcome, Message):
                results[i] = Sent(outcome.seen_by(requests[i].member), False, outcome.masked)
            else:
                results[i] = outcome
        outcomes: list[Sent | DomainError] = []
        for i, request in enumerate(requests):
            result = results[first[request.admission.key]]
            if i not in results and isinstance(result, Sent):
                result = replace(result, created=False)
            outcomes.append(result)
        return outcomes

    def admit(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        client_id: str,
        kind: str,
        reply_to: int | None = None,
    ) -> Conversation | Message:
        """Clear ``member`` to post the next entry of a conversation (for cards and
        attachments, which write their own ``kind`` of entry with :meth:`append`): the
        conversation, row locked, once the checks every message passes are passed and
        a send token is taken; or the stored message of a resend of ``client_id``."""
        admitted, locked = self._admit(
            session, [Admission(member, conversation_id, client_id, reply_to, kind)]
        )
        self._spend(session, locked.spend)
        outcome = admitted[0]
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    def _admit(
        self, session: Session, admissions: Sequence[Admission]
    ) -> tuple[list[Conversation | Message | DomainError], _Locked]:
        """:meth:`_judge` of ``admissions`` after their reads, in one round trip."""
        conn = driver_connection(session)
        with conn.pipeline():
            reads = self._queue_admission(conn, admissions)
        return self._judge(reads, admissions)

    def _queue_admission(
        self, conn: psycopg.Connection[Any], admissions: Sequence[Admission]
    ) -> _Reads:
        """Queue what the checks of every message read, for many senders at once: the
        conversations (row locked in id order, so that two batches wait for each
        other, never deadlock) with their members, log heads and blocks; the stored
        originals of resends, in a statement of its own after the lock, so that it
        sees one a concurrent batch committed while this one waited; the senders'
        send-rate buckets (locked, in order)."""
        now = self.clock.now()
        conversations = conn.cursor(row_factory=tuple_row)
        conversations.execute(
            _LOCK_CONVERSATIONS_SQL, {"ids": sorted({a.conversation_id for a in admissions})}
        )
        originals = conn.cursor(row_factory=tuple_row)
        originals.execute(_ORIGINALS_SQL, _originals_params(admissions))
        senders = sorted({(a.member.kind, a.member.id) for a in admissions})
        buckets = conn.cursor(row_factory=tuple_row)
        buckets.execute(
            _LOCK_BUCKETS_SQL,
            {
                "k": [kind for kind, _ in senders],
                "m": [who for _, who in senders],
                "burst": self.config.rate_burst,
                "at": now,
            },
        )
        return _Reads(now, conversations, originals, buckets)

    def _judge(
        self,
        reads: _Reads,
        admissions: Sequence[Admission],
        *,
        refused: Sequence[DomainError | None] = (),
    ) -> tuple[list[Conversation | Message | DomainError], _Locked]:
        """The checks of every message, for many senders at once (no two alike; the
        reads queued for them or more): each gets its conversation (row locked), the
        stored original of a resend, or why it is refused; and the members of the
        conversations. ``refused`` carries refusals the caller found in the content,
        which come after membership, the resend check and the channel rule, as for a
        single message. What the lock read (members, log heads) spares the write
        reading it again."""
        conversations: dict[int, Conversation] = {}
        heads: dict[int, tuple[int, bytes]] = {}
        members: dict[int, _Members] = {}
        blocked: set[int] = set()
        n = _CONVERSATION_COLUMNS
        for row in reads.conversations.fetchall():
            head = conversations[int(row[0])] = Conversation(*row[:n])
            heads[head.id] = (head.last_seq, bytes(row[n]))
            group = members[head.id] = _Members()
            for kind, who, active in row[n + 1]:
                (group.active if active else group.left).add(Member(str(kind), int(who)))
            if row[n + 2]:
                blocked.add(head.id)
        originals = _by_key(reads.originals.fetchall())
        outcomes: list[Conversation | Message | DomainError] = []
        # Entries this batch admits into each request, beyond those in its log.
        greeted: Counter[int] = Counter()
        for i, admission in enumerate(admissions):
            member, conversation = admission.member, conversations.get(admission.conversation_id)
            caller_refused = refused[i] if i < len(refused) else None
            if conversation is None or member not in members[conversation.id].active:
                outcomes.append(ConversationNotFound())
            elif admission.key in originals:
                outcomes.append(originals[admission.key])
            elif conversation.kind == "notice" or (
                conversation.kind == "channel" and member.kind != STAFF
            ):
                outcomes.append(ChannelReadOnly())
            elif caller_refused is not None:
                outcomes.append(caller_refused)
            elif admission.reply_to is not None and not (
                1 <= admission.reply_to <= conversation.last_seq
            ):
                outcomes.append(ReplyToUnknown())
            elif conversation.is_request and member != Member(
                CUSTOMER, conversation.requested_by or 0
            ):
                outcomes.append(RequestNotAccepted())
            elif conversation.is_request and (
                admission.kind != "text"
                or conversation.last_seq + greeted[conversation.id] >= GREETINGS
            ):
                outcomes.append(RequestPending())
            elif conversation.id in blocked and member.kind == CUSTOMER:
                outcomes.append(Blocked())
            else:
                greeted[conversation.id] += conversation.is_request
                outcomes.append(conversation)
        spend = self._take_tokens(reads, admissions, outcomes)
        return outcomes, _Locked(members, heads, spend)

    def append(
        self,
        session: Session,
        conversation: Conversation,
        *,
        sender: Member | None,
        client_id: str,
        kind: str,
        body: str = "",
        reply_to: int | None = None,
        ref_seq: int | None = None,
        masked: tuple[str, ...] = (),
    ) -> Message:
        """Write the next entry of a conversation whose row this transaction has
        locked, chain it to the one before, and queue it for every member."""
        draft = Draft(sender, client_id, kind, body, reply_to, ref_seq, masked)
        return self._write(session, [(conversation, draft)])[0]

    def _write(
        self,
        session: Session,
        drafts: Sequence[tuple[Conversation, Draft]],
        locked: _Locked | None = None,
    ) -> list[Message]:
        """Append ``drafts`` in order to their conversations (locked by this
        transaction) and queue each for the members: one statement, whatever their
        number, when the caller read the logs' heads and members under the lock
        (``locked``, nothing written since; its send tokens are stored with them);
        else three."""
        if not drafts:
            if locked is not None:
                self._spend(session, locked.spend)
            return []
        counts = Counter(conversation.id for conversation, _ in drafts)
        if locked is not None:
            heads, members = dict(locked.heads), locked.members
        else:
            heads = {
                int(row[0]): (int(row[1]), bytes(row[2]))
                for row in session.execute(
                    _TAKE_SEQS, {"ids": list(counts), "counts": list(counts.values())}
                )
            }
            members = self._members_of(session, list(counts))
        now = self.clock.now()
        messages: list[Message] = []
        rows: list[dict[str, Any]] = []
        read_to: dict[tuple[int, str, int], int] = {}
        for conversation, draft in drafts:
            seq, prev = heads[conversation.id]
            message = Message(
                conversation.id, seq + 1, draft.sender.kind if draft.sender else SYSTEM,
                draft.sender.id if draft.sender else None, draft.client_id, draft.kind,
                draft.body, draft.reply_to, draft.ref_seq, draft.masked, now,
                recalled=False, hidden=False,
            )  # fmt: skip
            content = rules.content_hash(message.body)
            digest = rules.chain_hash(prev, _chain_fields(message, content))
            heads[conversation.id] = (message.seq, digest)
            searchable = message.kind == "text"
            rows.append(
                {
                    "c": message.conversation_id,
                    "s": message.seq,
                    "sk": message.sender_kind,
                    "si": message.sender_id,
                    "cid": message.client_id,
                    "k": message.kind,
                    "b": message.body,
                    "r": message.reply_to,
                    "ref": message.ref_seq,
                    "masked": message.masked,
                    "ch": content.hex(),
                    "h": digest.hex(),
                    "tokens": sorted(set(rules.search_tokens(message.body))) if searchable else [],
                }
            )
            if draft.sender is not None:
                # What one sends one has read.
                read_to[(conversation.id, draft.sender.kind, draft.sender.id)] = message.seq
            messages.append(message)
        driver_connection(session).execute(
            _WRITE_SQL,
            {
                # orjson: in the batch's critical path, and several times faster.
                "rows": orjson.dumps(rows).decode(),
                "at": now,
                "heads": orjson.dumps(
                    [{"id": c, "s": seq, "h": digest.hex()} for c, (seq, digest) in heads.items()]
                ).decode(),
                "seen": orjson.dumps(
                    [{"c": c, "k": k, "m": m, "s": seq} for (c, k, m), seq in read_to.items()]
                ).decode(),
                "head_ids": list(heads),
                **_spend_params(locked.spend if locked is not None else []),
            },
        )
        for message in messages:
            event = {"type": "message", "message": message.payload()}
            for who in members[message.conversation_id].active:
                queue_event(session, self.bus, who.topic, event)
        return messages

    def _members_of(self, session: Session, conversation_ids: list[int]) -> dict[int, _Members]:
        found: dict[int, _Members] = {c: _Members() for c in conversation_ids}
        if conversation_ids:
            for c, kind, who, active in session.execute(_MEMBERS, {"ids": conversation_ids}):
                group = found[int(c)]
                (group.active if active else group.left).add(Member(str(kind), int(who)))
        return found

    def message(self, session: Session, conversation_id: int, seq: int) -> Message:
        row = session.execute(
            text(f"SELECT {_MESSAGE} FROM chat_message WHERE conversation_id = :c AND seq = :s"),  # noqa: S608
            {"c": conversation_id, "s": seq},
        ).first()
        if row is None:
            raise MessageNotFound()
        return _message(row)

    def history(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[Message]:
        """The conversation's log after ``after_seq``, oldest first, as the member
        sees it."""
        self.membership(session, member, conversation_id)
        return self._after(session, member, conversation_id, after_seq, limit)

    def _after(
        self, session: Session, member: Member, conversation_id: int, after_seq: int, limit: int
    ) -> list[Message]:
        rows = session.execute(
            text(
                f"SELECT {_MESSAGE} FROM chat_message WHERE conversation_id = :c "  # noqa: S608
                "AND seq > :after ORDER BY seq LIMIT :limit"
            ),
            {"c": conversation_id, "after": max(0, after_seq), "limit": limit},
        ).all()
        return [_message(row).seen_by(member) for row in rows]

    def sync(
        self, session: Session, member: Member, *, cursor: str, limit: int = 200
    ) -> SyncResult:
        """Everything new in all of the member's conversations since ``cursor`` (the
        last ``seq`` seen per conversation, as returned by the previous sync), at
        most ``limit`` messages per conversation, and the cursor to send next.

        Sequence numbers commit in order within a conversation (they are taken
        under its row lock), so nothing below a seen ``seq`` can appear later."""
        positions = rules.parse_cursor(cursor)
        batches: list[SyncBatch] = []
        mine: dict[int, int] = {}
        for summary in self.conversations(session, member):
            conversation = summary.conversation
            seen = min(positions.get(conversation.id, 0), conversation.last_seq)
            mine[conversation.id] = seen
            if conversation.last_seq <= seen:
                continue
            messages = self._after(session, member, conversation.id, seen, limit + 1)
            more = len(messages) > limit
            messages = messages[:limit]
            if messages:
                mine[conversation.id] = messages[-1].seq
            batches.append(SyncBatch(summary, messages, more))
        return SyncResult(batches, rules.format_cursor(mine))

    # -- receipts, typing, presence ---------------------------------------------------------

    def mark(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        delivered: int | None = None,
        read: int | None = None,
    ) -> Summary:
        """Record that the member's devices received (``delivered``) or showed
        (``read``) the log up to these positions. Positions only move forward and
        never past the end; reading implies delivery."""
        summary = self.membership(session, member, conversation_id)
        last = summary.conversation.last_seq
        read_to = min(last, max(summary.last_read_seq, read or 0))
        delivered_to = min(last, max(summary.last_delivered_seq, delivered or 0, read_to))
        if (delivered_to, read_to) != (summary.last_delivered_seq, summary.last_read_seq):
            self._advance(session, member, conversation_id, delivered=delivered_to, read=read_to)
            # A request's asker is not told that it was read (nor anything else).
            if summary.role != "subscriber" and not summary.conversation.is_request:
                self._notify(
                    session,
                    conversation_id,
                    {
                        "type": "receipt",
                        "conversation_id": conversation_id,
                        "member": {"kind": member.kind, "id": member.id},
                        "delivered_seq": delivered_to,
                        "read_seq": read_to,
                    },
                    exclude=member,
                )
        return replace(summary, last_delivered_seq=delivered_to, last_read_seq=read_to)

    def _advance(
        self, session: Session, member: Member, conversation_id: int, *, delivered: int, read: int
    ) -> None:
        session.execute(
            text(
                "UPDATE chat_member SET last_delivered_seq = greatest(last_delivered_seq, :d), "
                "last_read_seq = greatest(last_read_seq, :r) "
                "WHERE conversation_id = :c AND member_kind = :k AND member_id = :m"
            ),
            {"d": delivered, "r": read, "c": conversation_id, "k": member.kind, "m": member.id},
        )

    def typing(self, session: Session, member: Member, *, conversation_id: int) -> None:
        """Tell the others that ``member`` is typing; not stored."""
        summary = self.membership(session, member, conversation_id)
        if summary.role == "subscriber" or summary.conversation.is_request:
            return
        self._notify(
            session,
            conversation_id,
            {
                "type": "typing",
                "conversation_id": conversation_id,
                "member": {"kind": member.kind, "id": member.id},
            },
            exclude=member,
        )

    def set_presence_visible(self, session: Session, member: Member, *, visible: bool) -> None:
        self._lock_presence(session, member)
        session.execute(
            text(
                "INSERT INTO chat_profile (member_kind, member_id, presence_visible) "
                "VALUES (:k, :m, :v) ON CONFLICT (member_kind, member_id) "
                "DO UPDATE SET presence_visible = :v"
            ),
            {"k": member.kind, "m": member.id, "v": visible},
        )
        if self.is_connected(session, member):
            self._announce(session, member, online=visible)

    def presence_visible(self, session: Session, member: Member) -> bool:
        row = session.execute(
            text(
                "SELECT presence_visible FROM chat_profile WHERE member_kind = :k "
                "AND member_id = :m"
            ),
            {"k": member.kind, "m": member.id},
        ).first()
        return True if row is None else bool(row[0])

    # Presence is shared by every gateway process through the database: each one
    # counts its connections per member in ``chat_presence`` under a lease it renews
    # (:meth:`renew_lease`); a member is online while a row of theirs belongs to a
    # gateway whose lease holds. Connect and disconnect take the member's advisory
    # lock and then make one statement, so that of two gateways connecting or
    # disconnecting the same member at once, one sees the other's row: exactly one
    # announces them online, and the last to let go announces them offline. What a
    # failed transaction leaves wrong, the gateway's next renewal puts right
    # (reconcile_presence). The locks are keyed by namespace and member id for any
    # bigint id (rongbank.db.advisory_key).

    def is_connected(self, session: Session, member: Member) -> bool:
        """Whether the member has a live connection to any gateway."""
        return bool(
            session.execute(
                text(f"SELECT EXISTS ({_LIVE_PRESENCE.format(kind=':k', id=':m')})"),
                {"k": member.kind, "m": member.id, "now": self.clock.now()},
            ).scalar_one()
        )

    def connected(self, session: Session, member: Member) -> None:
        """A connection of ``member``'s opened on this gateway; announced when it is
        their first anywhere."""
        now = self.clock.now()
        self._lock_presence(session, member)
        first, visible = session.execute(
            text(
                # The gateway's row is written by its first connection (and then by
                # renew_lease); DO NOTHING takes no lock, so connections do not queue
                # on it.
                "WITH gateway AS (INSERT INTO chat_gateway (id, name, started_at, lease_until) "  # noqa: S608
                "VALUES (:g, :name, :now, :until) ON CONFLICT (id) DO NOTHING), "
                "here AS (INSERT INTO chat_presence (member_kind, member_id, gateway_id, "
                "connections) VALUES (:k, :m, :g, 1) ON CONFLICT (member_kind, member_id, "
                "gateway_id) DO UPDATE SET connections = chat_presence.connections + 1 "
                "RETURNING connections) "
                "SELECT (SELECT connections FROM here) = 1 AND NOT EXISTS "
                f"({_LIVE_PRESENCE.format(kind=':k', id=':m')} AND pr.gateway_id <> :g), "
                f"{_VISIBLE}"
            ),
            {
                **self._presence_keys(member),
                "name": self._gateway_name,
                "now": now,
                "until": now + self.config.presence_lease,
            },
        ).one()
        if first and visible:
            self._announce(session, member, online=True)

    def disconnected(self, session: Session, member: Member) -> None:
        """A connection of ``member``'s to this gateway closed; announced when it was
        their last anywhere."""
        self._lock_presence(session, member)
        last, visible = session.execute(
            text(
                # Each row matches one of the two: its last connection goes, or one less.
                "WITH gone AS (DELETE FROM chat_presence WHERE member_kind = :k "  # noqa: S608
                "AND member_id = :m AND gateway_id = :g AND connections = 1), "
                "fewer AS (UPDATE chat_presence SET connections = connections - 1 "
                "WHERE member_kind = :k AND member_id = :m AND gateway_id = :g "
                "AND connections > 1 RETURNING 1) "
                "SELECT NOT EXISTS (SELECT 1 FROM fewer) AND NOT EXISTS "
                f"({_LIVE_PRESENCE.format(kind=':k', id=':m')} AND pr.gateway_id <> :g), "
                f"{_VISIBLE}"
            ),
            {**self._presence_keys(member), "now": self.clock.now()},
        ).one()
        if last and visible:
            self._announce(session, member, online=False)

    def renew_lease(self, session: Session) -> None:
        """Keep this gateway's connections counting for another lease; run every
        third of the lease (:meth:`rongbank.platform.Platform.start`). A lease found
        lapsed (this gateway was cut off; its rows may have been swept) makes the
        rows suspect."""
        now = self.clock.now()
        before = session.execute(
            text(
                # The CTE reads the row as it was before this statement's write.
                "WITH before AS (SELECT lease_until FROM chat_gateway WHERE id = :g) "
                "INSERT INTO chat_gateway (id, name, started_at, lease_until) "
                "VALUES (:g, :name, :now, :until) "
                "ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until "
                "RETURNING (SELECT lease_until FROM before)"
            ),
            {
                "g": self.gateway_id,
                "name": self._gateway_name,
                "now": now,
                "until": now + self.config.presence_lease,
            },
        ).scalar_one()
        if before is None or before <= now:
            self.presence_suspect = True

    def presence_due(self) -> bool:
        """Whether the next renewal should also reconcile: the rows are suspect, or
        ``presence_recheck`` has passed since the last time (a backstop)."""
        return (
            self.presence_suspect
            or self._reconciled_at is None
            or self.clock.now() - self._reconciled_at >= self.config.presence_recheck
        )

    def reconcile_presence(self, session: Session, here: Callable[[], OpenHere]) -> None:
        """Make this gateway's rows match the sockets it has open (``here``), announcing
        those whose being online anywhere changes: a disconnect whose transaction
        failed (the database went away as the socket closed) left a count one too
        high, a member whose rows were swept while this gateway was cut off from the
        database is still connected. Run after each :meth:`renew_lease`.

        Two statements however many are connected: one locks every member this
        gateway has a row or a counted socket for, the next writes the difference.
        ``here`` is asked again once the locks are held: a member's connect or
        disconnect that commits after that waits for this transaction and then
        counts from what it wrote; one that committed before is seen by both the
        database and ``here``, or its member is ``changing`` and left for the next
        run, as are members who connected in between (not locked). A failure that
        comes after this begins makes the rows suspect again."""
        self.presence_suspect = False
        self._reconciled_at = self.clock.now()
        seen = here()
        key = _PRESENCE_LOCK.format(kind="kind", id="id")
        locked = session.execute(
            text(
                # Sorted in a subquery (never flattened), locked in that order.
                f"SELECT kind, id, pg_advisory_xact_lock({key}) "  # noqa: S608
                "FROM (SELECT kind, id FROM (SELECT member_kind AS kind, member_id AS id "
                "FROM chat_presence WHERE gateway_id = :g UNION SELECT kind, id "
                "FROM jsonb_to_recordset(CAST(:seen AS jsonb)) AS s(kind text, id bigint)) m "
                f"ORDER BY {key}, kind, id) m"
            ),
            {
                "g": self.gateway_id,
                "seen": orjson.dumps([{"kind": m.kind, "id": m.id} for m in seen.counted]).decode(),
            },
        ).all()
        now = here()
        truth = [
            {"kind": kind, "id": member_id, "n": now.counted.get(member, 0)}
            for kind, member_id, _ in locked
            if (member := Member(kind, int(member_id))) not in now.changing
        ]
        if not truth:
            return
        changed = session.execute(
            text(
                "WITH truth AS (SELECT kind, id, n FROM jsonb_to_recordset(CAST(:truth AS jsonb)) "  # noqa: S608
                "AS t(kind text, id bigint, n integer)), "
                "gone AS (DELETE FROM chat_presence pr USING truth t WHERE pr.gateway_id = :g "
                "AND pr.member_kind = t.kind AND pr.member_id = t.id AND t.n = 0), "
                "counted AS (INSERT INTO chat_presence (member_kind, member_id, gateway_id, "
                "connections) SELECT kind, id, :g, n FROM truth WHERE n > 0 "
                "ON CONFLICT (member_kind, member_id, gateway_id) DO UPDATE "
                "SET connections = excluded.connections "
                "WHERE chat_presence.connections <> excluded.connections) "
                # Online after: counted here, or live elsewhere; before: live anywhere
                # (this statement's snapshot is from before its writes).
                "SELECT kind, id, online FROM (SELECT t.kind, t.id, (t.n > 0 OR EXISTS "
                f"({_LIVE_PRESENCE.format(kind='t.kind', id='t.id')} AND pr.gateway_id <> :g)) "
                f"AS online, EXISTS ({_LIVE_PRESENCE.format(kind='t.kind', id='t.id')}) AS was, "
                "coalesce((SELECT presence_visible FROM chat_profile p "
                "WHERE p.member_kind = t.kind AND p.member_id = t.id), true) AS visible "
                "FROM truth t) c WHERE online <> was AND visible"
            ),
            {"truth": orjson.dumps(truth).decode(), "g": self.gateway_id, "now": self.clock.now()},
        ).all()
        for kind, member_id, online in changed:
            self._announce(session, Member(kind, int(member_id)), online=bool(online))

    def sweep_presence(self, session: Session, *, limit: int = 200) -> bool:
        """Clear up to ``limit`` members' rows of one gateway whose lease ran out,
        announcing offline those connected nowhere else; the gateway's row goes with
        its last. False when no such gateway is left. Bounded, because each member
        holds an advisory lock until the commit."""
        dead = session.execute(
            text(
                # SKIP LOCKED: of several live gateways, each sweeps a different one.
                "SELECT id FROM chat_gateway WHERE lease_until <= :now AND id <> :g "
                "ORDER BY lease_until LIMIT 1 FOR UPDATE SKIP LOCKED"
            ),
            {"now": self.clock.now(), "g": self.gateway_id},
        ).scalar()
        if dead is None:
            return False
        rows = session.execute(
            text(
                # Locked in the order of their keys, as by every other taker of several
                # (reconcile_presence), so that no two deadlock.
                "SELECT member_kind, member_id FROM chat_presence WHERE gateway_id = :d "  # noqa: S608
                f"ORDER BY {_PRESENCE_LOCK.format(kind='member_kind', id='member_id')}, "
                "member_kind, member_id LIMIT :limit"
            ),
            {"d": dead, "limit": limit},
        ).all()
        for kind, member_id in rows:
            member = Member(kind, int(member_id))
            self._lock_presence(session, member)
            gone, visible = session.execute(
                text(
                    "WITH gone AS (DELETE FROM chat_presence WHERE member_kind = :k "  # noqa: S608
                    "AND member_id = :m AND gateway_id = :d RETURNING 1) "
                    "SELECT EXISTS (SELECT 1 FROM gone) AND NOT EXISTS "
                    f"({_LIVE_PRESENCE.format(kind=':k', id=':m')}), {_VISIBLE}"
                ),
                {**self._presence_keys(member), "d": dead, "now": self.clock.now()},
            ).one()
            if gone and visible:
                self._announce(session, member, online=False)
        if len(rows) < limit:
            session.execute(text("DELETE FROM chat_gateway WHERE id = :d"), {"d": dead})
        return True

    def _presence_keys(self, member: Member) -> dict[str, Any]:
        return {"k": member.kind, "m": member.id, "g": self.gateway_id}

    def _lock_presence(self, session: Session, member: Member) -> None:
        """Serialise the presence changes of one member until the commit. A separate
        statement: the one that follows must see what the lock's holder committed."""
        session.execute(
            text(f"SELECT pg_advisory_xact_lock({_PRESENCE_LOCK.format(kind=':k', id=':m')})"),
            {"k": member.kind, "m": member.id},
        )

    def _announce(self, session: Session, member: Member, *, online: bool) -> None:
        """Tell those who may see the member's presence that they came or went: staff
        and the customers they share a bank or group chat with, and a customer's
        contacts (an accepted direct chat); never a stranger in a group or a request
        (see :mod:`rongbank.chat.contacts`)."""
        rows = session.execute(
            text(
                "SELECT DISTINCT o.member_kind, o.member_id FROM chat_member m "
                "JOIN chat_conversation c ON c.id = m.conversation_id AND c.kind <> 'channel' "
                "JOIN chat_member o ON o.conversation_id = m.conversation_id AND o.active "
                "WHERE m.member_kind = :k AND m.member_id = :m AND m.active "
                "AND (o.member_kind, o.member_id) <> (:k, :m) "
                "AND (:k = 'staff' OR o.member_kind = 'staff' "
                "OR (c.kind = 'direct' AND c.request = 'accepted'))"
            ),
            {"k": member.kind, "m": member.id},
        ).all()
        self._tell_presence(
            session, member, [Member(kind, int(other)) for kind, other in rows], online=online
        )

    def _tell_presence(
        self, session: Session, member: Member, others: list[Member], *, online: bool
    ) -> None:
        event = {
            "type": "presence",
            "member": {"kind": member.kind, "id": member.id},
            "online": online,
        }
        for other in others:
            queue_event(session, self.bus, other.topic, event)

    def now_contacts(self, session: Session, one: Member, other: Member) -> None:
        """Two customers have just become contacts (a request accepted): each is told
        whether the other is online now, as a contact who connects would be."""
        for member, told in ((one, other), (other, one)):
            self._lock_presence(session, member)
            if self.is_connected(session, member) and self.presence_visible(session, member):
                self._tell_presence(session, member, [told], online=True)

    # -- recall and moderation -------------------------------------------------------------

    def recall(
        self, session: Session, member: Member, *, conversation_id: int, seq: int
    ) -> Message:
        """The sender withdraws a message within the recall window: others see a
        tombstone from then on, and a ``recall`` entry in the log tells every
        client. The content is kept (bank records), never shown again to others."""
        self.membership(session, member, conversation_id)
        conversation = self.conversation(session, conversation_id, lock=True)
        target = self.message(session, conversation_id, seq)
        if (target.sender_kind, target.sender_id) != (
            member.kind,
            member.id,
        ) or target.kind not in WITHDRAWABLE:
            raise RecallNotAllowed()
        admission = Admission(member, conversation_id, f"recall:{seq}")
        existing = _by_key(session.execute(_ORIGINALS, _originals_params([admission])).all()).get(
            admission.key
        )
        if existing is not None:
            return existing
        if self.clock.now() - target.at > self.config.recall_window:
            raise RecallWindowPassed(window_seconds=int(self.config.recall_window.total_seconds()))
        session.execute(
            text(
                "UPDATE chat_message SET recalled_at = :at WHERE conversation_id = :c AND seq = :s"
            ),
            {"at": self.clock.now(), "c": conversation_id, "s": seq},
        )
        return self.append(
            session,
            conversation,
            sender=member,
            client_id=f"recall:{seq}",
            kind="recall",
            ref_seq=seq,
        )

    def hide(
        self, session: Session, *, staff_id: int, conversation_id: int, seq: int, reason: str
    ) -> Message:
        """A moderator hides a message from everyone (the boundary audits it); the
        content is kept for the record. Idempotent."""
        if not reason.strip():
            raise ReasonRequired()
        conversation = self.conversation(session, conversation_id, lock=True)
        target = self.message(session, conversation_id, seq)
        if target.kind not in WITHDRAWABLE:
            raise MessageNotFound()
        if target.hidden:
            row = session.execute(
                text(
                    f"SELECT {_MESSAGE} FROM chat_message WHERE conversation_id = :c "  # noqa: S608
                    "AND kind = 'hide' AND ref_seq = :s"
                ),
                {"c": conversation_id, "s": seq},
            ).one()
            return _message(row)
        session.execute(
            text(
                "UPDATE chat_message SET hidden_at = :at, hidden_by = :by "
                "WHERE conversation_id = :c AND seq = :s"
            ),
            {"at": self.clock.now(), "by": staff_id, "c": conversation_id, "s": seq},
        )
        self._close_reports(session, conversation_id, seq, staff_id=staff_id, outcome="hidden")
        return self.append(
            session, conversation, sender=None, client_id=f"hide:{seq}", kind="hide", ref_seq=seq
        )

    # -- safety ------------------------------------------------------------------------------

    def _take_tokens(
        self,
        reads: _Reads,
        admissions: Sequence[Admission],
        outcomes: list[Conversation | Message | DomainError],
    ) -> list[dict[str, Any]]:
        """The send rate limit: a token bucket per sender in the database, under its
        row lock in the sending transaction, so that it holds across processes and a
        refused or rolled-back send costs nothing. Admitted senders (``Conversation``
        outcomes) left without a token become :class:`RateLimited`. Returns the
        buckets to store (:meth:`_spend`, or with the messages by :meth:`_write`):
        those of admitted senders only, though all the batch's were locked."""
        config, now = self.config, reads.now
        locked = {
            (str(kind), int(who)): (float(tokens), at)
            for kind, who, tokens, at in reads.buckets.fetchall()
        }
        buckets: dict[tuple[str, int], float] = {}
        for i, outcome in enumerate(outcomes):
            if not isinstance(outcome, Conversation):
                continue
            key = (admissions[i].member.kind, admissions[i].member.id)
            available = buckets.get(key)
            if available is None:
                tokens, at = locked[key]
                available = rules.refill(
                    tokens,
                    elapsed_seconds=(now - at).total_seconds(),
                    per_minute=config.rate_per_minute,
                    burst=config.rate_burst,
                )
            if available < 1:
                wait = (1 - available) * 60 / config.rate_per_minute
                outcomes[i] = RateLimited(retry_after_seconds=max(1, round(wait + 0.5)))
            else:
                available -= 1
            buckets[key] = available
        stamp = now.isoformat()
        return [{"k": k, "m": m, "t": t, "at": stamp} for (k, m), t in buckets.items()]

    def _spend(self, session: Session, spend: list[dict[str, Any]]) -> None:
        """Store the buckets :meth:`_take_tokens` counted: refilled, less a token for
        each sender it admitted."""
        if spend:
            driver_connection(session).execute(_SPEND_SQL, _spend_params(spend))

    def report(
        self, session: Session, *, customer_id: int, conversation_id: int, seq: int, reason: str
    ) -> int:
        """Report a message to the bank's moderators; returns the report's id."""
        if not reason.strip():
            raise ReasonRequired()
        self.membership(session, Member(CUSTOMER, customer_id), conversation_id)
        self.message(session, conversation_id, seq)
        row = session.execute(
            text(
                "INSERT INTO chat_report (conversation_id, seq, reporter_id, reason, at) "
                "VALUES (:c, :s, :r, :why, :at) ON CONFLICT DO NOTHING RETURNING id"
            ),
            {
                "c": conversation_id,
                "s": seq,
                "r": customer_id,
                "why": reason.strip()[:500],
                "at": self.clock.now(),
            },
        ).first()
        if row is None:
            raise AlreadyReported()
        return int(row[0])

    def reports(
        self, session: Session, *, open_only: bool = False, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Reported messages with their content as stored, newest first; with
        ``open_only``, those no moderator has acted on yet."""
        rows = session.execute(
            text(
                "SELECT r.id, r.conversation_id, r.seq, r.reporter_id, r.reason, r.at, "
                "m.sender_kind, m.sender_id, m.body, m.hidden_at IS NOT NULL, r.outcome "
                "FROM chat_report r JOIN chat_message m "
                "ON m.conversation_id = r.conversation_id AND m.seq = r.seq "
                "WHERE NOT :open OR r.closed_at IS NULL ORDER BY r.id DESC LIMIT :limit"
            ),
            {"open": open_only, "limit": limit},
        ).all()
        keys = ("id", "conversation_id", "seq", "reporter_id", "reason", "at", "sender_kind",
                "sender_id", "body", "hidden", "outcome")  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def open_report_count(self, session: Session) -> int:
        """Reports no moderator has acted on yet."""
        return int(
            session.execute(text("SELECT count(*) FROM chat_report WHERE closed_at IS NULL")).one()[
                0
            ]
        )

    def dismiss_report(self, session: Session, *, staff_id: int, report_id: int) -> None:
        """A moderator finds nothing wrong with a reported message: its reports (this
        one and any other of the same message) are closed and the message stays.
        Idempotent; the boundary audits it."""
        row = session.execute(
            text("SELECT conversation_id, seq FROM chat_report WHERE id = :id"), {"id": report_id}
        ).first()
        if row is None:
            raise ReportNotFound()
        self._close_reports(session, row[0], row[1], staff_id=staff_id, outcome="dismissed")

    def _close_reports(
        self, session: Session, conversation_id: int, seq: int, *, staff_id: int, outcome: str
    ) -> None:
        session.execute(
            text(
                "UPDATE chat_report SET closed_at = :at, closed_by = :by, outcome = :o "
                "WHERE conversation_id = :c AND seq = :s AND closed_at IS NULL"
            ),
            {"at": self.clock.now(), "by": staff_id, "o": outcome, "c": conversation_id, "s": seq},
        )

    # -- search and export -----------------------------------------------------------------

    def search(
        self, session: Session, member: Member, *, query: str, limit: int = 50
    ) -> list[Message]:
        """The member's messages matching every word (Chinese: every bigram) of the
        query, newest first; recalled and hidden messages are not found."""
        tokens = rules.query_tokens(query)
        if not tokens:
            return []
        # Tokens are only letters, digits and Han characters, so quoting is safe.
        tsquery = " & ".join(f"'{t}'" for t in tokens)
        rows = session.execute(
            text(
                f"SELECT {', '.join('x.' + c.strip() for c in _MESSAGE.split(',')[:-2])}, "  # noqa: S608
                "x.recalled_at IS NOT NULL, x.hidden_at IS NOT NULL "
                "FROM chat_message x JOIN chat_member m ON m.conversation_id = x.conversation_id "
                "AND m.member_kind = :k AND m.member_id = :m AND m.active "
                "WHERE x.search @@ CAST(:q AS tsquery) AND x.kind = 'text' "
                "AND x.recalled_at IS NULL AND x.hidden_at IS NULL "
                "ORDER BY x.at DESC, x.id DESC LIMIT :limit"
            ),
            {"k": member.kind, "m": member.id, "q": tsquery, "limit": limit},
        ).all()
        return [_message(row) for row in rows]

    def export(
        self, session: Session, *, customer_id: int, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """The customer's conversations with the bank in ``[start, end)``, every
        entry as stored (recalled and hidden ones marked, content kept), with the
        hashes that chain it, so that the export itself can be checked."""
        rows = session.execute(
            text(
                "SELECT x.conversation_id, x.seq, x.at, x.sender_kind, x.sender_id, x.client_id, "
                "x.kind, x.body, x.reply_to, x.ref_seq, x.masked, x.recalled_at, x.hidden_at, "
                "x.content_hash, x.hash, lag(x.hash) OVER (PARTITION BY x.conversation_id "
                "ORDER BY x.seq) FROM chat_message x "
                "JOIN chat_conversation c ON c.id = x.conversation_id "
                "WHERE c.kind = 'bank' AND c.customer_id = :cu ORDER BY x.conversation_id, x.seq"
            ),
            {"cu": customer_id},
        ).all()
        out: list[dict[str, Any]] = []
        for r in rows:
            if not start <= r[2] < end:
                continue
            prev = rules.GENESIS if r[15] is None else bytes(r[15])
            out.append(
                {
                    "conversation_id": r[0],
                    "seq": r[1],
                    "at": r[2].astimezone(UTC).isoformat(),
                    "sender_kind": r[3],
                    "sender_id": r[4],
                    "client_id": r[5],
                    "kind": r[6],
                    "body": r[7],
                    "reply_to": r[8],
                    "ref_seq": r[9],
                    "masked": list(r[10]),
                    "recalled_at": r[11].isoformat() if r[11] else None,
                    "hidden_at": r[12].isoformat() if r[12] else None,
                    "content_hash": bytes(r[13]).hex(),
                    "prev_hash": prev.hex(),
                    "hash": bytes(r[14]).hex(),
                }
            )
        return out

    def verify(self, session: Session, conversation_id: int) -> list[str]:
        """Walk one conversation's chain; every changed, removed or reordered entry
        is reported. Empty means intact."""
        problems: list[str] = []
        prev, expected = rules.GENESIS, 1
        conversation = self.conversation(session, conversation_id)
        result = session.execute(
            text(
                f"SELECT {_MESSAGE}, content_hash, hash FROM chat_message "  # noqa: S608
                "WHERE conversation_id = :c ORDER BY seq"
            ),
            {"c": conversation_id},
        )
        for r in result:
            entry, content, digest = _message(r[:13]), bytes(r[13]), bytes(r[14])
            seq = entry.seq
            if seq != expected:
                problems.append(f"entries {expected}..{seq - 1} are missing")
            if rules.content_hash(entry.body) != content:
                problems.append(f"entry {seq}: the content was changed")
            if rules.chain_hash(prev, _chain_fields(entry, content)) != digest:
                problems.append(f"entry {seq}: does not follow the entry before it")
            prev, expected = digest, seq + 1
        if expected - 1 != conversation.last_seq:
            problems.append(f"entries {expected}..{conversation.last_seq} are missing")
        return problems

    # -- fan-out -----------------------------------------------------------------------------

    def _notify(
        self,
        session: Session,
        conversation_id: int,
        event: dict[str, Any],
        *,
        exclude: Member | None = None,
    ) -> None:
        for member in self._members_of(session, [conversation_id])[conversation_id].active:
            if member != exclude:
                queue_event(session, self.bus, member.topic, event)

    def notify_member(self, session: Session, member: Member, event: dict[str, Any]) -> None:
        queue_event(session, self.bus, member.topic, event)


def _spend_params(spend: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "spend": orjson.dumps(spend).decode(),
        "spend_k": [s["k"] for s in spend],
        "spend_m": [s["m"] for s in spend],
    }


def _originals_params(admissions: Sequence[Admission]) -> dict[str, Any]:
    return {
        "c": [a.conversation_id for a in admissions],
        "k": [a.member.kind for a in admissions],
        "m": [a.member.id for a in admissions],
        "cid": [a.client_id for a in admissions],
    }


def _by_key(rows: Sequence[Any]) -> dict[tuple[int, str, int, str], Message]:
    """Stored messages (``_ORIGINALS`` rows) by what makes a resend of them."""
    found: dict[tuple[int, str, int, str], Message] = {}
    for row in rows:
        message = _message(row)
        if message.sender_id is not None:
            key = (message.conversation_id, message.sender_kind, message.sender_id)
            found[(*key, message.client_id)] = message
    return found


def _chain_fields(message: Message, content: bytes) -> dict[str, Any]:
    """What an entry's hash covers: everything but the body, which its hash stands
    for (so a body can be proved without revealing the others)."""
    return {
        "conversation": message.conversation_id,
        "seq": message.seq,
        "sender": [message.sender_kind, message.sender_id],
        "client_id": message.client_id,
        "kind": message.kind,
        "content": content.hex(),
        "reply_to": message.reply_to,
        "ref_seq": message.ref_seq,
        "masked": list(message.masked),
        # Microseconds and UTC, whatever the session's time zone gives back.
        "at": message.at.astimezone(UTC).isoformat(timespec="microseconds"),
    }


def chat_config(settings: Settings, *, key: bytes) -> ChatConfig:
    """The chat's settings; ``key``, a key of the bank's that outlives restarts, from
    which the chat derives its own (``request_key``)."""
    opens, closes = (time.fromisoformat(t) for t in settings.chat_business_hours.split("-", 1))
    config = ChatConfig(
        recall_window=timedelta(seconds=settings.chat_recall_seconds),
        rate_per_minute=settings.chat_send_per_minute,
        rate_burst=float(settings.chat_send_burst),
        business_hours=rules.BusinessHours(opens=opens, closes=closes),
        lookups_per_hour=settings.chat_lookups_per_hour,
        lookup_burst=float(settings.chat_lookup_burst),
        request_key=hmac.new(key, b"rongbank chat requests", hashlib.sha256).digest(),
    )
    if settings.chat_away_message:
        config = replace(config, away_message=settings.chat_away_message)
    return config


def make_bus(settings: Settings, connect: Connect | None = None) -> Bus:
    """The bus a process uses: NATS when a server is configured; else PostgreSQL's
    LISTEN/NOTIFY on the bank's database (``connect``) when ``chat_fanout`` says so
    (several API processes); else in-process."""
    if settings.nats_url:
        return NatsBus(settings.nats_url)
    if settings.chat_fanout == "postgres":
        if connect is None:
            raise ValueError("chat fan-out through PostgreSQL needs the bank's database")
        return PostgresBus(connect)
    return InProcessBus()
