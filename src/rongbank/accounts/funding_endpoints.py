"""Cards bound at other banks, top-ups from them and withdrawals to them, over HTTP.

Customers only, and only their own cards and requests: another customer's id is
answered as if it did not exist. Binding a card is a security change confirmed with
an SMS code (``Platform.confirmed``); a withdrawal is a payment (``Platform.authorised``);
a top-up and an unbinding are audited. The openers here are shared with the web bank.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from rongbank.accounts.bound_cards import BoundCard
from rongbank.accounts.endpoints import MissingClientId
from rongbank.accounts.funding import (
    FundingDone,
    FundingKind,
    FundingRequest,
    FundingService,
    FundingState,
    Opener,
)
from rongbank.accounts.schemas import AccountNumber, Amount
from rongbank.api.deps import CustomerPrincipal, PlatformDep
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.tools import PaymentRequest
from rongbank.inputs import Id, IdParam, Name
from rongbank.inputs import Input as Strict
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform

router = APIRouter(tags=["direct bank"], prefix="/me", route_class=OneHopRoute)

CNY_SCALE = 2


def get_funding(platform: PlatformDep) -> FundingService:
    return platform.funding


FundingDep = Annotated[FundingService, Depends(get_funding)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)]
ChallengeId = Annotated[str, Field(min_length=1, max_length=64)] | None
ChallengeResponse = Annotated[str, Field(min_length=1, max_length=512)] | None


class BoundCardIn(Strict):
    card_number: Annotated[
        str, Field(min_length=1, max_length=40, examples=["6222021234567890128"])
    ]
    holder_name: Annotated[Name, Field(max_length=200)]
    challenge_id: ChallengeId = None
    """From the ``challenge_required`` answer to this same request."""
    response: ChallengeResponse = None
    """The code sent to your registered mobile."""


class BoundCardOut(BaseModel):
    id: int
    masked: str
    holder_name: str
    bank_name: str | None
    bound_at: datetime


class FundingIn(Strict):
    client_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    account: AccountNumber
    card_id: Id
    amount: Amount


class WithdrawalIn(FundingIn):
    challenge_id: ChallengeId = None
    """From the ``challenge_required`` answer to this same request."""
    response: ChallengeResponse = None
    """The tool's answer, as for a transfer."""
    tool: Literal["sms", "grid_card", "token", "ukey"] | None = None
    """Which of your tools to be challenged with; by default the weakest that may."""


class FundingOut(BaseModel):
    id: int
    kind: FundingKind
    state: FundingState
    """``unknown``: the other bank did not answer in time; the bank will find out
    and settle it. Ask again with GET /me/funding/{id}."""
    reason: str
    account: str
    card_id: int
    amount: str
    created_at: datetime
    updated_at: datetime


def _card_out(card: BoundCard) -> BoundCardOut:
    return BoundCardOut(
        id=card.id,
        masked=card.masked,
        holder_name=card.holder_name,
        bank_name=card.bank_name,
        bound_at=card.bound_at,
    )


def _funding_out(request: FundingRequest) -> FundingOut:
    return FundingOut(
        id=request.id,
        kind=request.kind,
        state=request.state,
        reason=request.reason,
        account=request.account_number,
        card_id=request.card_id,
        amount=format_amount(request.amount, scale=CNY_SCALE),
        created_at=request.created_at,
        updated_at=request.updated_at,
    )


_FUNDING_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": FundingOut, "description": "A retry: the request as it stands now."},
    202: {"model": FundingOut, "description": "The outcome is not known yet."},
}


def _answer(done: FundingDone, response: Response) -> FundingOut:
    """202 while the outcome is not known yet, else 201 when made now and 200 for
    a retry."""
    if done.request.state in (FundingState.PENDING, FundingState.UNKNOWN):
        response.status_code = 202
    else:
        response.status_code = 201 if done.status == "created" else 200
    return _funding_out(done.request)


CARD_BIND = "card.bind"
CARD_UNBIND = "card.unbind"


def binding_confirmed(
    platform: Platform,
    customer_id: int,
    *,
    card_number: str,
    holder_name: str,
    challenge_id: str | None,
    response: str | None,
) -> AbstractContextManager[Session]:
    """The confirmed, audited transaction that binds a card: refusals that need no one
    outside the bank come first, then the SMS code for this very card, and only then
    may the body ask the card's issuer (``Platform.confirmed`` with ``first``)."""
    with platform.transaction() as session:
        binding = platform.funding.card_binding(
            session, customer_id=customer_id, card_number=card_number, holder_name=holder_name
        )
    return platform.confirmed(
        binding.change,
        customer_id=customer_id,
        challenge_id=challenge_id,
        response=response,
        action=CARD_BIND,
        target=binding.masked,
        first=True,
    )


def unbinding_audited(
    platform: Platform, customer_id: int, card_id: int
) -> AbstractContextManager[Session]:
    return platform.audited(
        actor_kind="customer", actor_id=customer_id, action=CARD_UNBIND, target=f"card:{card_id}"
    )


