"""融e购 in the web bank: the cart and checkout.

A product page posts "add to cart" as a form to ``POST /mall/cart`` (``sku_id``,
``quantity``). Checking out reserves the cart's stock and splits it by seller
(``rongbank.mall.orders``); its one payment is an e-Pay order, paid on e-Pay's own
payment page (``/pay/<token>``: the account, the password-free allowance or the
challenge, and 逸贷 instalments with their APR where the amount allows), which marks
the mall's orders paid in the payment's own transaction.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.mall.orders.checkout import Cart
from rongbank.mall.orders.errors import SkuNotFound
from rongbank.money import format_amount
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import Me, PlatformDep, refusal_text, render, see_other

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

Csrf = Annotated[str, Form()]
Number = Annotated[str, Form(max_length=12)]


def _money(minor: int) -> str:
    return format_amount(minor, scale=2)


def _number(text: str, *, low: int, high: int) -> int:
    """A whole number typed in a form, refused as an unknown product otherwise."""
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise SkuNotFound()
    return int(text)


def cart_view(cart: Cart) -> list[dict[str, Any]]:
    """The cart by shop, as the page shows it."""
    return [
        {
            "shop": lines[0].shop_name,
            "lines": [
                {
                    "sku_id": x.sku_id,
                    "title": x.title,
                    "code": x.sku_code,
                    "quantity": x.quantity,
                    "unit_price": _money(x.unit_price),
                    "amount": _money(x.amount),
                    "short": x.stock < x.quantity,
                    "for_sale": x.for_sale,
                }
                for x in lines
            ],
        }
        for lines in cart.by_shop().values()
    ]


def _cart_page(
    request: Request, platform: Platform, me: Principal, status_code: int = 200, **context: Any
) -> Response:
    with platform.transaction() as session:
        cart = platform.mall_orders.checkouts.cart(session, me.id)
    return render(
        request,
        "mall_cart.html",
        status_code,
        shops=cart_view(cart),
        total=_money(cart.amount),
        client_id=uuid.uuid4().hex,  # one checkout per cart shown: a double submit is one
        **context,
    )


@router.get("/mall/cart")
def cart(request: Request, platform: PlatformDep, me: Me) -> Response:
    return _cart_page(request, platform, me)


@router.post("/mall/cart")
def add_to_cart(
    request: Request,
    platform: PlatformDep,
    me: Me,
    sku_id: Number,
    quantity: Number = "1",
    csrf: Csrf = "",
) -> Response:
    """A product page's "add to cart"."""
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            platform.mall_orders.checkouts.add(
                session,
                customer_id=me.id,
                sku_id=_number(sku_id, low=1, high=2**62),
                quantity=_number(quantity, low=1, high=999),
            )
    except DomainError as error:
        return _cart_page(request, platform, me, 422, error=refusal_text(request, error))
    return see_other("/mall/cart")


@router.post("/mall/cart/{sku_id}")
def change_line(
    sku_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    quantity: Number,
    csrf: Csrf = "",
) -> Response:
    """Change a line's quantity (0: take it out)."""
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            platform.mall_orders.checkouts.set_quantity(
                session,
                customer_id=me.id,
                sku_id=sku_id,
                quantity=_number(quantity, low=0, high=999),
            )
    except DomainError as error:
        return _cart_page(request, platform, me, 422, error=refusal_text(request, error))
    return see_other("/mall/cart")


@router.post("/mall/checkout")
def checkout(
    request: Request,
    platform: PlatformDep,
    me: Me,
    client_id: Annotated[str, Form(min_length=32, max_length=32)],
    csrf: Csrf = "",
) -> Response:
    """Reserve and split the cart, then pay its one order on e-Pay's page."""
    check_csrf(request, csrf)
    try:
        with platform.audited(
            actor_kind="customer", actor_id=me.id, action="mall.checkout", target="web"
        ) as session:
            found, _ = platform.mall_orders.checkouts.checkout(
                session, customer_id=me.id, client_id=client_id
            )
            token = platform.mall_orders.checkouts.payment(session, found).token
    except DomainError as error:
        return _cart_page(request, platform, me, 409, error=refusal_text(request, error))
    return see_other(f"/pay/{token}")
