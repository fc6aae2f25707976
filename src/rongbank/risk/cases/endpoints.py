"""Risk cases over HTTP: the risk analysts' queue (``/staff/risk``) and the customer's
"was this you?" (``/me/risk/questions``). Every change is audited."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.api.deps import CustomerPrincipal, PlatformDep, require_staff
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.inputs import CountParam, IdParam
from rongbank.overview.service import MovementFilter
from rongbank.platform import Platform
from rongbank.risk.cases import schemas as s
from rongbank.risk.cases.service import Decided

staff = APIRouter(tags=["staff"], prefix="/staff/risk", route_class=OneHopRoute)
customer = APIRouter(tags=["risk"], prefix="/me/risk", route_class=OneHopRoute)

Analyst = Annotated[Principal, Depends(require_staff(*roles.RISK_CASES))]
Supervisor = Annotated[Principal, Depends(require_staff(*roles.RISK_CASE_ASSIGN))]
MOVEMENTS_SHOWN = 20


def recent_movements(
    platform: Platform, session: Session, customer_id: int
) -> list[s.RiskMovementOut]:
    page = platform.overview.movements(
        session, customer_id, MovementFilter(), limit=MOVEMENTS_SHOWN
    )
    return [
        s.RiskMovementOut(
            at=m.at,
            account=m.account,
            amount=s.yuan(m.amount) or "0.00",
            description=m.description,
            memo=m.memo,
            status=str(m.status),
        )
        for m in page.movements
    ]


def _decided(decided: Decided) -> s.RiskDecidedOut:
    return s.RiskDecidedOut(
        case=s.RiskCaseOut.of(decided.case), final=decided.final, frozen=decided.frozen
    )


@staff.get("/alerts")
def risk_alerts(platform: PlatformDep, _: Analyst, limit: CountParam = 50) -> list[s.RiskAlertOut]:
    """The latest alerts, newest first, from every source."""
    with platform.transaction() as session:
        alerts = platform.risk_desk.cases.recent_alerts(session, limit=max(1, min(limit, 200)))
    return [s.RiskAlertOut.of(a) for a, _ in alerts]


@staff.get("/cases")
def risk_case_queue(
    platform: PlatformDep, _: Analyst, closed: bool = False
) -> list[s.RiskQueueItemOut]:
    """Cases to work: those whose customer said "not me" first, then by the highest
    score, then the oldest; ``closed=true``: the latest decided."""
    with platform.transaction() as session:
        return [
            s.RiskQueueItemOut.of(i) for i in platform.risk_desk.cases.queue(session, closed=closed)
        ]


@staff.get("/cases/{case_id}")
def risk_case(case_id: IdParam, platform: PlatformDep, _: Analyst) -> s.RiskCaseDetailOut:
    """A case: its alerts (score, reasons, features), notes, and the customer's latest
    movements."""
    with platform.transaction() as session:
        detail = platform.risk_desk.cases.detail(session, case_id)
        return s.RiskCaseDetailOut.of(
            detail, recent_movements(platform, session, detail.case.customer_id)
        )


@staff.post("/cases/{case_id}/take")
def take_risk_case(case_id: IdParam, platform: PlatformDep, me: Analyst) -> s.RiskCaseOut:
    """Take an open case (``risk_case_assigned_elsewhere`` when another analyst has it)."""
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="risk.case.take", target=f"case {case_id}"
    ) as session:
        return s.RiskCaseOut.of(
            platform.risk_desk.cases.take(session, case_id=case_id, staff_id=me.id)
        )


@staff.post("/cases/{case_id}/assign")
def assign_risk_case(
    case_id: IdParam, body: s.RiskAssignIn, platform: PlatformDep, me: Supervisor
) -> s.RiskCaseOut:
    """A supervisor gives the case to a risk analyst, or back to the queue."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="risk.case.assign",
        target=f"case {case_id}",
        details={"to": body.staff_id},
    ) as session:
        case = platform.risk_desk.cases.reassign(
            session, case_id=case_id, to_staff_id=body.staff_id
        )
        return s.RiskCaseOut.of(case)


