"""The risk analysts' console (``roles.RISK_CASES``): the live alerts (refreshed by htmx
every few seconds), the case queue, the charts (alerts per hour, the score
distribution, decisions by outcome, each source's and reason's precision, the LCR
trend), and a case's page with the customer's latest movements, each alert's score,
reasons and features, the notes, and the forms to take, note, decide, confirm or
send back. The charts are drawn by ``risk.js`` with Apache ECharts from the figures
the page carries as JSON (the Content-Security-Policy runs no inline script);
without JavaScript the tables say the same. The same rules as the API apply
(``rongbank.risk.cases.service``), and every action is audited."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.platform import Platform
from rongbank.risk.cases.endpoints import recent_movements
from rongbank.risk.cases.errors import NoteRequired
from rongbank.risk.cases.figures import Figures, figures
from rongbank.risk.cases.schemas import yuan
from rongbank.risk.cases.service import OUTCOMES, Alert, QueueItem
from rongbank.risk.liquidity.config import load_factors
from rongbank.risk.liquidity.service import LiquidityService
from rongbank.web.csrf import check_csrf
from rongbank.web.home_pages import ECHARTS
from rongbank.web.i18n import translate
from rongbank.web.pages import PlatformDep, lang_of, local_time, render, see_other, staff_page
from rongbank.web.staff_pages import Csrf, StaffMember, refusal

router = APIRouter(include_in_schema=False, prefix="/staff/risk", route_class=OneHopRoute)

Analyst = Annotated[StaffMember, Depends(staff_page(*roles.RISK_CASES))]
NoteField = Annotated[str, Form(max_length=2000)]
ALERTS_SHOWN = 30
ACTIONS = ("take", "note", "decide", "confirm", "send-back")
NOTICES = {action: f"risk_done_{action.replace('-', '_')}" for action in ACTIONS}

_factors = cache(load_factors)


def _alert_view(alert: Alert, customer: str = "") -> dict[str, Any]:
    return {
        "id": alert.id,
        "at": local_time(alert.raised_at),
        "customer": customer,
        "source": alert.source,
        "action": alert.action,
        "score": "—" if alert.score is None else f"{alert.score:.2f}",
        "reasons": alert.reasons,
        "amount": yuan(alert.amount),
        "hold_ref": alert.hold_ref,
        "features": sorted(alert.features.items()),
        "case_id": alert.case_id,
        "status": alert.status,
        "outcome": alert.outcome,
    }


def _queue_view(item: QueueItem) -> dict[str, Any]:
    case = item.case
    return {
        "id": case.id,
        "customer": item.customer_name,
        "alerts": item.alerts,
        "open_alerts": item.open_alerts,
        "top_score": "—" if item.top_score is None else f"{item.top_score:.2f}",
        "held": yuan(item.held),
        "status": case.status,
        "denied": case.customer_denied,
        "assigned_to": case.assigned_to,
        "outcome": case.outcome,
        "closed_at": local_time(case.closed_at) if case.closed_at else "",
    }


def _chart(f: Figures, lcr_days: list[str], lcr: list[float | None]) -> dict[str, Any]:
    return {
        "hours": f.hours,
        "per_hour": f.alerts_per_hour,
        "bins": f.score_bins,
        "scores": f.scores,
        "days": f.days,
        "decisions": f.decisions,
        "precision": [
            {"name": p.name, "share": None if p.share is None else round(p.share * 100, 1)}
            for p in f.by_source + f.by_reason
        ],
        "lcr_days": lcr_days,
        "lcr": lcr,
    }


def _alerts(platform: Platform) -> list[dict[str, Any]]:
    with platform.transaction() as session:
        found = platform.risk_desk.cases.recent_alerts(session, limit=ALERTS_SHOWN)
    return [_alert_view(a, name) for a, name in found]


@router.get("")
def risk_desk(request: Request, platform: PlatformDep, staff: Analyst) -> Response:
    """The live alerts, the queue, the latest decided, and the charts."""
    cases = platform.risk_desk.cases
    with platform.transaction() as session:
        queue = [_queue_view(i) for i in cases.queue(session)]
        closed = [_queue_view(i) for i in cases.queue(session, closed=True, limit=20)]
        found = figures(session, platform.clock.now())
        trend = LiquidityService(_factors(), platform.clock).trend(session)
    lcr = [None if d.lcr is None else round(d.lcr * 100, 2) for d in trend]
    return render(
        request,
        "staff_risk.html",
        alerts=_alerts(platform),
        queue=queue,
        closed=closed,
        figures=found,
        chart=_chart(found, [d.day.isoformat() for d in trend], lcr),
        echarts=ECHARTS,
        me=staff[0].id,
    )


@router.get("/alerts")
def risk_alerts_fragment(request: Request, platform: PlatformDep, staff: Analyst) -> Response:
    """The live alerts table alone: what the desk's htmx polling swaps in."""
    return render(request, "_risk_alerts.html", alerts=_alerts(platform))


