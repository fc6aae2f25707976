"""The account managers' workspace in the staff console: the desk (the chats they
serve, the queue, their groups), going on and off duty, shared and canned replies,
claiming and transferring a chat, and their side of a conversation (sending,
recalling, service cards and flight fares for the customer they serve)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.chat.card_store import CardKind
from rongbank.chat.errors import (
    CardNotAllowedHere,
    FlightSearchInvalid,
)
from rongbank.chat.service import Member
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError
from rongbank.inputs import CountParam, IdParam
from rongbank.money import format_amount
from rongbank.web.chat_views import (
    Csrf,
    chat_words,
    clock_time,
    decline_and_show,
    desk_view,
    entries_fragment,
    message_attachment,
    new_client_id,
    recall_message,
    refusal_page,
    send_text,
    staff_conversation_page,
)
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import (
    PlatformDep,
    refusal_text,
    render,
    see_other,
    staff_page,
)

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

Manager = Annotated[tuple[Principal, str], Depends(staff_page(*roles.CHAT_DESK))]


@router.get("/staff/chat")
def workspace(request: Request, platform: PlatformDep, staff: Manager) -> Response:
    """The manager's workspace: duty, waiting and unread chats, the queue, their
    customers, their response time."""
    return render(request, "staff_chat.html", plain=True, **desk_view(request, platform, staff[0]))


@router.get("/staff/chat/desk")
def workspace_desk(request: Request, platform: PlatformDep, staff: Manager) -> Response:
    """The workspace again, for its script to refresh the lists when chats move."""
    return render(request, "staff_chat.html", plain=True, **desk_view(request, platform, staff[0]))


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
    return see_other("/staff/chat")


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
        t = chat_words(request)
        return render(
            request,
            "staff_chat.html",
            422,
            plain=True,
            error=t["chat_canned_incomplete"],
            **desk_view(request, platform, staff[0]),
        )
    with platform.transaction() as session:
        platform.chat.desk.add_canned_reply(session, staff_id=staff[0].id, title=title, body=body)
    return see_other("/staff/chat")


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
            error=refusal_text(request, error),
            **desk_view(request, platform, staff[0]),
        )
    return see_other(f"/staff/chat/{conversation_id}")


@router.get("/staff/chat/{conversation_id:int}")
def staff_conversation(
    conversation_id: IdParam, request: Request, platform: PlatformDep, staff: Manager
) -> Response:
    """A chat with the customer's profile and accounts beside it."""
    return staff_conversation_page(request, platform, staff[0], conversation_id)


@router.get("/staff/chat/{conversation_id:int}/messages")
def staff_new_entries(
    conversation_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
    after_seq: CountParam = 0,
) -> Response:
    return entries_fragment(request, platform, Member.of(staff[0]), conversation_id, after_seq)


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
        client_id = f"canned:{client_id or new_client_id()}"
    return send_text(request, platform, me, conversation_id, text=text, client_id=client_id)


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
    return recall_message(request, platform, staff[0], conversation_id, seq)


@router.get("/staff/chat/{conversation_id:int}/messages/{seq:int}/attachment")
def staff_attachment(
    conversation_id: IdParam,
    seq: CountParam,
    request: Request,
    platform: PlatformDep,
    staff: Manager,
) -> Response:
    return message_attachment(request, platform, staff[0], conversation_id, seq)


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
        return staff_conversation_page(
            request, platform, staff[0], conversation_id, error.status,
            error=refusal_text(request, error), flight_search=search, offers=[],
        )  # fmt: skip
    return staff_conversation_page(
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
                "departs": clock_time(o.departs_at, now),
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
    client_id = client_id or new_client_id()
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
        return refusal_page(request, platform, me, conversation_id, error)
    return see_other(f"/staff/chat/{conversation_id}#m{card.seq}")


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
    return decline_and_show(request, platform, staff[0], conversation_id, card_id)


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
        return refusal_page(request, platform, me, conversation_id, error)
    return see_other("/staff/chat?notice=transferred")
