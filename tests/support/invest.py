"""e-Invest in tests: prices a test sets (a fake of the market feed, behind the bank's
``PriceSource``), and a funded, assessed customer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from rongbank.accounts.service import EAccount
from rongbank.invest.engine import Engine
from rongbank.invest.products import Product
from rongbank.invest.ticks import Ticker
from rongbank.platform import Platform
from tests.factories.accounts import People
from tests.wealth.helpers import assessed


@dataclass
class ScriptedPrices:
    """The reference of each product is what the test last set; per contract month
    where a test sets one."""

    prices: dict[str, int] = field(default_factory=dict)
    contracts: dict[tuple[str, date], int] = field(default_factory=dict)

    def reference(self, product: Product, at: datetime, contract: date | None = None) -> int:
        if contract is not None and (product.code, contract) in self.contracts:
            return self.contracts[(product.code, contract)]
        # A product the test did not price prints 0: outside every product's bounds,
        # so the price guard leaves it out of the market.
        return self.prices.get(product.code, 0)


def scripted(platform: Platform, **prices: int) -> ScriptedPrices:
    source = ScriptedPrices(dict(prices))
    platform.invest.prices = source
    return source


def investor(
    platform: Platform, people: People, *, fund: int = 100_000_00, level: int = 5
) -> EAccount:
    """A customer with a funded class II account, assessed at ``level``."""
    with platform.transaction() as session:
        account = people.person(session)
        people.fund(session, account, fund)
    assessed(platform, account.customer_id, level=level)
    return account


def available(platform: Platform, account: EAccount) -> int:
    with platform.transaction() as session:
        return platform.accounts.available(
            session, platform.accounts.account(session, account.number)
        )


def ticker(platform: Platform) -> Ticker:
    return Ticker(Engine(platform.invest.catalogue))


def tick(platform: Platform, engine: Ticker) -> list[dict[str, Any]]:
    with platform.transaction() as session:
        return platform.invest.tick(session, engine)


def place(
    platform: Platform,
    account: EAccount,
    spec: dict[str, Any],
    *,
    client_id: str,
    product: str = "AU_CNY",
    hours: int = 24,
) -> dict[str, Any]:
    with platform.transaction() as session:
        order, _ = platform.invest.place_order(
            session,
            customer_id=account.customer_id,
            product_code=product,
            spec=spec,
            account_number=account.number,
            valid_hours=hours,
            client_id=client_id,
        )
    return order


def trade(
    platform: Platform, account: EAccount, side: str, action: str, quantity: int, client_id: str
) -> dict[str, Any]:
    """A trade at a fresh gold quote."""
    with platform.transaction() as session:
        quote = platform.invest.quote(session, customer_id=account.customer_id, code="AU_CNY")
    with platform.transaction() as session:
        done, _ = platform.invest.trade(
            session,
            customer_id=account.customer_id,
            quote_id=quote.id,
            side=side,  # type: ignore[arg-type]
            action=action,  # type: ignore[arg-type]
            quantity=quantity,
            account_number=account.number,
            client_id=client_id,
        )
    return done


def held(platform: Platform, account: EAccount) -> dict[str, int]:
    with platform.transaction() as session:
        positions = platform.invest.positions(session, account.customer_id)
    return {p.side: p.quantity for p in positions}


def order_status(platform: Platform, account: EAccount, order_id: int) -> dict[str, Any]:
    with platform.transaction() as session:
        return platform.invest.order(session, customer_id=account.customer_id, order_id=order_id)
