"""The staff console's lending portfolio (``roles.PORTFOLIO``: credit officers and risk
analysts): applications and approval rate by day, balances by five-category class,
days-past-due buckets, the latest month-on-month roll rates and the vintage curves
(``lending.portfolio``). Drawn with Apache ECharts by ``portfolio.js`` from the figures
the page carries as JSON (the Content-Security-Policy runs no inline script); a table
beside each chart holds the same figures, for screen readers and narrow screens.
``rongbank lending portfolio report`` draws them as PNG and PDF."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.lending.portfolio import BUCKETS, CLOSED, Figures, Portfolio
from rongbank.web.home_pages import ECHARTS
from rongbank.web.i18n import translate
from rongbank.web.pages import PlatformDep, lang_of, render, staff_page
from rongbank.web.staff_pages import StaffMember

router = APIRouter(
    include_in_schema=False, prefix="/staff/lending/portfolio", route_class=OneHopRoute
)

Reader = Annotated[StaffMember, Depends(staff_page(*roles.PORTFOLIO))]


SLUGS = {
    **{b: b for b in (*BUCKETS, *CLOSED)},
    "1-30": "1_30",
    "31-60": "31_60",
    "61-90": "61_90",
    "90+": "over_90",
}
"""Each bucket's (and closed state's) word: ``portfolio_bucket_<slug>``."""


def _bucket(words: Mapping[str, str], name: str) -> str:
    return words[f"portfolio_bucket_{SLUGS[name]}"]


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def view(figures: Figures, words: Mapping[str, str]) -> dict[str, Any]:
    """What the page (and its chart script) shows of ``figures``, in ``words``'
    language."""
    months = figures.roll_months
    matrix = figures.roll_matrix(months[-1]) if months else {}
    targets = [*BUCKETS, *CLOSED]
    vintages: dict[str, list[float]] = {}
    for point in figures.vintages:
        vintages.setdefault(point.vintage.strftime("%Y-%m"), []).append(round(point.share * 100, 2))
    return {
        "as_of": None if figures.as_of is None else figures.as_of.isoformat(),
        "applications": [
            {
                "day": d.day.isoformat(),
                "applications": d.applications,
                "decided": d.decided,
                "offered": d.offered,
                "rate": _percent(d.approval_rate),
                "share": None if d.approval_rate is None else round(d.approval_rate * 100, 1),
            }
            for d in figures.applications
        ],
        "categories": [
            {
                "name": words[f"portfolio_category_{c.name}"],
                "loans": c.loans,
                "principal": c.principal,
                "provision": c.provision,
            }
            for c in figures.categories
        ],
        "buckets": [
            {"name": _bucket(words, b.name), "loans": b.loans, "principal": b.principal}
            for b in figures.buckets
        ],
        "roll_month": months[-1].strftime("%Y-%m") if months else None,
        "roll_targets": [_bucket(words, t) for t in targets],
        "rolls": [
            {
                "source": _bucket(words, source),
                "shares": [round(matrix[source].get(t, 0.0) * 100, 1) for t in targets],
                "cells": [_percent(matrix[source].get(t, 0.0)) for t in targets],
            }
            for source in BUCKETS
            if source in matrix
        ],
        "vintage_length": max((len(v) for v in vintages.values()), default=0),
        "vintages": [{"month": month, "shares": shares} for month, shares in vintages.items()],
    }


@router.get("")
def portfolio(request: Request, platform: PlatformDep, staff: Reader) -> Response:
    """The book's figures as of the last end of day."""
    with platform.transaction() as session:
        figures = Portfolio().figures(session)
    shown = view(figures, translate(lang_of(request)))
    return render(
        request, "staff_lending_portfolio.html", figures=shown, chart=shown, echarts=ECHARTS
    )
