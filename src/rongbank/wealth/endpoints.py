"""Wealth products over HTTP: staff keep the catalogue (``/staff/wealth``), customers
see what is on sale, buy (step-up, as every payment) and list their holdings
(``/me/wealth``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from rongbank.api.deps import CustomerPrincipal, PlatformDep, require_staff
from rongbank.auth.limits import ToolKind
from rongbank.auth.service import Principal
from rongbank.money import parse_positive_amount
from rongbank.wealth import rules
from rongbank.wealth import schemas as s

customer = APIRouter(tags=["wealth"], prefix="/me/wealth")
staff = APIRouter(tags=["staff"], prefix="/staff/wealth")

ProductKeeper = Annotated[Principal, Depends(require_staff("operations", "administrator"))]
Catalogue = Annotated[
    Principal, Depends(require_staff("account_manager", "operations", "administrator"))
]


def _amount(text: str) -> int:
    return parse_positive_amount(text, scale=rules.CNY_SCALE, currency="CNY")


@staff.post("/products", status_code=201)
def create_product(body: s.ProductIn, platform: PlatformDep, me: ProductKeeper) -> s.ProductOut:
    """Put a product on the catalogue (its custody ledger account is opened with it)."""
    terms = rules.Terms(
        risk_level=body.risk_level,
        yield_bps=body.yield_bps,
        min_amount=_amount(body.min_amount),
        step_amount=_amount(body.step_amount),
        sale_start=body.sale_start,
        sale_end=body.sale_end,
    )
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="wealth.product.create", target=body.code
    ) as session:
        product = platform.wealth.create_product(
            session, staff_id=me.id, code=body.code, name=body.name, terms=terms
        )
    return s.ProductOut.of(product)


@staff.get("/products")
def all_products(platform: PlatformDep, _: Catalogue) -> list[s.ProductOut]:
    with platform.transaction() as session:
        return [s.ProductOut.of(p) for p in platform.wealth.products(session)]


@customer.get("/products")
def products_on_sale(platform: PlatformDep, _: CustomerPrincipal) -> list[s.ProductOut]:
    with platform.transaction() as session:
        return [s.ProductOut.of(p) for p in platform.wealth.products(session, on_sale=True)]


@customer.post("/purchases", status_code=201)
def buy(
    body: s.PurchaseIn, platform: PlatformDep, me: CustomerPrincipal, response: Response
) -> s.HoldingOut:
    """Buy a product from one of your accounts; 201 bought now, 200 a retry of the
    same purchase (``client_id``)."""
    amount = _amount(body.amount)
    with platform.transaction() as session:
        product = platform.wealth.product(session, body.product_code)
    payment = platform.wealth.payment_request(
        product, amount=amount, account_number=body.account, client_id=body.client_id
    )
    with platform.authorised(
        payment,
        customer_id=me.id,
        challenge_id=body.challenge_id,
        response=body.response,
        prefer=ToolKind(body.tool) if body.tool else None,
        already_done=lambda session: platform.wealth.purchase_made(
            session, customer_id=me.id, client_id=body.client_id
        ),
    ) as session:
        holding, created = platform.wealth.buy(
            session,
            customer_id=me.id,
            code=product.code,
            account_number=body.account,
            amount=amount,
            client_id=body.client_id,
        )
    response.status_code = 201 if created else 200
    return s.HoldingOut.of(holding)


@customer.get("/holdings")
def my_holdings(platform: PlatformDep, me: CustomerPrincipal) -> list[s.HoldingOut]:
    with platform.transaction() as session:
        return [s.HoldingOut.of(h) for h in platform.wealth.holdings(session, me.id)]
