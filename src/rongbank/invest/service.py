"""e-Invest use cases: quotes, trades at a quote, pending orders, and the tick that
executes them (with margin and roll-over), all through the ledger.

Ledger accounts, per customer and currency, opened on first use: the customer's metal
(``invest:<c>:long:<AU_G>``, a liability of the bank: metal it owes), what a short
owes the bank (``invest:<c>:short:<AU_G>``, an asset), frozen margin and order reserves
(``invest:<c>:margin:<CNY>``, ``invest:<c>:reserve:<CNY>``, liabilities that cannot go
below zero). The bank's side: its position in each commodity (``invest:book:<AU_G>``)
and its dealing result in each cash currency (``invest:dealing:<CNY>``). Each trade is
one ledger entry balanced in both currencies, so customers' metal and the bank's book
sum to zero, and money only moves between the customer and the dealing account.

The journal is written by one writer at a time (an advisory lock held to commit), so
its order is the commit order and the engine (:mod:`rongbank.invest.engine`) folds it.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.errors import (
    AccountFrozen,
    AccountNotActive,
    AccountNumberInvalid,
    EAccountNotFound,
    NotYourAccount,
)
from rongbank.accounts.service import AccountsService, EAccount
from rongbank.clock import Clock
from rongbank.db import advisory_lock, after_commit
from rongbank.invest import errors as e
from rongbank.invest import snapshot
from rongbank.invest.alerts import warn_roll_refused, watch_halt
from rongbank.invest.amounts import Action, PositionState, Side, buys, effect, margin_for, notional
from rongbank.invest.engine import ORDER_KINDS, Engine, first_legs, legs_of
from rongbank.invest.events import MarginCall
from rongbank.invest.prices import PriceSource
from rongbank.invest.products import Catalogue, Product
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import LedgerService, MultiLegEntry, PostingSpec
from rongbank.wealth import rules as wealth_rules
from rongbank.wealth.service import WealthService

SHORT_RISK_LEVEL = 5
"""Selling first (a short, on margin) needs the highest assessed tolerance (C5)."""
MIN_VALIDITY = timedelta(hours=24)
MAX_VALIDITY = timedelta(hours=120)
_JOURNAL_LOCK = 0
_POSITION = (
    "SELECT quantity, cost, margin FROM invest_position WHERE customer_id = :c "
    "AND product = :p AND side = :s"
)
_POSITION_LOCKED = _POSITION + " FOR UPDATE"
INPUTS = ("order", "cancel", "trade", "tick")


@dataclass(frozen=True, slots=True)
class Quote:
    id: str
    customer_id: int
    product: str
    contract: Any
    ref: int
    bid: int
    ask: int
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Position:
    product: str
    side: str
    quantity: int
    cost: int
    margin: int


class InvestService:
    def __init__(
        self,
        ledger: LedgerService,
        accounts: AccountsService,
        wealth: WealthService,
        clock: Clock,
        catalogue: Catalogue,
        prices: PriceSource,
    ) -> None:
        self.ledger, self.accounts, self.wealth = ledger, accounts, wealth
        self.clock, self.catalogue, self.prices = clock, catalogue, prices
        self._ledger_ids: dict[str, int] = {}
        self.ticker = Ticker(Engine(catalogue))
        """The server's engine (the ``invest-ticks`` job), rebuilt from the journal."""
        self.halted: set[str] = set()
        """The products this process last found halted (to warn once per halt)."""

    # -- quotes ------------------------------------------------------------------------

    def reference(self, product: Product, at: datetime) -> tuple[int, Any]:
        """The reference and the contract month quoted at ``at``; refused when the
        price guard finds it outside the product's bounds."""
        contract = product.contract(at) if product.contracts else None
        ref = self.prices.reference(product, at, contract)
        if not product.in_bounds(ref):
            raise e.PriceOutOfBounds(
                product=product.code,
                price=product.price_text(ref),
                bounds=[
                    product.price_text(product.price_min),
                    product.price_text(product.price_max),
                ],
            )
        return ref, contract

    def quote(
        self, session: Session, *, customer_id: int, code: str, anytime: bool = False
    ) -> Quote:
        """A quote valid ``quote_ttl``; ``anytime``: outside trading hours too (the
        demo's seeding only)."""
        product = self.catalogue.product(code)
        now = self.clock.now()
        if not anytime:
            product.check_open(now)
        ref, contract = self.reference(product, now)
        row = session.execute(
            text(
                "INSERT INTO invest_quote (id, customer_id, product, contract, ref, bid, ask, "
                "issued_at, expires_at) VALUES (:id, :c, :p, :k, :ref, :bid, :ask, :at, :exp) "
                "RETURNING id, customer_id, product, contract, ref, bid, ask, issued_at, expires_at"
            ),
            {
                "id": secrets.token_urlsafe(12),
                "c": customer_id,
                "p": product.code,
                "k": contract,
                "ref": ref,
                "bid": ref - product.spread,
                "ask": ref + product.spread,
                "at": now,
                "exp": now + self.catalogue.quote_ttl,
            },
        ).one()
        return Quote(*row)

    def quote_of(self, session: Session, customer_id: int, quote_id: str) -> Quote:
        row = session.execute(
            text(
                "SELECT id, customer_id, product, contract, ref, bid, ask, issued_at, expires_at "
                "FROM invest_quote WHERE id = :id AND customer_id = :c"
            ),
            {"id": quote_id, "c": customer_id},
        ).first()
        if row is None:
            raise e.QuoteNotFound(quote=quote_id)
        return Quote(*row)

    # -- checks --------------------------------------------------------------------------

    def check_suitable(
        self, session: Session, customer_id: int, product: Product, side: str
    ) -> None:
        latest = self.wealth.assessments(session, customer_id)[:1]
        level = SHORT_RISK_LEVEL if side == "short" else product.risk_level
        wealth_rules.check_suitable(
            max(level, product.risk_level),
            customer_level=latest[0].level if latest else None,
            valid_until=latest[0].valid_until if latest else None,
            now=self.clock.now(),
        )

    @staticmethod
    def check_quantity(product: Product, quantity: int, action: str) -> None:
        if (
            quantity <= 0
            or quantity % product.step
            or (action == "open" and quantity < product.lot)
        ):
            raise e.QuantityInvalid(
                lot=product.quantity_text(product.lot), step=product.quantity_text(product.step)
            )

    def check_opening(self, product: Product, side: str) -> None:
        if product.reduce_only or product.no_new_positions:
            raise e.NewPositionsClosed(product=product.code)
        if side == "short" and not product.short:
            raise e.ShortingNotAllowed(product=product.code)

    def _own_account(
        self, session: Session, customer_id: int, number: str, product: Product
    ) -> EAccount:
        try:
            account = self.accounts.account(session, number, lock=True)
        except (EAccountNotFound, AccountNumberInvalid):
            raise NotYourAccount() from None
        if account.customer_id != customer_id:
            raise NotYourAccount()
        if account.status == "frozen":
            raise AccountFrozen(account=account.number[-4:])
        if account.status != "active":
            raise AccountNotActive(account=account.number[-4:], status=account.status)
        if account.currency != product.quote_currency:
            raise e.AccountCurrencyMismatch(
                product=product.quote_currency, account=account.currency
            )
        return account

    # -- trades at a quote -------------------------------------------------------------

    def trade(
        self,
        session: Session,
        *,
        customer_id: int,
        quote_id: str,
        side: Side,
        action: Action,
        quantity: int,
        account_number: str,
        client_id: str,
        anytime: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Trade at a quote the customer was given; returns the trade and whether it
        was made now (a retry with the same ``client_id`` answers the first).
        ``anytime``: outside trading hours too (the demo's seeding only)."""
        asked = {"quote_id": quote_id, "side": side, "action": action, "quantity": quantity}
        existing = self.trade_by_client_id(session, customer_id, client_id)
        if existing is not None:
            if {k: existing[k] for k in asked} != asked:
                raise e.TradeConflict(client_id=client_id)
            return existing, False
        quote = self.quote_of(session, customer_id, quote_id)
        product = self.catalogue.product(quote.product)
        now = self.clock.now()
        if now >= quote.expires_at:
            raise e.QuoteExpired(quote=quote_id, expired_at=quote.expires_at.isoformat())
        if not anytime:
            product.check_open(now)
        self.check_quantity(product, quantity, action)
        if action == "open":
            self.check_opening(product, side)
            self.check_suitable(session, customer_id, product, side)
        price = quote.ask if buys(side, action) else quote.bid
        current, _ = self.reference(product, now)
        if abs(current - quote.ref) > product.max_move:
            raise e.PriceMoved(quoted=product.price_text(price), now=product.price_text(current))
        account = self._own_account(session, customer_id, account_number, product)
        self._journal_lock(session)
        before = self._position(session, customer_id, product.code, side, lock=True)
        if action == "close" and quantity > before.quantity:
            raise e.PositionTooSmall(held=product.quantity_text(before.quantity))
        fill = self._fill_dict(customer_id, product, side, action, quantity, price, before)
        trade = self._execute(
            session,
            fill,
            product,
            account,
            reason="quote",
            client_id=client_id,
            quote_id=quote_id,
            ledger_id=Namespace.INVEST.client_id("trade", customer_id, client_id),
        )
        self._journal(
            session,
            "trade",
            {
                "type": "trade",
                "customer": customer_id,
                "product": product.code,
                "side": side,
                "action": action,
                "quantity": quantity,
                "price": price,
                "contract": quote.contract.isoformat() if quote.contract else None,
            },
        )
        return trade, True

    @staticmethod
    def _fill_dict(
        customer_id: int,
        product: Product,
        side: Side,
        action: Action,
        quantity: int,
        price: int,
        before: PositionState,
    ) -> dict[str, Any]:
        done = effect(
            before,
            side=side,
            action=action,
            quantity=quantity,
            price=price,
            scale=product.quantity_scale,
            margin_bps=product.margin_bps,
        )
        return {
            "customer": customer_id,
            "product": product.code,
            "side": side,
            "action": action,
            "quantity": quantity,
            "price": price,
            "cash": done.cash,
            "margin_in": done.margin_in,
            "margin_out": done.margin_out,
            "pnl": done.pnl,
            "paid_loss": done.paid_loss,
            "shortfall": done.shortfall,
        }

    # -- the ledger ----------------------------------------------------------------------

    def _account(self, session: Session, code: str, currency: str, kind: str) -> int:
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

    def _execute(
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
        dealing = self._account(session, f"invest:dealing:{ccy}", ccy, "bank")
        book = self._account(session, f"invest:book:{metal}", metal, "bank")
        reserve = self._account(session, f"invest:{c}:reserve:{ccy}", ccy, "owed")
        margin = self._account(session, f"invest:{c}:margin:{ccy}", ccy, "owed")
        side, action, q = fill["side"], fill["action"], int(fill["quantity"])
        payer = reserve if reserve_delta < 0 else cash_acct
        if side == "long":
            holding = self._account(session, f"invest:{c}:long:{metal}", metal, "owed")
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
            owing = self._account(session, f"invest:{c}:short:{metal}", metal, "owing")
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
        before = self._position(session, c, product.code, side, lock=True)
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

    def _move(
        self, session: Session, ledger_id: str, debit: int, credit: int, amount: int, ccy: str
    ) -> None:
        if amount:
            self.ledger.transfer(
                session,
                MultiLegEntry(
                    client_id=ledger_id,
                    postings=[
                        PostingSpec(account=debit, amount=amount, currency=ccy),
                        PostingSpec(account=credit, amount=-amount, currency=ccy),
                    ],
                    description="e-Invest order reserve",
                ),
            )

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

    def _position(
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

    # -- the journal ---------------------------------------------------------------------

    def _journal_lock(self, session: Session) -> None:
        advisory_lock(session, "invest_journal", _JOURNAL_LOCK)

    def _journal(self, session: Session, kind: str, payload: Mapping[str, Any]) -> int:
        return int(
            session.execute(
                text(
                    "INSERT INTO invest_journal (kind, input, payload, at) "
                    "VALUES (:k, :i, CAST(:p AS jsonb), :at) RETURNING seq"
                ),
                {"k": kind, "i": kind in INPUTS, "p": json.dumps(payload), "at": self.clock.now()},
            ).scalar_one()
        )

    def journal(
        self, session: Session, *, inputs: bool, after: int = 0
    ) -> list[tuple[int, dict[str, Any]]]:
        rows = session.execute(
            text(
                "SELECT seq, payload FROM invest_journal WHERE input = :i AND seq > :s ORDER BY seq"
            ),
            {"i": inputs, "s": after},
        ).all()
        return [(int(s), p) for s, p in rows]

    # -- pending orders -----------------------------------------------------------------

    def place_order(
        self,
        session: Session,
        *,
        customer_id: int,
        product_code: str,
        spec: dict[str, Any],
        account_number: str,
        valid_hours: int,
        client_id: str,
    ) -> tuple[dict[str, Any], bool]:
        """Rest a pending order (``spec``: its kind, side, quantity and prices in minor
        units); sets aside from the account what its opening leg needs."""
        existing = self.order_by_client_id(session, customer_id, client_id)
        if existing is not None:
            if existing["spec"] != spec or existing["product"] != product_code:
                raise e.OrderConflict(client_id=client_id)
            return existing, False
        product = self.catalogue.product(product_code)
        if spec.get("kind") not in ORDER_KINDS or spec.get("side") not in ("long", "short"):
            raise e.OrderInvalid(reason="kind", kinds=list(ORDER_KINDS))
        validity = timedelta(hours=valid_hours)
        if not MIN_VALIDITY <= validity <= MAX_VALIDITY:
            raise e.OrderInvalid(reason="validity", hours=[24, 120])
        try:
            legs = legs_of(0, customer_id, product.code, spec)
        except (KeyError, ValueError, TypeError):
            raise e.OrderInvalid(reason="prices") from None
        side = spec["side"]
        opening = [leg for leg in legs if leg.action == "open"]
        for leg in legs:
            self.check_quantity(product, leg.quantity, leg.action)
            if not product.in_bounds(leg.trigger):
                raise e.OrderInvalid(reason="price_bounds", product=product.code)
        held = self._position(session, customer_id, product.code, side)
        if not opening and held.quantity == 0:
            raise e.PositionNotFound(product=product.code, side=side)
        if spec["kind"] == "add_on" and held.quantity == 0:
            raise e.OrderInvalid(reason="add_on_needs_a_position")
        reserve = self._reserve(product, legs, side)
        if opening:
            self.check_opening(product, side)
            self.check_suitable(session, customer_id, product, side)
            first = opening[0]
            scale = product.quantity_scale
            if spec["kind"] == "circular":
                close = next(leg for leg in legs if leg.action == "close")
                gain = (close.trigger - first.trigger) * (1 if side == "long" else -1)
                if gain <= 0 or notional(
                    close.trigger, close.quantity, scale, pays=False
                ) < reserve * (side == "long"):
                    raise e.OrderInvalid(reason="circular_prices")
        elif not first_legs(legs):
            raise e.OrderInvalid(reason="legs")
        account = self._own_account(session, customer_id, account_number, product)
        now = self.clock.now()
        self._journal_lock(session)
        order_id = int(
            session.execute(
                text(
                    "INSERT INTO invest_order (customer_id, product, kind, side, spec, "
                    "e_account_id, reserve, client_id, status, created_at, expires_at) "
                    "VALUES (:c, :p, :k, :s, "
                    "CAST(:spec AS jsonb), :a, :r, :cid, 'pending', :now, :exp) RETURNING id"
                ),
                {
                    "c": customer_id,
                    "p": product.code,
                    "k": spec["kind"],
                    "s": side,
                    "spec": json.dumps(spec),
                    "a": account.id,
                    "r": reserve,
                    "cid": client_id,
                    "now": now,
                    "exp": now + validity,
                },
            ).scalar_one()
        )
        ccy = product.quote_currency
        reserve_acct = self._account(session, f"invest:{customer_id}:reserve:{ccy}", ccy, "owed")
        self._move(
            session,
            Namespace.INVEST.client_id("order", order_id, "reserve"),
            account.ledger_account_id,
            reserve_acct,
            reserve,
            ccy,
        )
        self._journal(
            session,
            "order",
            {
                "type": "order",
                "order_id": order_id,
                "customer": customer_id,
                "product": product.code,
                "spec": spec,
                "reserve": reserve,
                "expires_at": (now + validity).isoformat(),
            },
        )
        return self.order(session, customer_id=customer_id, order_id=order_id), True

    @staticmethod
    def _reserve(product: Product, legs: list[Any], side: str) -> int:
        """What an order's opening leg sets aside: a long's price, a short's margin."""
        first = next((leg for leg in legs if leg.action == "open"), None)
        if first is None:
            return 0
        scale = product.quantity_scale
        if side == "long":
            return notional(first.trigger, first.quantity, scale, pays=True)
        return margin_for(
            notional(first.trigger, first.quantity, scale, pays=False), product.margin_bps
        )

    def reserve_for(self, product_code: str, spec: dict[str, Any]) -> int:
        """What placing ``spec`` would move from the customer's account into the
        reserve (0 for an order that only closes): the amount its placing authorises
        as a payment (``Platform.authorised``), before :meth:`place_order` checks the
        rest."""
        product = self.catalogue.product(product_code)
        if spec.get("kind") not in ORDER_KINDS or spec.get("side") not in ("long", "short"):
            raise e.OrderInvalid(reason="kind", kinds=list(ORDER_KINDS))
        try:
            legs = legs_of(0, 0, product.code, spec)
        except (KeyError, ValueError, TypeError):
            raise e.OrderInvalid(reason="prices") from None
        return self._reserve(product, legs, str(spec.get("side")))

    _ORDER = (
        "SELECT id, product, kind, side, spec, reserve, client_id, status, fills, created_at, "
        "expires_at FROM invest_order "
    )

    def order(self, session: Session, *, customer_id: int, order_id: int) -> dict[str, Any]:
        row = session.execute(
            text(self._ORDER + "WHERE id = :id AND customer_id = :c"),
            {"id": order_id, "c": customer_id},
        ).first()
        if row is None:
            raise e.OrderNotFound(order_id=order_id)
        return dict(row._mapping)

    def orders(self, session: Session, customer_id: int) -> list[dict[str, Any]]:
        rows = session.execute(
            text(self._ORDER + "WHERE customer_id = :c ORDER BY id DESC LIMIT 200"),
            {"c": customer_id},
        ).all()
        return [dict(r._mapping) for r in rows]

    def order_by_client_id(
        self, session: Session, customer_id: int, client_id: str
    ) -> dict[str, Any] | None:
        row = session.execute(
            text(self._ORDER + "WHERE customer_id = :c AND client_id = :cid"),
            {"c": customer_id, "cid": client_id},
        ).first()
        return dict(row._mapping) if row else None

    def cancel_order(self, session: Session, *, customer_id: int, order_id: int) -> dict[str, Any]:
        self._journal_lock(session)
        order = self.order(session, customer_id=customer_id, order_id=order_id)
        if order["status"] != "pending":
            raise e.OrderNotActive(order_id=order_id, status=order["status"])
        self._journal(session, "cancel", {"type": "cancel", "order_id": order_id})
        self._end_order(
            session, {"order_id": order_id, "status": "cancelled", "released": order["reserve"]}
        )
        return self.order(session, customer_id=customer_id, order_id=order_id)

    def _end_order(self, session: Session, out: Mapping[str, Any]) -> None:
        row = session.execute(
            text(
                "UPDATE invest_order o SET status = :s, reserve = 0 FROM e_account a "
                "WHERE o.id = :id AND a.id = o.e_account_id AND o.status = 'pending' "
                "RETURNING o.customer_id, o.product, a.ledger_account_id"
            ),
            {"s": out["status"], "id": out["order_id"]},
        ).first()
        if row is None:
            return
        customer_id, code, cash_acct = row
        ccy = self.catalogue.product(code).quote_currency
        reserve = self._account(session, f"invest:{customer_id}:reserve:{ccy}", ccy, "owed")
        self._move(
            session,
            Namespace.INVEST.client_id("order", out["order_id"], "release"),
            reserve,
            cash_acct,
            int(out["released"]),
            ccy,
        )

    # -- the tick ------------------------------------------------------------------------

    def market(self, at: datetime) -> dict[str, dict[str, Any]]:
        """The bank's quotes of every product that trades at ``at`` (a product outside
        its hours has none; one outside its price bounds is ``halted``: nothing
        triggers on it and it does not roll)."""
        quotes: dict[str, dict[str, Any]] = {}
        for code, product in sorted(self.catalogue.products.items()):
            if not product.hours.is_open(at):
                continue
            contract = product.contract(at) if product.contracts else None
            ref = self.prices.reference(product, at, contract)
            halted = not product.in_bounds(ref)
            watch_halt(self.halted, product, ref, halted)
            quotes[code] = {
                "halted": halted,
                "bid": ref - product.spread,
                "ask": ref + product.spread,
                "ref": ref,
                "contract": contract.isoformat() if contract else None,
            }
        return quotes

    def tick(
        self, session: Session, engine: Ticker, quotes: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One tick: fold what was journaled since the engine last looked, quote, and
        execute every fill, expiry and forced close within this transaction."""
        now = self.clock.now()
        self._journal_lock(session)
        if engine.seq == 0 and (found := snapshot.latest(session, self.catalogue)):
            engine.engine, engine.seq = found  # a restart: replay only what followed
            engine.saved = engine.seq
        for seq, event in self.journal(session, inputs=True, after=engine.seq):
            engine.seq = seq
            engine.engine.feed(event)
        if engine.engine.idle():
            return []  # nothing to journal: the journal keeps the ticks that matter
        tick = {
            "type": "tick",
            "at": now.isoformat(),
            "quotes": dict(quotes if quotes is not None else self.market(now)),
        }
        engine.seq = self._journal(session, "tick", tick)
        outputs = engine.engine.feed(tick)
        for n, out in enumerate(outputs):
            self._journal(session, out["type"], out)
            self._apply_output(session, out, f"{engine.seq}:{n}")
        if engine.seq - engine.saved >= snapshot.EVERY:
            snapshot.save(session, engine.engine, engine.seq, now)
            engine.saved = engine.seq
        return outputs

    def run_tick(self, transaction: Callable[[], AbstractContextManager[Session]]) -> int:
        """The server's tick (once a second, in the process that leads the jobs);
        returns how many outputs. A tick that fails leaves the engine to be rebuilt
        from the journal by the next, which loads the latest snapshot and replays what
        followed it (the whole journal when there is none)."""
        try:
            with transaction() as session:
                return len(self.tick(session, self.ticker))
        except Exception:
            self.ticker = Ticker(Engine(self.catalogue))
            raise

    def _apply_output(self, session: Session, out: Mapping[str, Any], ref: str) -> None:
        kind = out["type"]
        if kind == "order_ended":
            self._end_order(session, out)
            return
        if kind == "margin_warning":
            outbox.record(
                session,
                MarginCall(
                    occurred_at=self.clock.now(),
                    customer_id=int(out["customer"]),
                    ratio_bps=int(out["ratio_bps"]),
                    journal=ref,
                ),
            )
            return
        if kind in ("roll", "roll_refused"):
            if kind == "roll_refused":
                product = self.catalogue.product(out["product"])
                at = self.clock.now()
                warn_roll_refused(
                    out, product, self.prices.reference(product, at, product.contract(at))
                )
            if kind == "roll":
                session.execute(
                    text(
                        "UPDATE invest_position SET cost = cost + :shift WHERE customer_id = :c "
                        "AND product = :p AND side = :s"
                    ),
                    {
                        "shift": out["shift"],
                        "c": out["customer"],
                        "p": out["product"],
                        "s": out["side"],
                    },
                )
            return
        product = self.catalogue.product(out["product"])
        if kind == "fill":
            order = session.execute(
                text(
                    "SELECT a.number FROM invest_order o JOIN e_account a ON a.id = o.e_account_id "
                    "WHERE o.id = :id"
                ),
                {"id": out["order_id"]},
            ).scalar_one()
            account = self.accounts.account(session, order)
            delta = int(out["reserve_after"]) - int(out["reserve_before"])
            self._execute(
                session,
                out,
                product,
                account,
                reason="order",
                order_id=int(out["order_id"]),
                reserve_delta=delta,
                ledger_id=Namespace.INVEST.client_id("fill", ref),
            )
            session.execute(
                text("UPDATE invest_order SET fills = fills + 1, reserve = :r WHERE id = :id"),
                {"r": out["reserve_after"], "id": out["order_id"]},
            )
            return
        if kind == "forced_close":
            number = session.execute(
                text(
                    "SELECT a.number FROM invest_position p "
                    "JOIN e_account a ON a.id = p.e_account_id WHERE p.customer_id = :c "
                    "AND p.product = :p AND p.side = 'short'"
                ),
                {"c": out["customer"], "p": out["product"]},
            ).scalar_one()
            self._execute(
                session,
                out,
                product,
                self.accounts.account(session, number),
                reason="forced",
                why=str(out["why"]),
                ledger_id=Namespace.INVEST.client_id("forced", ref),
            )
            return
        raise ValueError(f"no such engine output {kind!r}")


@dataclass
class Ticker:
    """An engine and how far into the journal it has read."""

    engine: Engine
    seq: int = 0
    saved: int = 0
    """The sequence of the last snapshot this process wrote or loaded."""