def top_up_audited(
    platform: Platform, customer_id: int, *, account: str, card_id: int, amount: int, client_id: str
) -> Opener:
    """A top-up's first step, audited. It needs no step-up: the money comes from the
    customer's own card into their own account, and every card was confirmed."""
    return lambda key: platform.audited(
        actor_kind="customer",
        actor_id=customer_id,
        action="top_up",
        target=f"card:{card_id} -> {account}",
        details={"amount": amount, "client_id": client_id},
        idempotency=key,
    )


def withdrawal_authorised(
    platform: Platform,
    customer_id: int,
    payment: PaymentRequest,
    *,
    challenge_id: str | None,
    response: str | None,
    prefer: ToolKind | None,
) -> Opener:
    """A withdrawal's first step as a payment: step-up, tool limits, daily totals and
    the risk check decided in the transaction that reserves the money, audited; a
    retry of a request already made needs no new code."""
    return lambda key: platform.authorised(
        payment,
        customer_id=customer_id,
        challenge_id=challenge_id,
        response=response,
        prefer=prefer,
        already_done=lambda session: platform.funding.request_made(
            session, customer_id=customer_id, client_id=payment.client_id
        ),
        idempotency=key,
    )


@router.post("/cards", status_code=201)
def bind_card(
    body: BoundCardIn, platform: PlatformDep, funding: FundingDep, me: CustomerPrincipal
) -> BoundCardOut:
    """Bind a card of yours at another bank, to top up from and withdraw to. A
    security change: answered ``403 challenge_required`` with a code sent to your
    registered mobile naming the card; send the same request again with
    ``challenge_id`` and ``response``. For its first days a new card may receive only
    a little a day."""
    with binding_confirmed(
        platform,
        me.id,
        card_number=body.card_number,
        holder_name=body.holder_name,
        challenge_id=body.challenge_id,
        response=body.response,
    ) as session:
        card = funding.bind_card(
            session, customer_id=me.id, card_number=body.card_number, holder_name=body.holder_name
        )
    return _card_out(card)


@router.get("/cards")
def my_cards(
    platform: PlatformDep, funding: FundingDep, me: CustomerPrincipal
) -> list[BoundCardOut]:
    with platform.transaction() as session:
        return [_card_out(c) for c in funding.cards(session, me.id)]


@router.delete("/cards/{card_id}", status_code=204)
def unbind_card(
    card_id: IdParam, platform: PlatformDep, funding: FundingDep, me: CustomerPrincipal
) -> Response:
    with unbinding_audited(platform, me.id, card_id) as session:
        funding.unbind_card(session, customer_id=me.id, card_id=card_id)
    return Response(status_code=204)


@router.post("/top-ups", status_code=201, responses=_FUNDING_ANSWERS)
def top_up(
    body: FundingIn,
    platform: PlatformDep,
    funding: FundingDep,
    me: CustomerPrincipal,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> FundingOut:
    """Pull money from a bound card into one of your accounts."""
    amount = parse_positive_amount(body.amount, scale=CNY_SCALE, currency="CNY")
    client_id = _client_id(body, idempotency_key)
    done = funding.top_up(
        platform.session_factory,
        customer_id=me.id,
        account_number=body.account,
        card_id=body.card_id,
        amount=amount,
        client_id=client_id,
        opened=top_up_audited(
            platform,
            me.id,
            account=body.account,
            card_id=body.card_id,
            amount=amount,
            client_id=client_id,
        ),
    )
    return _answer(done, response)


@router.post("/withdrawals", status_code=201, responses=_FUNDING_ANSWERS)
def withdraw(
    body: WithdrawalIn,
    platform: PlatformDep,
    funding: FundingDep,
    me: CustomerPrincipal,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> FundingOut:
    """Send money from one of your accounts to a bound card. Authorised like a
    transfer: beyond the password-free allowance it is answered ``403
    challenge_required``; send the same request again with ``challenge_id`` and
    ``response``. A card bound in the last few days may receive only a little a day."""
    amount = parse_positive_amount(body.amount, scale=CNY_SCALE, currency="CNY")
    client_id = _client_id(body, idempotency_key)
    with platform.transaction() as session:
        payment = funding.withdrawal_request(
            session,
            customer_id=me.id,
            account_number=body.account,
            card_id=body.card_id,
            amount=amount,
            client_id=client_id,
        )
    done = funding.withdraw(
        platform.session_factory,
        customer_id=me.id,
        account_number=body.account,
        card_id=body.card_id,
        amount=amount,
        client_id=client_id,
        opened=withdrawal_authorised(
            platform,
            me.id,
            payment,
            challenge_id=body.challenge_id,
            response=body.response,
            prefer=ToolKind(body.tool) if body.tool else None,
        ),
    )
    return _answer(done, response)


@router.get("/funding/{request_id}")
def funding_request(
    request_id: IdParam, platform: PlatformDep, funding: FundingDep, me: CustomerPrincipal
) -> FundingOut:
    with platform.transaction() as session:
        return _funding_out(funding.request(session, customer_id=me.id, request_id=request_id))


def _client_id(body: FundingIn, header: str | None) -> str:
    client_id = body.client_id or header
    if not client_id:
        raise MissingClientId()
    return client_id
