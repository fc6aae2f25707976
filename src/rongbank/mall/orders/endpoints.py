"""融e购 buying over HTTP: the buyer's cart, checkout, orders and returns (``/me/mall``),
the seller's orders to ship and returns (``/merchant/mall``), operations' disputes
(``/staff/mall``).

A checkout's one payment is an e-Pay order: ``POST /me/mall/checkouts/{id}/pay`` pays
it through ``Platform.authorised`` (the same step-up, limits and audit as every e-Pay
payment); instalments go through 逸贷's own checkout API on the same order
(``/me/orders/{payment_token}/instalments``), which e-Pay reports back to the mall in
the payment's transaction. A seller sees only its own shop's orders and returns.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.api.deps import CustomerPrincipal, PlatformDep, keyed_request, require_staff
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.service import Principal
from rongbank.db import autocommit
from rongbank.inputs import IdParam
from rongbank.mall.orders import reads
from rongbank.mall.orders import schemas as s
from rongbank.mall.orders.errors import CheckoutConflict, CheckoutNeedsApproval, NotYourShop
from rongbank.mall.orders.reads import Checkout
from rongbank.payments.endpoints import merchant_actor
from rongbank.payments.merchants import MerchantActor
from rongbank.payments.schemas import Confirmation
from rongbank.platform import Platform

customer = APIRouter(tags=["e-Mall"], prefix="/me/mall", route_class=OneHopRoute)
merchant = APIRouter(tags=["e-Mall sellers"], prefix="/merchant/mall", route_class=OneHopRoute)
staff = APIRouter(tags=["staff"], prefix="/staff/mall", route_class=OneHopRoute)

Operations = Annotated[Principal, Depends(require_staff(*roles.MERCHANTS))]


def seller_shop(
    platform: PlatformDep, actor: Annotated[MerchantActor, Depends(merchant_actor)]
) -> int:
    """The shop of the merchant acting (any of its users, or its API key)."""
    with autocommit(platform.session_factory) as session:
        shop = platform.mall_orders.fulfilment.shop_of_merchant(session, actor.merchant_id)
    if shop is None:
        raise NotYourShop()
    return shop


Shop = Annotated[int, Depends(seller_shop)]


def checkout_out(platform: Platform, session: Session, found: Checkout) -> s.MallCheckoutOut:
    mall = platform.mall_orders
    payment = mall.checkouts.payment(session, found)
    orders = [(o, reads.lines(session, o.id)) for o in mall.checkouts.orders(session, found)]
    return s.MallCheckoutOut.of(
        found, payment, orders, instalments=platform.yidai.offered_for(found.amount)
    )


def order_out(session: Session, order: reads.Order) -> s.MallOrderOut:
    return s.MallOrderOut.of(order, reads.lines(session, order.id))


# -- the buyer -------------------------------------------------------------------------


@customer.get("/cart")
def mall_my_cart(platform: PlatformDep, me: CustomerPrincipal) -> s.MallCartOut:
    """Your cart, by seller."""
    with platform.transaction() as session:
        return s.MallCartOut.of(platform.mall_orders.checkouts.cart(session, me.id))


@customer.post("/cart/lines", status_code=204)
def mall_add_to_cart(body: s.MallCartLineIn, platform: PlatformDep, me: CustomerPrincipal) -> None:
    """Put more of a product (a SKU) in your cart."""
    with platform.transaction() as session:
        platform.mall_orders.checkouts.add(
            session, customer_id=me.id, sku_id=body.sku_id, quantity=body.quantity
        )


@customer.put("/cart/lines/{sku_id}", status_code=204)
def mall_change_cart_line(
    sku_id: IdParam, body: s.MallQuantityIn, platform: PlatformDep, me: CustomerPrincipal
) -> None:
    """Change how many; 0 takes the line out."""
    with platform.transaction() as session:
        platform.mall_orders.checkouts.set_quantity(
            session, customer_id=me.id, sku_id=sku_id, quantity=body.quantity
        )


@customer.post("/checkouts", status_code=201)
def mall_checkout(
    body: s.MallCheckoutIn, platform: PlatformDep, me: CustomerPrincipal, response: Response
) -> s.MallCheckoutOut:
    """Reserve your cart's stock, one order per seller, one payment for all: pay it
    before ``reserved_until``. 201 made now, 200 a retry of ``client_id``."""
    with platform.audited(
        actor_kind="customer",
        actor_id=me.id,
        action="mall.checkout",
        target=f"checkout {body.client_id}"[:64],
        details={"enterprise": body.enterprise_id} if body.enterprise_id else None,
        # A refusal (short of stock) is this key's answer for good; a success is
        # answered again by the checkout made under the key.
        idempotency=keyed_request(
            f"customer:{me.id}:mall_checkout", body.client_id, body, conflict=CheckoutConflict
        ),
    ) as session:
        if body.enterprise_id is not None:
            platform.mall_orders.enterprises.require(
                session, enterprise_id=body.enterprise_id, customer_id=me.id, role="purchaser"
            )
        found, created = platform.mall_orders.checkouts.checkout(
            session, customer_id=me.id, client_id=body.client_id, enterprise_id=body.enterprise_id
        )
        out = checkout_out(platform, session, found)
    response.status_code = 201 if created else 200
    return out


@customer.get("/checkouts/{checkout_id}")
def mall_see_checkout(
    checkout_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.MallCheckoutOut:
    with platform.transaction() as session:
        found = platform.mall_orders.checkouts.of_customer(
            session, customer_id=me.id, checkout_id=checkout_id
        )
        return checkout_out(platform, session, found)


@customer.post("/checkouts/{checkout_id}/pay")
def mall_pay_checkout(
    checkout_id: IdParam, body: s.MallPayIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.MallCheckoutOut:
    """Pay the whole checkout from one of your accounts, with the step-up of any
    e-Pay payment; a repeat answers the checkout paid."""
    with autocommit(platform.session_factory) as session:
        found = platform.mall_orders.checkouts.of_customer(
            session, customer_id=me.id, checkout_id=checkout_id
        )
        if found.enterprise_id is not None:
            raise CheckoutNeedsApproval()
        order = platform.mall_orders.checkouts.payment(session, found)
        clearing = platform.payments.merchant(session, order.merchant_id)
    request = platform.payments.payment_request(
        clearing, order.order_no, order.amount, body.account
    )
    with platform.authorised(
        request,
        customer_id=me.id,
        challenge_id=body.challenge_id,
        response=body.response,
        prefer=ToolKind(body.tool) if body.tool else None,
        already_done=lambda session: platform.payments.paid_by(
            session, customer_id=me.id, token=order.token
        ),
    ) as session:
        platform.payments.pay_order(
            session, customer_id=me.id, payment=order, account_number=body.account
        )
        # Read in the payment's own transaction (the paid listener marked it there):
        # no second transaction for the answer.
        return checkout_out(platform, session, reads.checkout(session, checkout_id))


@customer.get("/orders")
def mall_my_orders(platform: PlatformDep, me: CustomerPrincipal) -> list[s.MallOrderOut]:
    with platform.transaction() as session:
        found = platform.mall_orders.fulfilment.orders_of_customer(session, me.id)
        return [order_out(session, o) for o in found]


@customer.get("/orders/{order_id}")
def mall_my_order(
    order_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.MallOrderOut:
    with platform.transaction() as session:
        found = platform.mall_orders.fulfilment.of_customer(
            session, customer_id=me.id, order_id=order_id
        )
        return order_out(session, found)


@customer.post("/orders/{order_id}/receipt")
def mall_confirm_receipt(
    order_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.MallOrderOut:
    """You have the goods (the seller is paid once the return window has passed)."""
    with platform.audited(
        actor_kind="customer", actor_id=me.id, action="mall.receipt", target=f"order {order_id}"
    ) as session:
        found = platform.mall_orders.fulfilment.confirm_receipt(
            session, customer_id=me.id, order_id=order_id
        )
        return order_out(session, found)


@customer.post("/orders/{order_id}/returns", status_code=201)
def mall_ask_return(
    order_id: IdParam, body: s.MallReturnIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.MallReturnOut:
    """Ask to return some units of the order's lines; the seller decides."""
    quantities: dict[int, int] = {}
    for line in body.lines:
        quantities[line.line_id] = quantities.get(line.line_id, 0) + line.quantity
    with platform.audited(
        actor_kind="customer", actor_id=me.id, action="mall.return", target=f"order {order_id}"
    ) as session:
        return s.MallReturnOut.of(
            platform.mall_orders.returns.ask(
                session,
                customer_id=me.id,
                order_id=order_id,
                quantities=quantities,
                reason=body.reason,
            )
        )


