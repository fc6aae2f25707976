"""What the 融e联 pages show, the customer's and the console's alike: a
conversation's entries, titles and previews, service cards as drawn, the two
conversation pages themselves (the customer's and the console's, each with what it
offers), and what both kinds of member do in a conversation (send, recall, decline),
which shows the caller's own page again when it is refused. The routes are in
:mod:`rongbank.web.chat_pages` (customers), :mod:`rongbank.web.chat_card_pages`
(service cards) and :mod:`rongbank.web.chat_desk_pages` (the account managers)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.accounts.identity import mask_mobile
from rongbank.auth.service import Principal, PrincipalKind
from rongbank.chat.attachment_endpoints import attachment_response
from rongbank.chat.errors import (
    ConversationNotFound,
)
from rongbank.chat.records import Message, Summary
from rongbank.chat.service import CUSTOMER, STAFF, Member
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError
from rongbank.money import format_amount
from rongbank.platform import Platform
from rongbank.web.account_pages import accounts_view
from rongbank.web.i18n import translate
from rongbank.web.pages import (
    lang_of,
    refusal_text,
    render,
    see_other,
    templates,
)

Csrf = Annotated[str, Form()]
HISTORY = 100
"""How many entries a conversation page shows (the newest)."""
MASKED_KINDS = ("card_number", "resident_id", "password")
KIND_ORDER = {"bank": 0, "direct": 1, "group": 2, "channel": 3, "notice": 3}
"""The customer's list: their account manager first, then people, groups, channels."""


def new_client_id() -> str:
    return uuid.uuid4().hex


def clock_time(at: datetime, now: datetime) -> str:
    local, today = at.astimezone(BUSINESS_TIME_ZONE), now.astimezone(BUSINESS_TIME_ZONE)
    return local.strftime("%H:%M" if local.date() == today.date() else "%Y-%m-%d %H:%M")


# -- what a conversation shows ------------------------------------------------------------


def conversation_title(
    platform: Platform, session: Session, member: Member, summary: Summary, t: dict[str, str]
) -> str:
    """What a conversation is called in ``member``'s list: the manager (or, for staff,
    the customer) of a bank chat, the other person of a direct one (masked until they
    are contacts; for a request one asked, the number one typed, masked), else its
    title."""
    c = summary.conversation
    if c.kind == "bank":
        if member.kind == STAFF:
            assert c.customer_id is not None
            return platform.accounts.customer(session, c.customer_id).name
        manager = platform.accounts.customer(session, member.id).manager_id
        name = dict(platform.accounts.managers(session)).get(manager or 0)
        return f"{t['chat_my_manager']} · {name}" if name else t["chat_my_manager"]
    if c.kind == "direct":
        if summary.request == "sent":
            return summary.title
        others = [
            m.name
            for m in platform.chat.members(session, member, c.id)
            if (m.kind, m.id) != (member.kind, member.id)
        ]
        return others[0] if others else t["chat_direct"]
    return c.title


def notice_in(content: Mapping[str, Any], lang: str) -> Mapping[str, Any]:
    """A notice's title and text in the reader's language: the English version the
    bank's own notices carry (``"en"``, see ``rongbank.chat.push``) for an English
    reader; as written (Chinese, or a broadcast as staff wrote it) otherwise."""
    version = content.get(lang) if lang != "zh" else None
    return version if isinstance(version, Mapping) else content


templates.env.filters["notice_in"] = notice_in


def _preview(
    platform: Platform,
    session: Session,
    member: Member,
    summary: Summary,
    t: dict[str, str],
    lang: str,
) -> tuple[str, datetime | None]:
    """The newest entry of a conversation, in a line, and when it was written."""
    c = summary.conversation
    if c.last_seq == 0:
        return "", None
    (last,) = platform.chat.history(
        session, member, conversation_id=c.id, after_seq=c.last_seq - 1, limit=1
    )
    if last.kind in ("recall", "hide"):
        return t["chat_recalled"], last.at
    if last.kind in ("text", "system"):
        return last.body[:60], last.at
    if last.kind == "card":
        return t["chat_card_short"], last.at
    if last.kind in ("image", "file", "notice"):
        content = notice_in(_json_object(last.body) or {}, lang)
        return str(content.get("title") or content.get("name") or ""), last.at
    return t["chat_unsupported_short"], last.at


