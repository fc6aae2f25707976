"""逸贷 on the e-Pay pay page: an order paid by instalments (``/pay/<token>/instalments``).

The pay page offers 逸贷 beside e-Pay. The customer picks a term and fills in a short
form; the decision comes at once (``rongbank.lending.checkout``): an offer for the
order's whole amount with its APR and schedule, signed with the challenge of a money
movement, which lends and pays the merchant in one transaction and shows the receipt;
or why not, with the way back to paying by e-Pay.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.service import Principal
from rongbank.errors import DomainError
from rongbank.idempotency import keyed
from rongbank.inputs import IdParam
from rongbank.lending.application_errors import ApplicationConflict, CheckoutOfferNotForOrder
from rongbank.lending.applications import EMPLOYMENT, HOUSING
from rongbank.lending.checkout import PRODUCT, CheckoutDecision
from rongbank.lending.decision_schemas import money
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.lending_pages import ABOUT_YOU, about_you, offer_view, reasons_view, whole_number
from rongbank.web.pages import Me, PlatformDep, refusal_text, render, see_other
from rongbank.web.step_up import (
    ChallengeAnswer,
    ChallengeCarried,
    ChallengeField,
    Responses,
    StepUpAnswer,
    ToolChoice,
    challenge_view,
    confirm_step_up,
)

router = APIRouter(
    include_in_schema=False, prefix="/pay/{token}/instalments", route_class=OneHopRoute
)

FIELDS = ("term_months", *ABOUT_YOU)


def _page(
    request: Request,
    platform: Platform,
    me: Principal,
    token: str,
    status_code: int = 200,
    *,
    application_id: int | None = None,
    form: Mapping[str, str] | None = None,
    challenge: Mapping[str, Any] | None = None,
    error: DomainError | None = None,
) -> Response:
    try:
        with platform.transaction() as session:
            if application_id is None:
                order = platform.payments.order_for_customer(
                    session, customer_id=me.id, token=token
                )
                decided = None
            else:
                order, decided = platform.yidai.decision(
                    session, customer_id=me.id, token=token, application_id=application_id
                )
            merchant = platform.payments.merchant(session, order.merchant_id)
            account = platform.credit.payout_account(session, me.id, None)
            mobile = platform.accounts.customer(session, me.id).mobile
    except DomainError as failed:
        return render(request, "error.html", failed.status, error=refusal_text(request, failed))
    if order.status != "created" and order.customer_id == me.id:
        return see_other(f"/pay/receipts/{order.token}")
    product = platform.loans.products.get(PRODUCT)
    return render(
        request,
        "pay_instalments.html",
        status_code,
        token=token,
        merchant=merchant.name,
        amount=money(order.amount),
        terms=product.terms,
        employments=EMPLOYMENT,
        housings=HOUSING,
        form=form or {"client_id": uuid.uuid4().hex, "term_months": "12"},
        decided=None if decided is None else _decided_view(decided),
        offer=None
        if decided is None or decided.offer is None
        else offer_view(platform, decided.offer),
        account={"number": account.number},
        challenge=None if challenge is None else challenge_view(challenge, mobile=mobile),
        error=None if error is None else refusal_text(request, error),
    )


def _decided_view(decided: CheckoutDecision) -> dict[str, Any]:
    return {
        "application_id": decided.application.id,
        "status": "offered" if decided.offer else decided.application.status,
        **reasons_view(decided.reasons),
    }


@router.get("")
def instalments_page(token: str, request: Request, platform: PlatformDep, me: Me) -> Response:
    """The short form: the term, and what the decision needs to know."""
    return _page(request, platform, me, token)


@router.post("")
async def ask_for_instalments(
    token: str, request: Request, platform: PlatformDep, me: Me
) -> Response:
    """Decide at once and show the decision; a refused form keeps what was typed."""
    posted = await request.form()
    check_csrf(request, str(posted.get("csrf", "")))
    form = {name: str(posted.get(name, ""))[:40].strip() for name in (*FIELDS, "client_id")}
    key = form["client_id"] or uuid.uuid4().hex
    try:
        term = whole_number(form["term_months"], "term_months")
        application_form = about_you(form, "consumption")
        with platform.audited(
            actor_kind="customer",
            actor_id=me.id,
            action="lending.checkout.apply",
            target=f"order {token[:8]}",
            details={"term_months": term, "client_id": key},
            idempotency=keyed(
                f"customer:{me.id}:yidai_apply",
                f"web:{key}",
                {"token": token, "term_months": term, **application_form.as_json()},
                conflict=ApplicationConflict,
            ),
        ) as session:
            decided, _ = platform.yidai.apply(
                session,
                customer_id=me.id,
                token=token,
                term_months=term,
                form=application_form,
                client_id=f"web:{key}",
            )
    except DomainError as error:
        form["client_id"] = uuid.uuid4().hex
        return _page(request, platform, me, token, error.status, form=form, error=error)
    return see_other(f"/pay/{token}/instalments/{decided.application.id}")


@router.get("/{application_id}")
def instalments_decision(
    token: str, application_id: IdParam, request: Request, platform: PlatformDep, me: Me
) -> Response:
    """The decision: the offer (APR, schedule, sign and pay), or why not."""
    return _page(request, platform, me, token, application_id=application_id)


@router.post("/{application_id}/pay")
def pay_by_instalments(
    token: str,
    application_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Sign the offer with the challenge; the loan pays the merchant at once and the
    receipt is shown."""
    check_csrf(request, csrf)
    yidai = platform.yidai
    try:
        with platform.transaction() as session:
            _, decided = yidai.decision(
                session, customer_id=me.id, token=token, application_id=application_id
            )
            if decided.offer is None:
                raise CheckoutOfferNotForOrder()
            order, offer = yidai.offer_for(
                session, customer_id=me.id, token=token, offer_id=decided.offer.id
            )
            account = platform.credit.payout_account(session, me.id, None)
            signing = yidai.signing(session, order, offer, account.number)
            tools = platform.stepup.strong_tools(session, me.id) or (ToolKind.SMS,)
    except DomainError as error:
        return render(request, "error.html", error.status, error=refusal_text(request, error))
    done = see_other(f"/pay/receipts/{order.token}")

    def sign(step_up: StepUpAnswer) -> Response:
        with platform.confirmed(
            signing,
            customer_id=me.id,
            challenge_id=step_up.challenge_id,
            response=step_up.response,
            action="lending.checkout.pay",
            target=f"order {order.order_no}",
            tools=tools,
        ) as session:
            # A 融e联 card that sent this order closes with it (locked first, as acting).
            cards = platform.cards.open_order_cards(
                session, customer_id=me.id, merchant_id=order.merchant_id, order_no=order.order_no
            )
            yidai.pay(session, customer_id=me.id, token=token, offer_id=offer.id, account=account)
            for card in cards:
                platform.cards.paid_by_instalments(session, card)
        return done

    def page(
        status_code: int, error: DomainError | None, shown: Mapping[str, Any] | None
    ) -> Response:
        return _page(
            request,
            platform,
            me,
            token,
            status_code,
            application_id=application_id,
            challenge=shown,
            error=error,
        )

    return confirm_step_up(
        platform,
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        sign,
        already_done=lambda session: yidai.loan_of(session, order.id) is not None,
        again=lambda shown, error: page(200 if error is None else 422, error, shown),
        refused=lambda error: page(error.status, error, None),
        done_before=lambda: done,
    )
