"""Cards bound at other banks, top-ups from them and withdrawals to them, over HTTP.

Customers only, and only their own cards and requests: another customer's id is
answered as if it did not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, Field

from rongbank.accounts.endpoints import MissingClientId
from rongbank.accounts.funding import (
    BoundCard,
    FundingDone,
    FundingKind,
    FundingRequest,
    FundingService,
    FundingState,
)
from rongbank.accounts.schemas import AccountNumber, Amount
from rongbank.api.deps import CustomerPrincipal, PlatformDep
from rongbank.inputs import Id, IdParam, Name
from rongbank.inputs import Input as Strict
from rongbank.money import format_amount, parse_positive_amount

router = APIRouter(tags=["direct bank"], prefix="/me")

CNY_SCALE = 2


def get_funding(platform: PlatformDep) -> FundingService:
    return platform.funding


FundingDep = Annotated[FundingService, Depends(get_funding)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)]


class BoundCardIn(Strict):
    card_number: Annotated[
        str, Field(min_length=1, max_length=40, examples=["6222021234567890128"])
    ]
    holder_name: Annotated[Name, Field(max_length=200)]


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


@router.post("/cards", status_code=201)
def bind_card(
    body: BoundCardIn, platform: PlatformDep, funding: FundingDep, me: CustomerPrincipal
) -> BoundCardOut:
    """Bind a card of yours at another bank, to top up from and withdraw to."""
    with platform.transaction() as session:
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
    with platform.transaction() as session:
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
    done = funding.top_up(
        platform.session_factory,
        customer_id=me.id,
        account_number=body.account,
        card_id=body.card_id,
        amount=parse_positive_amount(body.amount, scale=CNY_SCALE, currency="CNY"),
        client_id=_client_id(body, idempotency_key),
    )
    return _answer(done, response)


@router.post("/withdrawals", status_code=201, responses=_FUNDING_ANSWERS)
def withdraw(
    body: FundingIn,
    platform: PlatformDep,
    funding: FundingDep,
    me: CustomerPrincipal,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> FundingOut:
    """Send money from one of your accounts to a bound card."""
    done = funding.withdraw(
        platform.session_factory,
        customer_id=me.id,
        account_number=body.account,
        card_id=body.card_id,
        amount=parse_positive_amount(body.amount, scale=CNY_SCALE, currency="CNY"),
        client_id=_client_id(body, idempotency_key),
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
