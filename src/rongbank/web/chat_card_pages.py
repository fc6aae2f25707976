"""Service cards on the 融e联 pages: a customer sends one (a transfer, a request to
be paid, a merchant order), opens it and acts on it (paying with the authentication
tool the bank asks for, or a flight booked with the airline), or turns it down."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.chat.card_store import Card, CardKind
from rongbank.chat.errors import (
    CardNotAllowedHere,
    FlightBookingFailed,
)
from rongbank.chat.service import Member
from rongbank.errors import DomainError
from rongbank.inputs import IdParam, parse_id
from rongbank.money import parse_positive_amount
from rongbank.platform import Platform
from rongbank.web.account_pages import accounts_view
from rongbank.web.chat_views import (
    Csrf,
    card_view,
    chat_home_page,
    decline_and_show,
    new_client_id,
    refusal_page,
)
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import (
    Me,
    PlatformDep,
    refusal_text,
    render,
    see_other,
)
from rongbank.web.step_up import (
    ChallengeAnswer,
    ChallengeCarried,
    ChallengeField,
    Responses,
    ToolChoice,
    challenge_view,
    confirm_payment,
)

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)


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
    cards, member, client_id = platform.cards, Member.of(me), client_id or new_client_id()
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
        return refusal_page(request, platform, me, conversation_id, error)
    return see_other(f"/chat/{conversation_id}#m{card.seq}")


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
            view = card_view(
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
        return chat_home_page(request, platform, me, 404, error=refusal_text(request, missing))
    return render(
        request,
        "chat_card.html",
        status_code,
        card=view,
        conversation={"id": conversation_id},
        accounts=accounts_view(platform, me.id),
        form=form or {},
        challenge=None if challenge is None else challenge_view(challenge, mobile=mobile),
        error=None if error is None else refusal_text(request, error),
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
        made.append(see_other(back))
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
        done_before=lambda: see_other(back),
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
    return see_other(back)


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
    return decline_and_show(request, platform, me, conversation_id, card_id)
