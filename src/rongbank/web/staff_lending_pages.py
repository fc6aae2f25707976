"""The staff console's credit review queue (``roles.CREDIT_REVIEW``): the applications
the machine referred, each with what the applicant told the bank, every stage of the
decision with its reasons and the score; approve (a second officer above the limit)
or decline. The same service calls and audit actions as
``/api/v1/staff/lending/reviews``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.lending.decision_schemas import money
from rongbank.lending.reviews import Review
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.i18n import translate
from rongbank.web.pages import PlatformDep, lang_of, local_time, render, see_other, staff_page
from rongbank.web.staff_pages import Csrf, Reason, StaffMember, refusal

router = APIRouter(include_in_schema=False, prefix="/staff/lending", route_class=OneHopRoute)

CreditOfficer = Annotated[StaffMember, Depends(staff_page(*roles.CREDIT_REVIEW))]
NOTICES = {
    "approved": "staff_lending_approved",
    "approved_once": "staff_lending_approved_once",
    "declined": "staff_lending_declined",
}
MONEY_FIELDS = ("monthly_income", "monthly_expenses", "assets", "debts")


def _review_view(review: Review) -> dict[str, Any]:
    return {
        "id": review.application_id,
        "customer_id": review.customer_id,
        "name": review.customer_name,
        "amount": money(review.amount),
        "reasons": list(review.reasons),
        "needs_second": review.needs_second,
        "status": review.status,
        "first_by": review.first_by,
        "at": local_time(review.created_at),
    }


def _form_row(words: Mapping[str, str], key: str, value: object) -> tuple[str, str]:
    """One line of what the applicant told the bank, in the page's language: money in
    yuan, employment and housing in words."""
    label = words.get(f"credit_{key}", key)
    if key in MONEY_FIELDS and isinstance(value, int):
        return label, money(value)
    return label, words.get(f"credit_{key}_{value}", str(value))


@router.get("")
def queue(
    request: Request, platform: PlatformDep, staff: CreditOfficer, done: str = ""
) -> Response:
    """What waits for a credit officer, oldest first."""
    with platform.transaction() as session:
        reviews = platform.credit.reviews.queue(session)
    return render(
        request,
        "staff_lending.html",
        reviews=[_review_view(r) for r in reviews],
        me=staff[0].id,
        notice=NOTICES.get(done),
    )


def _detail(
    request: Request,
    platform: Platform,
    staff: StaffMember,
    application_id: int,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    with platform.transaction() as session:
        detail = platform.credit.reviews.detail(session, application_id)
    a = detail.application
    words = translate(lang_of(request))
    form = [_form_row(words, k, v) for k, v in detail.form.items() if v is not None]
    return render(
        request,
        "staff_lending_review.html",
        status_code,
        review=_review_view(detail.review),
        application={
            "product": a.product,
            "purpose": words.get(f"credit_purpose_{a.purpose}", a.purpose),
            "amount": money(a.amount),
            "term_months": a.term_months,
            "method": a.method,
            "points": a.points,
            "grade": a.grade,
            "model_version": a.model_version,
            "rules_version": a.rules_version,
        },
        form=form,
        score=detail.score,
        factors=[words.get(f"credit_factor_{f}", f) for f in detail.score.get("factors", [])],
        stages=[
            {"name": s.name, "outcome": s.outcome, "reasons": s.reasons} for s in detail.stages
        ],
        me=staff[0].id,
        error=error,
    )


@router.get("/reviews/{application_id}")
def review(
    application_id: IdParam, request: Request, platform: PlatformDep, staff: CreditOfficer
) -> Response:
    return _detail(request, platform, staff, application_id)


@router.post("/reviews/{application_id}/approve")
def approve(
    application_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: CreditOfficer,
    note: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """Approve: the customer gets the offer (above the limit, once a second officer
    approves too)."""
    return _decide(request, platform, staff, application_id, "approve", note, csrf)


@router.post("/reviews/{application_id}/decline")
def decline(
    application_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: CreditOfficer,
    note: Reason = "",
    csrf: Csrf = "",
) -> Response:
    return _decide(request, platform, staff, application_id, "decline", note, csrf)


def _decide(
    request: Request,
    platform: Platform,
    staff: StaffMember,
    application_id: int,
    verb: str,
    note: str,
    csrf: str,
) -> Response:
    """A refusal (the same officer twice, a review already decided) shows the review
    again with why."""
    check_csrf(request, csrf)
    try:
        with platform.audited(
            actor_kind="staff",
            actor_id=staff[0].id,
            action=f"lending.review.{verb}",
            target=f"application {application_id}",
            details={"channel": "console"},
        ) as session:
            reviews = platform.credit.reviews
            if verb == "approve":
                decided, _ = reviews.approve(
                    session, staff_id=staff[0].id, application_id=application_id, note=note
                )
            else:
                decided = reviews.decline(
                    session, staff_id=staff[0].id, application_id=application_id, note=note
                )
    except DomainError as error:
        return _detail(
            request, platform, staff, application_id, error.status, refusal(request, error)
        )
    return see_other(f"/staff/lending?done={decided.status}")
