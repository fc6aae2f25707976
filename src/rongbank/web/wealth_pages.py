"""理财 in the web bank: the risk-tolerance assessment (the questionnaire, the
result and until when it holds), the customer's holdings, and redeeming an
open-ended holding. Buying is from the account manager's card in 融e联 chat (or the
API); both refuse a product above the customer's level or without a valid
assessment, and this page is where the customer takes it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from rongbank.errors import DomainError
from rongbank.money import format_amount, parse_positive_amount
from rongbank.wealth import rules
from rongbank.wealth.service import Holding
from rongbank.web.pages import (
    Me,
    PlatformDep,
    _error,
    _local_time,
    _redirect,
    check_csrf,
    lang_of,
    render,
)

router = APIRouter(include_in_schema=False)

NOTICES = {"assessed": "wealth_assessed", "redeemed": "wealth_redeemed"}


def _money(minor: int) -> str:
    return format_amount(minor, scale=rules.CNY_SCALE)


def _holding_view(holding: Holding) -> dict[str, Any]:
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
        # a fresh id per page: pressing twice, or resending, redeems once
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
    latest = assessments[0] if assessments else None
    assessment = (
        {
            "label": rules.CUSTOMER_LEVELS[latest.level],
            "highest": rules.RISK_LEVELS[latest.level],
            "valid_until": _local_time(latest.valid_until),
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
        holdings=[_holding_view(h) for h in reversed(holdings)],
        notice=notice,
        error=error,
    )


@router.get("/wealth")
def wealth(request: Request, platform: PlatformDep, me: Me, done: str = "") -> Response:
    return _wealth(request, platform, me, notice=NOTICES.get(done))


@router.get("/wealth/assessment")
def assessment_page(request: Request, me: Me) -> Response:
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
            request, answers=answers, status_code=422, error=_error(request, error)
        )
    return _redirect("/wealth?done=assessed")


@router.post("/wealth/holdings/{holding_id}/redeem")
def redeem(
    request: Request,
    holding_id: int,
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
        ) as session:
            platform.wealth.redeem(
                session,
                customer_id=me.id,
                holding_id=holding_id,
                amount=principal,
                client_id=client_id,
            )
    except DomainError as error:
        status = error.status if error.status == 404 else 422
        return _wealth(request, platform, me, status, error=_error(request, error))
    return _redirect("/wealth?done=redeemed")
