"""B2B: an enterprise buys through its people, and pays from its own account.

The smallest real model. An enterprise is a bank customer of its own (``kind =
'enterprise'``, registered with its credit code and a class I e-account). Logged in
as itself, it names its people (person customers, found by their registered mobile):
``purchaser`` (buys for it) or ``approver`` (approves what is bought). A purchaser's
checkout for the enterprise reserves stock as any checkout does, but its one e-Pay
order is the enterprise's to pay: it waits for an approver of the same enterprise,
who approves it, paying it from the enterprise's e-account under the enterprise's
own step-up and limits (``Platform.authorised`` for the enterprise), or refuses it
(the reservation released at once). Per order, the fapiao (VAT invoice) data: the
buyer's name and credit code, the seller, the lines and the amount.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import Clock
from rongbank.mall.orders import reads
from rongbank.mall.orders.checkout import Checkouts
from rongbank.mall.orders.errors import (
    CheckoutNotFound,
    CheckoutNotPayable,
    MemberNotFound,
    NotAnEnterprise,
    NotEnterpriseMember,
)
from rongbank.mall.orders.reads import Checkout, Line, Order

ROLES = ("purchaser", "approver")


@dataclass(frozen=True, slots=True)
class Member:
    customer_id: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class Fapiao:
    """What a VAT invoice for one order says (issued by the seller)."""

    order_no: str
    buyer_name: str
    buyer_tax_id: str | None
    """The enterprise's unified social credit code; None for a person (普通发票)."""
    seller_name: str
    lines: list[Line]
    amount: int
    """What the buyer paid and kept (refunds taken off), fen, VAT included."""


class Enterprises:
    def __init__(self, checkouts: Checkouts, clock: Clock) -> None:
        self.checkouts = checkouts
        self.clock = clock

    def add_member(
        self, session: Session, *, enterprise_id: int, mobile_hash: bytes, role: str
    ) -> Member:
        """The enterprise (its own login) names a person, by mobile (its keyed hash,
        ``rongbank.pii``), to a role."""
        kind = session.execute(
            text("SELECT kind FROM customer WHERE id = :id"), {"id": enterprise_id}
        ).scalar()
        if kind != "enterprise":
            raise NotAnEnterprise()
        person = session.execute(
            text("SELECT id, name FROM customer WHERE mobile_hash = :m AND kind = 'person'"),
            {"m": mobile_hash},
        ).first()
        if person is None:
            raise MemberNotFound()
        session.execute(
            text(
                "INSERT INTO mall_enterprise_member (enterprise_id, customer_id, role, added_at) "
                "VALUES (:e, :c, :r, :now) ON CONFLICT DO NOTHING"
            ),
            {"e": enterprise_id, "c": person[0], "r": role, "now": self.clock.now()},
        )
        return Member(int(person[0]), str(person[1]), role)

    def members(self, session: Session, enterprise_id: int) -> list[Member]:
        rows = session.execute(
            text(
                "SELECT m.customer_id, c.name, m.role FROM mall_enterprise_member m "
                "JOIN customer c ON c.id = m.customer_id WHERE m.enterprise_id = :e "
                "ORDER BY m.customer_id, m.role"
            ),
            {"e": enterprise_id},
        ).all()
        return [Member(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    @staticmethod
    def require(session: Session, *, enterprise_id: int, customer_id: int, role: str) -> None:
        found = session.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM mall_enterprise_member WHERE enterprise_id = :e "
                "AND customer_id = :c AND role = :r)"
            ),
            {"e": enterprise_id, "c": customer_id, "r": role},
        ).scalar_one()
        if not found:
            raise NotEnterpriseMember(role=role)

    def awaiting(self, session: Session, approver_id: int) -> list[Checkout]:
        """Checkouts waiting for this approver's enterprises."""
        rows = session.execute(
            text(
                f"SELECT {reads.CHECKOUT} FROM mall_checkout WHERE approval = 'awaiting' "  # noqa: S608
                "AND status = 'reserved' AND enterprise_id IN (SELECT enterprise_id FROM "
                "mall_enterprise_member WHERE customer_id = :a AND role = 'approver') "
                "ORDER BY id"
            ),
            {"a": approver_id},
        ).all()
        return [Checkout(*row) for row in rows]

    def for_approver(self, session: Session, *, approver_id: int, checkout_id: int) -> Checkout:
        """A checkout awaiting approval that this approver may decide."""
        found = reads.checkout(session, checkout_id)
        if found.enterprise_id is None:
            raise CheckoutNotFound()
        try:
            self.require(
                session, enterprise_id=found.enterprise_id, customer_id=approver_id, role="approver"
            )
        except NotEnterpriseMember:
            raise CheckoutNotFound() from None
        return found

    def approving(self, session: Session, *, approver_id: int, checkout_id: int) -> None:
        """Record who approves, in the transaction that pays the checkout."""
        approved = session.execute(
            text(
                "UPDATE mall_checkout SET approved_by = :a WHERE id = :id "
                "AND approval = 'awaiting' RETURNING id"
            ),
            {"a": approver_id, "id": checkout_id},
        ).scalar()
        if approved is None:
            raise CheckoutNotPayable()

    def refuse(self, session: Session, *, approver_id: int, checkout_id: int) -> Checkout:
        """Refuse what was bought: the reservation released now, the e-Pay order
        left to lapse (e-Pay's listener refuses to pay it)."""
        found = self.for_approver(session, approver_id=approver_id, checkout_id=checkout_id)
        self.checkouts.payments.lock_order(session, found.payment_id)  # as paying does
        refused = session.execute(
            text(
                "UPDATE mall_checkout SET approval = 'refused', approved_by = :a, "
                "status = 'expired' WHERE id = :id AND approval = 'awaiting' "
                "AND status = 'reserved' RETURNING id"
            ),
            {"a": approver_id, "id": checkout_id},
        ).scalar()
        if refused is None:
            raise CheckoutNotPayable(status=found.status)
        self.checkouts.release(session, checkout_id)
        return reads.checkout(session, checkout_id)

    @staticmethod
    def fapiao(session: Session, order: Order) -> Fapiao:
        """The invoice data of an order paid (for its buyer: the enterprise when it
        was bought for one)."""
        buyer = session.execute(
            text(
                "SELECT c.name, c.credit_code FROM mall_checkout k "
                "JOIN customer c ON c.id = coalesce(k.enterprise_id, k.customer_id) "
                "WHERE k.id = :k"
            ),
            {"k": order.checkout_id},
        ).one()
        seller = session.execute(
            text("SELECT name FROM mall_shop WHERE id = :s"), {"s": order.shop_id}
        ).scalar_one()
        return Fapiao(
            order_no=order.order_no,
            buyer_name=str(buyer[0]),
            buyer_tax_id=buyer[1],
            seller_name=str(seller),
            lines=reads.lines(session, order.id),
            amount=order.amount - order.refunded,
        )