@staff.post("/cases/{case_id}/notes", status_code=201)
def note_risk_case(
    case_id: IdParam, body: s.RiskNoteIn, platform: PlatformDep, me: Analyst
) -> s.RiskNoteOut:
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="risk.case.note", target=f"case {case_id}"
    ) as session:
        note = platform.risk_desk.cases.note(
            session, case_id=case_id, staff_id=me.id, body=body.body
        )
        return s.RiskNoteOut.of(note)


@staff.post("/cases/{case_id}/decide")
def decide_risk_case(
    case_id: IdParam, body: s.RiskDecideIn, platform: PlatformDep, me: Analyst
) -> s.RiskDecidedOut:
    """The assigned analyst decides. ``fraud``, ``suspicious`` and a release of
    ¥50,000 or more held wait for a second analyst (``final: false``); otherwise the
    decision takes effect now: holds released or voided, and for fraud the
    customer's tools blocked and accounts frozen (``frozen`` says which)."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="risk.case.decide",
        target=f"case {case_id}",
        details={"outcome": body.outcome},
    ) as session:
        return _decided(
            platform.risk_desk.cases.decide(
                session, case_id=case_id, staff_id=me.id, outcome=body.outcome, note=body.note
            )
        )


@staff.post("/cases/{case_id}/confirm")
def confirm_risk_case(
    case_id: IdParam, body: s.RiskConfirmIn, platform: PlatformDep, me: Analyst
) -> s.RiskDecidedOut:
    """A second analyst (not the proposer) confirms the proposed decision."""
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="risk.case.confirm", target=f"case {case_id}"
    ) as session:
        return _decided(
            platform.risk_desk.cases.confirm(
                session, case_id=case_id, staff_id=me.id, note=body.note
            )
        )


@staff.post("/cases/{case_id}/send-back")
def send_back_risk_case(
    case_id: IdParam, body: s.RiskConfirmIn, platform: PlatformDep, me: Analyst
) -> s.RiskCaseOut:
    """A second analyst disagrees: the case goes back to the proposer, undecided."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="risk.case.send_back",
        target=f"case {case_id}",
    ) as session:
        case = platform.risk_desk.cases.send_back(
            session, case_id=case_id, staff_id=me.id, note=body.note
        )
        return s.RiskCaseOut.of(case)


@customer.get("/questions")
def my_risk_questions(platform: PlatformDep, me: CustomerPrincipal) -> list[s.RiskQuestionOut]:
    """The bank's "was this you?" questions about held payments, newest first."""
    with platform.transaction() as session:
        return [
            s.RiskQuestionOut.of(q)
            for q in platform.risk_desk.questions.of_customer(session, me.id)
        ]


@customer.post("/questions/{question_id}/answer")
def answer_risk_question(
    question_id: IdParam, body: s.RiskAnswerIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.RiskQuestionOut:
    """``yes``: the payment goes ahead, confirmed with a code sent to the registered
    mobile (send the answer without ``challenge_id`` first, then again with the
    challenge's id and the code, as for a new tool); ``no``: it is stopped at once,
    your authentication tools are blocked (call the bank to unblock them) and the
    bank looks into it. Answered once (``risk_question_answered``)."""
    with answering(
        platform, me.id, question_id, body.answer, body.challenge_id, body.response, "api"
    ) as session:
        question = platform.risk_desk.questions.answer(
            session, question_id=question_id, customer_id=me.id, mine=body.answer == "yes"
        )
        return s.RiskQuestionOut.of(question)


def answering(
    platform: Platform,
    customer_id: int,
    question_id: int,
    answer: str,
    challenge_id: str | None,
    response: str | None,
    channel: str,
) -> AbstractContextManager[Session]:
    """The audited transaction that answers a question (the API's and the web bank's).
    Yes releases held money, so the session alone must not say it (it may be the
    fraudster's): it is a security change, confirmed by a code to the registered
    mobile. No only stops money and blocks tools: it needs nothing more."""
    action, target = "risk.question.answer", f"question {question_id}"
    if answer != "yes":
        return platform.audited(
            actor_kind="customer",
            actor_id=customer_id,
            action=action,
            target=target,
            details={"answer": answer, "channel": channel},
        )
    with platform.transaction() as session:
        change = platform.risk_desk.questions.release_change(
            session, question_id=question_id, customer_id=customer_id
        )
    return platform.confirmed(
        change,
        customer_id=customer_id,
        challenge_id=challenge_id,
        response=response,
        action=action,
        target=target,
    )
