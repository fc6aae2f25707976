"""After payment: shipping, receipt, reviews, and the seller's money released.

The seller ships a paid order with a carrier and tracking number; the buyer confirms
receipt, or a job confirms it ``receipt_after`` the shipping (:meth:`confirm_due`).
Once received, the buyer may review each line (1 to 5 stars), and ask for a return
for ``return_window``.

Release (:meth:`Fulfilment.release`, by a job once the return window has passed with
no return open): one balanced ledger entry per order moves what it kept (its amount
less what was refunded) out of the mall's clearing (the clearing merchant's
payable)::

    Dr clearing (kept)   Cr seller's merchant payable (kept - commission)
                         Cr bank mall commission income (commission)

and e-Pay records the seller's part as a paid sale (``PaymentsService.credit_sale``),
so that the seller's e-Pay settlement (``merchant_settlement``, T+1) pays it into
the seller's settlement account with its other takings. The commission is per line,
half up to the fen, on what the line kept (``rules``): a return before release
reverses it exactly pro rata. An order refunded in full is closed, nothing released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import Clock
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import LedgerService, MultiLegEntry, PostingSpec
from rongbank.mall.orders import reads, rules
from rongbank.mall.orders.errors import OrderNotFound, OrderStateInvalid, ReviewNotAllowed
from rongbank.mall.orders.reads import Order
from rongbank.payments.service import PaymentsService

COMMISSION_INCOME = "bank:mall:commission"


@dataclass(frozen=True, slots=True)
class Released:
    order_id: int
    kept: int
    commission: int
    seller: int


@dataclass(frozen=True, slots=True)
class DaySales:
    day: date
    orders: int
    amount: int
    refunded: int
    commission: int
    released: int


class Fulfilment:
    def __init__(
        self,
        ledger: LedgerService,
        payments: PaymentsService,
        clock: Clock,
        *,
        clearing: Callable[[Session], int],
        receipt_after: timedelta,
        return_window: timedelta,
    ) -> None:
        self.ledger = ledger
        self.payments = payments
        self.clock = clock
        self.clearing = clearing
        """The clearing merchant's id (``Checkouts.clearing``)."""
        self.receipt_after = receipt_after
        self.return_window = return_window

    # -- who sees an order -------------------------------------------------------------

    @staticmethod
    def of_customer(
        session: Session, *, customer_id: int, order_id: int, lock: bool = False
    ) -> Order:
        found = reads.order(session, order_id, lock=lock)
        if found.customer_id != customer_id:
            raise OrderNotFound()
        return found

    @staticmethod
    def of_shop(session: Session, *, shop_id: int, order_id: int, lock: bool = False) -> Order:
        found = reads.order(session, order_id, lock=lock)
        if found.shop_id != shop_id:
            raise OrderNotFound()  # another seller's order is not found, never shown
        return found

    @staticmethod
    def shop_of_merchant(session: Session, merchant_id: int) -> int | None:
        shop = session.execute(
            text("SELECT id FROM mall_shop WHERE merchant_id = :m"), {"m": merchant_id}
        ).scalar()
        return None if shop is None else int(shop)

    @staticmethod
    def orders_of_customer(session: Session, customer_id: int, *, limit: int = 100) -> list[Order]:
        return reads.orders_where(
            session, "customer_id = :c AND status <> 'expired'", {"c": customer_id}, limit
        )

    @staticmethod
    def orders_of_shop(
        session: Session, shop_id: int, *, status: str | None = None, limit: int = 100
    ) -> list[Order]:
        if status is None:
            return reads.orders_where(
                session,
                "shop_id = :s AND status NOT IN ('reserved', 'expired')",
                {"s": shop_id},
                limit,
            )
        return reads.orders_where(
            session, "shop_id = :s AND status = :st", {"s": shop_id, "st": status}, limit
        )

    # -- shipping and receipt ----------------------------------------------------------

    def ship(
        self, session: Session, *, shop_id: int, order_id: int, carrier: str, tracking_no: str
    ) -> Order:
        """The seller ships a paid order; a repeat with the same tracking answers it."""
        found = self.of_shop(session, shop_id=shop_id, order_id=order_id, lock=True)
        if found.status == "shipped" and (found.carrier, found.tracking_no) == (
            carrier,
            tracking_no,
        ):
            return found
        if found.status != "paid":
            raise OrderStateInvalid(status=found.status)
        session.execute(
            text(
                "UPDATE mall_order SET status = 'shipped', carrier = :c, tracking_no = :t, "
                "shipped_at = :now WHERE id = :id"
            ),
            {"c": carrier, "t": tracking_no, "now": self.clock.now(), "id": order_id},
        )
        return reads.order(session, order_id)

    def confirm_receipt(self, session: Session, *, customer_id: int, order_id: int) -> Order:
        """The buyer has the goods; a repeat answers the received order."""
        found = self.of_customer(session, customer_id=customer_id, order_id=order_id, lock=True)
        if found.status in ("received", "released"):
            return found
        if found.status != "shipped":
            raise OrderStateInvalid(status=found.status)
        self._received(session, order_id)
        return reads.order(session, order_id)

    def _received(self, session: Session, order_id: int) -> None:
        session.execute(
            text("UPDATE mall_order SET status = 'received', received_at = :now WHERE id = :id"),
            {"now": self.clock.now(), "id": order_id},
        )

    def confirm_due(self, session: Session, *, limit: int = 500) -> int:
        """Confirm the receipt of orders shipped ``receipt_after`` ago; how many."""
        done = session.execute(
            text(
                "UPDATE mall_order SET status = 'received', received_at = :now WHERE id IN ("
                "SELECT id FROM mall_order WHERE status = 'shipped' AND shipped_at <= :due "
                "ORDER BY shipped_at LIMIT :l FOR UPDATE SKIP LOCKED)"
            ),
            {"now": self.clock.now(), "due": self.clock.now() - self.receipt_after, "l": limit},
        ).rowcount  # type: ignore[attr-defined]
        return int(done)

    # -- reviews -----------------------------------------------------------------------

    def review(
        self, session: Session, *, customer_id: int, line_id: int, rating: int, body: str
    ) -> None:
        """The buyer's review of a line they received, once."""
        row = session.execute(
            text(
                "SELECT o.customer_id, o.status FROM mall_order_line l "
                "JOIN mall_order o ON o.id = l.order_id WHERE l.id = :l"
            ),
            {"l": line_id},
        ).first()
        if row is None or row[0] != customer_id:
            raise OrderNotFound()
        if row[1] not in ("received", "released"):
            raise ReviewNotAllowed(status=row[1])
        made = session.execute(
            text(
                "INSERT INTO mall_review (line_id, customer_id, rating, body, created_at) "
                "VALUES (:l, :c, :r, :b, :now) ON CONFLICT (line_id) DO NOTHING"
            ),
            {"l": line_id, "c": customer_id, "r": rating, "b": body, "now": self.clock.now()},
        ).rowcount  # type: ignore[attr-defined]
        if not made:
            raise ReviewNotAllowed()

    @staticmethod
    def reviewed(session: Session, order_id: int) -> dict[int, int]:
        """The order's reviewed lines and their ratings."""
        rows = session.execute(
            text(
                "SELECT r.line_id, r.rating FROM mall_review r JOIN mall_order_line l "
                "ON l.id = r.line_id WHERE l.order_id = :o"
            ),
            {"o": order_id},
        ).all()
        return {int(r[0]): int(r[1]) for r in rows}

    # -- the seller's money ------------------------------------------------------------

    def release_due(self, session: Session, *, limit: int = 100) -> list[Released]:
        """Release the orders received ``return_window`` ago with no return open."""
        due = session.execute(
            text(
                "SELECT o.id FROM mall_order o WHERE o.status = 'received' "
                "AND o.received_at <= :due AND NOT EXISTS (SELECT 1 FROM mall_return r "
                "WHERE r.order_id = o.id AND r.status IN ('requested', 'refused', 'disputed')) "
                "ORDER BY o.received_at LIMIT :l FOR UPDATE OF o SKIP LOCKED"
            ),
            {"due": self.clock.now() - self.return_window, "l": limit},
        ).scalars()
        return [self.release(session, int(order_id)) for order_id in list(due)]

    def release(self, session: Session, order_id: int) -> Released:
        """Pay a received order's kept amount to its seller less the commission."""
        found = reads.order(session, order_id, lock=True)
        if found.status != "received":
            raise OrderStateInvalid(status=found.status)
        split = rules.split(line.kept() for line in reads.lines(session, order_id))
        assert split.kept == found.amount - found.refunded, "lines and refunds disagree"
        entry_id = seller_payment = None
        if split.kept:
            seller = self.payments.merchant(session, self._merchant_of_shop(session, found.shop_id))
            clearing = self.payments.merchant(session, self.clearing(session))
            income, _ = self.ledger.create_account(
                session,
                code=COMMISSION_INCOME,
                name="融e购 mall commission",
                currency="CNY",
                type=AccountType.INCOME,
            )
            postings = [
                PostingSpec(account=clearing.payable_account_id, amount=split.kept, currency="CNY"),
                PostingSpec(
                    account=seller.payable_account_id, amount=-split.seller, currency="CNY"
                ),
                PostingSpec(account=income.id, amount=-split.commission, currency="CNY"),
            ]
            entry_id = self.ledger.transfer(
                session,
                MultiLegEntry(
                    client_id=Namespace.MALL_RELEASE.client_id(order_id),
                    postings=[p for p in postings if p.amount],
                    description=f"融e购 {found.order_no}",
                    metadata={"order_no": found.order_no, "commission": split.commission},
                ),
            ).entry_id_or_raise()
            if split.seller:
                seller_payment = self.payments.credit_sale(
                    session,
                    merchant_id=seller.id,
                    order_no=found.order_no,
                    amount=split.seller,
                    entry_id=entry_id,
                    description=f"融e购 {found.order_no}",
                ).id
        session.execute(
            text(
                "UPDATE mall_order SET status = :s, commission = :c, released_at = :now, "
                "release_entry_id = :e, seller_payment_id = :p WHERE id = :id"
            ),
            {
                "s": "released" if split.kept else "closed",
                "c": split.commission,
                "now": self.clock.now(),
                "e": entry_id,
                "p": seller_payment,
                "id": order_id,
            },
        )
        return Released(order_id, split.kept, split.commission, split.seller)

    @staticmethod
    def _merchant_of_shop(session: Session, shop_id: int) -> int:
        return int(
            session.execute(
                text("SELECT merchant_id FROM mall_shop WHERE id = :s"), {"s": shop_id}
            ).scalar_one()
        )

    # -- reports -----------------------------------------------------------------------

    def sales_by_day(self, session: Session, shop_id: int, *, days: int = 30) -> list[DaySales]:
        """The shop's paid orders per day (Beijing), newest last: sold, refunded, and
        the commission and payout of those released."""
        since = self.clock.now() - timedelta(days=days)
        rows = session.execute(
            text(
                "SELECT (paid_at AT TIME ZONE 'Asia/Shanghai')::date AS day, count(*), "
                "sum(amount), sum(refunded), sum(commission), "
                "sum(CASE WHEN status = 'released' THEN amount - refunded - commission "
                "ELSE 0 END) FROM mall_order WHERE shop_id = :s AND paid_at >= :since "
                "GROUP BY day ORDER BY day"
            ),
            {"s": shop_id, "since": since},
        ).all()
        return [DaySales(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]
