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
the session and published by the boundary after commit
(:func:`rongbank.chat.bus.chat_transaction`). Message texts are never logged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.auth.service import Principal
from rongbank.chat import rules
from rongbank.chat.bus import Bus, bus_for, queue_event, topic
from rongbank.chat.errors import (
    AlreadyReported,
    Blocked,
    CannotChatWithSelf,
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
)
from rongbank.clock import Clock
from rongbank.settings import Settings

if TYPE_CHECKING:
    from rongbank.chat.desk import Desk

CUSTOMER = "customer"
STAFF = "staff"
SYSTEM = "system"
MAX_TEXT = 2000
MAX_GROUP = 200
WITHDRAWABLE = ("text", "image", "file")
"""Kinds of message a sender can recall and a moderator can hide."""


@dataclass(frozen=True, slots=True)
class Member:
    """Someone taking part in chats: a customer or a staff member."""

    kind: str
    id: int

    @classmethod
    def of(cls, principal: Principal) -> Member:
        return cls(principal.kind.value, principal.id)

    @property
    def topic(self) -> str:
        return topic(self.kind, self.id)


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


_CONVERSATION = (
    "id, kind, title, customer_id, last_seq, assigned_staff_id, routing, waiting_since, "
    "away_sent, created_at"
)


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
    role: str
    last_delivered_seq: int
    last_read_seq: int

    @property
    def unread(self) -> int:
        return max(0, self.conversation.last_seq - self.last_read_seq)


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


