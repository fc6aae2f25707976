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

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from rongbank.api.one_hop import OneHopRoute
from rongbank.chat.service import CUSTOMER, Member
from rongbank.errors import DomainError
from rongbank.inputs import CountParam, IdParam
from rongbank.web.chat_views import (
    Csrf,
    chat_home_page,
    chat_words,
    clock_time,
    conversation_page,
    conversation_title,
    entries_fragment,
    message_attachment,
    recall_message,
    refusal_page,
    send_text,
)
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import (
    Me,
    PlatformDep,
    refusal_text,
    render,
    see_other,
)

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)


@router.get("/chat")
def chat_home(request: Request, platform: PlatformDep, me: Me) -> Response:
    """The customer's conversations, with what is unread in each."""
    return chat_home_page(request, platform, me)


@router.get("/chat/list")
def chat_list(request: Request, platform: PlatformDep, me: Me) -> Response:
    """The same page; its script fetches it to refresh the list when a message comes."""
    return chat_home_page(request, platform, me)


@router.post("/chat/bank")
def open_bank(request: Request, platform: PlatformDep, me: Me, csrf: Csrf = "") -> Response:
    """The conversation with the bank (the customer's account manager)."""
    check_csrf(request, csrf)
    with platform.transaction() as session:
        summary = platform.chat.open_bank(session, customer_id=me.id)
    return see_other(f"/chat/{summary.conversation.id}")


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
        return chat_home_page(
            request, platform, me, error.status, error=refusal_text(request, error), mobile=mobile
        )
    return see_other(f"/chat/{summary.conversation.id}")


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
        return refusal_page(request, platform, me, conversation_id, error)
    return see_other(f"/chat/{conversation_id}")


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
        return refusal_page(request, platform, me, conversation_id, error)
    return see_other("/chat")


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
        return chat_home_page(
            request, platform, me, error.status, error=refusal_text(request, error),
            group={"title": title, "mobiles": mobiles},
        )  # fmt: skip
    return see_other(f"/chat/{summary.conversation.id}")


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
        return chat_home_page(
            request, platform, me, error.status, error=refusal_text(request, error)
        )
    return see_other("/chat")


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
    return see_other("/chat")


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
        return chat_home_page(
            request, platform, me, error.status, error=refusal_text(request, error)
        )
    if conversation_id is not None:
        return see_other(f"/chat/{conversation_id}?notice={'blocked' if block else 'unblocked'}")
    return see_other("/chat")


@router.get("/chat/search")
def search(request: Request, platform: PlatformDep, me: Me, q: str = "") -> Response:
    """Search in the customer's own conversations."""
    t = chat_words(request)
    member = Member.of(me)
    found: list[dict[str, Any]] = []
    with platform.transaction() as session:
        titles: dict[int, str] = {}
        for message in platform.chat.search(session, member, query=q[:100]) if q.strip() else []:
            cid = message.conversation_id
            if cid not in titles:
                summary = platform.chat.membership(session, member, cid)
                titles[cid] = conversation_title(platform, session, member, summary, t)
            found.append(
                {
                    "conversation_id": cid,
                    "seq": message.seq,
                    "title": titles[cid],
                    "body": message.body,
                    "at": clock_time(message.at, platform.clock.now()),
                }
            )
    return render(
        request, "chat_search.html", q=q, found=found, searched=bool(q.strip()), plain=True
    )


@router.get("/chat/{conversation_id:int}")
def conversation(
    conversation_id: IdParam, request: Request, platform: PlatformDep, me: Me
) -> Response:
    """One conversation: its history, the send box, and (with the script) live."""
    return conversation_page(request, platform, me, conversation_id)


@router.get("/chat/{conversation_id:int}/messages")
def new_entries(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    after_seq: CountParam = 0,
) -> Response:
    return entries_fragment(request, platform, Member.of(me), conversation_id, after_seq)


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
    return send_text(request, platform, me, conversation_id, text=text, client_id=client_id)


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
    return recall_message(request, platform, me, conversation_id, seq)


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
        return refusal_page(request, platform, me, conversation_id, error)
    return see_other(f"/chat/{conversation_id}?notice=reported")


@router.get("/chat/{conversation_id:int}/messages/{seq:int}/attachment")
def attachment(
    conversation_id: IdParam, seq: CountParam, request: Request, platform: PlatformDep, me: Me
) -> Response:
    """An image's or a file's content, for those who can see the message."""
    return message_attachment(request, platform, me, conversation_id, seq)
