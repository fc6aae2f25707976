"""融e购 in the web bank: the buyer's orders with their tracking, receipt, reviews
and returns (``rongbank.mall.orders``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.errors import DomainError
from rongbank.inputs import MAX_ID, IdParam
from rongbank.mall.orders import reads
from rongbank.mall.orders.errors import ReturnInvalid
from rongbank.mall.orders.reads import Order
from rongbank.money import format_amount
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import Me, PlatformDep, local_time, refusal_text, render, see_other

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

Csrf = Annotated[str, Form()]


def _money(minor: int) -> str:
    return format_amount(minor, scale=2)


def order_view(session: Session, order: Order) -> dict[str, Any]:
    """An order as the buyer's and the seller's pages show it."""
    return {
        "id": order.id,
        "order_no": order.order_no,
        "shop": reads.shop_name(session, order.shop_id),
        "status": order.status,
        "amount": _money(order.amount),
        "refunded": _money(order.refunded),
        "carrier": order.carrier or "",
        "tracking_no": order.tracking_no or "",
        "paid_at": local_time(order.paid_at) if order.paid_at else "",
        "shipped_at": local_time(order.shipped_at) if order.shipped_at else "",
        "received_at": local_time(order.received_at) if order.received_at else "",
        "lines": [
            {
                "id": x.id,
                "title": x.title,
                "quantity": x.quantity,
                "returned": x.returned,
                "unit_price": _money(x.unit_price),
                "amount": _money(x.amount),
            }
            for x in reads.lines(session, order.id)
        ],
    }


@router.get("/mall/orders")
def orders(request: Request, platform: PlatformDep, me: Me) -> Response:
    with platform.transaction() as session:
        found = platform.mall_orders.fulfilment.orders_of_customer(session, me.id)
        shown = [order_view(session, o) for o in found]
    return render(request, "mall_orders.html", orders=shown)


def _order_page(
    request: Request,
    platform: Platform,
    me: Principal,
    order_id: IdParam,
    status_code: int = 200,
    **context: Any,
) -> Response:
    mall = platform.mall_orders
    with platform.transaction() as session:
        found = mall.fulfilment.of_customer(session, customer_id=me.id, order_id=order_id)
        shown = order_view(session, found)
        returns = [
            {"id": r.id, "status": r.status, "amount": _money(r.amount), "reason": r.reason}
            for r in mall.returns.of_order(session, order_id)
        ]
        reviewed = mall.fulfilment.reviewed(session, order_id)
    return render(
        request,
        "mall_order.html",
        status_code,
        order=shown,
        returns=returns,
        reviewed=reviewed,
        may_return=found.status in ("paid", "shipped", "received"),
        **context,
    )


@router.get("/mall/orders/{order_id}")
def order(order_id: IdParam, request: Request, platform: PlatformDep, me: Me) -> Response:
    """One order: its lines, tracking, receipt, reviews and returns (another's: 404)."""
    return _order_page(request, platform, me, order_id)


def _acted(
    request: Request, platform: Platform, me: Principal, order_id: int, act: Any
) -> Response:
    """Run ``act`` (a session's work); back to the order, or the order with the refusal."""
    try:
        with platform.transaction() as session:
            act(session)
    except DomainError as error:
        return _order_page(request, platform, me, order_id, 409, error=refusal_text(request, error))
    return see_other(f"/mall/orders/{order_id}")


@router.post("/mall/orders/{order_id}/receipt")
def receipt(
    order_id: IdParam, request: Request, platform: PlatformDep, me: Me, csrf: Csrf = ""
) -> Response:
    check_csrf(request, csrf)
    return _acted(
        request,
        platform,
        me,
        order_id,
        lambda s: platform.mall_orders.fulfilment.confirm_receipt(
            s, customer_id=me.id, order_id=order_id
        ),
    )


@router.post("/mall/orders/{order_id}/returns")
async def ask_return(
    order_id: IdParam, request: Request, platform: PlatformDep, me: Me
) -> Response:
    """The return form: ``qty_<line id>`` per line, and a reason."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    reason = str(form.get("reason", "")).strip()[:500]
    quantities: dict[int, int] = {}
    for name, value in form.items():
        text = str(value).strip()
        if name.startswith("qty_") and name[4:].isdigit() and text.isdigit() and int(text):
            quantities[int(name[4:])] = min(int(text), 999)

    def ask(session: Session) -> None:
        if not reason:
            raise ReturnInvalid()
        platform.mall_orders.returns.ask(
            session, customer_id=me.id, order_id=order_id, quantities=quantities, reason=reason
        )

    return _acted(request, platform, me, order_id, ask)


@router.post("/mall/returns/{return_id}/dispute")
def dispute(
    return_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    order_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    return _acted(
        request,
        platform,
        me,
        order_id,
        lambda s: platform.mall_orders.returns.dispute(s, customer_id=me.id, return_id=return_id),
    )


@router.post("/mall/lines/{line_id}/review")
def review(
    line_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    order_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    rating: Annotated[int, Form(ge=1, le=5)],
    body: Annotated[str, Form(max_length=1000)] = "",
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    return _acted(
        request,
        platform,
        me,
        order_id,
        lambda s: platform.mall_orders.fulfilment.review(
            s, customer_id=me.id, line_id=line_id, rating=rating, body=body.strip()
        ),
    )
