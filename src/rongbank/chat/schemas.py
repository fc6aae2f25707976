"""Requests and answers of the chat API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rongbank.chat.desk import DeskItem, ResponseTime
from rongbank.chat.notices import (
    BroadcastKind,
    NoticeKind,
    PaymentFailedKind,
    SecurityKind,
    Segment,
)
from rongbank.chat.records import MemberInfo, Message, Summary
from rongbank.inputs import Count, Day, Flag, Id, Name, NonBlank


class SenderOut(BaseModel):
    kind: str
    id: int | None


class MessageOut(BaseModel):
    conversation_id: int
    seq: int
    sender: SenderOut
    client_id: str
    kind: str = Field(
        description="text, system, recall or hide (ref_seq is the message); image, file and "
        "notice: body is the JSON of ImageBody, FileBody or NoticeBody"
    )
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
    title: str = Field(
        description="A group's or channel's title; for a direct chat you asked for, the "
        "number you typed, masked (the other's name comes from the members once they "
        "accept); empty otherwise."
    )
    last_seq: int
    last_delivered_seq: int
    last_read_seq: int
    unread: int
    routing: str | None = None
    request: Literal["sent", "received"] | None = Field(
        default=None,
        description="A direct chat not accepted yet: sent (you asked; you may send a "
        "short greeting and see no one until they accept) or received (accept or "
        "decline it before you reply).",
    )

    @classmethod
    def of(cls, summary: Summary) -> ConversationOut:
        c = summary.conversation
        return cls(
            id=c.id,
            kind=c.kind,
            title=summary.title,
            last_seq=c.last_seq,
            last_delivered_seq=summary.last_delivered_seq,
            last_read_seq=summary.last_read_seq,
            unread=summary.unread,
            routing=c.routing,
            request=summary.request,
        )


class ChannelOut(BaseModel):
    id: int
    title: str


class MemberOut(BaseModel):
    kind: str
    id: int
    name: str = Field(
        description="In full for staff and your contacts; another customer's masked (*小明)."
    )
    role: str
    last_delivered_seq: int
    last_read_seq: int
    online: bool

    @classmethod
    def of(cls, info: MemberInfo) -> MemberOut:
        return cls.model_validate(info, from_attributes=True)


class DirectIn(BaseModel):
    mobile: str = Field(min_length=1, max_length=20, description="The other person's mobile.")


class GroupIn(BaseModel):
    title: str = Field(default="", max_length=100)
    mobiles: list[str] = Field(default_factory=list, max_length=199)


class EnterpriseGroupIn(BaseModel):
    customer_id: Id = Field(description="The enterprise customer.")
    title: str = Field(default="", max_length=100)
    staff_ids: list[Id] = Field(default_factory=list, max_length=50)


class ChannelIn(BaseModel):
    title: Name = Field(max_length=100)


_NO_NUL = r"^[^\x00]*$"
"""PostgreSQL text cannot hold NUL: refused as invalid, never a server error."""


class SendIn(BaseModel):
    client_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=_NO_NUL,
        description="Unique per message; a resend with it returns the original.",
    )
    text: str = Field(max_length=4000, pattern=_NO_NUL)
    reply_to: Id | None = None


class SentOut(BaseModel):
    message: MessageOut
    created: bool
    warnings: list[str] = Field(description="What was masked: card_number, resident_id, password.")


class ReceiptIn(BaseModel):
    delivered_seq: Count | None = None
    read_seq: Count | None = None


class SyncConversationOut(BaseModel):
    conversation: ConversationOut
    messages: list[MessageOut]
    more: bool


class SyncOut(BaseModel):
    conversations: list[SyncConversationOut]
    cursor: str = Field(description="Send it back as `since` next time.")


class PresenceIn(BaseModel):
    visible: Flag


class BlockIn(BaseModel):
    customer_id: Id


class ReportIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class HideIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class DutyIn(BaseModel):
    on_duty: Flag


class ConversationTransferIn(BaseModel):
    to_staff_id: Id
    note: str = Field(default="", max_length=500)


class CannedIn(BaseModel):
    title: Name = Field(max_length=100)
    body: NonBlank = Field(max_length=2000)
    shared: Flag = False


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
    outcome: Literal["hidden", "dismissed"] | None = Field(
        description="What a moderator did about the message; null: nothing yet."
    )


ExportFormat = Literal["json", "csv"]


class SearchOut(BaseModel):
    messages: list[MessageOut]


class ExportOut(BaseModel):
    customer_id: int
    start: datetime
    end: datetime
    entries: list[dict[str, Any]]


# -- service cards ---------------------------------------------------------------------------
#
# A card reaches clients three ways, always in the shape of ``CardOut``:
# - as a message of kind ``card`` with ``ref_seq`` null: ``body`` is the JSON text
#   ``{"card": CardOut}`` as it was sent (status ``open``);
# - as a message of kind ``card`` whose ``ref_seq`` is the card's message: ``body`` is
#   ``{"card": CardOut}`` after a change (paid, booked, declined, expired, failed);
#   a client redraws the card at ``ref_seq`` with it;
# - from ``GET .../cards/{card_id}`` (its state now) and every card endpoint's answer.
# The actor (``actor.id``) sees the buttons while ``status`` is ``open`` (and, for a
# flight, ``booking``: acting again finishes the booking); everyone else sees the state.


class CardPartyOut(BaseModel):
    kind: str
    id: int


class CardMerchantOut(BaseModel):
    number: str = Field(description="The merchant as payee, e.g. M00000012.")
    name: str
    order_no: str


class CardProductOut(BaseModel):
    code: str
    name: str
    risk_level: int = Field(description="1 (PR1, lowest) to 5.")
    risk_label: str
    expected_yield: str = Field(description='"3.50%", an expectation, not a promise.')
    min_amount: str
    step_amount: str
    sale_end: datetime
    cutoff: str | None = Field(
        default=None,
        description="Beijing time: a purchase before it on a business day earns from that "
        "day, later (or on a weekend or holiday) from the next business day. Absent from "
        "cards sent before it was shown.",
    )


class CardFlightOut(BaseModel):
    offer_id: str
    airline: str
    flight_no: str
    origin: str
    destination: str
    departs_at: datetime
    arrives_at: datetime
    cabin: str
    fare: str
    currency: str
    expires_at: datetime


class CardOut(BaseModel):
    """A service card as every member of its conversation sees it."""

    id: int
    conversation_id: int
    seq: int = Field(description="The card's message in the conversation (0 inside its own body).")
    kind: Literal["transfer", "request", "merchant_order", "wealth", "flight"]
    status: Literal["open", "booking", "paid", "booked", "declined", "expired", "failed"]
    sender: CardPartyOut
    actor: CardPartyOut = Field(description="The one customer who may act on the card.")
    amount: str | None = Field(description="Fixed amount; null for a wealth card (buyer says).")
    currency: str
    note: str
    payer_account: str | None = Field(description="transfer: the paying account, last 4 digits.")
    payee_account: str | None = Field(description="transfer/request: receiving account, last 4.")
    payee_name: str | None = Field(description="Its holder, family name hidden (*三).")
    merchant: CardMerchantOut | None
    product: CardProductOut | None
    flight: CardFlightOut | None
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    outcome: dict[str, Any] = Field(
        description="paid wealth: amount, holding_id, value_date (earns from); paid "
        "merchant order by 逸贷 instalments: by (instalments); booked: "
        "booking_ref; declined: by "
        "(actor or sender); failed: reason, charged (false: nothing was taken); booked or "
        "failed by the bank after an interrupted booking: recovered (true)."
    )


class TransferCardIn(BaseModel):
    kind: Literal["transfer"]
    client_id: str = Field(min_length=1, max_length=100)
    account: str = Field(min_length=1, max_length=40, description="Your account to pay from.")
    amount: str = Field(max_length=40, examples=["500.00"])
    note: str = Field(default="", max_length=200)


class RequestCardIn(BaseModel):
    kind: Literal["request"]
    client_id: str = Field(min_length=1, max_length=100)
    account: str = Field(min_length=1, max_length=40, description="Your account to be paid into.")
    amount: str = Field(max_length=40, examples=["36.50"])
    note: str = Field(default="", max_length=200)


class MerchantOrderCardIn(BaseModel):
    kind: Literal["merchant_order"]
    client_id: str = Field(min_length=1, max_length=100)
    merchant_id: Id
    order_no: str = Field(min_length=1, max_length=64)


CustomerCardIn = Annotated[
    TransferCardIn | RequestCardIn | MerchantOrderCardIn, Field(discriminator="kind")
]


class WealthCardIn(BaseModel):
    kind: Literal["wealth"]
    client_id: str = Field(min_length=1, max_length=100)
    product_code: str = Field(min_length=1, max_length=20)
    to_customer_id: Id | None = Field(default=None, description="In a group: for whom.")
    note: str = Field(default="", max_length=200)


class FlightCardIn(BaseModel):
    kind: Literal["flight"]
    client_id: str = Field(min_length=1, max_length=100)
    origin: str = Field(min_length=3, max_length=3, examples=["PEK"])
    destination: str = Field(min_length=3, max_length=3, examples=["SHA"])
    date: Day
    offer_id: str = Field(min_length=1, max_length=64)
    to_customer_id: Id | None = Field(default=None, description="In a group: for whom.")


StaffCardIn = Annotated[WealthCardIn | FlightCardIn, Field(discriminator="kind")]


class CardActIn(BaseModel):
    """Acting on a card, with the step-up fields of every payment: the first try may
    answer ``challenge_required``; send the same body again with ``challenge_id`` and
    ``response``."""

    account: str | None = Field(
        default=None, min_length=1, max_length=40, description="Your account to pay from."
    )
    amount: str | None = Field(default=None, max_length=40, description="Wealth cards only.")
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description=(
            "Optional: with it, a refusal (no funds, a limit) is this request's answer "
            "for good and the same id for another body is a conflict; without it, the "
            "card alone keeps a second payment out."
        ),
    )
    challenge_id: str | None = Field(default=None, min_length=1, max_length=64)
    response: str | None = Field(default=None, min_length=1, max_length=512)
    tool: Literal["sms", "grid_card", "token", "ukey"] | None = None


class CardSentOut(BaseModel):
    card: CardOut
    created: bool = Field(description="False for a resend of a client id: the original.")


class FlightOfferOut(CardFlightOut):
    pass


# -- images, files and notices ---------------------------------------------------------------
#
# A message of kind ``image``, ``file`` or ``notice`` carries JSON text in ``body``
# (parse it; an empty body means recalled or hidden, as for text):
# - ``image``: ``ImageBody``; the picture is at
#   ``GET .../conversations/{conversation_id}/messages/{seq}/attachment`` and a small
#   preview (at most 320x320, JPEG or PNG) at ``.../attachment?thumbnail=true``;
# - ``file``: ``FileBody``; the file at the same ``.../attachment`` address;
# - ``notice``: ``NoticeBody``, in the customer's notice box (a conversation of kind
#   ``notice``), sent by the bank (sender kind ``system``).
# Downloads answer with ``Content-Disposition: attachment`` and the safe name.


class FileBody(BaseModel):
    name: str = Field(description="Safe to show; its extension is that of the content.")
    content_type: str = Field(description="Decided by the bank from the content.")
    size: int = Field(description="Bytes, as stored.")
    sha256: str = Field(description="Hex SHA-256 of the content as stored.")
    caption: str = Field(description="Masked like any text; may be empty.")


class ImageBody(FileBody):
    width: int
    height: int


class NoticeBody(BaseModel):
    kind: NoticeKind | SecurityKind | PaymentFailedKind
    title: str
    text: str
    broadcast_id: int | None = Field(description="Set for a notice the bank sent to a segment.")
    data: dict[str, Any] = Field(
        description="An event's facts for the page: amount (decimal text), currency, "
        "account_tail, merchant, payer (masked), status, due_at, source "
        "(transfer, refund, epay_authorisation); for a security notice event (card_bound, "
        "card_unbound, withdrawal), card (masked), bank and full_limits_from; for "
        "login_locked, source (the network, masked), failures and locked_until; for "
        "payment_failed (event scheduled_transfer), amount, account_tail, payee_tail, "
        "occurrence (the date it fell due) and reason (the refusal's code)."
    )


class NoticePreferencesOut(BaseModel):
    """Every kind of notice with whether the customer receives it (default: yes)."""

    announcement: bool
    promotion: bool
    money_received: bool
    payment_made: bool
    due_soon: bool


class NoticePreferencesIn(BaseModel):
    """The kinds to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    announcement: Flag | None = None
    promotion: Flag | None = None
    money_received: Flag | None = None
    payment_made: Flag | None = None
    due_soon: Flag | None = None


class BroadcastIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    client_id: str = Field(
        min_length=1, max_length=100, description="Unique per broadcast; a resend answers it."
    )
    segment: Segment = Field(description="Who: see GET /staff/chat/segments.")
    kind: BroadcastKind = Field(
        description="announcement (service) or promotion (marketing): customers switch each off."
    )
    title: Name = Field(max_length=100)
    text: NonBlank = Field(max_length=2000)


class BroadcastOut(BaseModel):
    id: int
    staff_id: int
    client_id: str
    segment: str
    kind: str
    title: str
    text: str
    created_at: datetime
    recipients: int = Field(description="Customers in the segment when it was sent.")
    pending: int = Field(description="Not delivered yet (the push job runs every few seconds).")
    skipped: int = Field(description="Switched this kind of notice off: no message written.")
    failed: int
    sent: int = Field(description="Notices written into recipients' notice boxes.")
    delivered: int = Field(description="Of those, received by a device (delivered receipt).")
    read: int = Field(description="Of those, read (read receipt).")


class SegmentOut(BaseModel):
    segment: str
    description: str
    customers: int
