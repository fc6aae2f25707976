"""The fraud rules in the staff console (``roles.RISK_RULES``: risk analysts) and
how they and the engine's scores perform.

``/staff/risk/rules`` lists every version of every rule with its state and who
proposed and approved it, and the form to propose a rule or a new version of one
(the fields of ``rongbank risk rules add``'s TOML; a rule that does not read is
refused naming its field, and nothing is saved). A rule's page approves it (never
one's own: no button, and the store refuses with 403), asks for shadow or live,
disables it, each through ``rongbank.risk.engine.store`` audited as the command
line audits it; asks for a backtest over chosen days and lists its latest ones;
and, in shadow, shows the hits it really met since. A backtest is background work
(``rongbank.risk.engine.backtests``): asking answers at once with a 303 to its page,
which htmx refreshes while it is queued or running (its progress in days) and which
then shows its figures (hits per day, what closed cases made of them) or why it
failed.
``/staff/risk/performance`` is each live rule's hits and precision over 30 days and
the drift of the engine's scores against its first week. Without JavaScript the
tables say what the charts (``risk_monitor.js``, Apache ECharts) draw."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import PlainTextResponse, Response

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError
from rongbank.inputs import Day, IdParam
from rongbank.platform import Platform
from rongbank.risk.engine import backtests, store
from rongbank.risk.engine.backtests import AskedBacktest, BacktestPeriodInvalid
from rongbank.risk.engine.rules import ACTIONS, FEATURES, RuleSpec
from rongbank.risk.monitoring.drift import ACT, WATCH, band, drift
from rongbank.risk.monitoring.rules import (
    Daily,
    entries,
    performance,
    recorded_hits,
)
from rongbank.web.csrf import check_csrf
from rongbank.web.home_pages import ECHARTS
from rongbank.web.pages import PlatformDep, local_time, render, see_other, staff_page
from rongbank.web.staff_pages import Csrf, StaffMember, refusal

router = APIRouter(include_in_schema=False, prefix="/staff/risk", route_class=OneHopRoute)

Analyst = Annotated[StaffMember, Depends(staff_page(*roles.RISK_RULES))]
CHANGES = ("approve", "shadow", "live", "disable")
BACKTEST_DAYS = 30
PERFORMANCE_DAYS = 30
FIELDS = ("name", "condition", "action", "reason", "score", "description", "mode")
POLL_SECONDS = 2


def _today(platform: Platform) -> date:
    return platform.clock.now().astimezone(BUSINESS_TIME_ZONE).date()


def _audited(platform: Platform, me: int, action: str, target: str) -> Any:
    """A rule change audited as ``rongbank risk rules`` audits it, from the console."""
    return platform.audited(
        actor_kind="staff",
        actor_id=me,
        action=f"risk.rule.{action}",
        target=target,
        details={"channel": "console"},
    )


# -- the rules, and proposing one ------------------------------------------------------


def _rules_page(
    request: Request,
    platform: Platform,
    form: dict[str, str],
    *,
    status: int = 200,
    error: str | None = None,
    field: str | None = None,
) -> Response:
    with platform.transaction() as session:
        found = entries(session, store.listed(session, every=True))
    found.sort(key=lambda e: (e.rule.name, -e.rule.version))
    return render(
        request,
        "staff_risk_rules.html",
        status_code=status,
        rules=found,
        form=form,
        actions=ACTIONS,
        features=sorted(FEATURES),
        error=error,
        field=field,
    )


@router.get("/rules")
def risk_rules(
    request: Request,
    platform: PlatformDep,
    staff: Analyst,
    version_of: Annotated[IdParam | None, Query(alias="from")] = None,
) -> Response:
    """Every rule's versions, and the form to propose one (``from``: a new version of
    that rule, its fields filled in)."""
    form = {"action": "challenge", "mode": "shadow", "score": "0"}
    if version_of is not None:
        with platform.transaction() as session:
            rule = store.get(session, version_of)
        form = {
            "name": rule.name,
            "condition": rule.condition,
            "action": rule.action,
            "reason": rule.reason,
            "score": str(rule.score),
            "description": rule.description,
            "mode": rule.mode,
        }
    return _rules_page(request, platform, form)


@router.post("/rules")
def risk_rule_propose(
    request: Request,
    platform: PlatformDep,
    staff: Analyst,
    csrf: Csrf = "",
    name: Annotated[str, Form(max_length=64)] = "",
    condition: Annotated[str, Form(max_length=2000)] = "",
    rule_action: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=64)] = "",
    score: Annotated[str, Form(max_length=10)] = "0",
    description: Annotated[str, Form(max_length=2000)] = "",
    mode: Annotated[str, Form(max_length=10)] = "shadow",
) -> Response:
    """A new rule, or a new version of one, switched on by this analyst in ``mode``
    and waiting for another's approval (``rule_action``: its action; a field named
    ``action`` would hide the form's own in the browser)."""
    check_csrf(request, csrf)
    form = {
        "name": name.strip(),
        "condition": condition.strip(),
        "action": rule_action,
        "reason": reason.strip() or name.strip(),
        "score": score.strip() or "0",
        "description": description.strip(),
        "mode": mode if mode in ("live", "shadow") else "shadow",
    }
    me = staff[0].id
    try:
        spec = RuleSpec.from_mapping({k: v for k, v in form.items() if k != "mode"})
        with _audited(platform, me, "add", spec.name) as session:
            added = store.add(session, spec, by=me, now=platform.clock.now(), mode=form["mode"])
    except DomainError as error:
        field = error.details.get("field")
        return _rules_page(
            request,
            platform,
            form,
            status=error.status,
            error=refusal(request, error),
            field=field if isinstance(field, str) else None,
        )
    return see_other(f"/staff/risk/rules/{added.id}?done=add")


