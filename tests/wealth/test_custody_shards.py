"""A product's custody in shards: each purchase credits its customer's shard, each
payout debits the shard its holding credited, and whoever reads custody (the
liquidity balance sheet, a customer's movements) sees the shards as one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rongbank.accounts.service import EAccount
from rongbank.clock import FrozenClock
from rongbank.ledger.service import balance_of
from rongbank.overview.service import MovementFilter
from rongbank.platform import Platform
from rongbank.risk.liquidity.config import load_factors
from rongbank.risk.liquidity.repository import balance_sheet
from rongbank.risk.liquidity.rules import LoanPosition
from rongbank.wealth import rules
from rongbank.wealth.service import CUSTODY_SHARDS, Holding, Product
from tests.factories.liquidity import Books
from tests.wealth.helpers import assessed, custody_balance, custody_balances

YUAN = 100
FUNDS = 1_000_000 * YUAN
_codes = iter(range(1, 10_000))


@dataclass
class Shop:
    platform: Platform
    customers: list[EAccount]

    def product(self, *, fixed_term: bool = False) -> Product:
        """A new product on sale (each example of a property gets its own)."""
        now = self.platform.clock.now()
        with self.platform.transaction() as session:
            staff = self.platform.accounts.create_staff(
                session, username=f"shards-{next(_codes)}", name="孙运营", role="operations"
            )
            return self.platform.wealth.create_product(
                session,
                staff_id=staff,
                code=f"SHARD{next(_codes):04d}",
                name="稳健理财",
                terms=rules.Terms(
                    risk_level=1,
                    yield_bps=365,  # 1 fen a day on 1,000 yuan
                    min_amount=100 * YUAN,
                    step_amount=1 * YUAN,
                    sale_start=now - timedelta(days=1),
                    sale_end=now + timedelta(hours=1),
                    maturity_date=(now + timedelta(days=30)).date() if fixed_term else None,
                ),
            )

    def buy(self, product: Product, customer: EAccount, amount: int) -> Holding:
        with self.platform.transaction() as session:
            holding, _ = self.platform.wealth.buy(
                session,
                customer_id=customer.customer_id,
                code=product.code,
                account_number=customer.number,
                amount=amount,
                client_id=f"buy-{next(_codes)}",
            )
        return holding

    def redeem(self, holding: Holding, amount: int | None) -> None:
        with self.platform.transaction() as session:
            self.platform.wealth.redeem(
                session,
                customer_id=holding.customer_id,
                holding_id=holding.id,
                amount=amount,
                client_id=f"redeem-{next(_codes)}",
            )

    def holdings(self, product: Product) -> list[Holding]:
        with self.platform.transaction() as session:
            return [
                h
                for c in self.customers
                for h in self.platform.wealth.holdings(session, c.customer_id)
                if h.product_code == product.code
            ]

    def balance(self, customer: EAccount) -> int:
        with self.platform.transaction() as session:
            account = self.platform.ledger.account(session, customer.ledger_account_id)
            return balance_of(account).posted


@pytest.fixture
def shop(platform: Platform) -> Shop:
    """Three customers on three different shards, each with FUNDS, assessed."""
    with platform.transaction() as session:
        books = Books(platform, session)
        customers = [books.person(FUNDS) for _ in range(3)]
    assert len({c.customer_id % CUSTODY_SHARDS for c in customers}) == 3
    for customer in customers:
        assessed(platform, customer.customer_id, level=1)
    return Shop(platform, customers)


def shard_holds(shop: Shop, product: Product) -> dict[int, int]:
    """What each custody shard holds, by its account, where it holds anything."""
    held = custody_balances(shop.platform, product.code)
    return {
        account: posted for account, posted in zip(product.custody, held, strict=True) if posted
    }


def test_a_products_purchases_spread_over_its_shards_by_customer(shop: Shop) -> None:
    product = shop.product()
    assert len(product.custody) == CUSTODY_SHARDS
    a, b, c = shop.customers
    bought = [shop.buy(product, a, 1_000 * YUAN), shop.buy(product, b, 2_000 * YUAN)]
    bought += [shop.buy(product, c, 3_000 * YUAN), shop.buy(product, a, 500 * YUAN)]
    assert [h.custody_account_id for h in bought] == [
        product.custody[x.customer_id % CUSTODY_SHARDS] for x in (a, b, c, a)
    ]
    assert shard_holds(shop, product) == {
        product.custody_of(a.customer_id): 1_500 * YUAN,
        product.custody_of(b.customer_id): 2_000 * YUAN,
        product.custody_of(c.customer_id): 3_000 * YUAN,
    }
    assert custody_balance(shop.platform, product.code) == 6_500 * YUAN
    assert shop.balance(a) == FUNDS - 1_500 * YUAN


def test_redemptions_and_maturity_pay_exactly_from_the_holdings_own_shard(
    shop: Shop, clock: FrozenClock
) -> None:
    open_ended, fixed = shop.product(), shop.product(fixed_term=True)
    a, b, _ = shop.customers
    first = shop.buy(open_ended, a, 1_000 * YUAN)
    second = shop.buy(open_ended, b, 2_000 * YUAN)
    shop.buy(fixed, b, 3_000 * YUAN)
    clock.advance(timedelta(days=10))
    shop.redeem(first, 400 * YUAN)  # 10 days at 3.65%: 0.40 yuan
    shop.redeem(second, None)  # all of it: 2.00 yuan of yield
    assert shop.balance(a) == FUNDS - 600 * YUAN + 40
    assert shop.balance(b) == FUNDS - 3_000 * YUAN + 200
    assert shard_holds(shop, open_ended) == {first.custody_account_id: 600 * YUAN}
    clock.advance(timedelta(days=25))
    with shop.platform.transaction() as session:
        run = shop.platform.wealth.mature_due(session)
    assert (run.holdings, run.principal) == (1, 3_000 * YUAN)
    assert shop.balance(b) == FUNDS + 200 + 900  # 30 days at 3.65% on 3,000 yuan: 9.00
    assert shard_holds(shop, fixed) == {}
    with shop.platform.transaction() as session:
        assert shop.platform.ledger.verify(session) == {}


def test_a_shard_is_never_overdrawn_whatever_the_other_shards_hold(shop: Shop) -> None:
    """A redemption is paid from its holding's shard, not from the product's money
    elsewhere: the ledger's balance rule on the shard would refuse it."""
    product = shop.product()
    a, b, _ = shop.customers
    small = shop.buy(product, a, 100 * YUAN)
    shop.buy(product, b, 5_000 * YUAN)
    shop.redeem(small, None)
    assert shard_holds(shop, product) == {product.custody_of(b.customer_id): 5_000 * YUAN}
    with shop.platform.transaction() as session:
        shard = shop.platform.ledger.account(session, small.custody_account_id)
        assert (shard.rule, balance_of(shard).posted) == (
            "debits_must_not_exceed_credits",
            0,
        )


