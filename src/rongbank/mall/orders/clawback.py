"""Refunds after the seller was paid: the money comes back from the seller.

Once an order is released (``fulfilment``), its money has left the mall's clearing:
the seller's part is in the seller's e-Pay payable (and soon, by e-Pay's settlement,
in its settlement account) and the commission in the bank's income. A return refunded
after that (within the after-sales days) must still go back the way it came, an e-Pay
refund of the checkout's payment out of the clearing (which unwinds a 逸贷 plan), so
the money is first put back into the clearing, in one balanced ledger entry::

    Dr bank mall commission income   (commission back)
    Dr seller owes the mall          (refund - commission back)
                                     Cr clearing (refund)

The commission comes back exactly pro rata: the order's commission is recomputed
on what it still keeps (``rules.split``), and the difference is given back, so the
commission always equals the commission on what was kept, to the fen, however many
returns. The seller's part becomes a debt of the seller's to the mall (an asset
account per shop, ``mall:owed:<shop>``), taken from its next e-Pay settlements: e-Pay
calls :meth:`Clawback.settled` in each settlement run's transaction
(``settlement_listeners``), once the payout is in the settlement account, and as much
of the debt as that payout covers is taken from it. A shop owing the mall cannot close.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import LedgerService, MultiLegEntry, PostingSpec, Transfer
from rongbank.mall.orders import reads, rules
from rongbank.mall.orders.fulfilment import COMMISSION_INCOME
from rongbank.mall.orders.reads import Order
from rongbank.payments.merchants import Merchant
from rongbank.payments.service import PaymentsService
from rongbank.payments.settlement import Settlement


def owed_code(shop_id: int) -> str:
    return f"mall:owed:{shop_id}"


@dataclass(frozen=True, slots=True)
class TakenBack:
    entry_id: int
    commission_back: int
    seller_back: int


class Clawback:
    def __init__(
        self,
        ledger: LedgerService,
        payments: PaymentsService,
        *,
        clearing: Callable[[Session], int],
    ) -> None:
        self.ledger = ledger
        self.payments = payments
        self.clearing = clearing

    def income_account(self, session: Session) -> int:
        income, _ = self.ledger.create_account(
            session,
            code=COMMISSION_INCOME,
            name="融e购 mall commission",
            currency="CNY",
            type=AccountType.INCOME,
        )
        return income.id

    def owed_account(self, session: Session, shop_id: int) -> int:
        """The shop's debt to the mall (an asset of the bank's: what it is owed)."""
        account, _ = self.ledger.create_account(
            session,
            code=owed_code(shop_id),
            name=f"融e购 owed by shop {shop_id}",
            currency="CNY",
            type=AccountType.ASSET,
            # Repaid never beyond what is owed: a debt does not turn into a deposit.
            rule=BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS,
        )
        return account.id

    def owed(self, session: Session, shop_id: int) -> int:
        """What the shop owes the mall now, in fen."""
        row = session.execute(
            text("SELECT debits_posted - credits_posted FROM ledger_account WHERE code = :c"),
            {"c": owed_code(shop_id)},
        ).scalar()
        return int(row or 0)

    def take_back(
        self, session: Session, *, order: Order, return_id: int, amount: int
    ) -> TakenBack:
        """Put a released order's refund back into the clearing (the order locked by
        the caller, the return's units not yet counted on its lines)."""
        returning: dict[int, int] = {
            int(line_id): int(quantity)
            for line_id, quantity in session.execute(
                text("SELECT line_id, quantity FROM mall_return_line WHERE return_id = :r"),
                {"r": return_id},
            ).all()
        }
        lines = reads.lines(session, order.id)
        before = rules.split(line.kept() for line in lines)
        after = rules.split(
            rules.Kept(
                line.quantity,
                line.returned + returning.get(line.id, 0),
                line.unit_price,
                line.commission_bp,
            )
            for line in lines
        )
        assert before.kept - after.kept == amount, "the return and its lines disagree"
        commission_back = before.commission - after.commission
        seller_back = amount - commission_back
        clearing = self.payments.merchant(session, self.clearing(session))
        postings = [
            PostingSpec(
                account=self.income_account(session), amount=commission_back, currency="CNY"
            ),
            PostingSpec(
                account=self.owed_account(session, order.shop_id),
                amount=seller_back,
                currency="CNY",
            ),
            PostingSpec(account=clearing.payable_account_id, amount=-amount, currency="CNY"),
        ]
        entry_id = self.ledger.transfer(
            session,
            MultiLegEntry(
                client_id=Namespace.MALL_CLAWBACK.client_id(return_id),
                postings=[p for p in postings if p.amount],
                description=f"融e购退货追回 {order.order_no}",
                metadata={"order_no": order.order_no, "return_id": return_id},
            ),
        ).entry_id_or_raise()
        session.execute(
            text("UPDATE mall_order SET commission = :c WHERE id = :id"),
            {"c": after.commission, "id": order.id},
        )
        return TakenBack(entry_id, commission_back, seller_back)

    def settled(self, session: Session, merchant: Merchant, settlement: Settlement) -> None:
        """e-Pay's settlement listener: take what the merchant's shop owes the mall
        from the payout just paid into its settlement account (at most the payout, and
        what the account holds after any other listener took its share). A run is once
        per merchant and day, and the entry is keyed by it."""
        if settlement.paid <= 0:
            return
        shop_id = session.execute(
            text("SELECT id FROM mall_shop WHERE merchant_id = :m"), {"m": merchant.id}
        ).scalar()
        if shop_id is None:
            return
        owed = self.owed(session, int(shop_id))
        if owed <= 0:
            return
        deposit = self.payments.e_account(session, merchant.settlement_account_id, lock=True)
        account = self.ledger.account(session, deposit.ledger_account_id)
        available = account.credits_posted - account.debits_posted - account.debits_pending
        take = min(owed, settlement.paid, available)
        if take <= 0:
            return
        self.ledger.transfer(
            session,
            Transfer(
                client_id=Namespace.MALL_CLAWBACK.client_id(
                    "settle", merchant.id, settlement.business_day.isoformat()
                ),
                debit_account=deposit.ledger_account_id,
                credit_account=self.owed_account(session, int(shop_id)),
                amount=take,
                currency="CNY",
                description=f"融e购退货追回 {settlement.business_day.isoformat()}",
                metadata={"merchant": merchant.number, "shop_id": int(shop_id)},
            ),
        ).entry_id_or_raise()
