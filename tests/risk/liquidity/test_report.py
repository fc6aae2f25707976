"""The day's LCR and NSFR read from a constructed bank's ledger, computed by hand."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from rongbank.clock import BUSINESS_TIME_ZONE, FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.platform import Platform
from rongbank.risk.liquidity.config import load_factors
from rongbank.risk.liquidity.service import LiquidityService
from rongbank.wealth import rules
from tests.factories.liquidity import YUAN, Books
from tests.factories.payments import merchant
from tests.wealth.helpers import assessed


@pytest.fixture
def liquidity(clock: FrozenClock) -> LiquidityService:
    return LiquidityService(load_factors(), clock)


def build_bank(platform: Platform, clock: FrozenClock) -> None:
    with platform.transaction() as session:
        books = Books(platform, session)
        books.capital(300_000 * YUAN)  # held in the clearing account: Level 1
        books.capital(100_000 * YUAN, into="bank:hqla:l2a:cgb")  # Level 2A bonds
        books.capital(50_000 * YUAN, into="bank:premises")  # no HQLA
        books.person(600_000 * YUAN)  # a customer of more than a year by report time
    clock.advance(timedelta(days=400))
    with platform.transaction() as session:
        books = Books(platform, session)
        books.person(100_000 * YUAN)  # a new customer
        company = books.enterprise(800_000 * YUAN)
        settles = platform.accounts.open_account(
            session, customer_id=company.customer_id, account_class=1
        )
        books.deposit(settles, 200_000 * YUAN)
        payable = books.account("bank:payable:suppliers", AccountType.LIABILITY)
        books.move(books.clearing(), payable, 10_000 * YUAN)
    merchant(platform, customer_id=company.customer_id, account=settles.number, name="某某餐厅")


class TestReport:
    def test_hand_computed_bank(
        self, platform: Platform, clock: FrozenClock, liquidity: LiquidityService
    ) -> None:
        build_bank(platform, clock)
        with platform.transaction() as session:
            f = liquidity.report(session).figures
        # HQLA: clearing 300,000 + 600,000 + 100,000 + 800,000 + 200,000 + 10,000, and
        # 100,000 of Level 2A at 85%.
        assert f.hqla == (2_010_000 + 85_000) * YUAN
        # Outflows: stable 500,000 x 5%; less stable (100,000 + 100,000) x 10%;
        # corporate insured 500,000 x 20%, the rest 300,000 x 40%; the merchant's
        # settlement account 200,000 x 25%; the other liability 10,000 in full.
        assert f.outflows == (25_000 + 20_000 + 100_000 + 120_000 + 50_000 + 10_000) * YUAN
        assert f.lcr == Decimal("6.4462")  # 2,095,000 / 325,000
        # ASF: capital 450,000 + 500,000 x 95% + 200,000 x 90% + 800,000 x 50% + 200,000
        # x 50%; RSF: Level 2A 100,000 x 15% + premises 50,000.
        assert (f.asf, f.rsf) == (1_605_000 * YUAN, 65_000 * YUAN)
        assert f.nsfr == Decimal("24.6923")
        assert f.deposits == 1_700_000 * YUAN

    def test_the_figures_are_kept_per_day_and_replaced_when_computed_again(
        self, platform: Platform, clock: FrozenClock, liquidity: LiquidityService
    ) -> None:
        build_bank(platform, clock)
        with platform.transaction() as session:
            liquidity.report(session)
            Books(platform, session).person(1_000 * YUAN)
            liquidity.report(session)
            rows = session.execute(text("SELECT day, deposits FROM risk_liquidity_day")).all()
        assert rows == [(liquidity.today(), 1_701_000 * YUAN)]

    def test_a_past_day_reads_as_it_was(
        self, platform: Platform, clock: FrozenClock, liquidity: LiquidityService
    ) -> None:
        start = liquidity.today()
        build_bank(platform, clock)
        with platform.transaction() as session:
            f = liquidity.report(session, start).figures
        assert f.deposits == 600_000 * YUAN
        assert f.hqla == 985_000 * YUAN  # 300,000 + 600,000 + 85,000

    def test_a_busy_account_is_transactional_and_its_insured_part_stable(
        self, platform: Platform, clock: FrozenClock, liquidity: LiquidityService
    ) -> None:
        with platform.transaction() as session:
            books = Books(platform, session)
            account = books.person(1_000 * YUAN)
            quiet = liquidity.report(session).figures
            for _ in range(9):  # ten movements with the first deposit
                books.withdraw(account, 1 * YUAN)
            busy = liquidity.report(session).figures
        assert quiet.outflows == 100 * YUAN  # less stable: 10%
        assert busy.outflows == round(991 * YUAN * Decimal("0.05"))


def buy_wealth(
    platform: Platform, customer_id: int, account: str, amount: int, *, matures_in: int | None
) -> None:
    now = platform.clock.now()
    with platform.transaction() as session:
        staff_id = platform.accounts.create_staff(
            session, username=f"wealth-ops-{matures_in}", name="孙运营", role="operations"
        )
        code = f"LIQ{matures_in or 0:03d}"
        platform.wealth.create_product(
            session,
            staff_id=staff_id,
            code=code,
            name="稳健理财",
            terms=rules.Terms(
                risk_level=1,
                yield_bps=250,
                min_amount=100,
                step_amount=100,
                sale_start=now - timedelta(days=1),
                sale_end=now + timedelta(hours=1),
                maturity_date=None
                if matures_in is None
                else (now + timedelta(days=matures_in)).astimezone(BUSINESS_TIME_ZONE).date(),
            ),
        )
        platform.wealth.buy(
            session,
            customer_id=customer_id,
            code=code,
            account_number=account,
            amount=amount,
            client_id=code,
        )


def test_wealth_holdings_run_off_by_their_terms(
    platform: Platform, liquidity: LiquidityService
) -> None:
    with platform.transaction() as session:
        account = Books(platform, session).person(100_000 * YUAN)
    assessed(platform, account.customer_id, level=3)
    buy_wealth(platform, account.customer_id, account.number, 30_000 * YUAN, matures_in=None)
    buy_wealth(platform, account.customer_id, account.number, 20_000 * YUAN, matures_in=20)
    buy_wealth(platform, account.customer_id, account.number, 10_000 * YUAN, matures_in=90)
    with platform.transaction() as session:
        f = liquidity.report(session).figures
    # Deposits left 40,000 and the open-ended 30,000 at 10%; 20,000 maturing within
    # the month in full; 10,000 maturing in 90 days (no early redemption): nothing.
    assert f.outflows == (4_000 + 3_000 + 20_000) * YUAN
    assert f.deposits == 40_000 * YUAN
    # ASF: (40,000 + 30,000 + 10,000 under a year) x 90%; what matures this month: 0.
    assert f.asf == 72_000 * YUAN
