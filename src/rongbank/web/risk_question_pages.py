""" "Was this you?" in the web bank: the question the bank sent to the customer's
融e联 notice box about a held payment (``rongbank.risk.cases.questions``), with its
two answers. Another customer's question is not found, as over the API. Yes is
confirmed with a code sent to the mobile, like a security change (``answering``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.api.one_hop import OneHopRoute
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.risk.cases.endpoints import answering
from rongbank.risk.cases.schemas import yuan
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import Me, PlatformDep, refusal_text, render, see_other
from rongbank.web.security_pages import confirm_change
from rongbank.web.step_up import ChallengeField, ResponseField

router = APIRouter(include_in_schema=False, prefix="/risk/questions", route_class=OneHopRoute)


def _page(
    request: Request,
    platform: PlatformDep,
    me: Me,
    question_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> Response:
    with platform.transaction() as session:
        question = platform.risk_desk.questions.question(session, question_id, customer_id=me.id)
    return render(
        request,
        "risk_question.html",
        status_code=status,
        question={"id": question.id, "status": question.status, "amount": yuan(question.amount)},
        error=error,
        confirm=confirm,
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
    challenge_id: ChallengeField = "",
    response: ResponseField = "",
) -> Response:
    """Yes (it was me) releases the payment, once the code sent to the mobile confirms
    it; no stops it and blocks the tools."""
    check_csrf(request, csrf)
    if answer not in ("yes", "no"):
        return _page(request, platform, me, question_id, status=422)
    try:
        context = answering(
            platform, me.id, question_id, answer, challenge_id or None, response or None, "web"
        )
    except DomainError as error:
        return _page(
            request,
            platform,
            me,
            question_id,
            status=error.status,
            error=refusal_text(request, error),
        )

    def show(
        request: Request,
        platform: PlatformDep,
        me: Me,
        status: int = 200,
        *,
        confirm: dict[str, Any] | None = None,
        error: str | None = None,
        **_: str,
    ) -> Response:
        return _page(
            request, platform, me, question_id, status=status, error=error, confirm=confirm
        )

    def answered(session: Session) -> Response:
        platform.risk_desk.questions.answer(
            session, question_id=question_id, customer_id=me.id, mine=answer == "yes"
        )
        return see_other(f"/risk/questions/{question_id}")

    return confirm_change(
        request,
        platform,
        me,
        context,
        answered,
        fields={"answer": answer},
        challenge_id=challenge_id,
        page=show,
    )
