"""A fraud rule's backtest over HTTP, for risk analysts (``roles.RISK_RULES``): asked
for with ``POST /staff/risk/rules/{rule_id}/backtests`` (``202``, its address in
``Location``), then read at that address until its ``status`` is ``done`` (its
figures) or ``failed`` (why). The replay is the background job's
(:mod:`rongbank.risk.engine.backtests`), as for the console's."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from rongbank import roles
from rongbank.api.deps import PlatformDep, require_staff
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.inputs import Day, IdParam, Input
from rongbank.money import format_amount
from rongbank.risk.engine import backtests
from rongbank.risk.engine.backtests import AskedBacktest, Failure, Status

staff = APIRouter(tags=["staff"], prefix="/staff/risk", route_class=OneHopRoute)

Analyst = Annotated[Principal, Depends(require_staff(*roles.RISK_RULES))]


class BacktestIn(Input):
    since: Day
    """The first Beijing day replayed."""
    until: Day
    """The last Beijing day replayed (at most a year after ``since``)."""


class BacktestFiguresOut(BaseModel):
    decisions: int
    """Decisions replayed."""
    hits: int
    amount: str
    """Yuan of the payments the rule met."""
    fraud: int
    """Hits whose case closed as fraud."""
    false_positives: int
    unlabelled: int
    """Hits with no closed case (yet)."""
    days: list[date]
    hits_per_day: list[int]


class BacktestOut(BaseModel):
    id: int
    rule_id: int
    """The rule's version replayed."""
    since: date
    until: date
    asked_by: int
    asked_at: datetime
    status: Status
    days: int
    days_done: int
    figures: BacktestFiguresOut | None
    """Once ``done``."""
    failure: Failure | None
    """Once ``failed``: the condition cannot be evaluated on what was recorded on
    ``failure_day`` (change the rule), it was interrupted too often, or an error the
    bank's log has (ask again)."""
    failure_day: date | None

    @classmethod
    def of(cls, b: AskedBacktest) -> BacktestOut:
        figures = None
        if b.status == "done" and b.figures is not None:
            f = b.figures
            figures = BacktestFiguresOut(
                decisions=f.decisions or 0,
                hits=f.total.hits,
                amount=format_amount(f.amount, scale=2),
                fraud=f.total.fraud,
                false_positives=f.total.false_positives,
                unlabelled=f.total.unlabelled,
                days=[date.fromisoformat(d) for d in f.days],
                hits_per_day=f.hits,
            )
        return cls(
            id=b.id,
            rule_id=b.rule_id,
            since=b.first,
            until=b.last,
            asked_by=b.asked_by,
            asked_at=b.asked_at,
            status=b.status,
            days=b.days,
            days_done=b.days_done,
            figures=figures,
            failure=b.failure,
            failure_day=b.failure_day,
        )


@staff.post("/rules/{rule_id}/backtests", status_code=202)
def ask_backtest(
    rule_id: IdParam, body: BacktestIn, response: Response, platform: PlatformDep, me: Analyst
) -> BacktestOut:
    """Queue the rule version's backtest over Beijing days ``since`` to ``until`` and
    answer at once; the one already queued or running for the same version and days,
    asked again (``422 risk_backtest_period_invalid``: the days run backwards or over
    a year)."""
    with platform.transaction() as session:
        found = backtests.ask(
            session, rule_id, first=body.since, last=body.until, by=me.id, now=platform.clock.now()
        )
        asked = backtests.get(session, found)
    response.headers["Location"] = f"/api/v1/staff/risk/backtests/{asked.id}"
    return BacktestOut.of(asked)


@staff.get("/backtests/{backtest_id}")
def backtest(backtest_id: IdParam, platform: PlatformDep, _: Analyst) -> BacktestOut:
    """A backtest: ``queued``, ``running`` (``days_done`` of ``days``), ``done`` with
    its figures, or ``failed`` with why."""
    with platform.transaction() as session:
        return BacktestOut.of(backtests.get(session, backtest_id))