class ChatService:
    def __init__(self, clock: Clock, bus: Bus, config: ChatConfig | None = None) -> None:
        from rongbank.chat.desk import Desk  # the desk calls back into this service

        self.clock = clock
        self.bus = bus
        self.config = config or ChatConfig()
        self.desk: Desk = Desk(self)
        self._online: dict[Member, int] = {}
        self._online_lock = threading.Lock()

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
            self.conversation(session, conversation_id), str(row[0]), int(row[1]), int(row[2])
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
        return [Summary(Conversation(*row[:10]), row[10], row[11], row[12]) for row in rows]

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
        """Insert a conversation; None when ``pair_key`` is taken (it exists)."""
        row = session.execute(
            text(
                "INSERT INTO chat_conversation (kind, title, pair_key, customer_id, routing, "
                "created_at) VALUES (:k, :t, :p, :c, :r, :at) "
                "ON CONFLICT (pair_key) DO NOTHING RETURNING id"
            ),
            {
                "k": kind,
                "t": title.strip()[:100],
                "p": pair_key,
                "c": customer_id,
                "r": routing,
                "at": self.clock.now(),
            },
        ).first()
        return None if row is None else int(row[0])

    def _by_pair(self, session: Session, pair_key: str) -> int:
        return int(
            session.execute(
                text("SELECT id FROM chat_conversation WHERE pair_key = :p"), {"p": pair_key}
            ).scalar_one()
        )

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

    def customer_by_mobile(self, session: Session, mobile: str) -> int:
        row = session.execute(
            text("SELECT id FROM customer WHERE mobile = :m"), {"m": rules._fold(mobile).strip()}
        ).first()
        if row is None:
            raise ChatUserNotFound()
        return int(row[0])

    def open_direct(self, session: Session, *, customer_id: int, other_id: int) -> Summary:
        """The direct conversation of two customers, opened on first use."""
        if other_id == customer_id:
            raise CannotChatWithSelf()
        if self._blocked(session, customer_id, other_id):
            raise Blocked()
        low, high = sorted((customer_id, other_id))
        key = f"c{low}:c{high}"
        new = self._create(session, kind="direct", pair_key=key)
        conversation_id = new if new is not None else self._by_pair(session, key)
        if new is not None:
            for who in (low, high):
                self.add_member(session, conversation_id, Member(CUSTOMER, who))
        return self.membership(session, Member(CUSTOMER, customer_id), conversation_id)

    def open_bank(self, session: Session, *, customer_id: int) -> Summary:
        """The customer's conversation with the bank, opened on first use and routed
        to their account manager (see :class:`~rongbank.chat.desk.Desk`)."""
        key = f"bank:{customer_id}"
        new = self._create(
            session, kind="bank", title="", pair_key=key, customer_id=customer_id, routing="queued"
        )
        conversation_id = new if new is not None else self._by_pair(session, key)
        if new is not None:
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
                and self._blocked(session, creator.id, member.id)
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
        self.membership(session, member, conversation_id)
        rows = session.execute(
            text(
                "SELECT m.member_kind, m.member_id, coalesce(cu.name, st.name, ''), m.role, "
                "m.last_delivered_seq, m.last_read_seq, coalesce(p.presence_visible, true) "
                "FROM chat_member m "
                "LEFT JOIN customer cu ON m.member_kind = 'customer' AND cu.id = m.member_id "
                "LEFT JOIN staff st ON m.member_kind = 'staff' AND st.id = m.member_id "
                "LEFT JOIN chat_profile p ON p.member_kind = m.member_kind "
                "AND p.member_id = m.member_id "
                "WHERE m.conversation_id = :c AND m.active AND m.role <> 'subscriber' "
                "ORDER BY m.member_kind, m.member_id"
            ),
            {"c": conversation_id},
        ).all()
        return [
            MemberInfo(
                kind=r[0],
                id=int(r[1]),
                name=r[2],
                role=r[3],
                last_delivered_seq=int(r[4]),
                last_read_seq=int(r[5]),
                online=bool(r[6]) and self.is_connected(Member(r[0], int(r[1]))),
            )
            for r in rows
        ]

    # -- messages ----------------------------------------------------------------------

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
        self.membership(session, member, conversation_id)
        # The conversation's row lock orders its log; taken before the resend check,
        # so that two copies of one message racing each other find each other.
        conversation = self.conversation(session, conversation_id, lock=True)
        existing = self._by_client_id(session, conversation_id, member, client_id)
        if existing is not None:
            return Sent(existing.seen_by(member), created=False, masked=existing.masked)
        if conversation.kind == "notice" or (
            conversation.kind == "channel" and member.kind != STAFF
        ):
            raise ChannelReadOnly()
        stripped = body.strip()
        if not stripped:
            raise MessageEmpty()
        if len(stripped) > MAX_TEXT:
            raise MessageTooLong(max_length=MAX_TEXT)
        if reply_to is not None and not 1 <= reply_to <= conversation.last_seq:
            raise ReplyToUnknown()
        if conversation.kind == "direct" and member.kind == CUSTOMER:
            other = self._other_customer(session, conversation_id, member.id)
            if other is not None and self._blocked(session, member.id, other):
                raise Blocked()
        self._take_token(session, member)
        masked = rules.mask_sensitive(stripped)
        message = self.append(
            session,
            conversation,
            sender=member,
            client_id=client_id,
            kind="text",
            body=masked.text,
            reply_to=reply_to,
            masked=masked.found,
        )
        if conversation.kind == "bank":
            self.desk.message_added(session, conversation, message)
        return Sent(message, created=True, masked=masked.found)

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
        row = session.execute(
            text(
                "UPDATE chat_conversation SET last_seq = last_seq + 1 WHERE id = :id "
                "RETURNING last_seq, last_hash"
            ),
            {"id": conversation.id},
        ).one()
        seq, prev = int(row[0]), bytes(row[1])
        now = self.clock.now()
        sender_kind = sender.kind if sender else SYSTEM
        sender_id = sender.id if sender else None
        digest = rules.chain_hash(
            prev,
            _chain_fields(
                conversation.id,
                seq,
                sender_kind,
                sender_id,
                client_id,
                kind,
                rules.content_hash(body),
                reply_to,
                ref_seq,
                list(masked),
                now,
            ),
        )
        session.execute(
            text(
                "INSERT INTO chat_message (conversation_id, seq, sender_kind, sender_id, "
                "client_id, kind, body, reply_to, ref_seq, masked, at, content_hash, hash, "
                "search) VALUES (:c, :s, :sk, :si, :cid, :k, :b, :r, :ref, :masked, :at, :ch, "
                ":h, array_to_tsvector(CAST(:tokens AS text[])))"
            ),
            {
                "c": conversation.id,
                "s": seq,
                "sk": sender_kind,
                "si": sender_id,
                "cid": client_id,
                "k": kind,
                "b": body,
                "r": reply_to,
                "ref": ref_seq,
                "masked": list(masked),
                "at": now,
                "ch": rules.content_hash(body),
                "h": digest,
                "tokens": sorted(set(rules.search_tokens(body))) if kind == "text" else [],
            },
        )
        session.execute(
            text("UPDATE chat_conversation SET last_hash = :h WHERE id = :id"),
            {"h": digest, "id": conversation.id},
        )
        if sender is not None:
            # What one sends one has read.
            self._advance(session, sender, conversation.id, delivered=seq, read=seq)
        message = Message(
            conversation.id, seq, sender_kind, sender_id, client_id, kind, body,
            reply_to, ref_seq, masked, now, recalled=False, hidden=False,
        )  # fmt: skip
        self._notify(session, conversation.id, {"type": "message", "message": message.payload()})
        return message

    def _by_client_id(
        self, session: Session, conversation_id: int, member: Member, client_id: str
    ) -> Message | None:
        row = session.execute(
            text(
                f"SELECT {_MESSAGE} FROM chat_message WHERE conversation_id = :c "  # noqa: S608
                "AND sender_kind = :k AND sender_id = :m AND client_id = :cid"
            ),
            {"c": conversation_id, "k": member.kind, "m": member.id, "cid": client_id},
        ).first()
        return None if row is None else _message(row)

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
            if summary.role != "subscriber":
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
        if summary.role == "subscriber":
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
        session.execute(
            text(
                "INSERT INTO chat_profile (member_kind, member_id, presence_visible) "
                "VALUES (:k, :m, :v) ON CONFLICT (member_kind, member_id) "
                "DO UPDATE SET presence_visible = :v"
            ),
            {"k": member.kind, "m": member.id, "v": visible},
        )
        if self.is_connected(member):
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

    def is_connected(self, member: Member) -> bool:
        """Whether the member has a live connection to this process. Presence is
        process-local for now (see :mod:`rongbank.chat.bus`)."""
        with self._online_lock:
            return self._online.get(member, 0) > 0

    def connected(self, session: Session, member: Member) -> None:
        with self._online_lock:
            count = self._online[member] = self._online.get(member, 0) + 1
        if count == 1 and self.presence_visible(session, member):
            self._announce(session, member, online=True)

    def disconnected(self, session: Session, member: Member) -> None:
        with self._online_lock:
            count = self._online.get(member, 0) - 1
            if count > 0:
                self._online[member] = count
            else:
                self._online.pop(member, None)
        if count <= 0 and self.presence_visible(session, member):
            self._announce(session, member, online=False)

    def _announce(self, session: Session, member: Member, *, online: bool) -> None:
        """Tell the member's contacts (everyone they share a direct, bank or group
        conversation with) that they came or went."""
        rows = session.execute(
            text(
                "SELECT DISTINCT o.member_kind, o.member_id FROM chat_member m "
                "JOIN chat_conversation c ON c.id = m.conversation_id AND c.kind <> 'channel' "
                "JOIN chat_member o ON o.conversation_id = m.conversation_id AND o.active "
                "WHERE m.member_kind = :k AND m.member_id = :m AND m.active "
                "AND (o.member_kind, o.member_id) <> (:k, :m)"
            ),
            {"k": member.kind, "m": member.id},
        ).all()
        event = {
            "type": "presence",
            "member": {"kind": member.kind, "id": member.id},
            "online": online,
        }
        for kind, other in rows:
            queue_event(session, topic(kind, int(other)), event)

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
        existing = self._by_client_id(session, conversation_id, member, f"recall:{seq}")
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
        return self.append(
            session, conversation, sender=None, client_id=f"hide:{seq}", kind="hide", ref_seq=seq
        )

    # -- safety ------------------------------------------------------------------------------

    def _take_token(self, session: Session, member: Member) -> None:
        """The send rate limit: a token bucket per sender in the database, updated
        under its row lock in the sending transaction, so it holds across processes
        and a refused or rolled-back send costs nothing."""
        now = self.clock.now()
        config = self.config
        session.execute(
            text(
                "INSERT INTO chat_rate_bucket (member_kind, member_id, tokens, at) "
                "VALUES (:k, :m, :b, :at) ON CONFLICT DO NOTHING"
            ),
            {"k": member.kind, "m": member.id, "b": config.rate_burst, "at": now},
        )
        tokens, at = session.execute(
            text(
                "SELECT tokens, at FROM chat_rate_bucket WHERE member_kind = :k "
                "AND member_id = :m FOR UPDATE"
            ),
            {"k": member.kind, "m": member.id},
        ).one()
        available = rules.refill(
            float(tokens),
            elapsed_seconds=(now - at).total_seconds(),
            per_minute=config.rate_per_minute,
            burst=config.rate_burst,
        )
        if available < 1:
            wait = (1 - available) * 60 / config.rate_per_minute
            raise RateLimited(retry_after_seconds=max(1, round(wait + 0.5)))
        session.execute(
            text(
                "UPDATE chat_rate_bucket SET tokens = :t, at = :at "
                "WHERE member_kind = :k AND member_id = :m"
            ),
            {"t": available - 1, "at": now, "k": member.kind, "m": member.id},
        )

    def _other_customer(
        self, session: Session, conversation_id: int, customer_id: int
    ) -> int | None:
        row = session.execute(
            text(
                "SELECT member_id FROM chat_member WHERE conversation_id = :c "
                "AND member_kind = 'customer' AND member_id <> :m"
            ),
            {"c": conversation_id, "m": customer_id},
        ).first()
        return None if row is None else int(row[0])

    def _blocked(self, session: Session, one: int, other: int) -> bool:
        return (
            session.execute(
                text(
                    "SELECT 1 FROM chat_block WHERE (blocker_id, blocked_id) IN "
                    "((:a, :b), (:b, :a))"
                ),
                {"a": one, "b": other},
            ).first()
            is not None
        )

    def block(self, session: Session, *, customer_id: int, blocked_id: int) -> None:
        """Block another customer: no new direct messages either way, no adding the
        blocker to groups. Idempotent."""
        if blocked_id == customer_id:
            raise CannotChatWithSelf()
        if not session.execute(
            text("SELECT 1 FROM customer WHERE id = :id"), {"id": blocked_id}
        ).first():
            raise ChatUserNotFound()
        session.execute(
            text(
                "INSERT INTO chat_block (blocker_id, blocked_id, at) VALUES (:a, :b, :at) "
                "ON CONFLICT DO NOTHING"
            ),
            {"a": customer_id, "b": blocked_id, "at": self.clock.now()},
        )

    def unblock(self, session: Session, *, customer_id: int, blocked_id: int) -> None:
        session.execute(
            text("DELETE FROM chat_block WHERE blocker_id = :a AND blocked_id = :b"),
            {"a": customer_id, "b": blocked_id},
        )

    def blocked(self, session: Session, *, customer_id: int) -> list[int]:
        rows = session.execute(
            text("SELECT blocked_id FROM chat_block WHERE blocker_id = :a ORDER BY blocked_id"),
            {"a": customer_id},
        ).all()
        return [int(r[0]) for r in rows]

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

    def reports(self, session: Session, *, limit: int = 100) -> list[dict[str, Any]]:
        """Reported messages with their content as stored, newest first."""
        rows = session.execute(
            text(
                "SELECT r.id, r.conversation_id, r.seq, r.reporter_id, r.reason, r.at, "
                "m.sender_kind, m.sender_id, m.body, m.hidden_at IS NOT NULL "
                "FROM chat_report r JOIN chat_message m "
                "ON m.conversation_id = r.conversation_id AND m.seq = r.seq "
                "ORDER BY r.id DESC LIMIT :limit"
            ),
            {"limit": limit},
        ).all()
        keys = ("id", "conversation_id", "seq", "reporter_id", "reason", "at", "sender_kind",
                "sender_id", "body", "hidden")  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

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
                "SELECT seq, sender_kind, sender_id, client_id, kind, body, reply_to, ref_seq, "
                "masked, at, content_hash, hash FROM chat_message WHERE conversation_id = :c "
                "ORDER BY seq"
            ),
            {"c": conversation_id},
        )
        for r in result:
            seq = int(r[0])
            if seq != expected:
                problems.append(f"entries {expected}..{seq - 1} are missing")
            if rules.content_hash(r[5]) != bytes(r[10]):
                problems.append(f"entry {seq}: the content was changed")
            fields = _chain_fields(
                conversation_id,
                seq,
                r[1],
                r[2],
                r[3],
                r[4],
                bytes(r[10]),
                r[6],
                r[7],
                list(r[8]),
                r[9],
            )
            if rules.chain_hash(prev, fields) != bytes(r[11]):
                problems.append(f"entry {seq}: does not follow the entry before it")
            prev, expected = bytes(r[11]), seq + 1
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
        rows = session.execute(
            text(
                "SELECT member_kind, member_id FROM chat_member "
                "WHERE conversation_id = :c AND active"
            ),
            {"c": conversation_id},
        ).all()
        for kind, member_id in rows:
            if exclude is None or (kind, int(member_id)) != (exclude.kind, exclude.id):
                queue_event(session, topic(kind, int(member_id)), event)

    def notify_member(self, session: Session, member: Member, event: dict[str, Any]) -> None:
        queue_event(session, member.topic, event)


