"""理财 in the web bank: the risk-tolerance assessment (the questionnaire, the
result and until when it holds; a few a day), the products on sale and buying one,
the customer's holdings, and redeeming an open-ended holding. Each product shows the
value date a purchase made now would get and its cut-off; each holding its value date
and the redemptions still waiting for theirs.

Buying here goes the way of the account manager's chat card: the same
:meth:`WealthService.buy` (suitability, sale window, minimum and steps) inside the
same step-up as a transfer (:func:`confirm_payment`), once per form (its
``client_id``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.errors import DomainError
from rongbank.idempotency import keyed
from rongbank.inputs import IdParam
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform
from rongbank.wealth import rules
from rongbank.wealth.errors import PurchaseConflict, RedemptionConflict
from rongbank.wealth.service import Holding, Payout, Product
from rongbank.wealth.suitability import Assessment
from rongbank.web.account_pages import accounts_view
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import Me, PlatformDep, lang_of, local_time, refusal_text, render, see_other
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

NOTICES = {
    "assessed": "wealth_assessed",
    "redeemed": "wealth_redeemed",
    "redeem_pending": "wealth_redeem_pending_notice",
    "bought": "wealth_bought_notice",
}


def _money(minor: int) -> str:
    return format_amount(minor, scale=rules.CNY_SCALE)


def _holding_view(holding: Holding, pending: list[Payout]) -> dict[str, Any]:
    return {
        "id": holding.id,
        "code": holding.product_code,
        "name": holding.product_name,
        "amount": _money(holding.amount),
        "left": _money(holding.left),
        "status": holding.status,
        "value_date": holding.value_date.isoformat(),
        "maturity_date": holding.maturity_date.isoformat() if holding.maturity_date else "",
        "redeemable": holding.maturity_date is None and holding.left > 0,
        "pending": [
            {"amount": _money(p.principal + p.yield_amount), "day": p.value_date.isoformat()}
            for p in pending
            if p.holding_id == holding.id
        ],
        # a fresh id per page: pressing twice, or resending, redeems once
        "client_id": uuid.uuid4().hex,
    }


def _fit(product: Product, latest: Assessment | None, now: datetime) -> str:
    """How the product stands against the customer's assessment, as the list shows
    it (``buy`` decides: this only says beforehand what it will say)."""
    if latest is None or latest.valid_until <= now:
        return "assess"
    return "above" if product.risk_level > latest.level else "yes"


def _product_view(
    platform: Platform, product: Product, latest: Assessment | None, now: datetime
) -> dict[str, Any]:
    return {
        "code": product.code,
        "name": product.name,
        "risk": rules.RISK_LEVELS[product.risk_level],
        "fit": _fit(product, latest, now),
        "yield": rules.format_yield(product.yield_bps),
        "min_amount": _money(product.min_amount),
        "step_amount": _money(product.step_amount),
        "sale_start": local_time(product.sale_start),
        "sale_end": local_time(product.sale_end),
        "maturity_date": product.maturity_date.isoformat() if product.maturity_date else "",
        "value_date": platform.wealth.value_date(product, now).isoformat(),
        "cutoff": f"{platform.wealth.cutoff_of(product):%H:%M}",
        # a fresh id per page: pressing twice, or resending, buys once
        "client_id": uuid.uuid4().hex,
    }


def _wealth(
    request: Request,
    platform: PlatformDep,
    me: Me,
    status_code: int = 200,
    *,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    now = platform.clock.now()
    with platform.transaction() as session:
        assessments = platform.wealth.assessments(session, me.id)
        holdings = platform.wealth.holdings(session, me.id)
        pending = platform.wealth.payouts_pending(session, me.id)
        on_sale = platform.wealth.products(session, on_sale=True)
    latest = assessments[0] if assessments else None
    assessment = (
        {
            "label": rules.CUSTOMER_LEVELS[latest.level],
            "highest": rules.RISK_LEVELS[latest.level],
            "valid_until": local_time(latest.valid_until),
            "valid": now < latest.valid_until,
        }
        if latest
        else None
    )
    return render(
        request,
        "wealth.html",
        status_code,
        assessment=assessment,
        holdings=[_holding_view(h, pending) for h in reversed(holdings)],
        products=[_product_view(platform, p, latest, now) for p in on_sale],
        accounts=accounts_view(platform, me.id),
        notice=notice,
        error=error,
    )


@router.get("/wealth")
def wealth(request: Request, platform: PlatformDep, me: Me, done: str = "") -> Response:
    return _wealth(request, platform, me, notice=NOTICES.get(done))


@router.get("/wealth/assessment")
def assessment_page(request: Request, platform: PlatformDep, me: Me) -> Response:
    """The questionnaire; when today's assessments are used up, it says until when
    (the form stays: submitting is refused by the service all the same)."""
    try:
        with platform.transaction() as session:
            platform.wealth.check_can_assess(session, me.id)
    except DomainError as error:
        return _questionnaire(request, answers={}, error=refusal_text(request, error))
    return _questionnaire(request, answers={})


def _questionnaire(
    request: Request, *, answers: dict[str, str], status_code: int = 200, error: str | None = None
) -> Response:
    zh = lang_of(request) == "zh"
    questions = [
        {
            "id": q.id,
            "text": q.zh if zh else q.en,
            "options": [{"id": o.id, "text": o.zh if zh else o.en} for o in q.options],
        }
        for q in rules.QUESTIONNAIRE
    ]
    return render(
        request,
        "wealth_assessment.html",
        status_code,
        questions=questions,
        answers=answers,
        valid_months=rules.ASSESSMENT_VALID_MONTHS,
        error=error,
    )


@router.post("/wealth/assessment")
async def assess(request: Request, platform: PlatformDep, me: Me) -> Response:
    """The answers arrive as one form field per question (its id), so the form is
    read whole rather than declared field by field."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    answers = {
        q.id: str(form[q.id]) for q in rules.QUESTIONNAIRE if isinstance(form.get(q.id), str)
    }
    try:
        with platform.audited(
            actor_kind="customer", actor_id=me.id, action="wealth.assess"
        ) as session:
            platform.wealth.assess(session, customer_id=me.id, answers=answers)
    except DomainError as error:
        return _questionnaire(
            request, answers=answers, status_code=error.status, error=refusal_text(request, error)
        )
    return see_other("/wealth?done=assessed")


