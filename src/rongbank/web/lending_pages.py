"""My credit in the web bank (网络融资中心): the offers waiting (pre-approved ones
included), the application form, the decision with its reasons, and an offer with
its APR and schedule to accept, signed with the house's challenge; the loan is paid
into the e-account at once. The same service calls and audit actions as
``/api/v1/me/lending``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.service import Principal
from rongbank.errors import DomainError
from rongbank.idempotency import keyed
from rongbank.inputs import IdParam
from rongbank.lending.application_errors import ApplicationConflict
from rongbank.lending.applications import (
    EMPLOYMENT,
    HOUSING,
    PURPOSES,
    Application,
    ApplicationForm,
    Ask,
    Offer,
)
from rongbank.lending.decision_schemas import money, percent, positive_yuan, yuan
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import Me, PlatformDep, refusal_text, render, see_other
from rongbank.web.staff_pages import FormFieldInvalid
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

router = APIRouter(include_in_schema=False, prefix="/credit", route_class=OneHopRoute)

PRODUCT = "personal_credit"
ABOUT_YOU = (
    "monthly_income",
    "monthly_expenses",
    "employment",
    "years_with_employer",
    "housing",
    "assets",
    "debts",
)
"""What the credit decision needs to know of the applicant: all 逸贷 at checkout asks
besides the term (yidai_pages.py)."""
FIELDS = ("amount", "term_months", "method", "purpose", *ABOUT_YOU)


def offer_view(platform: Platform, offer: Offer) -> dict[str, Any]:
    quote = platform.credit.offers.quote_of(offer)
    return {
        "id": offer.id,
        "application_id": offer.application_id,
        "amount": money(offer.amount),
        "term_months": offer.term_months,
        "method": offer.method,
        "rate": percent(offer.rate_bps),
        "apr": percent(offer.apr_bps),
        "upfront_fee": money(quote.upfront_fee),
        "total_interest": money(quote.total_interest),
        "total_fees": money(quote.total_fees),
        "total_repaid": money(quote.total_repayment),
        "status": offer.status,
        "expires": offer.expires_at.date().isoformat(),
        "schedule": [
            {
                "number": i.number,
                "due": i.due_date.isoformat(),
                "principal": money(i.principal),
                "interest": money(i.interest + i.fee),
                "total": money(i.total),
            }
            for i in quote.schedule
        ],
    }


def reasons_view(reasons: Sequence[str]) -> dict[str, list[str]]:
    """A decision's reasons as a page shows them: the rules' reasons, and apart the
    scorecard's main factors (``factor:<feature>``)."""
    return {
        "reasons": [r for r in reasons if not r.startswith("factor:")],
        "factors": [r.removeprefix("factor:") for r in reasons if r.startswith("factor:")],
    }


def _application_view(application: Application) -> dict[str, Any]:
    return {
        "id": application.id,
        "amount": money(application.amount),
        "term_months": application.term_months,
        "status": application.status,
        **reasons_view(application.reasons),
        "created": application.created_at.date().isoformat(),
    }


@router.get("")
def my_credit(request: Request, platform: PlatformDep, me: Me) -> Response:
    """The offers the customer may accept now and their applications."""
    with platform.transaction() as session:
        offers = platform.credit.offers.open_offers(session, me.id)
        applications = platform.credit.applications.applications(session, me.id)
    return render(
        request,
        "credit.html",
        offers=[offer_view(platform, o) for o in offers],
        applications=[_application_view(a) for a in applications],
    )


def _apply_page(
    request: Request,
    platform: Platform,
    status_code: int = 200,
    *,
    form: Mapping[str, str],
    error: DomainError | None = None,
) -> Response:
    product = platform.credit.applications.products.get(PRODUCT)
    return render(
        request,
        "credit_apply.html",
        status_code,
        product={
            "name_zh": product.name_zh,
            "name_en": product.name_en,
            "min": money(product.min_amount),
            "max": money(product.max_amount),
            "terms": product.terms,
            "methods": [m.value for m in product.methods],
        },
        purposes=PURPOSES,
        employments=EMPLOYMENT,
        housings=HOUSING,
        form=form,
        error=None if error is None else refusal_text(request, error),
    )


@router.get("/apply")
def apply_page(request: Request, platform: PlatformDep, me: Me) -> Response:
    form = {"client_id": uuid.uuid4().hex, "term_months": "12", "method": "equal_instalment"}
    return _apply_page(request, platform, form=form)


