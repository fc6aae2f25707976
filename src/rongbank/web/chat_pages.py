"""融e联 in the web bank and the staff console: the customer's conversations and the
account managers' workspace, with the bank chats they serve and the group chats they
are in (where a service card names the member customer it is for).

Every page works as plain forms. ``/static/chat.js`` makes them live: it opens the
chat gateway's WebSocket with the page's own session cookie (the gateway accepts a
cookie only from a page of this site, see :mod:`rongbank.chat.gateway`), sends
messages, receipts and typing over it, and on each pushed event fetches the new
entries as HTML from ``.../messages?after_seq=N``: the same template renders the page
and what arrives live, so there is one renderer of a message.

The chat pages are loaded without htmx's boost (``plain`` in the templates): a
page that holds a WebSocket must be left by a real navigation, which closes it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.accounts.identity import mask_mobile
from rongbank.auth.service import Principal, PrincipalKind
from rongbank.chat.attachment_endpoints import attachment_response
from rongbank.chat.card_store import Card, CardKind
from rongbank.chat.errors import (
    CardNotAllowedHere,
    ConversationNotFound,
    FlightBookingFailed,
    FlightSearchInvalid,
)
from rongbank.chat.records import Message, Summary
from rongbank.chat.service import CUSTOMER, STAFF, Member
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError
from rongbank.inputs import CountParam, IdParam, parse_id
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform
from rongbank.web.account_pages import _accounts
from rongbank.web.csrf import check_csrf
from rongbank.web.i18n import translate
from rongbank.web.pages import (
    Me,
    PlatformDep,
    _error,
    _redirect,
    lang_of,
    render,
    staff_page,
    templates,
)
from rongbank.web.step_up import (
    ChallengeAnswer,
    ChallengeCarried,
    ChallengeField,
    Responses,
    ToolChoice,
    _challenge_view,
    confirm_payment,
)

router = APIRouter(include_in_schema=False)

Manager = Annotated[tuple[Principal, str], Depends(staff_page(*roles.CHAT_DESK))]
Csrf = Annotated[str, Form()]
HISTORY = 100
"""How many entries a conversation page shows (the newest)."""
MASKED_KINDS = ("card_number", "resident_id", "password")
KIND_ORDER = {"bank": 0, "direct": 1, "group": 2, "channel": 3, "notice": 3}
"""The customer's list: their account manager first, then people, groups, channels."""


def _client_id() -> str:
    return uuid.uuid4().hex


def _clock_time(at: datetime, now: datetime) -> str:
    local, today = at.astimezone(BUSINESS_TIME_ZONE), now.astimezone(BUSINESS_TIME_ZONE)
    return local.strftime("%H:%M" if local.date() == today.date() else "%Y-%m-%d %H:%M")


# -- what a conversation shows ------------------------------------------------------------


