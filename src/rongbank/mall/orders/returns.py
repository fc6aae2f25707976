"""Returns and refunds: full or partial, per line, before or after the seller is paid.

The buyer asks to return some units of an order's lines (paid, shipped, or received
and within the after-sales days, ``aftersale``, which are at least the return window)
with a reason. The seller agrees (refunded at once)
or refuses; the buyer may then take a refusal to operations (``disputed``), who rule
for the buyer (refunded) or the seller (``rejected``). While a return is open the
order's money is not released to the seller.

A refund goes back the way it came: an e-Pay refund of the checkout's one payment
(``PaymentsService.refund``, from the mall's clearing, where the order's money still
is), which e-Pay's refund listeners follow: a checkout paid by 逸贷 has its loan repaid
early by as much (``lending.checkout``). The units come back onto their SKUs and the
order's refunded amount grows, so that its release takes the commission only on what
it kept; an order refunded in full is closed. A return refunded after the order's
money was released to its seller first takes the money back into the clearing
(``clawback``): the commission pro rata from the bank's income, the seller's part owed
by the seller and taken from its next e-Pay settlements.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import Clock
from rongbank.mall.orders import reads
from rongbank.mall.orders.checkout import Checkouts
from rongbank.mall.orders.clawback import Clawback
from rongbank.mall.orders.errors import (
    OrderNotFound,
    OrderStateInvalid,
    ReturnInvalid,
    ReturnNotFound,
    ReturnStateInvalid,
    ReturnWindowClosed,
)
from rongbank.payments.service import PaymentsService

OPEN = ("requested", "refused", "disputed")


@dataclass(frozen=True, slots=True)
class Return:
    id: int
    order_id: int
    customer_id: int
    status: str
    """``requested``, ``refused`` (by the seller; the buyer may dispute), ``disputed``,
    ``refunded`` or ``rejected`` (operations ruled for the seller)."""
    amount: int
    reason: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    refund_id: int | None
    commission_back: int
    """The commission given back by the bank (a return after the seller was paid)."""
    clawback_entry_id: int | None


_RETURN = ", ".join(f.name for f in fields(Return))


class Returns:
    def __init__(
        self,
        payments: PaymentsService,
        checkouts: Checkouts,
        clock: Clock,
        *,
        clawback: Clawback,
        aftersale: timedelta,
    ) -> None:
        self.payments = payments
        self.checkouts = checkouts
        self.clock = clock
        self.clawback = clawback
        self.aftersale = aftersale
        """How long after receipt a return may be asked (the seller may have been paid
        by then: its part is taken back)."""

    def ask(
        self,
        session: Session,
        *,
        customer_id: int,
        order_id: int,
        quantities: dict[int, int],
        reason: str,
    ) -> Return:
        """Ask to return ``quantities`` (order line id: units) of one's order."""
        order = reads.order(session, order_id, lock=True)
        if order.customer_id != customer_id:
            raise OrderNotFound()
        if order.status not in ("paid", "shipped", "received", "released"):
            raise OrderStateInvalid(status=order.status)
        if order.status in ("received", "released"):
            assert order.received_at is not None
            if order.received_at + self.aftersale <= self.clock.now():
                raise ReturnWindowClosed()
        lines = {line.id: line for line in reads.lines(session, order_id)}
        pending: dict[int, int] = dict(
            session.execute(
                text(
                    "SELECT rl.line_id, sum(rl.quantity) FROM mall_return_line rl "
                    "JOIN mall_return r ON r.id = rl.return_id WHERE r.order_id = :o "
                    "AND r.status IN ('requested', 'refused', 'disputed') GROUP BY rl.line_id"
                ),
                {"o": order_id},
            ).all()
        )
        if not quantities:
            raise ReturnInvalid()
        amount = 0
        for line_id, quantity in quantities.items():
            line = lines.get(line_id)
            left = (
                0 if line is None else line.quantity - line.returned - int(pending.get(line_id, 0))
            )
            if line is None or not 0 < quantity <= left:
                raise ReturnInvalid(line_id=line_id)
            amount += quantity * line.unit_price
        return_id = session.execute(
            text(
                "INSERT INTO mall_return (order_id, customer_id, status, amount, reason, "
                "created_at) VALUES (:o, :c, 'requested', :a, :r, :now) RETURNING id"
            ),
            {"o": order_id, "c": customer_id, "a": amount, "r": reason, "now": self.clock.now()},
        ).scalar_one()
        session.execute(
            text("INSERT INTO mall_return_line (return_id, line_id, quantity) VALUES (:r, :l, :q)"),
            [{"r": return_id, "l": k, "q": q} for k, q in sorted(quantities.items())],
        )
        return self.get(session, int(return_id))

    def get(self, session: Session, return_id: int, *, lock: bool = False) -> Return:
        row = session.execute(
            text(
                f"SELECT {_RETURN} FROM mall_return WHERE id = :id"  # noqa: S608
                + (" FOR UPDATE" if lock else "")
            ),
            {"id": return_id},
        ).first()
        if row is None:
            raise ReturnNotFound()
        return Return(*row)

    def of_order(self, session: Session, order_id: int) -> list[Return]:
        rows = session.execute(
            text(f"SELECT {_RETURN} FROM mall_return WHERE order_id = :o ORDER BY id"),  # noqa: S608
            {"o": order_id},
        ).all()
        return [Return(*row) for row in rows]

    def of_shop(self, session: Session, shop_id: int, *, limit: int = 100) -> list[Return]:
        rows = session.execute(
            text(
                f"SELECT {', '.join('r.' + f.name for f in fields(Return))} FROM mall_return r "  # noqa: S608
                "JOIN mall_order o ON o.id = r.order_id WHERE o.shop_id = :s "
                "ORDER BY r.id DESC LIMIT :l"
            ),
            {"s": shop_id, "l": limit},
        ).all()
        return [Return(*row) for row in rows]

    def disputed(self, session: Session, *, limit: int = 100) -> list[Return]:
        rows = session.execute(
            text(
                f"SELECT {_RETURN} FROM mall_return WHERE status = 'disputed' "  # noqa: S608
                "ORDER BY id LIMIT :l"
            ),
            {"l": limit},
        ).all()
        return [Return(*row) for row in rows]

    # -- decisions ---------------------------------------------------------------------

    def _of_shop(self, session: Session, shop_id: int, return_id: int) -> Return:
        found = self.get(session, return_id)
        order = reads.order(session, found.order_id)
        if order.shop_id != shop_id:
            raise ReturnNotFound()
        return found

    def agree(self, session: Session, *, shop_id: int, return_id: int) -> Return:
        """The seller agrees: refunded now. A repeat answers the refunded return."""
        found = self._of_shop(session, shop_id, return_id)
        if found.status == "refunded":
            return found
        return self._refund(session, found.id, decided_by=f"shop:{shop_id}", allowed=("requested",))

    def refuse(self, session: Session, *, shop_id: int, return_id: int) -> Return:
        found = self._of_shop(session, shop_id, return_id)
        return self._decide(session, found.id, "refused", f"shop:{shop_id}", ("requested",))

    def dispute(self, session: Session, *, customer_id: int, return_id: int) -> Return:
        """The buyer takes the seller's refusal to operations."""
        found = self.get(session, return_id)
        if found.customer_id != customer_id:
            raise ReturnNotFound()
        return self._decide(session, found.id, "disputed", None, ("refused",))

    def rule(self, session: Session, *, staff_id: int, return_id: int, refund: bool) -> Return:
        """Operations' ruling on a disputed return."""
        if refund:
            return self._refund(
                session, return_id, decided_by=f"staff:{staff_id}", allowed=("disputed",)
            )
        return self._decide(session, return_id, "rejected", f"staff:{staff_id}", ("disputed",))

    def _decide(
        self,
        session: Session,
        return_id: int,
        status: str,
        decided_by: str | None,
        allowed: tuple[str, ...],
    ) -> Return:
        found = self.get(session, return_id, lock=True)
        if found.status == status:
            return found
        if found.status not in allowed:
            raise ReturnStateInvalid(status=found.status)
        session.execute(
            text(
                "UPDATE mall_return SET status = :s, decided_at = :now, "
                "decided_by = coalesce(:by, decided_by) WHERE id = :id"
            ),
            {"s": status, "now": self.clock.now(), "by": decided_by, "id": return_id},
        )
        return self.get(session, return_id)

    def _refund(
        self, session: Session, return_id: int, *, decided_by: str, allowed: tuple[str, ...]
    ) -> Return:
        """Refund a return through e-Pay, put its units back, and count it on the
        order. The order is locked first, then the return, as ``ask`` does."""
        order_id = self.get(session, return_id).order_id
        order = reads.order(session, order_id, lock=True)
        found = self.get(session, return_id, lock=True)
        if found.status == "refunded":
            return found
        if found.status not in allowed:
            raise ReturnStateInvalid(status=found.status)
        checkout = reads.checkout(session, order.checkout_id)
        taken = None
        if order.status == "released":  # the seller was paid: its part comes back first
            taken = self.clawback.take_back(
                session, order=order, return_id=return_id, amount=found.amount
            )
        refund = self.payments.refund(
            session,
            merchant_id=self.checkouts.clearing(session),
            order_no=self.checkouts.order_no(checkout.id),
            refund_no=f"R{return_id}",
            amount=found.amount,
            reason=f"融e购退货 {order.order_no}"[:200],
        )
        session.execute(
            text(
                "UPDATE mall_order_line l SET returned = l.returned + rl.quantity "
                "FROM mall_return_line rl WHERE rl.return_id = :r AND rl.line_id = l.id"
            ),
            {"r": return_id},
        )
        self.checkouts.put_back(
            session,
            "l.id IN (SELECT line_id FROM mall_return_line WHERE return_id = :r)",
            {"r": return_id},
            quantities="(SELECT quantity FROM mall_return_line WHERE return_id = :r "
            "AND line_id = l.id)",
        )
        session.execute(
            text(
                "UPDATE mall_order SET refunded = refunded + :a, "
                "status = CASE WHEN refunded + :a = amount THEN 'closed' ELSE status END "
                "WHERE id = :o"
            ),
            {"a": found.amount, "o": order_id},
        )
        session.execute(
            text(
                "UPDATE mall_return SET status = 'refunded', decided_at = :now, decided_by = :by, "
                "refund_id = :f, commission_back = :cb, clawback_entry_id = :cbe WHERE id = :id"
            ),
            {
                "now": self.clock.now(),
                "by": decided_by,
                "f": refund.id,
                "cb": 0 if taken is None else taken.commission_back,
                "cbe": None if taken is None else taken.entry_id,
                "id": return_id,
            },
        )
        return self.get(session, return_id)
