""" "Was this you?" in the web bank: the question the bank sent to the customer's
融e联 notice box about a held payment (``rongbank.risk.cases.questions``), with its
two answers. Another customer's question is not found, as over the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.risk.cases.schemas import yuan
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import Me, PlatformDep, _error, _redirect, render

router = APIRouter(include_in_schema=False, prefix="/risk/questions")


def _page(
    request: Request,
    platform: PlatformDep,
    me: Me,
    question_id: int,
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    with platform.transaction() as session:
        question = platform.risk_desk.questions.question(session, question_id, customer_id=me.id)
    return render(
        request,
        "risk_question.html",
        status_code=status,
        question={"id": question.id, "status": question.status, "amount": yuan(question.amount)},
        error=error,
    )


@router.get("/{question_id}")
def risk_question(
    question_id: IdParam, request: Request, platform: PlatformDep, me: Me
) -> Response:
    return _page(request, platform, me, question_id)


@router.post("/{question_id}")
def answer_risk_question(
    question_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    answer: Annotated[str, Form(max_length=3)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Yes (it was me) releases the payment; no stops it and blocks the tools."""
    check_csrf(request, csrf)
    if answer not in ("yes", "no"):
        return _page(request, platform, me, question_id, status=422)
    try:
        with platform.audited(
            actor_kind="customer",
            actor_id=me.id,
            action="risk.question.answer",
            target=f"question {question_id}",
            details={"answer": answer, "channel": "web"},
        ) as session:
            platform.risk_desk.questions.answer(
                session, question_id=question_id, customer_id=me.id, mine=answer == "yes"
            )
    except DomainError as error:
        return _page(
            request, platform, me, question_id, status=error.status, error=_error(request, error)
        )
    return _redirect(f"/risk/questions/{question_id}")
