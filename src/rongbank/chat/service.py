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

Sending (admission, the send rate, the log's write) is :mod:`rongbank.chat.sending`,
presence :mod:`rongbank.chat.presence`, the records :mod:`rongbank.chat.records`;
:class:`ChatService` inherits the first two.

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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.chat import rules
from rongbank.chat.bus import Bus, InProcessBus, NatsBus, queue_event
from rongbank.chat.contacts import KNOWN, Contacts
from rongbank.chat.desk import Desk
from rongbank.chat.errors import (
    AlreadyReported,
    ChatUserNotFound,
    ConversationNotFound,
    GroupTooLarge,
    MessageNotFound,
    ReasonRequired,
    RecallNotAllowed,
    RecallWindowPassed,
    ReportNotFound,
)
from rongbank.chat.members import CUSTOMER as CUSTOMER
from rongbank.chat.members import STAFF as STAFF
from rongbank.chat.members import SYSTEM as SYSTEM
from rongbank.chat.members import Member as Member
from rongbank.chat.pg_bus import Connect, PostgresBus
from rongbank.chat.presence import LIVE_PRESENCE, OpenHere, Presence
from rongbank.chat.records import (
    CONVERSATION_COLUMNS,
    CONVERSATION_WIDTH,
    MESSAGE_COLUMNS,
    Conversation,
    MemberInfo,
    Message,
    Summary,
    SyncBatch,
    SyncResult,
    message_from,
)
from rongbank.chat.sending import Admission, Sending, chain_fields, stored_original
from rongbank.clock import Clock
from rongbank.pii import PersonalData, for_this_process
from rongbank.settings import Settings

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


class ChatService(Sending, Presence):
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
        # This process's name in the shared presence tables (rongbank.chat.presence).
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
                f"SELECT {CONVERSATION_COLUMNS} FROM chat_conversation WHERE id = :id"  # noqa: S608
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
                f"SELECT {', '.join('c.' + c.strip() for c in CONVERSATION_COLUMNS.split(','))}, "  # noqa: S608
                "m.role, m.last_delivered_seq, m.last_read_seq "
                "FROM chat_member m JOIN chat_conversation c ON c.id = m.conversation_id "
                "WHERE m.member_kind = :k AND m.member_id = :m AND m.active ORDER BY c.id"
            ),
            {"k": member.kind, "m": member.id},
        ).all()
        n = CONVERSATION_WIDTH
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
                f"SELECT {CONVERSATION_COLUMNS} FROM chat_conversation "  # noqa: S608
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
                f"EXISTS ({LIVE_PRESENCE.format(kind='m.member_kind', id='m.member_id')}), "
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

    def message(self, session: Session, conversation_id: int, seq: int) -> Message:
        row = session.execute(
            text(
                f"SELECT {MESSAGE_COLUMNS} FROM chat_message "  # noqa: S608
                "WHERE conversation_id = :c AND seq = :s"
            ),
            {"c": conversation_id, "s": seq},
        ).first()
        if row is None:
            raise MessageNotFound()
        return message_from(row)

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
                f"SELECT {MESSAGE_COLUMNS} FROM chat_message WHERE conversation_id = :c "  # noqa: S608
                "AND seq > :after ORDER BY seq LIMIT :limit"
            ),
            {"c": conversation_id, "after": max(0, after_seq), "limit": limit},
        ).all()
        return [message_from(row).seen_by(member) for row in rows]

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

    # -- receipts and typing ----------------------------------------------------------------

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
        existing = stored_original(session, admission)
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
                    f"SELECT {MESSAGE_COLUMNS} FROM chat_message WHERE conversation_id = :c "  # noqa: S608
                    "AND kind = 'hide' AND ref_seq = :s"
                ),
                {"c": conversation_id, "s": seq},
            ).one()
            return message_from(row)
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
                f"SELECT {', '.join('x.' + c.strip() for c in MESSAGE_COLUMNS.split(',')[:-2])}, "  # noqa: S608
                "x.recalled_at IS NOT NULL, x.hidden_at IS NOT NULL "
                "FROM chat_message x JOIN chat_member m ON m.conversation_id = x.conversation_id "
                "AND m.member_kind = :k AND m.member_id = :m AND m.active "
                "WHERE x.search @@ CAST(:q AS tsquery) AND x.kind = 'text' "
                "AND x.recalled_at IS NULL AND x.hidden_at IS NULL "
                "ORDER BY x.at DESC, x.id DESC LIMIT :limit"
            ),
            {"k": member.kind, "m": member.id, "q": tsquery, "limit": limit},
        ).all()
        return [message_from(row) for row in rows]

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
                f"SELECT {MESSAGE_COLUMNS}, content_hash, hash FROM chat_message "  # noqa: S608
                "WHERE conversation_id = :c ORDER BY seq"
            ),
            {"c": conversation_id},
        )
        for r in result:
            entry, content, digest = message_from(r[:13]), bytes(r[13]), bytes(r[14])
            seq = entry.seq
            if seq != expected:
                problems.append(f"entries {expected}..{seq - 1} are missing")
            if rules.content_hash(entry.body) != content:
                problems.append(f"entry {seq}: the content was changed")
            if rules.chain_hash(prev, chain_fields(entry, content)) != digest:
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
