"""Cards at other banks in the web bank: binding one (a security change confirmed with
an SMS code, on this page), unbinding one, topping up from one, and withdrawing to one
(a payment: reviewed, then confirmed with the challenge the bank asks for).

The same openers as the API (``rongbank.accounts.funding_endpoints``), so a card is
bound, and money moved, under the same confirmation and audit whichever way the
customer comes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.accounts.funding import FundingDone
from rongbank.accounts.funding_endpoints import (
    binding_confirmed,
    top_up_audited,
    unbinding_audited,
    withdrawal_authorised,
)
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.auth.tools import PaymentRequest
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform
from rongbank.web.account_pages import accounts_view
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import Me, PlatformDep, refusal_text, render, see_other
from rongbank.web.security_pages import confirm_change
from rongbank.web.step_up import (
    ChallengeAnswer,
    ChallengeCarried,
    ChallengeField,
    ResponseField,
    Responses,
    StepUpAnswer,
    ToolChoice,
    challenge_view,
    confirm_step_up,
)

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

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
        accounts=accounts_view(platform, me.id),
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
        return _topup(request, platform, me, 422, error=refusal_text(request, error))

    def bind(session: Session) -> Response:
        platform.funding.bind_card(
            session, customer_id=me.id, card_number=card_number, holder_name=holder_name
        )
        return see_other("/topup?done=bound")

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
        return _topup(request, platform, me, 422, error=refusal_text(request, error))
    return see_other("/topup?done=unbound")


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
        return _topup(request, platform, me, 422, error=refusal_text(request, error))
    return _topup(
        request, platform, me, outcome=done.request.state, amount=format_amount(minor, scale=2)
    )


# -- withdrawals -------------------------------------------------------------------------

AccountField = Annotated[str, Form(max_length=40)]
AmountField = Annotated[str, Form(max_length=40)]


@router.get("/withdraw")
def withdraw_page(request: Request, platform: PlatformDep, me: Me) -> Response:
    return _withdraw(request, platform, me, form={})


def _withdraw(
    request: Request, platform: Platform, me: Principal, status_code: int = 200, **context: Any
) -> Response:
    with platform.transaction() as session:
        cards = platform.funding.cards(session, me.id)
    return render(
        request,
        "withdraw.html",
        status_code,
        accounts=accounts_view(platform, me.id),
        cards=cards,
        **context,
    )


def _withdrawal(
    platform: Platform, me: Principal, form: Mapping[str, str], amount: int, client_id: str
) -> tuple[PaymentRequest, dict[str, str]]:
    """What the withdrawal asks the customer to authorise, and how the pages show its
    card; refuses a card that is not theirs."""
    with platform.transaction() as session:
        payment = platform.funding.withdrawal_request(
            session,
            customer_id=me.id,
            account_number=form["account"],
            card_id=int(form["card_id"]),
            amount=amount,
            client_id=client_id,
        )
        card = next(
            (c for c in platform.funding.cards(session, me.id) if c.id == int(form["card_id"])),
            None,
        )
    shown = f"{card.bank_name or ''} {card.masked}".strip() if card else payment.payee
    return payment, {**form, "amount": format_amount(amount, scale=2), "card": shown}


@router.post("/withdraw")
def withdraw_review(
    request: Request,
    platform: PlatformDep,
    me: Me,
    account: AccountField,
    card_id: Annotated[IdParam, Form()],
    amount: AmountField,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """First step: check the card and the amount, and show them back to confirm."""
    check_csrf(request, csrf)
    form = {"account": account, "card_id": str(card_id), "amount": amount}
    client_id = uuid.uuid4().hex  # one per review shown: a double submit withdraws once
    try:
        minor = parse_positive_amount(amount.strip(), scale=2, currency="CNY")
        _, shown = _withdrawal(platform, me, form, minor, f"web:{client_id}")
    except DomainError as error:
        return _withdraw(request, platform, me, 422, form=form, error=refusal_text(request, error))
    return render(request, "withdraw_confirm.html", form=shown, client_id=client_id)


@router.post("/withdraw/confirm")
def withdraw_confirm(
    request: Request,
    platform: PlatformDep,
    me: Me,
    account: AccountField,
    card_id: Annotated[IdParam, Form()],
    amount: AmountField,
    client_id: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Second step: confirmed as a payment (``FundingService.withdraw`` opens its own
    authorised transaction: it commits the hold before it calls the card's bank)."""
    check_csrf(request, csrf)
    form = {"account": account, "card_id": str(card_id), "amount": amount}
    funding_client_id = f"web:{client_id}"
    try:
        minor = parse_positive_amount(amount, scale=2, currency="CNY")
        payment, shown = _withdrawal(platform, me, form, minor, funding_client_id)
    except DomainError as error:
        return _withdraw(request, platform, me, 422, form=form, error=refusal_text(request, error))

    def made(session: Session) -> bool:
        return platform.funding.request_made(
            session, customer_id=me.id, client_id=funding_client_id
        )

    def pay(step_up: StepUpAnswer) -> Response:
        done = platform.funding.withdraw(
            platform.session_factory,
            customer_id=me.id,
            account_number=account,
            card_id=card_id,
            amount=minor,
            client_id=funding_client_id,
            opened=withdrawal_authorised(
                platform,
                me.id,
                payment,
                challenge_id=step_up.challenge_id,
                response=step_up.response,
                prefer=step_up.prefer,
            ),
        )
        return _withdrawn(done)

    def _withdrawn(done: FundingDone) -> Response:
        return render(request, "withdraw_done.html", form=shown, outcome=done.request.state.value)

    def again(challenge: Mapping[str, Any] | None, error: DomainError | None) -> Response:
        with platform.transaction() as session:
            mobile = platform.accounts.customer(session, me.id).mobile
        return render(
            request,
            "withdraw_confirm.html",
            200 if error is None else 422,
            form=shown,
            client_id=client_id,
            challenge=None if challenge is None else challenge_view(challenge, mobile=mobile),
            error=None if error is None else refusal_text(request, error),
        )

    return confirm_step_up(
        platform,
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        pay,
        already_done=made,
        again=again,
        refused=lambda error: _withdraw(
            request, platform, me, 422, form=form, error=refusal_text(request, error)
        ),
        # Made already: a retry needs no answer and shows the withdrawal as it stands.
        done_before=lambda: pay(StepUpAnswer(None, None, None)),
    )