def test_liquidity_and_movements_see_the_shards_as_the_products_custody(
    shop: Shop, clock: FrozenClock
) -> None:
    product = shop.product()
    a, b, _ = shop.customers
    held = shop.buy(product, a, 1_000 * YUAN)
    shop.buy(product, b, 2_000 * YUAN)
    clock.advance(datetime(2026, 3, 2, 8, 0, tzinfo=UTC) - clock.now())  # 16:00 Beijing
    shop.redeem(held, 300 * YUAN)  # after the cut-off: due tomorrow, out of the holding
    now = clock.now() + timedelta(seconds=1)  # what was booked before this instant
    with shop.platform.transaction() as session:
        sheet = balance_sheet(
            session, at=now, day=now.date(), factors=load_factors(), loans=LoanPosition()
        )
        movements = shop.platform.overview.movements(
            session, a.customer_id, MovementFilter(account=a.number)
        ).movements
    # Each holding's principal still held, and the redemption waiting in its shard.
    assert sorted((w.amount, w.days_to_maturity or 0) for w in sheet.wealth) == [
        (300 * YUAN, 0),
        (700 * YUAN, 0),
        (2_000 * YUAN, 0),
    ]
    assert [m.counterparty.name for m in movements if m.amount == -1_000 * YUAN] == [product.name]


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    moves=st.lists(
        st.tuples(
            st.sampled_from(["buy", "redeem"]),
            st.integers(0, 2),  # whose
            st.integers(100, 2_000),  # yuan to buy; per mille of what is left to redeem
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_shards_hold_exactly_what_the_holdings_have_left(
    shop: Shop, moves: list[tuple[str, int, int]]
) -> None:
    product = shop.product()
    for move, who, size in moves:
        customer = shop.customers[who]
        if move == "buy":
            shop.buy(product, customer, size * YUAN)
            continue
        mine = [h for h in shop.holdings(product) if h.customer_id == customer.customer_id]
        if mine and mine[-1].left:
            holding = mine[-1]
            part = max(holding.left * size // 2_000, 1)
            shop.redeem(holding, None if part >= holding.left else part)
    holdings = shop.holdings(product)
    per_shard: dict[int, int] = {}
    for h in holdings:
        per_shard[h.custody_account_id] = per_shard.get(h.custody_account_id, 0) + h.left
    assert shard_holds(shop, product) == {a: left for a, left in per_shard.items() if left}
    assert custody_balance(shop.platform, product.code) == sum(h.left for h in holdings)