def _title(
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


def _message_view(
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
        "at": _clock_time(message.at, now),
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
        "card": _card_view(_card_in(card_state or message.body), member=member, now=now)
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


def _card_view(
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
        "expires": _clock_time(expires, now),
        "departs": _clock_time(datetime.fromisoformat(flight["departs_at"]), now) if flight else "",
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
        return _message_view(
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
    t = _words(request)
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
            "title": _title(platform, session, member, summary, t),
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
        "client_id": _client_id(),
    }


def _words(request: Request) -> dict[str, str]:
    return translate(lang_of(request))


def _fragment(
    request: Request, platform: Platform, member: Member, conversation_id: int, after_seq: int
) -> Response:
    """The entries after ``after_seq`` as HTML, for the page's script."""
    try:
        with platform.transaction() as session:
            entries, last, people = _entries(
                platform, session, member, conversation_id, after_seq=max(0, after_seq)
            )
    except DomainError as error:
        return Response(_error(request, error), status_code=error.status, media_type="text/plain")
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


def _refused(
    request: Request,
    platform: Platform,
    me: Principal,
    conversation_id: int,
    error: DomainError,
    **context: Any,
) -> Response:
    """The conversation page again (the customer's, or the console's for staff) with
    why ``error`` refused what was asked, and nothing changed."""
    page = _staff_conversation if me.kind == PrincipalKind.STAFF else _conversation_page
    return page(
        request, platform, me, conversation_id, error.status, error=_error(request, error),
        **context,
    )  # fmt: skip


def _send_text(
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
                client_id=client_id or _client_id(),
                body=text,
            )
    except DomainError as error:
        return _refused(request, platform, me, conversation_id, error, draft=text)
    query = f"?masked={','.join(sent.masked)}" if sent.masked else ""
    return _redirect(f"{_prefix(me)}/{conversation_id}{query}#m{sent.message.seq}")


def _recall(
    request: Request, platform: Platform, me: Principal, conversation_id: int, seq: int
) -> Response:
    try:
        with platform.transaction() as session:
            platform.chat.recall(session, Member.of(me), conversation_id=conversation_id, seq=seq)
    except DomainError as error:
        return _refused(request, platform, me, conversation_id, error)
    return _redirect(f"{_prefix(me)}/{conversation_id}#m{seq}")


def _attachment(
    request: Request, platform: Platform, me: Principal, conversation_id: int, seq: int
) -> Response:
    try:
        return attachment_response(platform, Member.of(me), conversation_id, seq)
    except DomainError as error:
        return Response(_error(request, error), status_code=error.status, media_type="text/plain")


def _decline(
    request: Request, platform: Platform, me: Principal, conversation_id: int, card_id: int
) -> Response:
    cards = platform.cards
    try:
        with platform.transaction() as session:
            card = cards.decline(
                session, Member.of(me), conversation_id=conversation_id, card_id=card_id
            )
    except DomainError as error:
        return _refused(request, platform, me, conversation_id, error)
    if card.hold_ref is not None:  # a flight's seat goes back to the airline
        cards.airline.release(card.hold_ref)
    return _redirect(f"{_prefix(me)}/{conversation_id}")


# -- customers ------------------------------------------------------------------------------


def _chat_home(
    request: Request, platform: Platform, me: Principal, status_code: int = 200, **context: Any
) -> Response:
    t = _words(request)
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
                    "title": _title(platform, session, member, summary, t),
                    "unread": summary.unread,
                    "preview": preview,
                    "at": _clock_time(at, platform.clock.now()) if at else "",
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


@router.get("/chat")
def chat_home(request: Request, platform: PlatformDep, me: Me) -> Response:
    """The customer's conversations, with what is unread in each."""
    return _chat_home(request, platform, me)


@router.get("/chat/list")
def chat_list(request: Request, platform: PlatformDep, me: Me) -> Response:
    """The same page; its script fetches it to refresh the list when a message comes."""
    return _chat_home(request, platform, me)


@router.post("/chat/bank")
def open_bank(request: Request, platform: PlatformDep, me: Me, csrf: Csrf = "") -> Response:
    """The conversation with the bank (the customer's account manager)."""
    check_csrf(request, csrf)
    with platform.transaction() as session:
        summary = platform.chat.open_bank(session, customer_id=me.id)
    return _redirect(f"/chat/{summary.conversation.id}")


@router.post("/chat/direct")
def open_direct(
    request: Request,
    platform: PlatformDep,
    me: Me,
    mobile: Annotated[str, Form(max_length=30)],
    csrf: Csrf = "",
) -> Response:
    """Ask for a chat with whoever has this mobile number (or go back to it): the
    same page whether or not anyone banks with it (see ``rongbank.chat.contacts``)."""
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            summary = platform.chat.contacts.request(session, customer_id=me.id, mobile=mobile)
    except DomainError as error:
        return _chat_home(
            request, platform, me, error.status, error=_error(request, error), mobile=mobile
        )
    return _redirect(f"/chat/{summary.conversation.id}")


@router.post("/chat/{conversation_id:int}/accept")
def accept_request(
    conversation_id: IdParam, request: Request, platform: PlatformDep, me: Me, csrf: Csrf = ""
) -> Response:
    """Accept a chat request: both see each other's name and presence from now on."""
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            platform.chat.contacts.accept(
                session, customer_id=me.id, conversation_id=conversation_id
            )
    except DomainError as error:
        return _refused(request, platform, me, conversation_id, error)
    return _redirect(f"/chat/{conversation_id}")


@router.post("/chat/{conversation_id:int}/decline")
def decline_request(
    conversation_id: IdParam, request: Request, platform: PlatformDep, me: Me, csrf: Csrf = ""
) -> Response:
    """Decline a chat request; the asker is not told."""
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            platform.chat.contacts.decline(
                session, customer_id=me.id, conversation_id=conversation_id
            )
    except DomainError as error:
        return _refused(request, platform, me, conversation_id, error)
    return _redirect("/chat")


@router.post("/chat/groups")
def create_group(
    request: Request,
    platform: PlatformDep,
    me: Me,
    mobiles: Annotated[str, Form(max_length=4000)],
    title: Annotated[str, Form(max_length=100)] = "",
    csrf: Csrf = "",
) -> Response:
    """A group with some of one's contacts, found by their mobile numbers (one a
    line, or separated by commas or spaces)."""
    check_csrf(request, csrf)
    numbers = [m for m in re.split(r"[\s,，、;；]+", mobiles) if m]
    try:
        with platform.transaction() as session:
            ids = platform.chat.contacts.contacts_by_mobile(
                session, customer_id=me.id, mobiles=numbers
            )
            summary = platform.chat.create_group(
                session, creator=Member.of(me), title=title, customer_ids=ids
            )
    except DomainError as error:
        return _chat_home(
            request, platform, me, error.status, error=_error(request, error),
            group={"title": title, "mobiles": mobiles},
        )  # fmt: skip
    return _redirect(f"/chat/{summary.conversation.id}")


@router.post("/chat/channels/{conversation_id:int}/subscription")
def subscribe(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    subscribe: Annotated[bool, Form()] = True,
    csrf: Csrf = "",
) -> Response:
    """Subscribe to one of the bank's notice channels, or leave it."""
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            if subscribe:
                platform.chat.subscribe(session, customer_id=me.id, conversation_id=conversation_id)
            else:
                platform.chat.unsubscribe(
                    session, customer_id=me.id, conversation_id=conversation_id
                )
    except DomainError as error:
        return _chat_home(request, platform, me, error.status, error=_error(request, error))
    return _redirect("/chat")


@router.post("/chat/presence")
def presence(
    request: Request,
    platform: PlatformDep,
    me: Me,
    visible: Annotated[bool, Form()],
    csrf: Csrf = "",
) -> Response:
    """Show or hide one's online status from one's contacts."""
    check_csrf(request, csrf)
    with platform.transaction() as session:
        platform.chat.set_presence_visible(session, Member.of(me), visible=visible)
    return _redirect("/chat")


@router.post("/chat/blocks")
def block(
    request: Request,
    platform: PlatformDep,
    me: Me,
    customer_id: Annotated[IdParam, Form()],
    block: Annotated[bool, Form()] = True,
    conversation_id: Annotated[IdParam | None, Form()] = None,
    csrf: Csrf = "",
) -> Response:
    """Block a customer (no direct messages either way), or unblock them."""
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            if block:
                platform.chat.contacts.block(session, customer_id=me.id, blocked_id=customer_id)
            else:
                platform.chat.contacts.unblock(session, customer_id=me.id, blocked_id=customer_id)
    except DomainError as error:
        return _chat_home(request, platform, me, error.status, error=_error(request, error))
    if conversation_id is not None:
        return _redirect(f"/chat/{conversation_id}?notice={'blocked' if block else 'unblocked'}")
    return _redirect("/chat")


@router.get("/chat/search")
def search(request: Request, platform: PlatformDep, me: Me, q: str = "") -> Response:
    """Search in the customer's own conversations."""
    t = _words(request)
    member = Member.of(me)
    found: list[dict[str, Any]] = []
    with platform.transaction() as session:
        titles: dict[int, str] = {}
        for message in platform.chat.search(session, member, query=q[:100]) if q.strip() else []:
            cid = message.conversation_id
            if cid not in titles:
                summary = platform.chat.membership(session, member, cid)
                titles[cid] = _title(platform, session, member, summary, t)
            found.append(
                {
                    "conversation_id": cid,
                    "seq": message.seq,
                    "title": titles[cid],
                    "body": message.body,
                    "at": _clock_time(message.at, platform.clock.now()),
                }
            )
    return render(
        request, "chat_search.html", q=q, found=found, searched=bool(q.strip()), plain=True
    )


def _conversation_page(
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
        return _chat_home(request, platform, me, 404, error=_error(request, error))
    notice = request.query_params.get("notice")
    return render(
        request,
        "chat_conversation.html",
        status_code,
        accounts=_accounts(platform, me.id) if view["conversation"]["kind"] == "direct" else [],
        orders=_open_orders(platform, me.id) if view["conversation"]["kind"] == "direct" else [],
        prefix="/chat",
        live_as="customer",
        notice=notice if notice in ("blocked", "unblocked", "reported") else None,
        plain=True,
        **view,
        **context,
    )


@router.get("/chat/{conversation_id:int}")
def conversation(
    conversation_id: IdParam, request: Request, platform: PlatformDep, me: Me
) -> Response:
    """One conversation: its history, the send box, and (with the script) live."""
    return _conversation_page(request, platform, me, conversation_id)


@router.get("/chat/{conversation_id:int}/messages")
def new_entries(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    after_seq: CountParam = 0,
) -> Response:
    return _fragment(request, platform, Member.of(me), conversation_id, after_seq)


@router.post("/chat/{conversation_id:int}/messages")
def send(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    text: Annotated[str, Form(max_length=4000)] = "",
    client_id: Annotated[str, Form(max_length=100)] = "",
    csrf: Csrf = "",
) -> Response:
    """Send a message (once per ``client_id``: a resent form sends nothing new)."""
    check_csrf(request, csrf)
    return _send_text(request, platform, me, conversation_id, text=text, client_id=client_id)


@router.post("/chat/{conversation_id:int}/messages/{seq:int}/recall")
def recall(
    conversation_id: IdParam,
    seq: CountParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Csrf = "",
) -> Response:
    """Recall one's own message within the recall window."""
    check_csrf(request, csrf)
    return _recall(request, platform, me, conversation_id, seq)


@router.post("/chat/{conversation_id:int}/messages/{seq:int}/report")
def report(
    conversation_id: IdParam,
    seq: CountParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Csrf = "",
) -> Response:
    """Report a message to the bank's moderators."""
    check_csrf(request, csrf)
    try:
        with platform.audited(
            actor_kind=CUSTOMER,
            actor_id=me.id,
            action="chat.report",
            target=f"conversation {conversation_id} #{seq}",
        ) as session:
            platform.chat.report(
                session,
                customer_id=me.id,
                conversation_id=conversation_id,
                seq=seq,
                reason=reason,
            )
    except DomainError as error:
        return _refused(request, platform, me, conversation_id, error)
    return _redirect(f"/chat/{conversation_id}?notice=reported")


@router.get("/chat/{conversation_id:int}/messages/{seq:int}/attachment")
def attachment(
    conversation_id: IdParam, seq: CountParam, request: Request, platform: PlatformDep, me: Me
) -> Response:
    """An image's or a file's content, for those who can see the message."""
    return _attachment(request, platform, me, conversation_id, seq)


# -- service cards ------------------------------------------------------------------------


@router.post("/chat/{conversation_id:int}/cards")
def send_card(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    account: Annotated[str, Form(max_length=40)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    kind: Annotated[str, Form(max_length=20)] = "transfer",
    order: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=200)] = "",
    client_id: Annotated[str, Form(max_length=100)] = "",
    csrf: Csrf = "",
) -> Response:
    """Send a card to the other customer of a direct chat: ``transfer`` (you pay them,
    confirming on the card), ``request`` (they pay you) or ``merchant_order`` (an open
    order of your merchant, ``order`` as ``merchant id:order number``)."""
    check_csrf(request, csrf)
    cards, member, client_id = platform.cards, Member.of(me), client_id or _client_id()
    try:
        with platform.transaction() as session:
            if kind == CardKind.MERCHANT_ORDER:
                merchant, _, order_no = order.partition(":")
                merchant_id = parse_id(merchant)
                if merchant_id is None or not order_no:
                    raise CardNotAllowedHere()
                card, _ = cards.send_merchant_order(
                    session,
                    member,
                    conversation_id=conversation_id,
                    client_id=client_id,
                    merchant_id=merchant_id,
                    order_no=order_no,
                )
            else:
                send = {"transfer": cards.send_transfer, "request": cards.send_request}.get(kind)
                if send is None:
                    raise CardNotAllowedHere()
                card, _ = send(
                    session,
                    member,
                    conversation_id=conversation_id,
                    client_id=client_id,
                    account=account,
                    amount=parse_positive_amount(amount.strip(), scale=2, currency="CNY"),
                    note=note,
                )
    except DomainError as error:
        return _refused(request, platform, me, conversation_id, error)
    return _redirect(f"/chat/{conversation_id}#m{card.seq}")


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


def _card_page(
    request: Request,
    platform: Platform,
    me: Principal,
    conversation_id: int,
    card_id: int,
    status_code: int = 200,
    *,
    form: dict[str, str] | None = None,
    challenge: Mapping[str, Any] | None = None,
    error: DomainError | None = None,
) -> Response:
    """A card the customer is about to act on: what it does, and the form (with the
    challenge the bank asks for, as on a transfer's confirmation page)."""
    member = Member.of(me)
    try:
        with platform.transaction() as session:
            card = platform.cards.card(
                session, member, conversation_id=conversation_id, card_id=card_id
            )
            view = _card_view(
                platform.cards.view(session, card), member=member, now=platform.clock.now()
            )
            if view is not None and view["product"] and view["can_act"]:
                # What a purchase made now would earn from (the card's body was made
                # earlier, maybe before the cut-off).
                product = platform.wealth.product(session, view["product"]["code"])
                view["value_date"] = platform.wealth.value_date(product).isoformat()
            if view is not None and view["kind"] == "merchant_order" and view["can_act"]:
                # 逸贷 beside paying from an account, as on the order's pay page.
                order = platform.payments.get(
                    session, merchant_id=card.merchant_id or 0, order_no=card.order_no or ""
                )
                if platform.yidai.offered_for(order.amount):
                    view["instalments"] = f"/pay/{order.token}/instalments"
            mobile = platform.accounts.customer(session, me.id).mobile
    except DomainError as missing:
        return _chat_home(request, platform, me, 404, error=_error(request, missing))
    return render(
        request,
        "chat_card.html",
        status_code,
        card=view,
        conversation={"id": conversation_id},
        accounts=_accounts(platform, me.id),
        form=form or {},
        challenge=None if challenge is None else _challenge_view(challenge, mobile=mobile),
        error=None if error is None else _error(request, error),
        plain=True,
    )


@router.get("/chat/{conversation_id:int}/cards/{card_id:int}")
def card_page(
    conversation_id: IdParam, card_id: IdParam, request: Request, platform: PlatformDep, me: Me
) -> Response:
    return _card_page(request, platform, me, conversation_id, card_id)


@router.post("/chat/{conversation_id:int}/cards/{card_id:int}/act")
def act_on_card(
    conversation_id: IdParam,
    card_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    account: Annotated[str, Form(max_length=40)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    csrf: Csrf = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Do what the card offers, once, through the same payment path as anywhere:
    at once within the password-free allowance, else answering the challenge. A
    flight holds its seat before the fare is taken and is confirmed with the airline
    once it is (see :mod:`rongbank.chat.booking`)."""
    check_csrf(request, csrf)
    cards, bookings = platform.cards, platform.bookings
    form = {"account": account, "amount": amount}

    def page(status_code: int, error: DomainError | None = None, shown: Any = None) -> Response:
        return _card_page(
            request, platform, me, conversation_id, card_id, status_code,
            form=form, challenge=shown, error=error,
        )  # fmt: skip

    try:
        minor = (
            parse_positive_amount(amount.strip(), scale=2, currency="CNY")
            if amount.strip()
            else None
        )
        with platform.transaction() as session:
            card = cards.prepare(
                session, customer_id=me.id, conversation_id=conversation_id, card_id=card_id
            )
        cards.check_actable(card, me.id)
        flight = card.kind == CardKind.FLIGHT
        if card.status == "booking":  # paid before the airline answered: finish it
            return _booked(platform, card, page, f"/chat/{conversation_id}#m{card.seq}")
        with platform.transaction() as session:
            payment = cards.payment(session, card, account=account or None, amount=minor)
        if flight:
            card = bookings.hold_seat(card, customer_id=me.id)
    except DomainError as error:
        return page(error.status, error)
    back = f"/chat/{conversation_id}#m{card.seq}"

    def refused(error: DomainError) -> Response:
        if flight:  # the fare cannot be taken (funds, limits...): the seat goes back
            bookings.give_back(card)
        return page(error.status, error)

    made: list[Response] = []

    def work(session: Session) -> Response:
        cards.act(
            session,
            conversation_id=conversation_id,
            card_id=card_id,
            customer_id=me.id,
            account=account or None,
            amount=minor,
        )
        made.append(_redirect(back))
        return made[0]

    answer = confirm_payment(
        platform,
        me.id,
        payment,
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        work,
        already_done=lambda session: cards.paid_before(session, card, customer_id=me.id),
        again=lambda shown, error: page(200 if error is None else 422, error, shown),
        refused=refused,
        done_before=lambda: _redirect(back),
    )
    if made and answer is made[0] and flight:
        return _booked(platform, card, page, back)
    return answer


def _booked(
    platform: Platform,
    card: Card,
    page: Callable[[int, DomainError], Response],
    back: str,
) -> Response:
    """A paid flight confirmed with the airline: back to the chat, where the card
    shows its booking; or, when the airline failed, the card's page saying that
    nothing was charged."""
    done = platform.bookings.finish(card)
    if done.status == "failed":
        return page(409, FlightBookingFailed(card_id=card.id))
    return _redirect(back)


@router.post("/chat/{conversation_id:int}/cards/{card_id:int}/decline")
def decline_card(
    conversation_id: IdParam,
    card_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Csrf = "",
) -> Response:
    """Turn down a card meant for you, or withdraw one you sent, while it is open."""
    check_csrf(request, csrf)
    return _decline(request, platform, me, conversation_id, card_id)


# -- the account managers' workspace ------------------------------------------------------


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
                "at": _clock_time(at, now) if at else "",
                "sort": (-(at.timestamp() if at else 0), summary.conversation.id),
            }
        )
    return sorted(groups, key=lambda g: g["sort"])


def _desk(request: Request, platform: Platform, me: Principal) -> dict[str, Any]:
    t = _words(request)
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


@router.get("/staff/chat")
def workspace(request: Request, platform: PlatformDep, staff: Manager) -> Response:
    """The manager's workspace: duty, waiting and unread chats, the queue, their
    customers, their response time."""
    return render(request, "staff_chat.html", plain=True, **_desk(request, platform, staff[0]))


@router.get("/staff/chat/desk")
def workspace_desk(request: Request, platform: PlatformDep, staff: Manager) -> Response:
    """The workspace again, for its script to refresh the lists when chats move."""
    return render(request, "staff_chat.html", plain=True, **_desk(request, platform, staff[0]))


@router.post("/staff/chat/duty")
def duty(
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    on_duty: Annotated[bool, Form()],
    csrf: Csrf = "",
) -> Response:
    """Start or end duty: the manager's waiting chats go to colleagues, or come back."""
    check_csrf(request, csrf)
    with platform.transaction() as session:
        platform.chat.desk.set_on_duty(session, staff_id=staff[0].id, on_duty=on_duty)
    return _redirect("/staff/chat")


@router.post("/staff/chat/canned")
def add_canned(
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    title: Annotated[str, Form(max_length=100)] = "",
    body: Annotated[str, Form(max_length=2000)] = "",
    csrf: Csrf = "",
) -> Response:
    """A canned reply of the manager's own."""
    check_csrf(request, csrf)
    if not title.strip() or not body.strip():
        t = _words(request)
        return render(
            request,
            "staff_chat.html",
            422,
            plain=True,
            error=t["chat_canned_incomplete"],
            **_desk(request, platform, staff[0]),
        )
    with platform.transaction() as session:
        platform.chat.desk.add_canned_reply(session, staff_id=staff[0].id, title=title, body=body)
    return _redirect("/staff/chat")


@router.post("/staff/chat/{conversation_id:int}/claim")
def claim(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    csrf: Csrf = "",
) -> Response:
    """Take a chat from the queue."""
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            platform.chat.desk.claim(session, staff_id=staff[0].id, conversation_id=conversation_id)
    except DomainError as error:
        return render(
            request,
            "staff_chat.html",
            error.status,
            plain=True,
            error=_error(request, error),
            **_desk(request, platform, staff[0]),
        )
    return _redirect(f"/staff/chat/{conversation_id}")


def _staff_conversation(
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
                {"from": n.from_name, "to": n.to_name, "note": n.note, "at": _clock_time(n.at, now)}
                for n in platform.chat.desk.transfers(session, conversation_id=conversation_id)
            ]
    except ConversationNotFound as error:
        return render(
            request,
            "staff_chat.html",
            404,
            plain=True,
            error=_error(request, error),
            **_desk(request, platform, me),
        )
    return render(
        request,
        "staff_chat_conversation.html",
        status_code,
        prefix="/staff/chat",
        live_as="staff",
        customer=customer,
        accounts=[] if customer is None else _accounts(platform, customer["id"]),
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


@router.get("/staff/chat/{conversation_id:int}")
def staff_conversation(
    conversation_id: IdParam, request: Request, platform: PlatformDep, staff: Manager
) -> Response:
    """A chat with the customer's profile and accounts beside it."""
    return _staff_conversation(request, platform, staff[0], conversation_id)


@router.get("/staff/chat/{conversation_id:int}/messages")
def staff_new_entries(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    after_seq: CountParam = 0,
) -> Response:
    return _fragment(request, platform, Member.of(staff[0]), conversation_id, after_seq)


@router.post("/staff/chat/{conversation_id:int}/messages")
def staff_send(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    text: Annotated[str, Form(max_length=4000)] = "",
    client_id: Annotated[str, Form(max_length=100)] = "",
    canned: Annotated[IdParam | None, Form()] = None,
    csrf: Csrf = "",
) -> Response:
    """Answer in the chat: typed, or one of the manager's canned replies."""
    check_csrf(request, csrf)
    me = staff[0]
    if canned is not None:
        with platform.transaction() as session:
            replies = platform.chat.desk.canned_replies(session, staff_id=me.id)
        text = next((str(r["body"]) for r in replies if r["id"] == canned), "")
        client_id = f"canned:{client_id or _client_id()}"
    return _send_text(request, platform, me, conversation_id, text=text, client_id=client_id)


@router.post("/staff/chat/{conversation_id:int}/messages/{seq:int}/recall")
def staff_recall(
    conversation_id: IdParam,
    seq: CountParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    csrf: Csrf = "",
) -> Response:
    """Recall one's own message within the recall window."""
    check_csrf(request, csrf)
    return _recall(request, platform, staff[0], conversation_id, seq)


@router.get("/staff/chat/{conversation_id:int}/messages/{seq:int}/attachment")
def staff_attachment(
    conversation_id: IdParam,
    seq: CountParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
) -> Response:
    return _attachment(request, platform, staff[0], conversation_id, seq)


@router.get("/staff/chat/{conversation_id:int}/flights")
def staff_flights(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    origin: Annotated[str, Query(max_length=10)] = "",
    destination: Annotated[str, Query(max_length=10)] = "",
    day: Annotated[str, Query(alias="date", max_length=10)] = "",
    to_customer_id: Annotated[IdParam | None, Query()] = None,
) -> Response:
    """The chat with the airline's fares on a route and day beside it, each with a
    button that sends it to the customer (in a group: ``to_customer_id``, chosen with
    the search) as a flight card."""
    search: dict[str, Any] = {
        "origin": origin.strip().upper(),
        "destination": destination.strip().upper(),
        "date": day,
        "to_customer_id": to_customer_id,
    }
    now = platform.clock.now()
    try:
        offers = platform.cards.search_flights(
            origin=search["origin"], destination=search["destination"], day=_day(day)
        )
    except DomainError as error:
        return _staff_conversation(
            request, platform, staff[0], conversation_id, error.status,
            error=_error(request, error), flight_search=search, offers=[],
        )  # fmt: skip
    return _staff_conversation(
        request,
        platform,
        staff[0],
        conversation_id,
        flight_search=search,
        offers=[
            {
                "offer_id": o.offer_id,
                "airline": o.airline,
                "flight_no": o.flight_no,
                "departs": _clock_time(o.departs_at, now),
                "arrives": o.arrives_at.astimezone(BUSINESS_TIME_ZONE).strftime("%H:%M"),
                "fare": format_amount(o.fare, scale=2),
            }
            for o in offers
        ],
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FlightSearchInvalid() from None


@router.post("/staff/chat/{conversation_id:int}/cards")
def staff_send_card(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    kind: Annotated[str, Form(max_length=20)] = "wealth",
    product_code: Annotated[str, Form(max_length=40)] = "",
    origin: Annotated[str, Form(max_length=10)] = "",
    destination: Annotated[str, Form(max_length=10)] = "",
    day: Annotated[str, Form(alias="date", max_length=10)] = "",
    offer_id: Annotated[str, Form(max_length=100)] = "",
    note: Annotated[str, Form(max_length=200)] = "",
    to_customer_id: Annotated[IdParam | None, Form()] = None,
    client_id: Annotated[str, Form(max_length=100)] = "",
    csrf: Csrf = "",
) -> Response:
    """Offer the customer a wealth product on sale (``wealth``), with a buy button, or
    one of the airline's fares found beside the chat (``flight``), with a book button.
    In a group the card names the member customer it is for (``to_customer_id``)."""
    check_csrf(request, csrf)
    me, cards = staff[0], platform.cards
    client_id = client_id or _client_id()
    try:
        with platform.transaction() as session:
            if kind == CardKind.FLIGHT:
                card, _ = cards.send_flight(
                    session,
                    Member.of(me),
                    conversation_id=conversation_id,
                    client_id=client_id,
                    origin=origin,
                    destination=destination,
                    day=_day(day),
                    offer_id=offer_id,
                    to_customer_id=to_customer_id,
                )
            elif kind == CardKind.WEALTH:
                card, _ = cards.send_wealth(
                    session,
                    Member.of(me),
                    conversation_id=conversation_id,
                    client_id=client_id,
                    product_code=product_code,
                    to_customer_id=to_customer_id,
                    note=note,
                )
            else:
                raise CardNotAllowedHere()
    except DomainError as error:
        return _refused(request, platform, me, conversation_id, error)
    return _redirect(f"/staff/chat/{conversation_id}#m{card.seq}")


@router.post("/staff/chat/{conversation_id:int}/cards/{card_id:int}/decline")
def staff_withdraw_card(
    conversation_id: IdParam,
    card_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    csrf: Csrf = "",
) -> Response:
    """Withdraw a card one sent, while it is open."""
    check_csrf(request, csrf)
    return _decline(request, platform, staff[0], conversation_id, card_id)


@router.post("/staff/chat/{conversation_id:int}/transfer")
def transfer(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    to_staff_id: Annotated[IdParam, Form()],
    note: Annotated[str, Form(max_length=500)] = "",
    csrf: Csrf = "",
) -> Response:
    """Hand the chat to a colleague with a note for them (audited)."""
    check_csrf(request, csrf)
    me = staff[0]
    try:
        with platform.audited(
            actor_kind="staff",
            actor_id=me.id,
            action="chat.transfer",
            target=f"conversation {conversation_id}",
            details={"to_staff_id": to_staff_id, "channel": "console"},
        ) as session:
            platform.chat.desk.transfer(
                session,
                staff_id=me.id,
                conversation_id=conversation_id,
                to_staff_id=to_staff_id,
                note=note,
            )
    except DomainError as error:
        return _refused(request, platform, me, conversation_id, error)
    return _redirect("/staff/chat?notice=transferred")