# -- one rule: its changes, its backtest, its shadow hits ------------------------------


def _chart(daily: Daily) -> dict[str, Any]:
    return {"days": daily.days, "hits": daily.hits}


def _rule_page(
    request: Request,
    platform: Platform,
    staff: StaffMember,
    rule_id: int,
    *,
    period: tuple[date, date] | None = None,
    status: int = 200,
    error: str | None = None,
    done: str = "",
) -> Response:
    me = staff[0].id
    today = _today(platform)
    first, last = period or (today - timedelta(days=BACKTEST_DAYS - 1), today)
    with platform.transaction() as session:
        rule = store.get(session, rule_id)
        (entry,) = entries(session, [rule])
        asked = backtests.of_rule(session, rule.id)
        shadow = None
        if entry.state == "shadow" and entry.approved_at is not None:
            since = entry.approved_at.astimezone(BUSINESS_TIME_ZONE).date()
            shadow = recorded_hits(session, [rule.id], mode="shadow", first=since, last=today)[
                rule.id
            ]
    working = rule.status in ("pending", "active")
    return render(
        request,
        "staff_risk_rule.html",
        status_code=status,
        entry=entry,
        rule=rule,
        created_at=local_time(rule.created_at),
        approved_at=local_time(entry.approved_at) if entry.approved_at else "",
        can_approve=rule.status == "pending" and rule.switched_on_by != me,
        can_shadow=working and rule.mode != "shadow",
        can_live=working and rule.mode != "live",
        can_disable=working,
        first=first.isoformat(),
        last=last.isoformat(),
        backtests=[(b, local_time(b.asked_at)) for b in asked],
        shadow=shadow,
        shadow_days=_hit_days(shadow),
        charts={"chart-shadow": _chart(shadow)} if shadow else {},
        echarts=ECHARTS,
        error=error,
        notice=f"risk_rule_done_{done}" if done in (*CHANGES, "add") else None,
    )


def _hit_days(daily: Daily | None) -> list[tuple[str, int]]:
    """The days with hits, for the table under a chart (read without JavaScript)."""
    return [(d, n) for d, n in zip(daily.days, daily.hits, strict=True) if n] if daily else []