@router.post("/wealth/holdings/{holding_id}/redeem")
def redeem(
    request: Request,
    holding_id: IdParam,
    platform: PlatformDep,
    me: Me,
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
    amount: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Redeem part (``amount``) or, left empty, all of an open-ended holding."""
    check_csrf(request, csrf)
    try:
        principal = (
            parse_positive_amount(amount.strip(), scale=rules.CNY_SCALE, currency="CNY")
            if amount.strip()
            else None
        )
        with platform.audited(
            actor_kind="customer",
            actor_id=me.id,
            action="wealth.redeem",
            target=f"holding {holding_id}",
            details={"amount": principal, "client_id": client_id},
            # The API's scope and request: a refused redemption sent again is answered
            # the same, a double submit redeems once.
            idempotency=keyed(
                f"customer:{me.id}:wealth_redeem",
                client_id,
                {"client_id": client_id, "amount": principal, "holding_id": holding_id},
                conflict=RedemptionConflict,
            ),
        ) as session:
            payout, _ = platform.wealth.redeem(
                session,
                customer_id=me.id,
                holding_id=holding_id,
                amount=principal,
                client_id=client_id,
            )
    except DomainError as error:
        status = error.status if error.status == 404 else 422
        return _wealth(request, platform, me, status, error=refusal_text(request, error))
    return see_other(f"/wealth?done={'redeemed' if payout.paid else 'redeem_pending'}")


# -- buying on the web -------------------------------------------------------------------


def _buy_page(
    request: Request,
    platform: Platform,
    me: Principal,
    code: str,
    status_code: int = 200,
    *,
    form: Mapping[str, str],
    challenge: Mapping[str, Any] | None = None,
    error: DomainError | None = None,
) -> Response:
    """The purchase to confirm: the product, the form (read-only while a challenge is
    shown: the challenge is bound to this account and amount) and the challenge."""
    now = platform.clock.now()
    try:
        with platform.transaction() as session:
            product = platform.wealth.product(session, code)
            assessments = platform.wealth.assessments(session, me.id)
            mobile = platform.accounts.customer(session, me.id).mobile
    except DomainError as missing:
        return _wealth(request, platform, me, missing.status, error=refusal_text(request, missing))
    latest = assessments[0] if assessments else None
    return render(
        request,
        "wealth_buy.html",
        status_code,
        product={**_product_view(platform, product, latest, now), "client_id": form["client_id"]},
        level=rules.CUSTOMER_LEVELS[latest.level] if latest else None,
        accounts=accounts_view(platform, me.id),
        form=form,
        challenge=None if challenge is None else challenge_view(challenge, mobile=mobile),
        error=None if error is None else refusal_text(request, error),
    )


@router.get("/wealth/products/{code}/buy")
def buy_page(code: str, request: Request, platform: PlatformDep, me: Me) -> Response:
    form = {"account": "", "amount": "", "client_id": uuid.uuid4().hex}
    return _buy_page(request, platform, me, code, form=form)


@router.post("/wealth/products/{code}/buy")
def buy(
    code: str,
    request: Request,
    platform: PlatformDep,
    me: Me,
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
    account: Annotated[str, Form(max_length=40)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Buy ``amount`` yuan of the product from one of the customer's accounts: at once
    within the password-free allowance, else answering the challenge, as a transfer.
    A refusal (no valid assessment, a product above the customer's level, the sale
    window, minimum or steps, someone else's account) moves nothing and says why."""
    check_csrf(request, csrf)
    form = {"account": account, "amount": amount, "client_id": client_id}
    # The customer's purchase keys, as the API's; "web:" keeps a form's one-off id
    # apart from the ids an API client of the customer's chooses.
    purchase_id = f"web:{client_id}"

    def page(status_code: int, error: DomainError | None = None, shown: Any = None) -> Response:
        return _buy_page(
            request, platform, me, code, status_code, form=form, challenge=shown, error=error
        )

    def refused(error: DomainError) -> Response:
        # The refusal is this form's answer for good (sent again, it is answered the
        # same): the page that shows it is a new purchase, with a new id, so that the
        # form corrected there is not refused again.
        form["client_id"] = uuid.uuid4().hex
        return page(error.status, error)

    try:
        minor = parse_positive_amount(amount.strip(), scale=rules.CNY_SCALE, currency="CNY")
        with platform.transaction() as session:
            product = platform.wealth.product(session, code)
    except DomainError as error:
        return refused(error)

    def work(session: Session) -> Response:
        platform.wealth.buy(
            session,
            customer_id=me.id,
            code=product.code,
            account_number=account,
            amount=minor,
            client_id=purchase_id,
        )
        return see_other("/wealth?done=bought")

    return confirm_payment(
        platform,
        me.id,
        platform.wealth.payment_request(
            product, amount=minor, account_number=account, client_id=purchase_id
        ),
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        work,
        already_done=lambda session: platform.wealth.purchase_made(
            session, customer_id=me.id, client_id=purchase_id
        ),
        again=lambda shown, error: page(200 if error is None else 422, error, shown),
        refused=refused,
        done_before=lambda: see_other("/wealth?done=bought"),
        # The API's scope and request: a refused form sent again (back, then resend)
        # is answered the same; a double submit buys once.
        idempotency=keyed(
            f"customer:{me.id}:wealth_buy",
            purchase_id,
            {"product_code": product.code, "account": account, "amount": minor},
            conflict=PurchaseConflict,
        ),
    )