def message_view(
    message: Message,
    *,
    member: Member,
    names: dict[tuple[str, int | None], str],
    now: datetime,
    recall_window: timedelta,
    delivered_to: int,
    read_to: int,
    card_state: str | None = None,
) -> dict[str, Any]:
    """One entry as ``member`` sees it. A card shows ``card_state`` (the body of the
    newest entry about it) when given, else the state it was sent in."""
    mine = (message.sender_kind, message.sender_id) == (member.kind, member.id)
    receipt = "sent"
    if mine:
        receipt = (
            "read"
            if message.seq <= read_to
            else "delivered"
            if message.seq <= delivered_to
            else "sent"
        )
    return {
        "seq": message.seq,
        "kind": message.kind,
        "body": message.body,
        "mine": mine,
        "sender": names.get((message.sender_kind, message.sender_id), ""),
        "sender_kind": message.sender_kind,
        "at": clock_time(message.at, now),
        "gone": message.recalled or message.hidden,
        "hidden": message.hidden,
        "masked": list(message.masked),
        "reply_to": message.reply_to,
        "can_recall": mine
        and message.kind == "text"
        and not (message.recalled or message.hidden)
        and now - message.at <= recall_window,
        "can_report": not mine and message.sender_kind != "system" and message.kind == "text",
        "receipt": receipt,
        "card": card_view(_card_in(card_state or message.body), member=member, now=now)
        if message.kind == "card"
        else None,
        # An image or file (name, content_type, size, caption) or a notice (title, text).
        "content": _json_object(message.body)
        if message.kind in ("image", "file", "notice")
        else None,
    }


def _json_object(body: str) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _card_in(body: str) -> dict[str, Any] | None:
    """The card a ``card`` message carries (``{"card": ...}``); None if unreadable."""
    card = (_json_object(body) or {}).get("card")
    return card if isinstance(card, dict) else None


def card_view(
    card: dict[str, Any] | None, *, member: Member, now: datetime
) -> dict[str, Any] | None:
    """A service card (:meth:`rongbank.chat.cards.CardService.view`) with what this
    member may do with it; None if it cannot be read."""
    if card is None:
        return None
    try:
        actor = card["actor"]["id"]
        sender = (card["sender"]["kind"], card["sender"]["id"])
        expires = datetime.fromisoformat(card["expires_at"])
    except (ValueError, KeyError, TypeError):
        return None
    status = str(card.get("status", ""))
    if status == "open" and expires <= now:
        status = "expired"  # the periodic job has not closed it yet
    is_actor = member.kind == CUSTOMER and actor == member.id
    flight = card.get("flight") or None
    return {
        **card,
        "status": status,
        "expires": clock_time(expires, now),
        "departs": clock_time(datetime.fromisoformat(flight["departs_at"]), now) if flight else "",
        "can_act": is_actor and status == "open",
        "can_decline": status == "open" and (is_actor or sender == (member.kind, member.id)),
        "is_actor": is_actor,
    }


