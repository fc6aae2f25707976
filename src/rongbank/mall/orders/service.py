"""The mall's buying side, wired once: cart and checkout, fulfilment, returns."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import AccountsService
from rongbank.clock import Clock
from rongbank.ledger.service import LedgerService
from rongbank.mall.orders import clearing
from rongbank.mall.orders.b2b import Enterprises
from rongbank.mall.orders.checkout import Checkouts
from rongbank.mall.orders.clawback import Clawback
from rongbank.mall.orders.errors import ShopHasOpenOrders, ShopMoneyUnsettled
from rongbank.mall.orders.fulfilment import Fulfilment
from rongbank.mall.orders.returns import Returns
from rongbank.money import format_amount
from rongbank.payments.service import PaymentsService


@dataclass(frozen=True, slots=True)
class MallJobs:
    expired: int
    received: int
    released: int


class MallOrders:
    def __init__(
        self,
        ledger: LedgerService,
        payments: PaymentsService,
        clock: Clock,
        *,
        merchant_id: int | None,
        reservation: timedelta,
        receipt_after: timedelta,
        return_window: timedelta,
        aftersale: timedelta | None = None,
        paid_by: Callable[[Session, int], str],
    ) -> None:
        self.payments = payments
        self.checkouts = Checkouts(
            payments, clock, merchant_id=merchant_id, reservation=reservation, paid_by=paid_by
        )
        self.fulfilment = Fulfilment(
            ledger,
            payments,
            clock,
            clearing=self.checkouts.clearing,
            receipt_after=receipt_after,
            return_window=return_window,
        )
        self.enterprises = Enterprises(self.checkouts, clock)
        self.clock = clock
        self.aftersale = max(aftersale or return_window, return_window)
        self.clawback = Clawback(ledger, payments, clearing=self.checkouts.clearing)
        self.returns = Returns(
            payments, self.checkouts, clock, clawback=self.clawback, aftersale=self.aftersale
        )
        payments.settlement_listeners.append(self.clawback.settled)
        payments.paid_listeners.append(self.checkouts.paid)
        self.checkouts.found = self.use_merchant
        self.use_merchant(merchant_id)

    @property
    def merchant_id(self) -> int | None:
        """The clearing merchant known to this process (``find_clearing``)."""
        return self.checkouts.merchant_id

    def use_merchant(self, merchant_id: int | None) -> None:
        """Take checkouts' payments at ``merchant_id`` (the clearing merchant, whose
        payable the mall pays out: e-Pay's settlement leaves it)."""
        self.checkouts.merchant_id = merchant_id
        if merchant_id is not None:
            self.payments.settled_elsewhere.add(merchant_id)

    def open_clearing(self, session: Session, accounts: AccountsService) -> int:
        """The bank's own clearing merchant, opened now if it is not yet (the bank's
        set-up: ``Platform.open_mall``); the setting, when set, overrides it."""
        if self.merchant_id is not None:
            return self.merchant_id
        merchant_id = clearing.open_clearing(
            session, accounts=accounts, payments=self.payments, clock=self.checkouts.clock
        )
        self.use_merchant(merchant_id)
        return merchant_id

    def find_clearing(self, session: Session) -> int | None:
        """The clearing merchant known to this process, found in the database if need
        be: e-Pay's settlement must leave it from the start."""
        return self.checkouts.known(session)

    def refuse_closing(self, session: Session, shop_id: int) -> None:
        """The catalogue's closing check: a shop closes only when nothing of it is
        open (orders not yet released or still within after-sales, returns undecided)
        and its money is settled (every sale paid out by e-Pay's settlement, nothing
        owed to the mall)."""
        open_orders, open_returns, unsettled = session.execute(
            text(
                "SELECT (SELECT count(*) FROM mall_order WHERE shop_id = :s AND (status IN "
                "('reserved', 'paid', 'shipped', 'received') OR (status = 'released' "
                "AND received_at > :since))), "
                "(SELECT count(*) FROM mall_return r JOIN mall_order o ON o.id = r.order_id "
                "WHERE o.shop_id = :s AND r.status IN ('requested', 'refused', 'disputed')), "
                "(SELECT count(*) FROM mall_order o JOIN payment p ON p.id = o.seller_payment_id "
                "WHERE o.shop_id = :s AND p.settled_day IS NULL)"
            ),
            {"s": shop_id, "since": self.clock.now() - self.aftersale},
        ).one()
        if open_orders or open_returns:
            raise ShopHasOpenOrders(orders=int(open_orders), returns=int(open_returns))
        owed = self.clawback.owed(session, shop_id)
        if unsettled or owed:
            raise ShopMoneyUnsettled(
                unsettled_orders=int(unsettled), owed=format_amount(owed, scale=2)
            )

    def run_jobs(
        self, transaction: Callable[[], AbstractContextManager[Session]], *, batch: int = 100
    ) -> MallJobs:
        """Expire lapsed reservations, confirm receipts due, release orders due: a
        batch per transaction until a batch comes short."""
        totals = [0, 0, 0]
        steps: list[Callable[[Session], int]] = [
            lambda s: self.checkouts.expire_due(s, limit=batch),
            lambda s: self.fulfilment.confirm_due(s, limit=batch),
            lambda s: len(self.fulfilment.release_due(s, limit=batch)),
        ]
        for i, step in enumerate(steps):
            while True:
                with transaction() as session:
                    done = step(session)
                totals[i] += done
                if done < batch:
                    break
        return MallJobs(*totals)