@customer.post("/returns/{return_id}/dispute")
def mall_dispute_return(
    return_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.MallReturnOut:
    """Take the seller's refusal to the bank's operations."""
    with platform.audited(
        actor_kind="customer", actor_id=me.id, action="mall.dispute", target=f"return {return_id}"
    ) as session:
        return s.MallReturnOut.of(
            platform.mall_orders.returns.dispute(session, customer_id=me.id, return_id=return_id)
        )


@customer.post("/lines/{line_id}/review", status_code=204)
def mall_review(
    line_id: IdParam, body: s.MallReviewIn, platform: PlatformDep, me: CustomerPrincipal
) -> None:
    """Rate a line you received (once)."""
    with platform.transaction() as session:
        platform.mall_orders.fulfilment.review(
            session, customer_id=me.id, line_id=line_id, rating=body.rating, body=body.body
        )


# -- B2B: the enterprise, its purchasers and approvers ----------------------------------


@customer.post("/enterprise/members", status_code=201)
def mall_add_member(
    body: s.MallMemberIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.MallMemberOut:
    """(Logged in as the enterprise.) Name a person who buys or approves for you."""
    with platform.audited(
        actor_kind="customer",
        actor_id=me.id,
        action="mall.enterprise.member",
        target=body.role,
    ) as session:
        member = platform.mall_orders.enterprises.add_member(
            session,
            enterprise_id=me.id,
            mobile_hash=platform.pii.hash("mobile", body.mobile),
            role=body.role,
        )
    return s.MallMemberOut(customer_id=member.customer_id, name=member.name, role=member.role)


@customer.get("/approvals")
def mall_approvals(platform: PlatformDep, me: CustomerPrincipal) -> list[s.MallCheckoutOut]:
    """Your enterprises' checkouts waiting for an approver."""
    with platform.transaction() as session:
        found = platform.mall_orders.enterprises.awaiting(session, me.id)
        return [checkout_out(platform, session, c) for c in found]


@customer.post("/approvals/{checkout_id}/approve")
def mall_approve(
    checkout_id: IdParam, body: Confirmation, platform: PlatformDep, me: CustomerPrincipal
) -> s.MallCheckoutOut:
    """Approve a purchase: it is paid at once from the enterprise's account, with the
    enterprise's step-up (a code sent to its registered mobile, or its token)."""
    enterprises = platform.mall_orders.enterprises
    with autocommit(platform.session_factory) as session:
        found = enterprises.for_approver(session, approver_id=me.id, checkout_id=checkout_id)
        assert found.enterprise_id is not None
        enterprise = found.enterprise_id
        order = platform.mall_orders.checkouts.payment(session, found)
        clearing = platform.payments.merchant(session, order.merchant_id)
        account = platform.accounts.accounts_of(session, enterprise)[0][0]
    request = platform.payments.payment_request(
        clearing, order.order_no, order.amount, account.number
    )
    with platform.authorised(
        request,
        customer_id=enterprise,
        challenge_id=body.challenge_id,
        response=body.response,
        prefer=ToolKind(body.tool) if body.tool else None,
        already_done=lambda session: platform.payments.paid_by(
            session, customer_id=enterprise, token=order.token
        ),
    ) as session:
        enterprises.approving(session, approver_id=me.id, checkout_id=checkout_id)
        platform.payments.pay_order(
            session, customer_id=enterprise, payment=order, account_number=account.number
        )
    with platform.transaction() as session:
        return checkout_out(platform, session, reads.checkout(session, checkout_id))


@customer.post("/approvals/{checkout_id}/refuse")
def mall_refuse_purchase(
    checkout_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.MallCheckoutOut:
    """Refuse a purchase: its reservation is released."""
    with platform.audited(
        actor_kind="customer",
        actor_id=me.id,
        action="mall.approval.refuse",
        target=f"checkout {checkout_id}",
    ) as session:
        found = platform.mall_orders.enterprises.refuse(
            session, approver_id=me.id, checkout_id=checkout_id
        )
        return checkout_out(platform, session, found)


@customer.get("/orders/{order_id}/fapiao")
def mall_fapiao(order_id: IdParam, platform: PlatformDep, me: CustomerPrincipal) -> s.MallFapiaoOut:
    """The invoice (发票) data of your order: for the enterprise it was bought for."""
    with platform.transaction() as session:
        found = platform.mall_orders.fulfilment.of_customer(
            session, customer_id=me.id, order_id=order_id
        )
        data = platform.mall_orders.enterprises.fapiao(session, found)
    return s.MallFapiaoOut(
        order_no=data.order_no,
        buyer_name=data.buyer_name,
        buyer_tax_id=data.buyer_tax_id,
        seller_name=data.seller_name,
        lines=[s.MallLineOut.of(x) for x in data.lines],
        amount=s.money(data.amount),
    )


# -- the seller ------------------------------------------------------------------------


@merchant.get("/orders")
def mall_shop_orders(
    platform: PlatformDep, shop: Shop, status: str | None = None
) -> list[s.MallOrderOut]:
    """Your shop's orders (``status=paid``: those to ship)."""
    with platform.transaction() as session:
        found = platform.mall_orders.fulfilment.orders_of_shop(session, shop, status=status)
        return [order_out(session, o) for o in found]


@merchant.post("/orders/{order_id}/ship")
def mall_ship(
    order_id: IdParam, body: s.MallShipIn, platform: PlatformDep, shop: Shop
) -> s.MallOrderOut:
    with platform.transaction() as session:
        found = platform.mall_orders.fulfilment.ship(
            session,
            shop_id=shop,
            order_id=order_id,
            carrier=body.carrier,
            tracking_no=body.tracking_no,
        )
        return order_out(session, found)


@merchant.get("/returns")
def mall_shop_returns(platform: PlatformDep, shop: Shop) -> list[s.MallReturnOut]:
    with platform.transaction() as session:
        return [s.MallReturnOut.of(r) for r in platform.mall_orders.returns.of_shop(session, shop)]


@merchant.post("/returns/{return_id}/agree")
def mall_agree_return(return_id: IdParam, platform: PlatformDep, shop: Shop) -> s.MallReturnOut:
    """Agree: the buyer is refunded the way they paid, the units back in stock."""
    with platform.transaction() as session:
        return s.MallReturnOut.of(
            platform.mall_orders.returns.agree(session, shop_id=shop, return_id=return_id)
        )


@merchant.post("/returns/{return_id}/refuse")
def mall_refuse_return(return_id: IdParam, platform: PlatformDep, shop: Shop) -> s.MallReturnOut:
    with platform.transaction() as session:
        return s.MallReturnOut.of(
            platform.mall_orders.returns.refuse(session, shop_id=shop, return_id=return_id)
        )


@merchant.get("/sales")
def mall_shop_sales(platform: PlatformDep, shop: Shop) -> list[s.MallDaySalesOut]:
    """Your sales per day (last 30 days): sold, refunded, commission, paid out."""
    with platform.transaction() as session:
        return [
            s.MallDaySalesOut.of(d)
            for d in platform.mall_orders.fulfilment.sales_by_day(session, shop)
        ]


# -- operations ------------------------------------------------------------------------


@staff.get("/disputes")
def mall_disputes(platform: PlatformDep, _: Operations) -> list[s.MallReturnOut]:
    with platform.transaction() as session:
        return [s.MallReturnOut.of(r) for r in platform.mall_orders.returns.disputed(session)]


@staff.post("/returns/{return_id}/ruling")
def mall_rule(
    return_id: IdParam, body: s.MallRulingIn, platform: PlatformDep, me: Operations
) -> s.MallReturnOut:
    """Rule on a disputed return: refund the buyer, or not."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="mall.ruling",
        target=f"return {return_id}",
        details={"refund": body.refund},
    ) as session:
        return s.MallReturnOut.of(
            platform.mall_orders.returns.rule(
                session, staff_id=me.id, return_id=return_id, refund=body.refund
            )
        )