def _entries(
    platform: Platform,
    session: Session,
    member: Member,
    conversation_id: int,
    *,
    after_seq: int,
    limit: int = HISTORY,
) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """The entries after ``after_seq`` as the page shows them (a recall or hide entry
    re-renders the message it withdrew instead of showing itself), the last ``seq``
    they reach, and the members with the others' receipt positions."""
    chat = platform.chat
    messages = chat.history(
        session, member, conversation_id=conversation_id, after_seq=after_seq, limit=limit
    )
    members = chat.members(session, member, conversation_id)
    names: dict[tuple[str, int | None], str] = {(m.kind, m.id): m.name for m in members}
    others = [m for m in members if (m.kind, m.id) != (member.kind, member.id)]
    delivered_to = max((m.last_delivered_seq for m in others), default=0)
    read_to = max((m.last_read_seq for m in others), default=0)
    now = chat.clock.now()

    def view(message: Message, card_state: str | None = None) -> dict[str, Any]:
        return message_view(
            message,
            member=member,
            names=names,
            now=now,
            recall_window=chat.config.recall_window,
            delivered_to=delivered_to,
            read_to=read_to,
            card_state=card_state,
        )

    shown: dict[int, dict[str, Any]] = {}
    for message in messages:
        if message.kind in ("recall", "hide"):
            if message.ref_seq is not None and message.ref_seq not in shown:
                target = chat.message(session, conversation_id, message.ref_seq)
                shown[message.ref_seq] = view(target.seen_by(member))
            continue
        if message.kind == "card" and message.ref_seq is not None:
            # A card's new state (paid, declined...): the card shows it in its place.
            card = chat.message(session, conversation_id, message.ref_seq)
            shown[card.seq] = view(card, card_state=message.body)
            continue
        shown[message.seq] = view(message)
    last = messages[-1].seq if messages else after_seq
    people = {
        "list": [
            {
                "key": f"{m.kind}:{m.id}",
                "kind": m.kind,
                "id": m.id,
                "name": m.name,
                "online": m.online,
                "role": m.role,
            }
            for m in others
        ],
        "delivered_to": delivered_to,
        "read_to": read_to,
        "other_customer": next((m.id for m in others if m.kind == CUSTOMER), None),
    }
    return sorted(shown.values(), key=lambda v: int(v["seq"])), last, people


def _conversation_context(
    request: Request, platform: Platform, session: Session, member: Member, conversation_id: int
) -> dict[str, Any]:
    """What a conversation page shows, the same for customers and staff; reading
    the page reads the conversation (the others see the read receipt)."""
    t = chat_words(request)
    summary = platform.chat.membership(session, member, conversation_id)
    last_seq = summary.conversation.last_seq
    entries, last, people = _entries(
        platform, session, member, conversation_id, after_seq=max(0, last_seq - HISTORY)
    )
    platform.chat.mark(session, member, conversation_id=conversation_id, read=last_seq)
    masked = [k for k in request.query_params.get("masked", "").split(",") if k in MASKED_KINDS]
    kind = summary.conversation.kind
    return {
        "conversation": {
            "id": conversation_id,
            "kind": summary.conversation.kind,
            "title": conversation_title(platform, session, member, summary, t),
            # Only the bank posts in a channel; a notice box takes no messages at all;
            # a request is answered (accepted) before it is replied to.
            "can_send": kind != "notice"
            and (kind != "channel" or member.kind == STAFF)
            and summary.request != "received",
            "request": summary.request,
        },
        "entries": entries,
        "last_seq": last,
        "people": people,
        "masked": masked,
        "client_id": new_client_id(),
    }


def chat_words(request: Request) -> dict[str, str]:
    return translate(lang_of(request))


def entries_fragment(
    request: Request, platform: Platform, member: Member, conversation_id: int, after_seq: int
) -> Response:
    """The entries after ``after_seq`` as HTML, for the page's script."""
    try:
        with platform.transaction() as session:
            entries, last, people = _entries(
                platform, session, member, conversation_id, after_seq=max(0, after_seq)
            )
    except DomainError as error:
        return Response(
            refusal_text(request, error), status_code=error.status, media_type="text/plain"
        )
    return render(
        request,
        "_chat_messages.html",
        entries=entries,
        last_seq=last,
        people=people,
        conversation={"id": conversation_id},
        prefix="/staff/chat" if member.kind == STAFF else "/chat",
    )


