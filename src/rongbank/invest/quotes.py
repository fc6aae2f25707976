"""e-Invest quotes, the checks before a position is opened, and trades at a quote.

:class:`Quotes` is mixed into :class:`~rongbank.invest.service.InvestService`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import EAccount
from rongbank.invest import errors as e
from rongbank.invest.amounts import Action, PositionState, Side, buys, effect
from rongbank.invest.journal import Journal
from rongbank.invest.positions import Positions
from rongbank.invest.prices import PriceSource
from rongbank.invest.products import Product
from rongbank.ledger.client_ids import Namespace
from rongbank.wealth import rules as wealth_rules
from rongbank.wealth.service import WealthService

SHORT_RISK_LEVEL = 5
"""Selling first (a short, on margin) needs the highest assessed tolerance (C5)."""


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


class Quotes(Positions, Journal):
    """Quotes and trades at a quote, mixed into ``InvestService``."""

    wealth: WealthService
    prices: PriceSource

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

    def own_account(
        self, session: Session, customer_id: int, number: str, product: Product
    ) -> EAccount:
        account = self.accounts.own_usable_account(session, customer_id, number)
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
        account = self.own_account(session, customer_id, account_number, product)
        self.journal_lock(session)
        before = self.position_state(session, customer_id, product.code, side, lock=True)
        if action == "close" and quantity > before.quantity:
            raise e.PositionTooSmall(held=product.quantity_text(before.quantity))
        fill = self._fill_dict(customer_id, product, side, action, quantity, price, before)
        trade = self.execute_fill(
            session,
            fill,
            product,
            account,
            reason="quote",
            client_id=client_id,
            quote_id=quote_id,
            ledger_id=Namespace.INVEST.client_id("trade", customer_id, client_id),
        )
        self.append_journal(
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