@router.get("/rules/{rule_id}")
def risk_rule_page(
    rule_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Analyst,
    since: Annotated[Day | None, Query()] = None,
    until: Annotated[Day | None, Query()] = None,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The rule, its changes, its latest backtests and the form to ask for one
    (``since``, ``until``: the Beijing days the form starts with)."""
    period = None
    if since is not None or until is not None:
        last = until or _today(platform)
        period = (since or last - timedelta(days=BACKTEST_DAYS - 1), last)
    return _rule_page(request, platform, staff, rule_id, period=period, done=done)


@router.post("/rules/{rule_id}/backtests")
def risk_backtest_ask(
    rule_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Analyst,
    csrf: Csrf = "",
    since: Annotated[Day | None, Form()] = None,
    until: Annotated[Day | None, Form()] = None,
) -> Response:
    """Ask for the rule's backtest over Beijing days ``since`` to ``until``: queued
    for the background job, and its page at once (the one already waiting or running
    for the same version and days, asked twice)."""
    check_csrf(request, csrf)
    last = until or _today(platform)
    first = since or last - timedelta(days=BACKTEST_DAYS - 1)
    try:
        with platform.transaction() as session:
            asked = backtests.ask(
                session, rule_id, first=first, last=last, by=staff[0].id, now=platform.clock.now()
            )
    except BacktestPeriodInvalid as error:
        return _rule_page(
            request,
            platform,
            staff,
            rule_id,
            period=(first, last),
            status=error.status,
            error=refusal(request, error),
        )
    return see_other(f"/staff/risk/backtests/{asked}")


def _backtest_view(platform: Platform, backtest_id: int) -> dict[str, Any]:
    with platform.transaction() as session:
        found = backtests.get(session, backtest_id)
        rule = store.get(session, found.rule_id)
    return {"b": found, "rule": rule, "asked_at": local_time(found.asked_at), "poll": POLL_SECONDS}


@router.get("/backtests/{backtest_id}")
def risk_backtest_page(
    backtest_id: IdParam, request: Request, platform: PlatformDep, staff: Analyst
) -> Response:
    """A backtest: queued or running (the page polls its progress), done with its
    figures, or failed with why."""
    view = _backtest_view(platform, backtest_id)
    b: AskedBacktest = view["b"]
    done = b.figures if b.status == "done" else None
    return render(
        request,
        "staff_risk_backtest.html",
        **view,
        tested=done,
        tested_days=_hit_days(done),
        charts={"chart-backtest": _chart(done)} if done else {},
        echarts=ECHARTS,
    )


@router.get("/backtests/{backtest_id}/progress")
def risk_backtest_progress(
    backtest_id: IdParam, request: Request, platform: PlatformDep, staff: Analyst
) -> Response:
    """What the page's htmx polling swaps in while the backtest waits or runs; once
    it has finished, a full reload of the page (its figures and chart)."""
    view = _backtest_view(platform, backtest_id)
    if view["b"].finished:
        return PlainTextResponse("", headers={"HX-Refresh": "true"})
    return render(request, "_risk_backtest_progress.html", **view)


@router.post("/rules/{rule_id}/{change}")
def risk_rule_change(
    rule_id: IdParam,
    change: str,
    request: Request,
    platform: PlatformDep,
    staff: Analyst,
    csrf: Csrf = "",
) -> Response:
    """Approve, shadow, live or disable, as ``rongbank risk rules`` does."""
    check_csrf(request, csrf)
    if change not in CHANGES:
        return _rule_page(request, platform, staff, rule_id, status=404)
    me = staff[0].id
    now = platform.clock.now()
    try:
        with _audited(platform, me, change, str(rule_id)) as session:
            if change == "approve":
                store.approve(session, rule_id, by=me, now=now)
            elif change == "disable":
                store.disable(session, rule_id, by=me, now=now)
            else:
                store.switch_on(session, rule_id, mode=change, by=me)
    except DomainError as error:
        return _rule_page(
            request, platform, staff, rule_id, status=error.status, error=refusal(request, error)
        )
    platform.risk_engine.forget_rules()  # this process: at once; others within their TTL
    return see_other(f"/staff/risk/rules/{rule_id}?done={change}")


# -- performance and drift --------------------------------------------------------------


@router.get("/performance")
def risk_performance(request: Request, platform: PlatformDep, staff: Analyst) -> Response:
    """Each live rule's hits and precision, and the drift of the engine's scores."""
    today = _today(platform)
    with platform.transaction() as session:
        rules = performance(session, today, days=PERFORMANCE_DAYS)
        found = drift(session, today, days=PERFORMANCE_DAYS)
    return render(
        request,
        "staff_risk_performance.html",
        rules=rules,
        drift=found,
        drift_rows=[d for d in reversed(found.days) if d.decisions],
        bands={d.day: band(d.psi) for d in found.days},
        charts={
            "chart-drift": {
                "days": [d.day for d in found.days],
                "psi": [None if d.psi is None else round(d.psi, 4) for d in found.days],
                "watch": WATCH,
                "act": ACT,
            }
        },
        echarts=ECHARTS,
        days=PERFORMANCE_DAYS,
    )
