"""e-Invest pending orders: placed with their reserve set aside, cancelled, ended.

The engine (:mod:`rongbank.invest.engine`) decides when an order fills or ends; the
tick (:mod:`rongbank.invest.ticks`) applies it. :class:`PendingOrders` is mixed into
:class:`~rongbank.invest.service.InvestService`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.invest import errors as e
from rongbank.invest.amounts import margin_for, notional
from rongbank.invest.engine import ORDER_KINDS, first_legs, legs_of
from rongbank.invest.products import Product
from rongbank.invest.quotes import Quotes
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.service import MultiLegEntry, PostingSpec

MIN_VALIDITY = timedelta(hours=24)
MAX_VALIDITY = timedelta(hours=120)


class PendingOrders(Quotes):
    """Pending orders, mixed into ``InvestService``."""

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
        held = self.position_state(session, customer_id, product.code, side)
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
        account = self.own_account(session, customer_id, account_number, product)
        now = self.clock.now()
        self.journal_lock(session)
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
        reserve_acct = self.ledger_account(
            session, f"invest:{customer_id}:reserve:{ccy}", ccy, "owed"
        )
        self._move(
            session,
            Namespace.INVEST.client_id("order", order_id, "reserve"),
            account.ledger_account_id,
            reserve_acct,
            reserve,
            ccy,
        )
        self.append_journal(
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
        self.journal_lock(session)
        order = self.order(session, customer_id=customer_id, order_id=order_id)
        if order["status"] != "pending":
            raise e.OrderNotActive(order_id=order_id, status=order["status"])
        self.append_journal(session, "cancel", {"type": "cancel", "order_id": order_id})
        self.end_order(
            session, {"order_id": order_id, "status": "cancelled", "released": order["reserve"]}
        )
        return self.order(session, customer_id=customer_id, order_id=order_id)

    def end_order(self, session: Session, out: Mapping[str, Any]) -> None:
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
        reserve = self.ledger_account(session, f"invest:{customer_id}:reserve:{ccy}", ccy, "owed")
        self._move(
            session,
            Namespace.INVEST.client_id("order", out["order_id"], "release"),
            reserve,
            cash_acct,
            int(out["released"]),
            ccy,
        )

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