def _chain_fields(
    conversation_id: int,
    seq: int,
    sender_kind: str,
    sender_id: int | None,
    client_id: str,
    kind: str,
    content: bytes,
    reply_to: int | None,
    ref_seq: int | None,
    masked: list[str],
    at: datetime,
) -> dict[str, Any]:
    return {
        "conversation": conversation_id,
        "seq": seq,
        "sender": [sender_kind, sender_id],
        "client_id": client_id,
        "kind": kind,
        "content": content.hex(),
        "reply_to": reply_to,
        "ref_seq": ref_seq,
        "masked": masked,
        # Microseconds and UTC, whatever the session's time zone gives back.
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
    }


def chat_config(settings: Settings) -> ChatConfig:
    opens, closes = (time.fromisoformat(t) for t in settings.chat_business_hours.split("-", 1))
    return ChatConfig(
        recall_window=timedelta(seconds=settings.chat_recall_seconds),
        rate_per_minute=settings.chat_send_per_minute,
        rate_burst=float(settings.chat_send_burst),
        business_hours=rules.BusinessHours(opens=opens, closes=closes),
        **({"away_message": settings.chat_away_message} if settings.chat_away_message else {}),
    )


def make_bus(settings: Settings) -> Bus:
    return bus_for(settings.nats_url)
