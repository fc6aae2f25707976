"""The staff console's liquidity page (``roles.LIQUIDITY``: risk analysts): the LCR and
NSFR day by day, the intraday outflow alerts, and the last bank-run simulation, drawn
with Apache ECharts by ``liquidity.js`` from the figures the page carries as JSON
(the Content-Security-Policy runs no inline script); without JavaScript the same
figures are a table. The analyst may compute today's figures from here, as
``rongbank risk liquidity report`` does."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import text

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.platform import Platform
from rongbank.risk.liquidity.config import load_factors
from rongbank.risk.liquidity.service import LiquidityService
from rongbank.web.csrf import check_csrf
from rongbank.web.home_pages import ECHARTS
from rongbank.web.pages import PlatformDep, local_time, render, see_other, staff_page
from rongbank.web.staff_pages import Csrf, StaffMember

router = APIRouter(include_in_schema=False, prefix="/staff/liquidity", route_class=OneHopRoute)

Analyst = Annotated[StaffMember, Depends(staff_page(*roles.LIQUIDITY))]
ALERTS_SHOWN = 20


_factors = cache(load_factors)
"""The shipped factors, read once."""


def _service(platform: Platform) -> LiquidityService:
    return LiquidityService(_factors(), platform.clock)


def _percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.2f}%"


@router.get("")
def liquidity(request: Request, platform: PlatformDep, staff: Analyst, done: str = "") -> Response:
    """The trend of the ratios, the latest alerts and the last simulation."""
    service = _service(platform)
    with platform.transaction() as session:
        days = service.trend(session)
        last = service.last_simulation(session)
        alerts = session.execute(
            text(
                "SELECT window_start, outflow - inflow, threshold FROM risk_liquidity_alert "
                "ORDER BY window_start DESC LIMIT :n"
            ),
            {"n": ALERTS_SHOWN},
        ).all()
    simulation: dict[str, Any] | None = None
    if last is not None:
        r = last.result
        hours = r.get("survival_hours")
        simulation = {
            "at": local_time(last.ran_at),
            "intensity": f"{r['intensity']:.4g}",
            "days": r["days"],
            "seed": r["seed"],
            "survival": None if hours is None else f"{hours / 24:.2f}",
            "min_lcr": _percent(r.get("min_lcr")),
            "withdrawn": int(sum(r["withdrawn"].values())),
            "breaking": last.params.get("breaking"),
        }
    chart = {
        "days": [d.day.isoformat() for d in days],
        "lcr": [None if d.lcr is None else round(d.lcr * 100, 2) for d in days],
        "nsfr": [None if d.nsfr is None else round(d.nsfr * 100, 2) for d in days],
        "run": None
        if last is None
        else [None if x is None else round(x * 100, 2) for x in last.result["lcr_daily"]],
    }
    return render(
        request,
        "staff_liquidity.html",
        days=[
            {
                "day": d.day.isoformat(),
                "lcr": _percent(d.lcr),
                "nsfr": _percent(d.nsfr),
                "hqla": d.hqla,
                "net_outflows": d.net_outflows,
                "low": (d.lcr is not None and d.lcr < 1) or (d.nsfr is not None and d.nsfr < 1),
            }
            for d in reversed(days)
        ],
        alerts=[
            {"at": local_time(at), "net": int(net), "threshold": threshold}
            for at, net, threshold in alerts
        ],
        simulation=simulation,
        chart=chart,
        echarts=ECHARTS,
        notice="liquidity_reported" if done == "reported" else None,
    )


@router.post("/report")
def report(request: Request, platform: PlatformDep, staff: Analyst, csrf: Csrf = "") -> Response:
    """Compute and keep today's LCR and NSFR (balances so far)."""
    check_csrf(request, csrf)
    service = _service(platform)
    with platform.audited(
        actor_kind="staff",
        actor_id=staff[0].id,
        action="risk.liquidity.report",
        target=service.today().isoformat(),
        details={"channel": "console"},
    ) as session:
        service.report(session)
    return see_other("/staff/liquidity?done=reported")
