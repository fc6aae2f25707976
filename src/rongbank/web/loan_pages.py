"""The customer's loans in the web bank: the list, a loan with its contract (the
annualised rate as shown before signing), its schedule and what is due; repaying what
is due and repaying early, each shown first (what it pays, principal, interest, fees,
penalty) and then paid through the same step-up as a transfer
(:func:`confirm_payment`), once per form (its ``client_id``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.errors import DomainError
from rongbank.idempotency import keyed
from rongbank.inputs import IdParam
from rongbank.lending.errors import RepaymentConflict
from rongbank.lending.loan_endpoints import repayment_request
from rongbank.lending.loans import Loan, ScheduledInstalment
from rongbank.lending.rules import Split
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform
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

KINDS = ("repay", "prepay")
"""A repayment of what is due, and an early one."""


def _money(minor: int) -> str:
    return format_amount(minor, scale=2)


def _percent(bps: int) -> str:
    return f"{bps / 100:.2f}%"


def _split_view(split: Split) -> dict[str, str]:
    return {
        "principal": _money(split.principal),
        "interest": _money(split.interest),
        "fee": _money(split.fee),
        "penalty": _money(split.penalty),
        "total": _money(split.total),
    }


def _loan_view(platform: Platform, loan: Loan, lang: str) -> dict[str, Any]:
    try:
        product = platform.loans.products.get(loan.product_code)
        name = product.name_zh if lang == "zh" else product.name_en
    except DomainError:  # a product since taken out of the file: its code
        name = loan.product_code
    return {
        "id": loan.id,
        "product": name,
        "account": loan.account_number,
        "principal": _money(loan.principal),
        "outstanding": _money(loan.principal_outstanding),
        "term": loan.term_months,
        "method": loan.method,
        "rate": _percent(loan.annual_rate_bps),
        "apr": _percent(loan.apr_bps),
        "penalty_rate": _percent(loan.penalty_rate_bps),
        "upfront_fee": _money(loan.upfront_fee),
        "start": loan.start_date.isoformat(),
        "status": loan.status,
        "days_past_due": loan.days_past_due,
        "disbursed_at": local_time(loan.disbursed_at),
    }


def _instalment_view(i: ScheduledInstalment) -> dict[str, Any]:
    return {
        "number": i.number,
        "due": i.due_date.isoformat(),
        "principal": _money(i.principal),
        "interest": _money(i.interest),
        "fee": _money(i.fee),
        "penalty": _money(i.penalty_accrued),
        "total": _money(i.total + i.penalty_accrued),
        "paid": _money(i.principal_paid + i.interest_paid + i.fee_paid + i.penalty_paid),
        "settled": i.paid_at is not None,
    }


@router.get("/loans")
def loans(request: Request, platform: PlatformDep, me: Me) -> Response:
    lang = lang_of(request)
    with platform.transaction() as session:
        mine = platform.loans.loans_of(session, me.id)
        due = {loan.id: platform.loans.repayments.due_now(session, loan.id) for loan in mine}
    return render(
        request,
        "loans.html",
        loans=[
            {**_loan_view(platform, loan, lang), "due": _money(due[loan.id].total)} for loan in mine
        ],
    )


def _loan_page(
    request: Request,
    platform: Platform,
    me: Principal,
    loan_id: int,
    status_code: int = 200,
    *,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    with platform.transaction() as session:
        loan = platform.loans.loan(session, loan_id=loan_id, customer_id=me.id)
        schedule = platform.loans.schedule(session, loan.id)
        due = platform.loans.repayments.due_now(session, loan.id)
    return render(
        request,
        "loan.html",
        status_code,
        loan=_loan_view(platform, loan, lang_of(request)),
        due=_split_view(due),
        schedule=[_instalment_view(i) for i in schedule],
        notice=notice,
        error=error,
    )


@router.get("/loans/{loan_id}")
def loan_page(
    loan_id: IdParam, request: Request, platform: PlatformDep, me: Me, done: str = ""
) -> Response:
    notice = {"repay": "loan_repaid_notice", "prepay": "loan_prepaid_notice"}.get(done)
    return _loan_page(request, platform, me, loan_id, notice=notice)


def _cost(
    platform: Platform, session: Session, me: Principal, loan: Loan, kind: str, minor: int | None
) -> Split:
    """What the repayment takes: what is due (or ``minor`` of it), or the early one."""
    if kind == "prepay":
        return platform.loans.repayments.early_cost(
            session, customer_id=me.id, loan_id=loan.id, principal=minor
        )
    return platform.loans.repayments.repay_cost(session, loan_id=loan.id, amount=minor)


def _pay_page(
    request: Request,
    platform: Platform,
    me: Principal,
    loan_id: int,
    kind: str,
    status_code: int = 200,
    *,
    form: dict[str, str],
    challenge: Any = None,
    error: DomainError | None = None,
) -> Response:
    """The repayment to confirm: what it pays, the account it comes from, the form
    (whose amount, bound to the challenge, no longer changes) and the challenge."""
    minor = _parse(form["amount"])
    with platform.transaction() as session:
        loan = platform.loans.loan(session, loan_id=loan_id, customer_id=me.id)
        cost = _cost(platform, session, me, loan, kind, minor)
        mobile = platform.accounts.customer(session, me.id).mobile
    return render(
        request,
        "loan_pay.html",
        status_code,
        kind=kind,
        loan=_loan_view(platform, loan, lang_of(request)),
        cost=_split_view(cost),
        form=form,
        challenge=None if challenge is None else challenge_view(challenge, mobile=mobile),
        error=None if error is None else refusal_text(request, error),
    )


def _parse(text: str) -> int | None:
    text = text.strip()
    return parse_positive_amount(text, scale=2, currency="CNY") if text else None


@router.get("/loans/{loan_id}/{kind}")
def pay_page(
    loan_id: IdParam,
    kind: str,
    request: Request,
    platform: PlatformDep,
    me: Me,
    amount: str = "",
) -> Response:
    """Shows what repaying (``repay``: what is due, or ``amount`` of it; ``prepay``:
    ``amount`` of principal early, or all of it) takes, before it is confirmed."""
    if kind not in KINDS:
        return _loan_page(request, platform, me, loan_id, 404)
    form = {"amount": amount[:40], "client_id": uuid.uuid4().hex}
    try:
        return _pay_page(request, platform, me, loan_id, kind, form=form)
    except DomainError as error:
        status = error.status if error.status == 404 else 422
        return _loan_page(
            request, platform, me, loan_id, status, error=refusal_text(request, error)
        )


@router.post("/loans/{loan_id}/{kind}")
def pay(
    loan_id: IdParam,
    kind: str,
    request: Request,
    platform: PlatformDep,
    me: Me,
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
    amount: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Repay (or repay early) from the loan's e-account: at once within the
    password-free allowance, else answering the challenge, as a transfer."""
    check_csrf(request, csrf)
    if kind not in KINDS:
        return _loan_page(request, platform, me, loan_id, 404)
    form = {"amount": amount, "client_id": client_id}
    # The customer's repayment keys, as the API's; "web:" keeps a form's one-off id
    # apart from the ids an API client of the customer's chooses.
    key = f"web:{client_id}"
    repayments = platform.loans.repayments

    def page(status_code: int, error: DomainError | None = None, shown: Any = None) -> Response:
        return _pay_page(
            request,
            platform,
            me,
            loan_id,
            kind,
            status_code,
            form=form,
            challenge=shown,
            error=error,
        )

    def refused(error: DomainError) -> Response:
        # The refusal is this form's answer for good: the page that shows it is a new
        # repayment, with a new id, so that a corrected form is not refused again.
        if error.status == 404:
            return _loan_page(
                request, platform, me, loan_id, 404, error=refusal_text(request, error)
            )
        form["client_id"] = uuid.uuid4().hex
        return _loan_page(
            request, platform, me, loan_id, error.status, error=refusal_text(request, error)
        )

    try:
        minor = _parse(amount)
        with platform.transaction() as session:
            loan = platform.loans.loan(session, loan_id=loan_id, customer_id=me.id)
            cost = _cost(platform, session, me, loan, kind, minor)
    except DomainError as error:
        return refused(error)

    def work(session: Session) -> Response:
        if kind == "prepay":
            repayments.prepay(
                session, customer_id=me.id, loan_id=loan_id, idempotency_key=key, principal=minor
            )
        else:
            repayments.repay(
                session, customer_id=me.id, loan_id=loan_id, idempotency_key=key, amount=minor
            )
        return see_other(f"/loans/{loan_id}?done={kind}")

    return confirm_payment(
        platform,
        me.id,
        repayment_request(loan, amount=cost.total, client_id=key, early=kind == "prepay"),
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        work,
        already_done=lambda session: (
            repayments.repayment(session, loan_id=loan_id, client_id=key) is not None
        ),
        again=lambda shown, error: page(200 if error is None else 422, error, shown),
        refused=refused,
        done_before=lambda: see_other(f"/loans/{loan_id}?done={kind}"),
        # The API's scope and request: a refused form sent again is answered the same.
        idempotency=keyed(
            f"customer:{me.id}:loan_{'prepay' if kind == 'prepay' else 'repay'}:{loan_id}",
            key,
            {"client_id": key, ("principal" if kind == "prepay" else "amount"): minor},
            conflict=RepaymentConflict,
        ),
    )
