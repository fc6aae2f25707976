"""Requests and answers of the chat API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from rongbank.chat.desk import DeskItem, ResponseTime
from rongbank.chat.service import MemberInfo, Message, Summary


class SenderOut(BaseModel):
    kind: str
    id: int | None


class MessageOut(BaseModel):
    conversation_id: int
    seq: int
    sender: SenderOut
    client_id: str
    kind: str = Field(description="text, system, recall or hide (ref_seq is the message)")
    body: str = Field(description="Empty for a recalled (to others) or hidden message.")
    reply_to: int | None
    ref_seq: int | None
    masked: list[str]
    at: datetime
    recalled: bool
    hidden: bool

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls.model_validate(message.payload())


class ConversationOut(BaseModel):
    id: int
    kind: str
    title: str
    last_seq: int
    last_delivered_seq: int
    last_read_seq: int
    unread: int
    routing: str | None = None

    @classmethod
    def of(cls, summary: Summary) -> ConversationOut:
        c = summary.conversation
        return cls(
            id=c.id,
            kind=c.kind,
            title=c.title,
            last_seq=c.last_seq,
            last_delivered_seq=summary.last_delivered_seq,
            last_read_seq=summary.last_read_seq,
            unread=summary.unread,
            routing=c.routing,
        )


class ChannelOut(BaseModel):
    id: int
    title: str


class MemberOut(BaseModel):
    kind: str
    id: int
    name: str
    role: str
    last_delivered_seq: int
    last_read_seq: int
    online: bool

    @classmethod
    def of(cls, info: MemberInfo) -> MemberOut:
        return cls.model_validate(info, from_attributes=True)


class DirectIn(BaseModel):
    mobile: str = Field(min_length=1, max_length=20, description="The other customer's mobile.")


class GroupIn(BaseModel):
    title: str = Field(default="", max_length=100)
    mobiles: list[str] = Field(default_factory=list, max_length=199)


class EnterpriseGroupIn(BaseModel):
    customer_id: int = Field(description="The enterprise customer.")
    title: str = Field(default="", max_length=100)
    staff_ids: list[int] = Field(default_factory=list, max_length=50)


class ChannelIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)


class SendIn(BaseModel):
    client_id: str = Field(
        min_length=1,
        max_length=100,
        description="Unique per message; a resend with it returns the original.",
    )
    text: str = Field(max_length=4000)
    reply_to: int | None = Field(default=None, ge=1)


class SentOut(BaseModel):
    message: MessageOut
    created: bool
    warnings: list[str] = Field(description="What was masked: card_number, resident_id, password.")


class ReceiptIn(BaseModel):
    delivered_seq: int | None = Field(default=None, ge=0)
    read_seq: int | None = Field(default=None, ge=0)


class SyncConversationOut(BaseModel):
    conversation: ConversationOut
    messages: list[MessageOut]
    more: bool


class SyncOut(BaseModel):
    conversations: list[SyncConversationOut]
    cursor: str = Field(description="Send it back as `since` next time.")


class PresenceIn(BaseModel):
    visible: bool


class BlockIn(BaseModel):
    customer_id: int


class ReportIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class HideIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class DutyIn(BaseModel):
    on_duty: bool


class TransferIn(BaseModel):
    to_staff_id: int
    note: str = Field(default="", max_length=500)


class CannedIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=2000)
    shared: bool = False


class CannedOut(BaseModel):
    id: int
    title: str
    body: str
    shared: bool


class DeskItemOut(BaseModel):
    conversation_id: int
    customer_id: int
    customer_name: str
    assigned_staff_id: int | None
    routing: str
    waiting_since: datetime | None
    waiting_seconds: int | None
    unread: int
    own_customer: bool

    @classmethod
    def of(cls, item: DeskItem) -> DeskItemOut:
        return cls.model_validate(item, from_attributes=True)


class ResponseTimeOut(BaseModel):
    staff_id: int
    name: str
    answered: int
    average_seconds: float
    p90_seconds: float

    @classmethod
    def of(cls, figure: ResponseTime) -> ResponseTimeOut:
        return cls.model_validate(figure, from_attributes=True)


class ReportOut(BaseModel):
    id: int
    conversation_id: int
    seq: int
    reporter_id: int
    reason: str
    at: datetime
    sender_kind: str
    sender_id: int | None
    body: str
    hidden: bool


ExportFormat = Literal["json", "csv"]


class SearchOut(BaseModel):
    messages: list[MessageOut]


class ExportOut(BaseModel):
    customer_id: int
    start: datetime
    end: datetime
    entries: list[dict[str, Any]]