def _case_page(
    request: Request,
    platform: Platform,
    staff: StaffMember,
    case_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    done: str = "",
) -> Response:
    with platform.transaction() as session:
        detail = platform.risk_desk.cases.detail(session, case_id)
        movements = recent_movements(platform, session, detail.case.customer_id)
    case = detail.case
    me = staff[0].id
    words = translate(lang_of(request))
    working = case.status in ("open", "assigned")
    return render(
        request,
        "staff_risk_case.html",
        status_code=status,
        case=case,
        customer=detail.customer_name,
        alerts=[_alert_view(a) for a in detail.alerts],
        notes=[
            {"by": n.staff_name or "", "body": n.body, "at": local_time(n.at)} for n in detail.notes
        ],
        movements=[
            {
                "at": local_time(m.at),
                "account": m.account,
                "amount": m.amount,
                "description": words[f"memo_{m.memo}"] if m.memo else m.description,
                "status": m.status,
            }
            for m in movements
        ],
        can_take=working and case.assigned_to != me,
        can_decide=working and case.assigned_to == me,
        can_confirm=case.status == "awaiting_second" and case.proposed_by != me,
        mine=case.assigned_to == me,
        outcomes=OUTCOMES,
        error=error,
        notice=NOTICES.get(done),
    )


@router.get("/cases/{case_id}")
def risk_case_page(
    case_id: IdParam, request: Request, platform: PlatformDep, staff: Analyst, done: str = ""
) -> Response:
    return _case_page(request, platform, staff, case_id, done=done)


@router.post("/cases/{case_id}/{action}")
def risk_case_action(
    case_id: IdParam,
    action: str,
    request: Request,
    platform: PlatformDep,
    staff: Analyst,
    csrf: Csrf = "",
    note: NoteField = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Take, note, decide, confirm or send back, as the API does."""
    check_csrf(request, csrf)
    if action not in ACTIONS:
        return _case_page(request, platform, staff, case_id, status=404)
    cases = platform.risk_desk.cases
    me = staff[0].id
    try:
        if action in ("note", "decide", "confirm", "send-back") and not note.strip():
            raise NoteRequired()
        with platform.audited(
            actor_kind="staff",
            actor_id=me,
            action=f"risk.case.{action.replace('-', '_')}",
            target=f"case {case_id}",
            details={"outcome": outcome, "channel": "console"} if outcome else None,
        ) as session:
            if action == "take":
                cases.take(session, case_id=case_id, staff_id=me)
            elif action == "note":
                cases.note(session, case_id=case_id, staff_id=me, body=note)
            elif action == "decide":
                cases.decide(session, case_id=case_id, staff_id=me, outcome=outcome, note=note)
            elif action == "confirm":
                cases.confirm(session, case_id=case_id, staff_id=me, note=note)
            else:
                cases.send_back(session, case_id=case_id, staff_id=me, note=note)
    except DomainError as error:
        return _case_page(
            request, platform, staff, case_id, status=error.status, error=refusal(request, error)
        )
    return see_other(f"/staff/risk/cases/{case_id}?done={action}")