@router.post("/apply")
async def apply(request: Request, platform: PlatformDep, me: Me) -> Response:
    """Decide at once and show the decision; a refused form shows why and keeps
    what was typed (a new key: the corrected form is a new application)."""
    posted = await request.form()
    check_csrf(request, str(posted.get("csrf", "")))
    form = {name: str(posted.get(name, ""))[:40].strip() for name in (*FIELDS, "client_id")}
    client_id = form["client_id"] or uuid.uuid4().hex
    try:
        ask = Ask(
            PRODUCT,
            positive_yuan(form["amount"]),
            whole_number(form["term_months"], "term_months"),
            form["method"],
        )
        application_form = about_you(form, _one_of(form["purpose"], PURPOSES, "purpose"))
        key = f"web:{client_id}"
        with platform.audited(
            actor_kind="customer",
            actor_id=me.id,
            action="lending.apply",
            target=PRODUCT,
            details={"amount": ask.amount, "client_id": key},
            idempotency=keyed(
                f"customer:{me.id}:lending_apply",
                key,
                {
                    "amount": ask.amount,
                    "term_months": ask.term_months,
                    "method": ask.method,
                    "purpose": application_form.purpose,
                    **application_form.as_json(),
                },
                conflict=ApplicationConflict,
            ),
        ) as session:
            application, _ = platform.credit.applications.apply(
                session, customer_id=me.id, ask=ask, form=application_form, client_id=key
            )
    except DomainError as error:
        form["client_id"] = uuid.uuid4().hex
        return _apply_page(request, platform, error.status, form=form, error=error)
    return see_other(f"/credit/applications/{application.id}")


def about_you(form: Mapping[str, str], purpose: str) -> ApplicationForm:
    """The applicant's answers to :data:`ABOUT_YOU` as typed in ``form``; a bad one is
    refused with FormFieldInvalid, which names it."""
    return ApplicationForm(
        purpose=purpose,
        monthly_income=yuan(form["monthly_income"] or "0"),
        monthly_expenses=yuan(form["monthly_expenses"] or "0"),
        employment=_one_of(form["employment"], EMPLOYMENT, "employment"),
        years_with_employer=whole_number(form["years_with_employer"] or "0", "years_with_employer"),
        housing=_one_of(form["housing"], HOUSING, "housing"),
        assets=yuan(form["assets"] or "0"),
        debts=yuan(form["debts"] or "0"),
    )


def _one_of(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise FormFieldInvalid(field=field)
    return value


def whole_number(value: str, field: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 3:
        raise FormFieldInvalid(field=field)
    return int(value)


def _decision_page(
    request: Request,
    platform: Platform,
    me: Principal,
    application_id: int,
    status_code: int = 200,
    *,
    challenge: Mapping[str, Any] | None = None,
    error: DomainError | None = None,
    done: str = "",
) -> Response:
    with platform.transaction() as session:
        application = platform.credit.applications.application(
            session, application_id, customer_id=me.id
        )
        offer = platform.credit.offers.offer_of(session, application_id)
        account = platform.credit.payout_account(session, me.id, None)
        mobile = platform.accounts.customer(session, me.id).mobile
        available = platform.accounts.available(session, account)
    return render(
        request,
        "credit_decision.html",
        status_code,
        application=_application_view(application),
        offer=None if offer is None else offer_view(platform, offer),
        account={"number": account.number, "available": money(available)},
        challenge=None if challenge is None else challenge_view(challenge, mobile=mobile),
        error=None if error is None else refusal_text(request, error),
        notice="credit_loan_paid" if done == "accepted" else None,
    )


@router.get("/applications/{application_id}")
def decision(
    application_id: IdParam, request: Request, platform: PlatformDep, me: Me, done: str = ""
) -> Response:
    """The decision: the offer (APR, schedule, accept), the reasons of a decline, or
    that a credit officer is looking at it."""
    return _decision_page(request, platform, me, application_id, done=done)


@router.post("/offers/{offer_id}/accept")
def accept(
    offer_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Accept the offer, signing it with the challenge (the code sent to the mobile,
    or the token or U盾 the customer holds); the loan is paid in at once."""
    check_csrf(request, csrf)
    offers = platform.credit.offers
    try:
        with platform.transaction() as session:
            offer = offers.offer(session, offer_id, customer_id=me.id)
            account = platform.credit.payout_account(session, me.id, None)
            tools = platform.stepup.strong_tools(session, me.id) or (ToolKind.SMS,)
    except DomainError as error:
        return render(request, "error.html", error.status, error=refusal_text(request, error))
    done = see_other(f"/credit/applications/{offer.application_id}?done=accepted")

    def sign(step_up: StepUpAnswer) -> Response:
        with platform.confirmed(
            offers.signing(offer, account.number),
            customer_id=me.id,
            challenge_id=step_up.challenge_id,
            response=step_up.response,
            action="lending.accept",
            target=f"offer {offer_id}",
            tools=tools,
        ) as session:
            platform.credit.accept(session, customer_id=me.id, offer_id=offer_id, account=account)
        return done

    def page(
        status_code: int, error: DomainError | None, shown: Mapping[str, Any] | None
    ) -> Response:
        return _decision_page(
            request, platform, me, offer.application_id, status_code, challenge=shown, error=error
        )

    return confirm_step_up(
        platform,
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        sign,
        already_done=lambda session: offers.accepted(session, customer_id=me.id, offer_id=offer_id),
        again=lambda shown, error: page(200 if error is None else 422, error, shown),
        refused=lambda error: page(error.status, error, None),
        done_before=lambda: done,
    )
