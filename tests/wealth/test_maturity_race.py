"""Races on real connections: the maturity job against itself (several server
processes, or the server and ``rongbank wealth mature`` at once) pays every matured
holding exactly once; redemptions of one holding at once never take more than it
holds; the ledger balances."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer, balance_of
from rongbank.platform import Platform
from rongbank.settings import Settings, get_settings
from rongbank.wealth import rules
from rongbank.wealth.service import CUSTODY_SHARDS, MaturityRun
from tests.factories.identity import resident_id
from tests.wealth.helpers import ANSWERS, custody_balance, custody_balances

pytestmark = pytest.mark.slow

CUSTOMERS, HOLDINGS_EACH, THREADS = 4, 6, 4
AMOUNT = 100_000  # 1,000.00 each
SALE_END = datetime(2026, 3, 10, tzinfo=UTC)
MATURITY = date(2026, 6, 8)  # 90 days after the value date, 2026-03-10


@dataclass
class World:
    platform: Platform
    staff_id: int
    customers: list[tuple[int, str, int]]
    """(customer id, e-account number, its ledger account id)"""


@pytest.fixture
def world(fresh_db: str, clock: FrozenClock) -> Iterator[World]:
    """A fixed-term product and 24 holdings of it (4 customers, 6 each), committed in
    a database of its own."""
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    try:
        customers: list[tuple[int, str, int]] = []
        with platform.transaction() as session:
            staff_id = platform.accounts.create_staff(
                session, username="ops", name="李四", role="operations"
            )
            platform.wealth.create_product(
                session,
                staff_id=staff_id,
                code="GYDQ90",
                name="工银理财·定期90天",
                terms=rules.Terms(
                    risk_level=2,
                    yield_bps=285,
                    min_amount=AMOUNT,
                    step_amount=100,
                    sale_start=SALE_END - timedelta(days=9),
                    sale_end=SALE_END,
                    maturity_date=MATURITY,
                ),
            )
            vault, _ = platform.ledger.create_account(
                session, code="bank:vault", currency="CNY", type=AccountType.ASSET
            )
            for n in range(CUSTOMERS):
                customer, account = platform.accounts.register_person(
                    session, name="张三", mobile=f"1390000{n:04d}", resident_id=resident_id(n + 1)
                )
                customers.append((customer.id, account.number, account.ledger_account_id))
                platform.ledger.transfer(
                    session,
                    Transfer(
                        client_id=f"fund-{n}",
                        debit_account=vault.id,
                        credit_account=account.ledger_account_id,
                        amount=AMOUNT * HOLDINGS_EACH,
                        currency="CNY",
                    ),
                )
                platform.wealth.assess(session, customer_id=customer.id, answers=ANSWERS[2])
                for h in range(HOLDINGS_EACH):
                    platform.wealth.buy(
                        session,
                        customer_id=customer.id,
                        code="GYDQ90",
                        account_number=account.number,
                        amount=AMOUNT,
                        client_id=f"h{h}",
                    )
        yield World(platform, staff_id, customers)
    finally:
        platform.close()


def paid_out(platform: Platform) -> list[tuple[int, int, int]]:
    """(holding, principal, yield) of every maturity payout."""
    with platform.transaction() as session:
        return [
            (row[0], row[1], row[2])
            for row in session.connection().exec_driver_sql(
                "SELECT holding_id, principal, yield_amount FROM wealth_payout "
                "WHERE kind = 'maturity' ORDER BY holding_id"
            )
        ]


def concurrent_runs(platform: Platform, *, batch: int) -> list[MaturityRun]:
    """The payout job run by THREADS processes at once; every run must succeed (a
    deadlock between them would fail one)."""
    barrier = threading.Barrier(THREADS)
    runs: list[MaturityRun] = []
    errors: list[Exception] = []

    def run() -> None:
        barrier.wait()
        try:
            runs.append(platform.mature_wealth(batch=batch))
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return runs


def test_concurrent_runs_pay_every_holding_exactly_once(world: World, clock: FrozenClock) -> None:
    platform = world.platform
    clock.advance(datetime(2026, 6, 8, 1, 0, tzinfo=UTC) - clock.now())  # 09:00 Beijing
    runs = concurrent_runs(platform, batch=5)  # small batches: the runs interleave

    each = rules.yield_for(AMOUNT, 285, 90)  # 702.73... -> 702 fen
    total = CUSTOMERS * HOLDINGS_EACH
    assert sum(r.holdings for r in runs) == total
    assert sum(r.yield_amount for r in runs) == total * each
    payouts = paid_out(platform)
    assert len({holding for holding, _, _ in payouts}) == len(payouts) == total
    assert {(p, y) for _, p, y in payouts} == {(AMOUNT, each)}
    with platform.transaction() as session:
        for _, _, ledger_account in world.customers:
            balance = balance_of(platform.ledger.account(session, ledger_account)).posted
            assert balance == HOLDINGS_EACH * (AMOUNT + each)
        assert platform.ledger.verify(session) == {}
    assert custody_balances(platform, "GYDQ90") == [0] * CUSTODY_SHARDS
    assert platform.mature_wealth().holdings == 0


def test_concurrent_runs_pay_every_redemption_due_exactly_once(
    world: World, clock: FrozenClock
) -> None:
    """Redemptions asked after Monday's cut-off are due on Tuesday; the payout job
    running in several processes at once then pays each exactly once."""
    platform = world.platform
    open_ended(platform, world)
    with platform.transaction() as session:
        for customer_id, number, ledger_account in world.customers:
            fund(platform, session, ledger_account, 4 * AMOUNT, f"fund-due-{customer_id}")
            for n in range(4):
                platform.wealth.buy(
                    session,
                    customer_id=customer_id,
                    code="GYHQ",
                    account_number=number,
                    amount=AMOUNT,
                    client_id=f"due-{n}",
                )
    clock.advance(timedelta(hours=6, minutes=30))  # Monday 16:00 Beijing: after the cut-off
    with platform.transaction() as session:
        for customer_id, _, _ in world.customers:
            for holding in platform.wealth.holdings(session, customer_id):
                if holding.product_code == "GYHQ":
                    payout, _ = platform.wealth.redeem(
                        session,
                        customer_id=customer_id,
                        holding_id=holding.id,
                        amount=None,
                        client_id=f"r{holding.id}",
                    )
                    assert (payout.paid, payout.value_date) == (False, date(2026, 3, 3))
    assert platform.mature_wealth().redemptions == 0  # not before Tuesday
    clock.advance(timedelta(hours=8, minutes=30))  # Tuesday 00:30 Beijing
    runs = concurrent_runs(platform, batch=3)

    each = rules.yield_for(AMOUNT, 200, 1)  # Monday night held: 5 fen
    total = CUSTOMERS * 4
    assert sum(r.redemptions for r in runs) == total
    assert sum(r.yield_amount for r in runs) == total * each
    with platform.transaction() as session:
        paid = (
            session.connection()
            .exec_driver_sql(
                "SELECT count(*), count(DISTINCT entry_id), count(paid_at) FROM wealth_payout "
                "WHERE kind = 'redemption'"
            )
            .one()
        )
        assert tuple(paid) == (total, total, total)
        for _, _, ledger_account in world.customers:
            balance = balance_of(platform.ledger.account(session, ledger_account)).posted
            assert balance == 4 * (AMOUNT + each)
        assert balance_of(platform.ledger.account(session, "wealth:GYHQ")).posted == 0
        assert platform.ledger.verify(session) == {}
    assert platform.mature_wealth().redemptions == 0


def open_ended(platform: Platform, world: World) -> None:
    """GYHQ: an open-ended PR1 product on sale from yesterday for a month."""
    now = platform.clock.now()
    with platform.transaction() as session:
        platform.wealth.create_product(
            session,
            staff_id=world.staff_id,
            code="GYHQ",
            name="工银理财·天天盈",
            terms=rules.Terms(
                risk_level=1,
                yield_bps=200,
                min_amount=100,
                step_amount=100,
                sale_start=now - timedelta(days=1),
                sale_end=now + timedelta(days=30),
            ),
        )


def fund(platform: Platform, session: Session, ledger_account: int, amount: int, key: str) -> None:
    platform.ledger.transfer(
        session,
        Transfer(
            client_id=key,
            debit_account="bank:vault",
            credit_account=ledger_account,
            amount=amount,
            currency="CNY",
        ),
    )


def test_the_command_pays_out_what_has_matured(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    fresh_db: str,
    tmp_path: Path,
) -> None:
    """``rongbank wealth mature`` on the real clock (long after 2026-06-08)."""
    platform = world.platform
    if datetime.now(UTC).date() <= MATURITY:
        pytest.skip("the real clock has not reached the maturity date")
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["wealth", "mature"], env={"COLUMNS": "200"})
        again = CliRunner().invoke(cli, ["wealth", "mature"], env={"COLUMNS": "200"})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (
        "24 holdings matured and 0 redemptions due paid: 24000.00 yuan principal and "
        "168.48 yuan yield" in result.output
    )
    assert "0 holdings matured and 0 redemptions" in again.output
    assert len(paid_out(platform)) == CUSTOMERS * HOLDINGS_EACH


def test_concurrent_redemptions_never_take_more_than_is_held(world: World) -> None:
    """Eight redemptions of 400.00 of one 1,000.00 holding at once: two are paid, the
    others are told what is left; the holding and custody agree with the ledger."""
    platform = world.platform
    customer_id, number, ledger_account = world.customers[0]
    open_ended(platform, world)
    with platform.transaction() as session:
        fund(platform, session, ledger_account, AMOUNT, "fund-open")
        holding, _ = platform.wealth.buy(
            session,
            customer_id=customer_id,
            code="GYHQ",
            account_number=number,
            amount=AMOUNT,
            client_id="open-1",
        )
    barrier = threading.Barrier(THREADS * 2)
    outcomes: list[str] = []

    def redeem(n: int) -> None:
        barrier.wait()
        try:
            with platform.transaction() as session:
                platform.wealth.redeem(
                    session,
                    customer_id=customer_id,
                    holding_id=holding.id,
                    amount=40_000,
                    client_id=f"r{n}",
                )
            outcomes.append("paid")
        except DomainError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=redeem, args=(n,)) for n in range(THREADS * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["paid"] * 2 + ["wealth_redemption_exceeds_holding"] * 6
    with platform.transaction() as session:
        left = platform.wealth.holding(session, customer_id=customer_id, holding_id=holding.id)
        assert platform.ledger.verify(session) == {}
    custody = custody_balance(platform, "GYHQ")
    assert (left.redeemed, left.left, custody) == (80_000, 20_000, 20_000)
