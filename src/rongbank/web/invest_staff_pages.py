"""工银e投资 for staff (``roles.INVEST_MARKET``: risk analysts and operations): the
products the price guard halts now (their reference outside the configured bounds,
with the price), the roll-overs it refused (positions left in the old contract month
for staff to deal with) and the recent forced closes, each with its explanation. Read
from the market and the engine's journal, the record the engine replays."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import text

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.invest.amounts import notional
from rongbank.web.pages import PlatformDep, lang_of, local_time, render, staff_page
from rongbank.web.staff_pages import StaffMember

router = APIRouter(include_in_schema=False, prefix="/staff/invest", route_class=OneHopRoute)

Watcher = Annotated[StaffMember, Depends(staff_page(*roles.INVEST_MARKET))]
SHOWN = 50


def _percent(bps: int | None) -> str:
    return "—" if bps is None else f"{bps / 100:.2f}%"


@router.get("")
def invest_staff(request: Request, platform: PlatformDep, staff: Watcher) -> Response:
    catalogue = platform.invest.catalogue
    zh = lang_of(request) == "zh"
    names = {c: p.name_zh if zh else p.name_en for c, p in catalogue.products.items()}
    halted = []
    for code, q in platform.invest.market(platform.clock.now()).items():
        if q["halted"]:
            p = catalogue.product(code)
            halted.append(
                {
                    "product": code,
                    "price": p.price_text(q["ref"]),
                    "bounds": f"{p.price_text(p.price_min)} – {p.price_text(p.price_max)}",
                    "contract": q["contract"] or "—",
                }
            )
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "(SELECT kind, payload, at FROM invest_journal WHERE kind = 'roll_refused' "
                "ORDER BY seq DESC LIMIT :n) UNION ALL "
                "(SELECT kind, payload, at FROM invest_journal WHERE kind = 'forced_close' "
                "ORDER BY seq DESC LIMIT :n)"
            ),
            {"n": SHOWN},
        ).all()
    rolls: list[dict[str, Any]] = []
    forced: list[dict[str, Any]] = []
    for kind, out, at in rows:
        p = catalogue.product(out["product"])
        line = {"at": local_time(at), "product": out["product"], "customer": out["customer"]}
        line |= {"side": out["side"], "quantity": p.quantity_text(out["quantity"])}
        if kind == "roll_refused":
            rolls.append(line | {"from": out["from"], "to": out["to"]})
        else:
            value = notional(out["price"], out["quantity"], p.quantity_scale, pays=True)
            forced.append(
                line
                | {
                    "price": p.price_text(out["price"]),
                    "value": value,
                    "before": _percent(out.get("ratio_before_bps")),
                    "after": _percent(out.get("ratio_after_bps")),
                    "why": out["why"],
                }
            )
    return render(
        request,
        "staff_invest.html",
        names=names,
        halted=halted,
        rolls=rolls,
        forced=forced,
    )