# -- what customers and staff both do in a conversation ----------------------------------
#
# The customer's routes (/chat/...) and the console's (/staff/chat/...) differ in who
# may call them; what they do is the same, and a refusal shows the caller's own page.


def _prefix(me: Principal) -> str:
    return "/staff/chat" if me.kind == PrincipalKind.STAFF else "/chat"


def refusal_page(
    request: Request,
    platform: Platform,
    me: Principal,
    conversation_id: int,
    error: DomainError,
    **context: Any,
) -> Response:
    """The conversation page again (the customer's, or the console's for staff) with
    why ``error`` refused what was asked, and nothing changed."""
    page = staff_conversation_page if me.kind == PrincipalKind.STAFF else conversation_page
    return page(
        request, platform, me, conversation_id, error.status, error=refusal_text(request, error),
        **context,
    )  # fmt: skip


def send_text(
    request: Request,
    platform: Platform,
    me: Principal,
    conversation_id: int,
    *,
    text: str,
    client_id: str,
) -> Response:
    try:
        with platform.transaction() as session:
            sent = platform.chat.send(
                session,
                Member.of(me),
                conversation_id=conversation_id,
                client_id=client_id or new_client_id(),
                body=text,
            )
    except DomainError as error:
        return refusal_page(request, platform, me, conversation_id, error, draft=text)
    query = f"?masked={','.join(sent.masked)}" if sent.masked else ""
    return see_other(f"{_prefix(me)}/{conversation_id}{query}#m{sent.message.seq}")


def recall_message(
    request: Request, platform: Platform, me: Principal, conversation_id: int, seq: int
) -> Response:
    try:
        with platform.transaction() as session:
            platform.chat.recall(session, Member.of(me), conversation_id=conversation_id, seq=seq)
    except DomainError as error:
        return refusal_page(request, platform, me, conversation_id, error)
    return see_other(f"{_prefix(me)}/{conversation_id}#m{seq}")


def message_attachment(
    request: Request, platform: Platform, me: Principal, conversation_id: int, seq: int
) -> Response:
    try:
        return attachment_response(platform, Member.of(me), conversation_id, seq)
    except DomainError as error:
        return Response(
            refusal_text(request, error), status_code=error.status, media_type="text/plain"
        )


def decline_and_show(
    request: Request, platform: Platform, me: Principal, conversation_id: int, card_id: int
) -> Response:
    cards = platform.cards
    try:
        with platform.transaction() as session:
            card = cards.decline(
                session, Member.of(me), conversation_id=conversation_id, card_id=card_id
            )
    except DomainError as error:
        return refusal_page(request, platform, me, conversation_id, error)
    if card.hold_ref is not None:  # a flight's seat goes back to the airline
        cards.airline.release(card.hold_ref)
    return see_other(f"{_prefix(me)}/{conversation_id}")


# -- the conversation pages, the customer's and the console's -----------------------------


def chat_home_page(
    request: Request, platform: Platform, me: Principal, status_code: int = 200, **context: Any
) -> Response:
    t = chat_words(request)
    member = Member.of(me)
    with platform.transaction() as session:
        items: list[dict[str, Any]] = []
        for summary in platform.chat.conversations(session, member):
            c = summary.conversation
            preview, at = _preview(platform, session, member, summary, t, lang_of(request))
            items.append(
                {
                    "id": c.id,
                    "kind": c.kind,
                    "title": conversation_title(platform, session, member, summary, t),
                    "unread": summary.unread,
                    "preview": preview,
                    "at": clock_time(at, platform.clock.now()) if at else "",
                    "sort": (KIND_ORDER.get(c.kind, 9), -(at.timestamp() if at else 0), c.id),
                    "subscribed": summary.role == "subscriber",
                    "request": summary.request,
                }
            )
        items.sort(key=lambda i: i["sort"])
        subscribed = {i["id"] for i in items if i["kind"] == "channel"}
        channels = [
            {"id": c.id, "title": c.title}
            for c in platform.chat.channels(session)
            if c.id not in subscribed
        ]
        blocked_ids = platform.chat.contacts.blocked(session, customer_id=me.id)
        names = platform.chat.contacts.names(session, member, blocked_ids)
        blocked = [{"id": b, "name": names.get(b, "")} for b in blocked_ids]
        presence_visible = platform.chat.presence_visible(session, member)
    return render(
        request,
        "chat_home.html",
        status_code,
        conversations=items,
        has_bank=any(i["kind"] == "bank" for i in items),
        channels=channels,
        blocked=blocked,
        presence_visible=presence_visible,
        plain=True,
        **context,
    )


