"""Cards at other banks in the web bank: binding one (a security change confirmed with
an SMS code, on this page), unbinding one, and topping up from one.

The same openers as the API (``rongbank.accounts.funding_endpoints``), so a card is
bound, and money moved, under the same confirmation and audit whichever way the
customer comes.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.accounts.funding_endpoints import (
    binding_confirmed,
    top_up_audited,
    unbinding_audited,
)
from rongbank.auth.service import Principal
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import (
    ChallengeField,
    Me,
    PlatformDep,
    ResponseField,
    _accounts,
    _error,
    _redirect,
    confirm_change,
    render,
)

router = APIRouter(include_in_schema=False)

NOTICES = {"bound": "card_bound_notice", "unbound": "card_unbound_notice"}


@router.get("/topup")
def topup_page(request: Request, platform: PlatformDep, me: Me, done: str = "") -> Response:
    return _topup(request, platform, me, notice=NOTICES.get(done))


def _topup(
    request: Request,
    platform: Platform,
    me: Principal,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with platform.transaction() as session:
        cards = platform.funding.cards(session, me.id)
    # Served no-store like every page (the code box carries the card number typed).
    return render(
        request,
        "topup.html",
        status_code,
        accounts=_accounts(platform, me.id),
        cards=cards,
        client_id=uuid.uuid4().hex,  # one per form shown: a double submit tops up once
        **context,
    )


@router.post("/cards")
def bind_card(
    request: Request,
    platform: PlatformDep,
    me: Me,
    card_number: Annotated[str, Form(max_length=40)],
    holder_name: Annotated[str, Form(max_length=100)],
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    response: ResponseField = "",
) -> Response:
    """Bind a card: checked, then confirmed with the code sent to the mobile (the page
    shows the code box and sends the same card again), then enrolled with its bank."""
    check_csrf(request, csrf)
    try:
        context = binding_confirmed(
            platform,
            me.id,
            card_number=card_number,
            holder_name=holder_name,
            challenge_id=challenge_id or None,
            response=response or None,
        )
    except DomainError as error:
        return _topup(request, platform, me, 422, error=_error(request, error))

    def bind(session: Session) -> Response:
        platform.funding.bind_card(
            session, customer_id=me.id, card_number=card_number, holder_name=holder_name
        )
        return _redirect("/topup?done=bound")

    return confirm_change(
        request,
        platform,
        me,
        context,
        bind,
        fields={"card_number": card_number, "holder_name": holder_name},
        challenge_id=challenge_id,
        page=_topup,
    )


@router.post("/cards/{card_id}/unbind")
def unbind_card(
    card_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        with unbinding_audited(platform, me.id, card_id) as session:
            platform.funding.unbind_card(session, customer_id=me.id, card_id=card_id)
    except DomainError as error:
        return _topup(request, platform, me, 422, error=_error(request, error))
    return _redirect("/topup?done=unbound")


@router.post("/topup")
def topup(
    request: Request,
    platform: PlatformDep,
    me: Me,
    account: Annotated[str, Form(max_length=40)],
    card_id: Annotated[IdParam, Form()],
    amount: Annotated[str, Form(max_length=40)],
    client_id: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Pull money from a bound card at another bank into an e-account."""
    check_csrf(request, csrf)
    funding_client_id = f"web:{client_id}"
    try:
        minor = parse_positive_amount(amount.strip(), scale=2, currency="CNY")
        done = platform.funding.top_up(
            platform.session_factory,
            customer_id=me.id,
            account_number=account,
            card_id=card_id,
            amount=minor,
            client_id=funding_client_id,
            opened=top_up_audited(
                platform,
                me.id,
                account=account,
                card_id=card_id,
                amount=minor,
                client_id=funding_client_id,
            ),
        )
    except DomainError as error:
        return _topup(request, platform, me, 422, error=_error(request, error))
    return _topup(
        request, platform, me, outcome=done.request.state, amount=format_amount(minor, scale=2)
    )
