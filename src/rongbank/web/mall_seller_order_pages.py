"""融e购 in the merchant console and the staff console: a seller's orders to ship,
its returns and its sales chart (``/merchant/mall``); operations' disputes
(``/staff/mall``). A seller sees only its own shop's orders and returns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.mall.orders.errors import NotYourShop
from rongbank.mall.orders.returns import Return
from rongbank.money import format_amount
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.home_pages import ECHARTS
from rongbank.web.mall_order_pages import order_view
from rongbank.web.merchant_pages import Console
from rongbank.web.merchant_pages import Me as Merchant
from rongbank.web.pages import PlatformDep, refusal_text, render, see_other, staff_page
from rongbank.web.staff_pages import StaffMember

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

Csrf = Annotated[str, Form()]
Disputes = Annotated[StaffMember, Depends(staff_page(*roles.MERCHANTS))]


def _money(minor: int) -> str:
    return format_amount(minor, scale=2)


def _returns_view(returns: list[Return]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "order_id": r.order_id,
            "status": r.status,
            "amount": _money(r.amount),
            "reason": r.reason,
        }
        for r in returns
    ]


def _shop(platform: Platform, session: Session, me: Console) -> int:
    shop = platform.mall_orders.fulfilment.shop_of_merchant(session, me.merchant.id)
    if shop is None:
        raise NotYourShop()
    return shop


def _orders_page(
    request: Request, platform: Platform, me: Console, status_code: int = 200, **context: Any
) -> Response:
    fulfilment = platform.mall_orders.fulfilment
    with platform.transaction() as session:
        shop = _shop(platform, session, me)
        to_ship = [
            order_view(session, o) for o in fulfilment.orders_of_shop(session, shop, status="paid")
        ]
        recent = [order_view(session, o) for o in fulfilment.orders_of_shop(session, shop)]
        returns = _returns_view(platform.mall_orders.returns.of_shop(session, shop))
        sales = fulfilment.sales_by_day(session, shop)
    chart = {
        "days": [d.day.isoformat() for d in sales],
        "amount": [d.amount / 100 for d in sales],
        "released": [d.released / 100 for d in sales],
    }
    return render(
        request,
        "merchant_mall_orders.html",
        status_code,
        merchant=me.merchant,
        role=me.actor.role,
        is_owner=me.is_owner,
        to_ship=to_ship,
        recent=recent,
        returns=returns,
        sales=[
            {
                "day": d.day.isoformat(),
                "orders": d.orders,
                "amount": _money(d.amount),
                "refunded": _money(d.refunded),
                "commission": _money(d.commission),
                "released": _money(d.released),
            }
            for d in sales
        ],
        chart=chart,
        echarts=ECHARTS,
        **context,
    )


@router.get("/merchant/mall/orders")
def seller_orders(request: Request, platform: PlatformDep, me: Merchant) -> Response:
    return _orders_page(request, platform, me)


def _seller_acted(request: Request, platform: Platform, me: Console, act: Any) -> Response:
    try:
        with platform.transaction() as session:
            act(session, _shop(platform, session, me))
    except DomainError as error:
        return _orders_page(request, platform, me, 409, error=refusal_text(request, error))
    return see_other("/merchant/mall/orders")


@router.post("/merchant/mall/orders/{order_id}/ship")
def ship(
    order_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Merchant,
    carrier: Annotated[str, Form(min_length=1, max_length=40)],
    tracking_no: Annotated[str, Form(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$")],
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    return _seller_acted(
        request,
        platform,
        me,
        lambda s, shop: platform.mall_orders.fulfilment.ship(
            s, shop_id=shop, order_id=order_id, carrier=carrier.strip(), tracking_no=tracking_no
        ),
    )


@router.post("/merchant/mall/returns/{return_id}/{decision}")
def decide_return(
    return_id: IdParam,
    decision: str,
    request: Request,
    platform: PlatformDep,
    me: Merchant,
    csrf: Csrf = "",
) -> Response:
    """Agree (refunded now) or refuse (the buyer may take it to operations)."""
    check_csrf(request, csrf)
    returns = platform.mall_orders.returns
    decide = returns.agree if decision == "agree" else returns.refuse
    if decision not in ("agree", "refuse"):
        return see_other("/merchant/mall/orders")
    return _seller_acted(
        request, platform, me, lambda s, shop: decide(s, shop_id=shop, return_id=return_id)
    )


# -- operations ------------------------------------------------------------------------


def _disputes_page(
    request: Request, platform: Platform, status_code: int = 200, **context: Any
) -> Response:
    with platform.transaction() as session:
        disputes = _returns_view(platform.mall_orders.returns.disputed(session))
    return render(request, "staff_mall_disputes.html", status_code, disputes=disputes, **context)


@router.get("/staff/mall/disputes")
def disputes(request: Request, platform: PlatformDep, staff: Disputes) -> Response:
    return _disputes_page(request, platform)


@router.post("/staff/mall/returns/{return_id}/ruling")
def rule(
    return_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: Disputes,
    refund: Annotated[str, Form(pattern="^(yes|no)$")],
    csrf: Csrf = "",
) -> Response:
    """Rule for the buyer (refund) or for the seller."""
    check_csrf(request, csrf)
    principal, _ = staff
    try:
        with platform.audited(
            actor_kind="staff",
            actor_id=principal.id,
            action="mall.ruling",
            target=f"return {return_id}",
            details={"refund": refund == "yes"},
        ) as session:
            platform.mall_orders.returns.rule(
                session, staff_id=principal.id, return_id=return_id, refund=refund == "yes"
            )
    except DomainError as error:
        return _disputes_page(request, platform, 409, error=refusal_text(request, error))
    return see_other("/staff/mall/disputes")