def conversation_page(
    request: Request,
    platform: Platform,
    me: Principal,
    conversation_id: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    try:
        with platform.transaction() as session:
            view = _conversation_context(request, platform, session, Member.of(me), conversation_id)
    except ConversationNotFound as error:
        return chat_home_page(request, platform, me, 404, error=refusal_text(request, error))
    notice = request.query_params.get("notice")
    return render(
        request,
        "chat_conversation.html",
        status_code,
        accounts=accounts_view(platform, me.id) if view["conversation"]["kind"] == "direct" else [],
        orders=_open_orders(platform, me.id) if view["conversation"]["kind"] == "direct" else [],
        prefix="/chat",
        live_as="customer",
        notice=notice if notice in ("blocked", "unblocked", "reported") else None,
        plain=True,
        **view,
        **context,
    )


def _open_orders(platform: Platform, customer_id: int) -> list[dict[str, Any]]:
    """The open online orders of the customer's own active merchants: what they can
    send as an order card (an order made for someone else is refused when sent)."""
    now = platform.clock.now()
    with platform.transaction() as session:
        return [
            {
                "value": f"{merchant.id}:{order.order_no}",
                "merchant": merchant.name,
                "order_no": order.order_no,
                "amount": format_amount(order.amount, scale=2),
                "description": order.description,
            }
            for merchant in platform.payments.merchants(session, customer_id=customer_id)
            if merchant.status == "active"
            for order in platform.payments.payments_of_merchant(session, merchant.id)
            if order.status == "created" and order.channel == "online" and order.expires_at > now
        ]


def _waited(seconds: int | None, t: dict[str, str]) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(max(0, seconds), 60)
    return t["chat_waited"].format(minutes=minutes, seconds=rest)


def _groups(
    platform: Platform, session: Session, me: Principal, t: dict[str, str], lang: str
) -> list[dict[str, Any]]:
    """The group chats the staff member is in (an enterprise with its bank team, a
    customers' group they were added to), the newest first."""
    member, now = Member.of(me), platform.clock.now()
    groups: list[dict[str, Any]] = []
    for summary in platform.chat.conversations(session, member):
        if summary.conversation.kind != "group":
            continue
        preview, at = _preview(platform, session, member, summary, t, lang)
        groups.append(
            {
                "id": summary.conversation.id,
                "title": summary.conversation.title,
                "unread": summary.unread,
                "preview": preview,
                "at": clock_time(at, now) if at else "",
                "sort": (-(at.timestamp() if at else 0), summary.conversation.id),
            }
        )
    return sorted(groups, key=lambda g: g["sort"])


def desk_view(request: Request, platform: Platform, me: Principal) -> dict[str, Any]:
    t = chat_words(request)
    desk = platform.chat.desk
    now = platform.clock.now()
    with platform.transaction() as session:
        items = desk.workspace(session, staff_id=me.id)
        figures = desk.response_times(
            session, start=now - timedelta(days=7), end=now + timedelta(seconds=1), staff_id=me.id
        )
        return {
            "on_duty": desk.on_duty(session, me.id),
            "open_now": platform.chat.config.business_hours.open_at(now),
            "waiting": [
                {
                    "id": i.conversation_id,
                    "customer": i.customer_name,
                    "routing": i.routing,
                    "waited": _waited(i.waiting_seconds, t),
                    "unread": i.unread,
                    "mine": i.assigned_staff_id == me.id,
                    "own_customer": i.own_customer,
                    "queued": i.routing == "queued",
                }
                for i in items
                if i.waiting_since is not None or i.unread or i.routing == "queued"
            ],
            "customers": [
                {
                    "id": c.customer_id,
                    "name": c.name,
                    "mobile": mask_mobile(c.mobile),
                    "conversation_id": c.conversation_id,
                    "unread": c.unread,
                }
                for c in desk.customers(session, staff_id=me.id)
            ],
            "groups": _groups(platform, session, me, t, lang_of(request)),
            "response": None
            if not figures
            else {
                "answered": figures[0].answered,
                "average": f"{figures[0].average_seconds:.0f}",
                "p90": f"{figures[0].p90_seconds:.0f}",
            },
            "canned": desk.canned_replies(session, staff_id=me.id),
        }


def staff_conversation_page(
    request: Request,
    platform: Platform,
    me: Principal,
    conversation_id: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    member = Member.of(me)
    now = platform.clock.now()
    try:
        with platform.transaction() as session:
            view = _conversation_context(request, platform, session, member, conversation_id)
            conversation = platform.chat.conversation(session, conversation_id)
            customer: dict[str, Any] | None = None
            if (
                conversation.kind == "bank"
                and conversation.customer_id is not None
                and platform.chat.desk.customers_seen(
                    session, staff_id=me.id, customer_ids=[conversation.customer_id]
                )
            ):
                # Whoever serves the chat sees who they serve, as the customer's own
                # manager does, by the rule of the customer page and the API; a
                # manager who no longer serves the customer (reassigned) does not.
                found = platform.accounts.customer(session, conversation.customer_id)
                managers = dict(platform.accounts.managers(session))
                customer = {
                    "id": found.id,
                    "name": found.name,
                    "kind": found.kind,
                    "mobile": mask_mobile(found.mobile),
                    "manager": managers.get(found.manager_id or 0, ""),
                    "own": found.manager_id == me.id,
                }
            colleagues = [
                {"id": i, "name": n} for i, n in platform.accounts.managers(session) if i != me.id
            ]
            canned = platform.chat.desk.canned_replies(session, staff_id=me.id)
            # Staff cards go to the customer of a bank chat or, in a group, to the
            # member customer the card names.
            recipients = (
                [p for p in view["people"]["list"] if p["kind"] == CUSTOMER]
                if conversation.kind == "group"
                else []
            )
            offers_cards = customer is not None or bool(recipients)
            products = (
                [
                    {"code": p.code, "name": p.name}
                    for p in platform.wealth.products(session, on_sale=True)
                ]
                if offers_cards
                else []
            )
            transfers = [
                {"from": n.from_name, "to": n.to_name, "note": n.note, "at": clock_time(n.at, now)}
                for n in platform.chat.desk.transfers(session, conversation_id=conversation_id)
            ]
    except ConversationNotFound as error:
        return render(
            request,
            "staff_chat.html",
            404,
            plain=True,
            error=refusal_text(request, error),
            **desk_view(request, platform, me),
        )
    return render(
        request,
        "staff_chat_conversation.html",
        status_code,
        prefix="/staff/chat",
        live_as="staff",
        customer=customer,
        accounts=[] if customer is None else accounts_view(platform, customer["id"]),
        colleagues=colleagues,
        canned=canned,
        transfers=transfers,
        products=products,
        recipients=recipients,
        # Fares go where products do; only where the bank has an airline to pay.
        flights_offered=offers_cards and platform.cards.airline_merchant_id is not None,
        plain=True,
        **view,
        **context,
    )
