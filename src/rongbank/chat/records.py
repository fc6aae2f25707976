"""The records the chat service reads and returns: a conversation, an entry of its
log (:class:`Message`), a member's view of a conversation (:class:`Summary`), what a
sync brings; and the columns each is read from."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Literal

from rongbank.chat.members import CUSTOMER, Member


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


CONVERSATION_COLUMNS = (
    "id, kind, title, customer_id, last_seq, assigned_staff_id, routing, waiting_since, "
    "away_sent, created_at, request, requested_by"
)
"""The columns a :class:`Conversation` is read from, in the order of its fields."""
CONVERSATION_WIDTH = len(fields(Conversation))
"""How many: where a conversation ends in a row that carries more."""


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


MESSAGE_COLUMNS = (
    "conversation_id, seq, sender_kind, sender_id, client_id, kind, body, reply_to, ref_seq, "
    "masked, at, recalled_at IS NOT NULL, hidden_at IS NOT NULL"
)
"""The columns a :class:`Message` is read from (:func:`message_from`)."""


def message_from(row: Any) -> Message:
    """The message in a row of :data:`MESSAGE_COLUMNS`."""
    values = list(row)
    values[9] = tuple(values[9])
    return Message(*values)


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
