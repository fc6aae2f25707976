"""What the mall's buying side reads: checkouts, orders and their lines, as rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.mall.orders import rules
from rongbank.mall.orders.errors import CheckoutNotFound, OrderNotFound


@dataclass(frozen=True, slots=True)
class Checkout:
    id: int
    customer_id: int
    client_id: str
    status: str
    """``reserved`` (stock held, waiting for payment), ``paid`` or ``expired``."""
    amount: int
    payment_id: int
    paid_by: str | None
    """``epay`` or ``yidai`` (instalments), once paid."""
    reserved_until: datetime
    created_at: datetime
    paid_at: datetime | None
    enterprise_id: int | None
    """B2B: the enterprise customer buying (who pays), the purchaser being
    ``customer_id``."""
    approval: str | None
    """B2B: ``awaiting`` an approver, ``approved`` (and paid) or ``refused``."""
    approved_by: int | None


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    checkout_id: int
    shop_id: int
    customer_id: int
    order_no: str
    status: str
    """``reserved``, ``paid``, ``shipped``, ``received``, ``released`` (the seller
    paid), ``closed`` (refunded in full) or ``expired``."""
    amount: int
    refunded: int
    commission: int
    carrier: str | None
    tracking_no: str | None
    created_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    received_at: datetime | None
    released_at: datetime | None
    release_entry_id: int | None
    seller_payment_id: int | None


@dataclass(frozen=True, slots=True)
class Line:
    id: int
    order_id: int
    sku_id: int
    title: str
    quantity: int
    unit_price: int
    commission_bp: int
    returned: int

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price

    def kept(self) -> rules.Kept:
        return rules.Kept(self.quantity, self.returned, self.unit_price, self.commission_bp)


CHECKOUT = ", ".join(f.name for f in fields(Checkout))
ORDER = ", ".join(f.name for f in fields(Order))
LINE = ", ".join(f.name for f in fields(Line))


def checkout(session: Session, checkout_id: int, *, lock: bool = False) -> Checkout:
    row = session.execute(
        text(
            f"SELECT {CHECKOUT} FROM mall_checkout WHERE id = :id"  # noqa: S608
            + (" FOR UPDATE" if lock else "")
        ),
        {"id": checkout_id},
    ).first()
    if row is None:
        raise CheckoutNotFound()
    return Checkout(*row)


def order(session: Session, order_id: int, *, lock: bool = False) -> Order:
    row = session.execute(
        text(
            f"SELECT {ORDER} FROM mall_order WHERE id = :id"  # noqa: S608
            + (" FOR UPDATE" if lock else "")
        ),
        {"id": order_id},
    ).first()
    if row is None:
        raise OrderNotFound()
    return Order(*row)


def orders_of_checkout(session: Session, checkout_id: int) -> list[Order]:
    rows = session.execute(
        text(f"SELECT {ORDER} FROM mall_order WHERE checkout_id = :c ORDER BY id"),  # noqa: S608
        {"c": checkout_id},
    ).all()
    return [Order(*row) for row in rows]


def lines(session: Session, order_id: int) -> list[Line]:
    rows = session.execute(
        text(f"SELECT {LINE} FROM mall_order_line WHERE order_id = :o ORDER BY id"),  # noqa: S608
        {"o": order_id},
    ).all()
    return [Line(*row) for row in rows]


def orders_where(
    session: Session, where: str, params: dict[str, object], limit: int
) -> list[Order]:
    """Orders matching ``where`` (a fixed condition of the caller's), newest first."""
    rows = session.execute(
        text(
            f"SELECT {ORDER} FROM mall_order WHERE {where} "  # noqa: S608
            "ORDER BY id DESC LIMIT :limit"
        ),
        {**params, "limit": limit},
    ).all()
    return [Order(*row) for row in rows]


def shop_name(session: Session, shop_id: int) -> str:
    return str(
        session.execute(
            text("SELECT name FROM mall_shop WHERE id = :s"), {"s": shop_id}
        ).scalar_one()
    )
