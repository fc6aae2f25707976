"""e-Invest in tests: prices a test sets (a fake of the market feed, behind the bank's
``PriceSource``), and a funded, assessed customer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from rongbank.accounts.service import EAccount
from rongbank.invest.engine import Engine
from rongbank.invest.products import Product
from rongbank.invest.service import Ticker
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
        return self.prices[product.code]


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


def tick(platform: Platform, engine: Ticker) -> list[dict[str, object]]:
    with platform.transaction() as session:
        return platform.invest.tick(session, engine)
