"""Service cards over HTTP (see :mod:`rongbank.chat.cards`).

Customers send transfer, payment-request and merchant-order cards
(``/me/chat/conversations/{id}/cards``) and act on the cards meant for them: ``act``
answers like every payment (``403 challenge_required`` with the challenge in
``details``; the same request again with ``challenge_id`` and ``response`` pays), and
``decline``. Staff send wealth and flight cards (``/staff/chat/...``).

Acting runs the card's payment inside ``Platform.authorised`` (step-up, limits, audit)
and publishes the chat events (the outcome message) only after it commits.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.api.deps import CustomerPrincipal, PlatformDep, keyed_request, require_staff
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.service import Principal
from rongbank.auth.stepup import ChallengeFailed, ChallengeRequired
from rongbank.auth.tools import PaymentRequest
from rongbank.chat import schemas as s
from rongbank.chat.card_store import Card, CardKind
from rongbank.chat.cards import CardService
from rongbank.chat.endpoints import ChatStaff
from rongbank.chat.errors import CardAccountRequired, FlightBookingFailed
from rongbank.chat.service import Member
from rongbank.errors import DomainError
from rongbank.inputs import Day, IdParam
from rongbank.lending import checkout_endpoints as checkout
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform

customer = APIRouter(tags=["e-Link service cards"], prefix="/me/chat", route_class=OneHopRoute)
staff = APIRouter(
    tags=["e-Link service cards (staff)"], prefix="/staff/chat", route_class=OneHopRoute
)

CNY_SCALE = 2
Serving = Annotated[Principal, Depends(require_staff(*roles.OFFERS))]
"""Who offers products and fares to customers."""


def _amount(text: str) -> int:
    return parse_positive_amount(text, scale=CNY_SCALE, currency="CNY")


def _out(cards: CardService, session: Session, card: Card) -> s.CardOut:
    return s.CardOut.model_validate(cards.view(session, card))


# -- sending --------------------------------------------------------------------------------

Send = Callable[..., tuple[Card, bool]]
"""A ``CardService.send_*`` method: (service, session, member, *, conversation_id,
client_id, what the kind needs)."""

SENDS: dict[CardKind, tuple[Send, Callable[[Any], dict[str, Any]]]] = {
    CardKind.TRANSFER: (
        CardService.send_transfer,
        lambda body: {"account": body.account, "amount": _amount(body.amount), "note": body.note},
    ),
    CardKind.REQUEST: (
        CardService.send_request,
        lambda body: {"account": body.account, "amount": _amount(body.amount), "note": body.note},
    ),
    CardKind.MERCHANT_ORDER: (
        CardService.send_merchant_order,
        lambda body: {"merchant_id": body.merchant_id, "order_no": body.order_no},
    ),
    CardKind.WEALTH: (
        CardService.send_wealth,
        lambda body: {
            "product_code": body.product_code,
            "to_customer_id": body.to_customer_id,
            "note": body.note,
        },
    ),
    CardKind.FLIGHT: (
        CardService.send_flight,
        lambda body: {
            "origin": body.origin,
            "destination": body.destination,
            "day": body.date,
            "offer_id": body.offer_id,
            "to_customer_id": body.to_customer_id,
        },
    ),
}
"""Each card kind: the service method that sends it, and its arguments from the
request body (one of ``CustomerCardIn`` or ``StaffCardIn``, told apart by ``kind``)."""


def _send(
    platform: Platform,
    principal: Principal,
    conversation_id: int,
    body: s.CustomerCardIn | s.StaffCardIn,
    response: Response,
) -> s.CardSentOut:
    send, arguments = SENDS[CardKind(body.kind)]
    cards = platform.cards
    with platform.transaction() as session:
        card, created = send(
            cards,
            session,
            Member.of(principal),
            conversation_id=conversation_id,
            client_id=body.client_id,
            **arguments(body),
        )
        out = _out(cards, session, card)
    response.status_code = 201 if created else 200
    return s.CardSentOut(card=out, created=created)


@customer.post("/conversations/{conversation_id}/cards", status_code=201)
def send_card(
    conversation_id: IdParam,
    body: s.CustomerCardIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
    response: Response,
) -> s.CardSentOut:
    """Send a card to the other customer of a direct conversation: ``transfer`` (you
    will pay them; you then confirm it with ``act``), ``request`` (they pay you) or
    ``merchant_order`` (an open order of your merchant). 201 sent, 200 a resend."""
    return _send(platform, me, conversation_id, body, response)


@staff.post("/conversations/{conversation_id}/cards", status_code=201)
def staff_send_card(
    conversation_id: IdParam,
    body: s.StaffCardIn,
    platform: PlatformDep,
    me: Serving,
    response: Response,
) -> s.CardSentOut:
    """Offer a wealth product (``wealth``) or an airline fare from ``GET /flights``
    (``flight``) to the customer of a bank conversation (in a group: ``to_customer_id``)."""
    return _send(platform, me, conversation_id, body, response)


@staff.get("/flights")
def search_flights(
    platform: PlatformDep,
    _: Serving,
    origin: Annotated[str, Query(min_length=3, max_length=3)],
    destination: Annotated[str, Query(min_length=3, max_length=3)],
    day: Annotated[Day, Query(alias="date")],
) -> list[s.FlightOfferOut]:
    """The airline's fares on a route and day, to send as flight cards."""
    offers = platform.cards.search_flights(origin=origin, destination=destination, day=day)
    return [
        s.FlightOfferOut.model_validate(
            o.to_json() | {"fare": format_amount(o.fare, scale=CNY_SCALE)}
        )
        for o in offers
    ]


