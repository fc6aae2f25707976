"""The mall's buying API: what comes in and goes out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from rongbank.inputs import Id
from rongbank.inputs import Input as Strict
from rongbank.mall.orders.checkout import Cart, CartLine
from rongbank.mall.orders.fulfilment import DaySales
from rongbank.mall.orders.reads import Checkout, Line, Order
from rongbank.mall.orders.returns import Return
from rongbank.money import format_amount
from rongbank.payments.orders import Payment
from rongbank.payments.schemas import Confirmation

Quantity = Annotated[StrictInt, Field(ge=1, le=999)]
ClientId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]
Text = Annotated[str, Field(min_length=1, max_length=40)]


def money(minor: int) -> str:
    return format_amount(minor, scale=2)


class MallCartLineIn(Strict):
    sku_id: Id
    quantity: Quantity


class MallQuantityIn(Strict):
    quantity: Annotated[StrictInt, Field(ge=0, le=999)]


class MallCartLineOut(BaseModel):
    sku_id: int
    title: str
    sku_code: str
    quantity: int
    unit_price: str
    amount: str
    shop_id: int
    shop_name: str
    in_stock: bool
    for_sale: bool

    @classmethod
    def of(cls, line: CartLine) -> MallCartLineOut:
        return cls(
            sku_id=line.sku_id,
            title=line.title,
            sku_code=line.sku_code,
            quantity=line.quantity,
            unit_price=money(line.unit_price),
            amount=money(line.amount),
            shop_id=line.shop_id,
            shop_name=line.shop_name,
            in_stock=line.stock >= line.quantity,
            for_sale=line.for_sale,
        )


class MallCartOut(BaseModel):
    lines: list[MallCartLineOut]
    amount: str

    @classmethod
    def of(cls, cart: Cart) -> MallCartOut:
        return cls(lines=[MallCartLineOut.of(x) for x in cart.lines], amount=money(cart.amount))


class MallCheckoutIn(Strict):
    client_id: ClientId = Field(description="Your key for this checkout: a retry answers it.")
    enterprise_id: Id | None = Field(
        default=None,
        description="B2B: buy for this enterprise (you are one of its purchasers); an "
        "approver of the enterprise then pays from its account.",
    )


class MallMemberIn(Strict):
    mobile: Annotated[str, Field(pattern=r"^1[3-9][0-9]{9}$")]
    role: Literal["purchaser", "approver"]


class MallMemberOut(BaseModel):
    customer_id: int
    name: str
    role: str


class MallFapiaoOut(BaseModel):
    order_no: str
    buyer_name: str
    buyer_tax_id: str | None
    seller_name: str
    lines: list[MallLineOut]
    amount: str


class MallLineOut(BaseModel):
    id: int
    sku_id: int
    title: str
    quantity: int
    returned: int
    unit_price: str
    amount: str

    @classmethod
    def of(cls, line: Line) -> MallLineOut:
        return cls(
            id=line.id,
            sku_id=line.sku_id,
            title=line.title,
            quantity=line.quantity,
            returned=line.returned,
            unit_price=money(line.unit_price),
            amount=money(line.amount),
        )


class MallOrderOut(BaseModel):
    id: int
    order_no: str
    shop_id: int
    status: str
    amount: str
    refunded: str
    carrier: str | None
    tracking_no: str | None
    paid_at: datetime | None
    shipped_at: datetime | None
    received_at: datetime | None
    lines: list[MallLineOut]

    @classmethod
    def of(cls, order: Order, lines: list[Line]) -> MallOrderOut:
        return cls(
            id=order.id,
            order_no=order.order_no,
            shop_id=order.shop_id,
            status=order.status,
            amount=money(order.amount),
            refunded=money(order.refunded),
            carrier=order.carrier,
            tracking_no=order.tracking_no,
            paid_at=order.paid_at,
            shipped_at=order.shipped_at,
            received_at=order.received_at,
            lines=[MallLineOut.of(x) for x in lines],
        )


class MallCheckoutOut(BaseModel):
    id: int
    status: str
    amount: str
    reserved_until: datetime
    paid_by: str | None
    payment_token: str = Field(
        description="The checkout's one e-Pay order: pay it here (``.../pay``), or by 逸贷 "
        "instalments at ``/me/orders/{payment_token}/instalments``."
    )
    instalments_offered: bool
    enterprise_id: int | None
    approval: str | None
    orders: list[MallOrderOut]

    @classmethod
    def of(
        cls,
        checkout: Checkout,
        payment: Payment,
        orders: list[tuple[Order, list[Line]]],
        *,
        instalments: bool,
    ) -> MallCheckoutOut:
        return cls(
            id=checkout.id,
            status=checkout.status,
            amount=money(checkout.amount),
            reserved_until=checkout.reserved_until,
            paid_by=checkout.paid_by,
            payment_token=payment.token,
            instalments_offered=instalments,
            enterprise_id=checkout.enterprise_id,
            approval=checkout.approval,
            orders=[MallOrderOut.of(o, lines) for o, lines in orders],
        )


class MallPayIn(Confirmation):
    account: Annotated[str, Field(min_length=1, max_length=32)]


class MallShipIn(Strict):
    carrier: Text
    tracking_no: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$")]


class MallReturnLineIn(Strict):
    line_id: Id
    quantity: Quantity


class MallReturnIn(Strict):
    lines: Annotated[list[MallReturnLineIn], Field(min_length=1, max_length=50)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class MallReturnOut(BaseModel):
    id: int
    order_id: int
    status: str
    amount: str
    reason: str
    decided_by: str | None

    @classmethod
    def of(cls, found: Return) -> MallReturnOut:
        return cls(
            id=found.id,
            order_id=found.order_id,
            status=found.status,
            amount=money(found.amount),
            reason=found.reason,
            decided_by=found.decided_by,
        )


class MallRulingIn(Strict):
    refund: StrictBool = Field(description="True: refund the buyer; false: for the seller.")


class MallReviewIn(Strict):
    rating: Annotated[StrictInt, Field(ge=1, le=5)]
    body: Annotated[str, Field(max_length=1000)] = ""


class MallDaySalesOut(BaseModel):
    day: date
    orders: int
    amount: str
    refunded: str
    commission: str
    released: str

    @classmethod
    def of(cls, day: DaySales) -> MallDaySalesOut:
        return cls(
            day=day.day,
            orders=day.orders,
            amount=money(day.amount),
            refunded=money(day.refunded),
            commission=money(day.commission),
            released=money(day.released),
        )
