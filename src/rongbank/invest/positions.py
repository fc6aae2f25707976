"""e-Invest positions and trades, and the ledger entries that make them.

Ledger accounts, per customer and currency, opened on first use: the customer's metal
(``invest:<c>:long:<AU_G>``, a liability of the bank: metal it owes), what a short
owes the bank (``invest:<c>:short:<AU_G>``, an asset), frozen margin and order reserves
(``invest:<c>:margin:<CNY>``, ``invest:<c>:reserve:<CNY>``, liabilities that cannot go
below zero). The bank's side: its position in each commodity (``invest:book:<AU_G>``)
and its dealing result in each cash currency (``invest:dealing:<CNY>``). Each trade is
one ledger entry balanced in both currencies, so customers' metal and the bank's book
sum to zero, and money only moves between the customer and the dealing account.

:class:`Positions` is mixed into :class:`~rongbank.invest.service.InvestService`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import AccountsService, EAccount
from rongbank.clock import Clock
from rongbank.db import after_commit
from rongbank.invest.amounts import PositionState, effect
from rongbank.invest.products import Catalogue, Product
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import LedgerService, MultiLegEntry, PostingSpec

_POSITION = (
    "SELECT quantity, cost, margin FROM invest_position WHERE customer_id = :c "
    "AND product = :p AND side = :s"
)
_POSITION_LOCKED = _POSITION + " FOR UPDATE"


@dataclass(frozen=True, slots=True)
class Position:
    product: str
    side: str
    quantity: int
    cost: int
    margin: int


class Positions:
    """Fills executed through the ledger, and the positions and trades they leave,
    mixed into ``InvestService``."""

    ledger: LedgerService
    accounts: AccountsService
    clock: Clock
    catalogue: Catalogue
    _ledger_ids: dict[str, int]

    # -- the ledger ----------------------------------------------------------------------

    def ledger_account(self, session: Session, code: str, currency: str, kind: str) -> int:
        found = self._ledger_ids.get(code)
        if found is not None:
            return found
        type_, rule = {
            "owed": (AccountType.LIABILITY, BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS),
            "owing": (AccountType.ASSET, BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS),
            "bank": (AccountType.EQUITY, BalanceRule.NONE),
        }[kind]
        row, _ = self.ledger.create_account(
            session, code=code, currency=currency, type=type_, rule=rule
        )
        # Remembered once committed: an account opened in a transaction that rolls back
        # does not exist, whatever this process saw.
        after_commit(session, lambda: self._ledger_ids.setdefault(code, row.id))
        return row.id

    def execute_fill(
        self,
        session: Session,
        fill: Mapping[str, Any],
        product: Product,
        account: EAccount,
        *,
        reason: str,
        ledger_id: str,
        client_id: str | None = None,
        quote_id: str | None = None,
        order_id: int | None = None,
        reserve_delta: int = 0,
        why: str = "",
    ) -> dict[str, Any]:
        """Move the fill's money and metal in one ledger entry, and keep the position
        and the trade. ``reserve_delta``: a pending order's reserve that pays (< 0) for
        an opening fill, or takes back (> 0) what a circular order's next buy needs."""
        c, ccy, metal = int(fill["customer"]), product.quote_currency, product.holding
        legs: dict[int, int] = defaultdict(int)
        metal_legs: dict[int, int] = defaultdict(int)
        cash_acct = account.ledger_account_id
        dealing = self.ledger_account(session, f"invest:dealing:{ccy}", ccy, "bank")
        book = self.ledger_account(session, f"invest:book:{metal}", metal, "bank")
        reserve = self.ledger_account(session, f"invest:{c}:reserve:{ccy}", ccy, "owed")
        margin = self.ledger_account(session, f"invest:{c}:margin:{ccy}", ccy, "owed")
        side, action, q = fill["side"], fill["action"], int(fill["quantity"])
        payer = reserve if reserve_delta < 0 else cash_acct
        if side == "long":
            holding = self.ledger_account(session, f"invest:{c}:long:{metal}", metal, "owed")
            if action == "open":
                legs[payer] += fill["cash"]
                legs[dealing] -= fill["cash"]
                metal_legs[book] += q
                metal_legs[holding] -= q
            else:
                legs[dealing] += fill["cash"]
                legs[cash_acct] -= fill["cash"]
                metal_legs[holding] += q
                metal_legs[book] -= q
        else:
            owing = self.ledger_account(session, f"invest:{c}:short:{metal}", metal, "owing")
            if action == "open":
                legs[payer] += fill["margin_in"]
                legs[margin] -= fill["margin_in"]
                metal_legs[owing] += q
                metal_legs[book] -= q
            else:
                legs[margin] += fill["margin_out"]
                legs[cash_acct] -= fill["margin_out"] - fill["paid_loss"]
                legs[dealing] -= fill["paid_loss"]
                gain = max(0, int(fill["pnl"]))
                legs[dealing] += gain
                legs[cash_acct] -= gain
                metal_legs[book] += q
                metal_legs[owing] -= q
        if reserve_delta < 0:
            # The rest of an opening's reserve stays with the order (released when it ends).
            pass
        elif reserve_delta > 0:
            legs[cash_acct] += reserve_delta
            legs[reserve] -= reserve_delta
        postings = [PostingSpec(account=a, amount=x, currency=ccy) for a, x in legs.items() if x]
        postings += [
            PostingSpec(account=a, amount=x, currency=metal) for a, x in metal_legs.items() if x
        ]
        entry = self.ledger.transfer(
            session,
            MultiLegEntry(
                client_id=ledger_id,
                postings=postings,
                description=f"e-Invest {action} {side} {product.code}",
                metadata={"product": product.code, "reason": reason},
            ),
        ).entry_id_or_raise()
        before = self.position_state(session, c, product.code, side, lock=True)
        after = effect(
            before,
            side=side,
            action=action,
            quantity=q,
            price=int(fill["price"]),
            scale=product.quantity_scale,
            margin_bps=product.margin_bps,
            margin=int(fill["margin_in"]) if action == "open" and side == "short" else None,
        ).after
        session.execute(
            text(
                "INSERT INTO invest_position (customer_id, product, side, e_account_id, quantity, "
                "cost, margin, updated_at) VALUES (:c, :p, :s, :a, :q, :cost, :m, :now) "
                "ON CONFLICT (customer_id, product, side) DO UPDATE SET quantity = :q, "
                "cost = :cost, margin = :m, updated_at = :now, e_account_id = CASE WHEN :open "
                "THEN :a ELSE invest_position.e_account_id END"
            ),
            {
                "c": c,
                "p": product.code,
                "s": side,
                "a": account.id,
                "q": after.quantity,
                "cost": after.cost,
                "m": after.margin,
                "now": self.clock.now(),
                "open": action == "open",
            },
        )
        row = session.execute(
            text(
                "INSERT INTO invest_trade (customer_id, product, side, action, quantity, price, "
                "cash, margin_in, margin_out, pnl, shortfall, reason, quote_id, order_id, "
                "client_id, entry_id, why, created_at) VALUES (:c, :p, :s, :act, :q, :price, "
                ":cash, :mi, :mo, :pnl, :sf, :reason, :quote, :order, :cid, :entry, :why, :now) "
                "RETURNING id, created_at"
            ),
            {
                "c": c,
                "p": product.code,
                "s": side,
                "act": action,
                "q": q,
                "price": fill["price"],
                "cash": fill["cash"],
                "mi": fill["margin_in"],
                "mo": fill["margin_out"],
                "pnl": fill["pnl"],
                "sf": fill["shortfall"],
                "reason": reason,
                "quote": quote_id,
                "order": order_id,
                "cid": client_id,
                "entry": entry,
                "why": why,
                "now": self.clock.now(),
            },
        ).one()
        return self._trade_row(session, int(row[0]))

    _TRADE = (
        "SELECT id, product, side, action, quantity, price, cash, margin_in, margin_out, pnl, "
        "shortfall, reason, quote_id, order_id, client_id, entry_id, why, created_at "
        "FROM invest_trade "
    )

    def _trade_row(self, session: Session, trade_id: int) -> dict[str, Any]:
        row = session.execute(text(self._TRADE + "WHERE id = :id"), {"id": trade_id}).one()
        return dict(row._mapping)

    def trade_by_client_id(
        self, session: Session, customer_id: int, client_id: str
    ) -> dict[str, Any] | None:
        row = session.execute(
            text(self._TRADE + "WHERE customer_id = :c AND client_id = :cid"),
            {"c": customer_id, "cid": client_id},
        ).first()
        return dict(row._mapping) if row else None

    def trades(
        self, session: Session, customer_id: int, *, limit: int = 100
    ) -> list[dict[str, Any]]:
        rows = session.execute(
            text(self._TRADE + "WHERE customer_id = :c ORDER BY id DESC LIMIT :n"),
            {"c": customer_id, "n": limit},
        ).all()
        return [dict(r._mapping) for r in rows]

    def position_state(
        self, session: Session, customer_id: int, code: str, side: str, *, lock: bool = False
    ) -> PositionState:
        row = session.execute(
            text(_POSITION_LOCKED if lock else _POSITION),
            {"c": customer_id, "p": code, "s": side},
        ).first()
        return PositionState(*row) if row else PositionState()

    def positions(self, session: Session, customer_id: int) -> list[Position]:
        rows = session.execute(
            text(
                "SELECT product, side, quantity, cost, margin FROM invest_position "
                "WHERE customer_id = :c AND quantity > 0 ORDER BY product, side"
            ),
            {"c": customer_id},
        ).all()
        return [Position(*r) for r in rows]