# -- reading ---------------------------------------------------------------------------------


def _card(platform: Platform, member: Member, conversation_id: int, card_id: int) -> s.CardOut:
    with platform.transaction() as session:
        card = platform.cards.card(
            session, member, conversation_id=conversation_id, card_id=card_id
        )
        return _out(platform.cards, session, card)


@customer.get("/conversations/{conversation_id}/cards/{card_id}")
def my_card(
    conversation_id: IdParam, card_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.CardOut:
    return _card(platform, Member.of(me), conversation_id, card_id)


@staff.get("/conversations/{conversation_id}/cards/{card_id}")
def staff_card(
    conversation_id: IdParam, card_id: IdParam, platform: PlatformDep, me: ChatStaff
) -> s.CardOut:
    return _card(platform, Member.of(me), conversation_id, card_id)


# -- declining ---------------------------------------------------------------------------------


def _decline(platform: Platform, member: Member, conversation_id: int, card_id: int) -> s.CardOut:
    cards = platform.cards
    with platform.transaction() as session:
        card = cards.decline(session, member, conversation_id=conversation_id, card_id=card_id)
        out = _out(cards, session, card)
    if card.hold_ref is not None:
        cards.airline.release(card.hold_ref)
    return out


@customer.post("/conversations/{conversation_id}/cards/{card_id}/decline")
def decline(
    conversation_id: IdParam, card_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.CardOut:
    """Turn down a card meant for you, or withdraw one you sent, while it is open."""
    return _decline(platform, Member.of(me), conversation_id, card_id)


@staff.post("/conversations/{conversation_id}/cards/{card_id}/decline")
def staff_withdraw(
    conversation_id: IdParam, card_id: IdParam, platform: PlatformDep, me: Serving
) -> s.CardOut:
    """Withdraw a card one sent, while it is open."""
    return _decline(platform, Member.of(me), conversation_id, card_id)


# -- acting ------------------------------------------------------------------------------------


def _authorised(
    platform: Platform,
    customer_id: int,
    card: Card,
    payment: PaymentRequest | Callable[[Session], PaymentRequest],
    body: s.CardActIn,
) -> AbstractContextManager[Session]:
    """``Platform.authorised`` with the challenge answer the card's form carries; with
    the body's ``client_id``, a refusal is remembered under it. ``payment`` may be read
    in the payment's transaction (``Platform.authorised``)."""
    key = None
    if body.client_id is not None:
        key = keyed_request(
            f"customer:{customer_id}:card_act",
            body.client_id,
            body,
            conversation_id=card.conversation_id,
            card_id=card.id,
        )
    return platform.authorised(
        payment,
        customer_id=customer_id,
        challenge_id=body.challenge_id,
        response=body.response,
        prefer=ToolKind(body.tool) if body.tool else None,
        already_done=lambda session: platform.cards.paid_before(
            session, card, customer_id=customer_id
        ),
        idempotency=key,
    )


@customer.post("/conversations/{conversation_id}/cards/{card_id}/act")
def act(
    conversation_id: IdParam,
    card_id: IdParam,
    body: s.CardActIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
) -> s.CardOut:
    """Do what the card offers: pay the transfer or the request, pay the merchant's
    order, buy the product (``amount``), book the flight. Once only; the card's
    outcome is posted into the conversation."""
    cards = platform.cards
    amount = None if body.amount is None else _amount(body.amount)
    with platform.transaction() as session:
        card = cards.prepare(
            session, customer_id=me.id, conversation_id=conversation_id, card_id=card_id
        )
    cards.check_actable(card, me.id)
    if card.kind == CardKind.FLIGHT:
        return _book(platform, me.id, card, body)

    def payment(session: Session) -> PaymentRequest:
        # What the card pays, read in the payment's own transaction (one less).
        return cards.payment(session, card, account=body.account, amount=amount)

    with _authorised(platform, me.id, card, payment, body) as session:
        done = cards.act(
            session,
            conversation_id=conversation_id,
            card_id=card_id,
            customer_id=me.id,
            account=body.account,
            amount=amount,
        )
        return _out(cards, session, done)


def _book(platform: Platform, customer_id: int, card: Card, body: s.CardActIn) -> s.CardOut:
    """A flight (see :mod:`rongbank.chat.booking`): hold a seat, take the fare (held)
    as authorised, confirm with the airline, then capture; an airline failure voids
    the fare and gives the seat back. Acting again on a card left ``booking`` (the
    process stopped before the airline answered) finishes the booking without paying
    again; while another process (the recovery job) is asking the airline about it,
    the card is answered as it is, still ``booking``."""
    cards, bookings = platform.cards, platform.bookings
    if card.status == "open":
        if not body.account:
            raise CardAccountRequired()
        card = bookings.hold_seat(card, customer_id=customer_id)
        with platform.transaction() as session:
            payment = cards.payment(session, card, account=body.account, amount=None)
        try:
            with _authorised(platform, customer_id, card, payment, body) as session:
                card = cards.act(
                    session,
                    conversation_id=card.conversation_id,
                    card_id=card.id,
                    customer_id=customer_id,
                    account=body.account,
                    amount=None,
                )
        except (ChallengeRequired, ChallengeFailed):
            raise  # the seat stays held while the customer answers
        except DomainError:
            bookings.give_back(card)  # the fare cannot be taken (funds, limits...)
            raise
    done = bookings.finish(card)
    if done.status == "failed":
        raise FlightBookingFailed(card_id=card.id, status=done.status)
    with platform.transaction() as session:
        return _out(cards, session, done)


# -- 逸贷 instalments on a merchant-order card ---------------------------------------------


@customer.post("/conversations/{conversation_id}/cards/{card_id}/instalments", status_code=201)
def card_instalments(
    conversation_id: IdParam,
    card_id: IdParam,
    body: checkout.InstalmentsIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
    response: Response,
) -> checkout.InstalmentsOut:
    """逸贷: ask to pay the merchant-order card's order in monthly instalments,
    decided at once, as on the order's pay page. 201 decided now, 200 a retry."""
    with platform.transaction() as session:
        _, token, _ = platform.cards.order_for_instalments(
            session, customer_id=me.id, conversation_id=conversation_id, card_id=card_id
        )
    return checkout.decide_instalments(platform, me.id, token, body, response, channel="card")


@customer.post("/conversations/{conversation_id}/cards/{card_id}/instalments/pay")
def card_pay_by_instalments(
    conversation_id: IdParam,
    card_id: IdParam,
    body: checkout.PayInstalmentsIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
) -> checkout.InstalmentsPaidOut:
    """Sign the offer and pay the card's order with it (the step-up of a money
    movement); the card closes as paid and its outcome is posted into the
    conversation. A repeat answers the payment made."""
    cards = platform.cards
    with platform.transaction() as session:
        found, token, _ = cards.order_for_instalments(
            session, customer_id=me.id, conversation_id=conversation_id, card_id=card_id
        )
    locked: list[Card] = []

    def before(session: Session) -> bool:
        card, _, to_close = cards.order_for_instalments(
            session, customer_id=me.id, conversation_id=conversation_id, card_id=found.id
        )
        locked.append(card)
        return to_close

    def after(session: Session) -> None:
        cards.paid_by_instalments(session, locked[-1])

    return checkout.pay_instalments(platform, me.id, token, body, hooks=(before, after))
