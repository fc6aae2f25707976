"""The cart and checkout: stock reserved, one order per seller, one payment.

A checkout (:meth:`Checkouts.checkout`), in the caller's one transaction:

1. splits the cart's lines (locked) into one order per shop, with prices, titles and
   commission rates as they are now;
2. opens one e-Pay order of the mall's clearing merchant for the whole amount;
3. last, takes each line's units off its SKU with ``UPDATE mall_sku SET stock = stock
   - n WHERE id = ... AND stock >= n`` (lines in SKU order, so that two checkouts lock
   rows in the same order and never deadlock; last, so that a hot SKU's row is held
   only until the commit); a line short of stock refuses the whole checkout
   (:class:`OutOfStock`), the transaction rolling back all of it. The row lock makes
   concurrent checkouts of the last units take turns, and ``CHECK (stock >= 0)``
   backs it: overselling is impossible.

That order is paid like any e-Pay order, under ``Platform.authorised``'s step-up and
limits (the mall's page, or e-Pay's own), or by 逸贷 instalments through
``lending.checkout`` (which lends onto the merchant's payable): whichever way,
e-Pay calls :meth:`Checkouts.paid` in the payment's transaction, which marks the
checkout and its orders paid. The money then sits in the clearing merchant's payable
(the mall's clearing account) until each order's part is released to its seller
(``fulfilment``).

A checkout not paid by ``reserved_until`` is expired by a job
(:meth:`Checkouts.expire_due`), its units put back, but only once its e-Pay order can
no longer be paid either: the job locks the payment first, as paying does, so a
payment and an expiry never both happen.

A retry with the same ``client_id`` answers the checkout made the first time (one
checkout per customer and key, found by the insert's conflict, so that two
concurrent retries wait for each other rather than reserve twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import Clock
from rongbank.mall.orders import clearing, reads
from rongbank.mall.orders.errors import (
    NOT_FOR_SALE,
    CartEmpty,
    CheckoutNotFound,
    CheckoutNotPayable,
    MallClosed,
    OutOfStock,
    SkuNotForSale,
    SkuNotFound,
)
from rongbank.mall.orders.reads import Checkout, Order
from rongbank.payments.orders import OrderRequest, Payment
from rongbank.payments.service import PaymentsService

MAX_LINES = 50


@dataclass(frozen=True, slots=True)
class CartLine:
    sku_id: int
    quantity: int
    title: str
    sku_code: str
    unit_price: int
    stock: int
    shop_id: int
    shop_name: str
    category_id: int
    commission_bp: int
    unsold: str | None
    """Why it is not for sale (``errors.NOT_FOR_SALE``); None: it is."""

    @property
    def for_sale(self) -> bool:
        return self.unsold is None

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class Cart:
    lines: list[CartLine]

    @property
    def amount(self) -> int:
        return sum(line.amount for line in self.lines)

    def by_shop(self) -> dict[int, list[CartLine]]:
        shops: dict[int, list[CartLine]] = {}
        for line in self.lines:
            shops.setdefault(line.shop_id, []).append(line)
        return shops


# A line is for sale when its SKU is active, its product published and its shop open.
_UNSOLD = """CASE WHEN s.status <> 'open' THEN 'shop' WHEN p.status <> 'published'
THEN 'product' WHEN NOT k.active THEN 'sku' END"""
_CART = (
    "SELECT c.sku_id, c.quantity, p.title, k.code, k.price, k.stock, s.id, s.name, "  # noqa: S608 (constants only)
    "g.id, g.commission_bp, "
    + _UNSOLD
    + """
  FROM mall_cart_line c
  JOIN mall_sku k ON k.id = c.sku_id
  JOIN mall_product p ON p.id = k.product_id
  JOIN mall_shop s ON s.id = p.shop_id
  JOIN mall_category g ON g.id = p.category_id
 WHERE c.customer_id = :c
 ORDER BY c.sku_id
