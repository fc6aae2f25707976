"""The staff console's anti-money-laundering page (``roles.AML``: risk analysts): one
Beijing day's suspicious-pattern findings and large-value transaction reports, each
with the sentence that explains it and the ledger transfers behind it, and the day's
large-value reports as CSV (what ``rongbank risk aml export`` writes)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import text

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.inputs import Day
from rongbank.risk.aml.reports import findings_of, large_value_csv, reports_of
from rongbank.web.pages import PlatformDep, lang_of, render, staff_page
from rongbank.web.staff_pages import StaffMember

router = APIRouter(include_in_schema=False, prefix="/staff/risk/aml", route_class=OneHopRoute)

Analyst = Annotated[StaffMember, Depends(staff_page(*roles.AML))]
AmlDay = Annotated[Day | None, Query(description="The Beijing day (default: the last run).")]
SHOWN = 500
RUNS_SHOWN = 14


def _day(platform: PlatformDep, day: date | None) -> date:
    if day is not None:
        return day
    with platform.transaction() as session:
        last = session.execute(text("SELECT max(day) FROM risk_aml_run")).scalar_one()
    if last is not None:
        return date.fromisoformat(str(last))
    return platform.clock.now().astimezone(BUSINESS_TIME_ZONE).date() - timedelta(days=1)


@router.get("")
def aml(request: Request, platform: PlatformDep, staff: Analyst, day: AmlDay = None) -> Response:
    """The day's findings first (what an analyst looks into), then its reports."""
    when = _day(platform, day)
    english = lang_of(request) == "en"
    with platform.transaction() as session:
        findings = findings_of(session, when, limit=SHOWN)
        reports = reports_of(session, when, limit=SHOWN)
        runs = session.execute(
            text(
                "SELECT day, movements, reports, findings FROM risk_aml_run "
                "ORDER BY day DESC LIMIT :n"
            ),
            {"n": RUNS_SHOWN},
        ).all()
    return render(
        request,
        "staff_risk_aml.html",
        day=when.isoformat(),
        findings=[
            {
                "id": f.id,
                "pattern": f.pattern,
                "customer": f"{f.customer_name} (#{f.customer_id})",
                "amount": f.amount,
                "why": f.explanation_en if english else f.explanation_zh,
                "entries": f.entry_ids,
            }
            for f in findings
        ],
        reports=[
            {
                "id": r.id,
                "rule": r.rule,
                "customer": f"{r.customer_name} (#{r.customer_id})",
                "direction": r.direction,
                "total": r.total,
                "fx": r.currency_class != "CNY",
                "why": r.explanation_en if english else r.explanation_zh,
            }
            for r in reports
        ],
        runs=[
            {"day": d.isoformat(), "movements": int(m), "reports": int(r), "findings": int(f)}
            for d, m, r, f in runs
        ],
    )


@router.get("/large-value.csv")
def large_value(platform: PlatformDep, staff: Analyst, day: AmlDay = None) -> Response:
    """The day's large-value reports as CSV (UTF-8 with a BOM, for spreadsheets).
    Audited: the file names customers."""
    when = _day(platform, day)
    with platform.audited(
        actor_kind="staff",
        actor_id=staff[0].id,
        action="risk.aml.export",
        target=when.isoformat(),
        details={"channel": "console"},
    ) as session:
        body = large_value_csv(session, when)
    return Response(
        ("\ufeff" + body).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="large-value-{when}.csv"'},
    )