"""
)


class Checkouts:
    def __init__(
        self,
        payments: PaymentsService,
        clock: Clock,
        *,
        merchant_id: int | None,
        reservation: timedelta,
        paid_by: Callable[[Session, int], str],
    ) -> None:
        self.payments = payments
        self.clock = clock
        self.merchant_id = merchant_id
        """The clearing merchant (the setting's override, else ``mall_clearing``)."""
        self.found: Callable[[int], None] = lambda _: None
        """Told the clearing merchant once it is found in the database."""
        self.reservation = reservation
        self.paid_by = paid_by
        """How a paid checkout's payment was paid (``epay`` or ``yidai``)."""

    def clearing(self, session: Session) -> int:
        """The clearing merchant: the override, else the bank's own from the database
        (opened by ``rongbank up``/``seed-demo``); :class:`MallClosed` while none."""
        found = self.known(session)
        if found is None:
            raise MallClosed()
        return found

    def known(self, session: Session) -> int | None:
        """The clearing merchant, None while the bank has none."""
        if self.merchant_id is None:
            found = clearing.find(session)
            if found is not None:
                self.found(found)
            return found
        return self.merchant_id

    # -- the cart ----------------------------------------------------------------------

    def add(self, session: Session, *, customer_id: int, sku_id: int, quantity: int) -> None:
        """Put ``quantity`` more of a SKU for sale in the cart (at most 999 of one)."""
        found = session.execute(
            text(
                f"SELECT {_UNSOLD} FROM mall_sku k "  # noqa: S608
                "JOIN mall_product p ON p.id = k.product_id "
                "JOIN mall_shop s ON s.id = p.shop_id WHERE k.id = :k"
            ),
            {"k": sku_id},
        ).first()
        if found is None:
            raise SkuNotFound()
        if found[0] is not None:
            raise NOT_FOR_SALE[found[0]](sku_id=sku_id)
        session.execute(
            text(
                "INSERT INTO mall_cart_line (customer_id, sku_id, quantity, added_at) "
                "VALUES (:c, :k, :q, :now) ON CONFLICT (customer_id, sku_id) "
                "DO UPDATE SET quantity = least(mall_cart_line.quantity + :q, 999)"
            ),
            {"c": customer_id, "k": sku_id, "q": quantity, "now": self.clock.now()},
        )

    def set_quantity(
        self, session: Session, *, customer_id: int, sku_id: int, quantity: int
    ) -> None:
        """Change a line's quantity; 0 takes it out of the cart."""
        if quantity == 0:
            session.execute(
                text("DELETE FROM mall_cart_line WHERE customer_id = :c AND sku_id = :k"),
                {"c": customer_id, "k": sku_id},
            )
            return
        changed = session.execute(
            text("UPDATE mall_cart_line SET quantity = :q WHERE customer_id = :c AND sku_id = :k"),
            {"c": customer_id, "k": sku_id, "q": quantity},
        ).rowcount  # type: ignore[attr-defined]
        if not changed:
            raise SkuNotFound()

    def cart(self, session: Session, customer_id: int, *, lock: bool = False) -> Cart:
        """The customer's cart; with ``lock``, its lines locked until the transaction
        ends (a checkout: two at once of one cart, under two keys, buy it once)."""
        query = _CART + (" FOR UPDATE OF c" if lock else "")
        rows = session.execute(text(query), {"c": customer_id}).all()
        return Cart([CartLine(*row) for row in rows])

    # -- checkout ----------------------------------------------------------------------

    def checkout(
        self,
        session: Session,
        *,
        customer_id: int,
        client_id: str,
        enterprise_id: int | None = None,
    ) -> tuple[Checkout, bool]:
        """Reserve the cart's stock, split it by seller and open its one payment; the
        checkout and whether it was made now (False: a retry of ``client_id``).
        ``enterprise_id``: bought for this enterprise (the caller has found the
        customer one of its purchasers), which alone may pay, once an approver has
        approved (``b2b``)."""
        merchant_id = self.clearing(session)
        now = self.clock.now()
        made = session.execute(
            text(
                "INSERT INTO mall_checkout (customer_id, client_id, status, amount, "
                "reserved_until, created_at, enterprise_id, approval) VALUES (:c, :k, "
                "'reserved', 0, :until, :now, :e, CASE WHEN CAST(:e AS bigint) IS NULL THEN NULL "
                "ELSE 'awaiting' END) "
                "ON CONFLICT (customer_id, client_id) DO NOTHING RETURNING id"
            ),
            {
                "c": customer_id,
                "k": client_id,
                "until": now + self.reservation,
                "now": now,
                "e": enterprise_id,
            },
        ).scalar()
        if made is None:
            existing = session.execute(
                text("SELECT id FROM mall_checkout WHERE customer_id = :c AND client_id = :k"),
                {"c": customer_id, "k": client_id},
            ).scalar_one()
            return reads.checkout(session, int(existing)), False
        checkout_id = int(made)
        cart = self.cart(session, customer_id, lock=True)
        if not cart.lines:
            raise CartEmpty()
        if len(cart.lines) > MAX_LINES:
            raise CartEmpty(f"A checkout takes at most {MAX_LINES} lines.")
        for line in cart.lines:
            if line.unsold is not None:  # nothing is reserved: the transaction rolls back
                raise NOT_FOR_SALE[line.unsold](sku_id=line.sku_id, title=line.title)
        for n, (shop_id, shop_lines) in enumerate(sorted(cart.by_shop().items()), start=1):
            order_id = session.execute(
                text(
                    "INSERT INTO mall_order (checkout_id, shop_id, customer_id, order_no, "
                    "status, amount, created_at) VALUES (:ch, :s, :c, :no, 'reserved', :a, :now) "
                    "RETURNING id"
                ),
                {
                    "ch": checkout_id,
                    "s": shop_id,
                    "c": customer_id,
                    "no": f"M{checkout_id:08d}-{n}",
                    "a": sum(line.amount for line in shop_lines),
                    "now": now,
                },
            ).scalar_one()
            session.execute(
                text(
                    "INSERT INTO mall_order_line (order_id, sku_id, title, quantity, unit_price, "
                    "commission_bp) VALUES (:o, :k, :t, :q, :p, :bp)"
                ),
                [
                    {
                        "o": order_id,
                        "k": line.sku_id,
                        "t": line.title,
                        "q": line.quantity,
                        "p": line.unit_price,
                        "bp": line.commission_bp,
                    }
                    for line in shop_lines
                ],
            )
        payment, _ = self.payments.create_order(
            session,
            merchant_id=merchant_id,
            order=OrderRequest(
                order_no=self.order_no(checkout_id),
                amount=cart.amount,
                channel="online",
                description=f"融e购 M{checkout_id:08d}",
            ),
            customer_id=enterprise_id or customer_id,
        )
        session.execute(
            text("UPDATE mall_checkout SET amount = :a, payment_id = :p WHERE id = :id"),
            {"a": cart.amount, "p": payment.id, "id": checkout_id},
        )
        session.execute(
            text(
                "DELETE FROM mall_cart_line WHERE customer_id = :c "
                "AND sku_id = ANY(CAST(:k AS bigint[]))"
            ),
            {"c": customer_id, "k": [line.sku_id for line in cart.lines]},
        )
        self._take_stock(session, cart)
        return reads.checkout(session, checkout_id), True

    @staticmethod
    def _take_stock(session: Session, cart: Cart) -> None:
        """Take the cart's units off their SKUs, in SKU order (see the module's
        docstring), last of the checkout's work: a hot SKU's row is locked only from
        here to the commit."""
        for line in cart.lines:
            taken = session.execute(
                text(
                    "UPDATE mall_sku SET stock = stock - :n WHERE id = :k AND stock >= :n "
                    "RETURNING price"
                ),
                {"n": line.quantity, "k": line.sku_id},
            ).scalar()
            if taken is None:
                raise OutOfStock(sku_id=line.sku_id, title=line.title)
            if int(taken) != line.unit_price:  # changed since the cart was read
                raise SkuNotForSale(sku_id=line.sku_id)

    def of_customer(self, session: Session, *, customer_id: int, checkout_id: int) -> Checkout:
        found = reads.checkout(session, checkout_id)
        if found.customer_id != customer_id:
            raise CheckoutNotFound()
        return found

    def payment(self, session: Session, found: Checkout) -> Payment:
        """The checkout's one e-Pay order (its token is what is paid)."""
        return self.payments.get(
            session, merchant_id=self.clearing(session), order_no=self.order_no(found.id)
        )

    @staticmethod
    def order_no(checkout_id: int) -> str:
        """The checkout's e-Pay order number at the clearing merchant."""
        return f"MALL{checkout_id:010d}"

    def orders(self, session: Session, found: Checkout) -> list[Order]:
        return reads.orders_of_checkout(session, found.id)

    # -- paid, or expired --------------------------------------------------------------

    def paid(self, session: Session, payment: Payment) -> None:
        """e-Pay's ``paid_listeners``: a payment of the clearing merchant pays its
        checkout, in the payment's transaction (payment row locked first). One whose
        reservation has lapsed is refused, the payment rolled back with it."""
        if payment.status != "paid" or payment.merchant_id != self.known(session):
            return
        row = session.execute(
            text("SELECT id, status FROM mall_checkout WHERE payment_id = :p FOR UPDATE"),
            {"p": payment.id},
        ).first()
        if row is None:
            return
        if row[1] != "reserved":
            raise CheckoutNotPayable(status=row[1])
        now = self.clock.now()
        session.execute(
            text(
                "UPDATE mall_checkout SET status = 'paid', paid_at = :now, paid_by = :by, "
                "approval = CASE WHEN approval IS NULL THEN NULL ELSE 'approved' END "
                "WHERE id = :id"
            ),
            {"now": now, "by": self.paid_by(session, payment.id), "id": row[0]},
        )
        session.execute(
            text("UPDATE mall_order SET status = 'paid', paid_at = :now WHERE checkout_id = :id"),
            {"now": now, "id": row[0]},
        )

    def expire_due(self, session: Session, *, limit: int = 100) -> int:
        """Expire the checkouts whose reservation and e-Pay order have both lapsed,
        putting their units back; how many. Each payment is locked before its
        checkout, as paying locks them."""
        now = self.clock.now()
        due = session.execute(
            text(
                "SELECT c.payment_id FROM mall_checkout c JOIN payment p ON p.id = c.payment_id "
                "WHERE c.status = 'reserved' AND c.reserved_until <= :now "
                "AND p.expires_at <= :now ORDER BY c.reserved_until LIMIT :l"
            ),
            {"now": now, "l": limit},
        ).scalars()
        expired = 0
        for payment_id in list(due):
            payment = self.payments.lock_order(session, int(payment_id))
            # Paid: ``paid`` marked it; held for review: it waits for the review.
            if payment.status not in ("created", "expired", "declined"):
                continue
            checkout_id = session.execute(
                text(
                    "UPDATE mall_checkout SET status = 'expired' WHERE payment_id = :p "
                    "AND status = 'reserved' RETURNING id"
                ),
                {"p": payment.id},
            ).scalar()
            if checkout_id is None:
                continue
            self.release(session, int(checkout_id))
            expired += 1
        return expired

    def release(self, session: Session, checkout_id: int) -> None:
        """The checkout's orders expired and their units put back (the checkout is
        marked by the caller, under its payment's lock)."""
        session.execute(
            text("UPDATE mall_order SET status = 'expired' WHERE checkout_id = :c"),
            {"c": checkout_id},
        )
        self.put_back(
            session,
            "l.order_id IN (SELECT id FROM mall_order WHERE checkout_id = :c)",
            {"c": checkout_id},
        )

    @staticmethod
    def put_back(
        session: Session,
        where: str,
        params: dict[str, object],
        *,
        quantities: str = "l.quantity",
    ) -> None:
        """Put units of the order lines ``l`` matching ``where`` (``quantities`` of
        each: all of them by default) back on their SKUs, one SKU at a time in SKU
        order (as checkout takes them, so never a deadlock)."""
        back = session.execute(
            text(
                f"SELECT l.sku_id, sum({quantities}) FROM mall_order_line l "  # noqa: S608
                f"WHERE {where} GROUP BY l.sku_id ORDER BY l.sku_id"
            ),
            params,
        ).all()
        for sku_id, quantity in back:
            session.execute(
                text("UPDATE mall_sku SET stock = stock + :n WHERE id = :k"),
                {"n": int(quantity), "k": sku_id},
            )
