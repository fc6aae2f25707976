"""The intraday outflow monitor over constructed movements."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.platform import Platform
from rongbank.risk.liquidity.config import load_factors
from rongbank.risk.liquidity.monitor import OutflowMonitor, monitor_job, window_start
from tests.factories.liquidity import YUAN, Books

FACTORS = load_factors()  # 2% of deposits or 10% of HQLA in 5 minutes


@pytest.fixture
def monitor(clock: FrozenClock) -> OutflowMonitor:
    # Start each test at a window's beginning, so its movements share one window.
    length = timedelta(minutes=FACTORS.monitor.window_minutes)
    clock.advance(window_start(clock.now(), length) + length - clock.now())
    return OutflowMonitor(FACTORS, clock)


def alerts(session: Session) -> list[tuple[str, int, int]]:
    return [
        (str(t), int(o), int(i))
        for t, o, i in session.execute(
            text("SELECT threshold, outflow, inflow FROM risk_liquidity_alert ORDER BY id")
        )
    ]


def events(session: Session) -> list[int]:
    return [
        int(p["net_outflow"])
        for (p,) in session.execute(
            text(
                "SELECT payload FROM outbox_event WHERE name = 'risk.liquidity_outflow_alert' "
                "ORDER BY id"
            )
        )
    ]


class TestOutflowMonitor:
    def test_a_withdrawal_over_two_percent_of_deposits_raises_an_alert(
        self, platform: Platform, clock: FrozenClock, monitor: OutflowMonitor
    ) -> None:
        with platform.transaction() as session:
            books = Books(platform, session)
            books.capital(1_000_000 * YUAN)
            account = books.person(100_000 * YUAN)
            clock.advance(timedelta(minutes=5))
            clock.advance(timedelta(seconds=30))
            books.withdraw(account, 3_000 * YUAN)
            crossed = monitor.check(session)
            assert [w.net_outflow for w in crossed] == [3_000 * YUAN]
            assert crossed[0].deposits == 100_000 * YUAN
            assert alerts(session) == [("deposits", 3_000 * YUAN, 0)]
            assert events(session) == [3_000 * YUAN]

    def test_small_withdrawals_and_transfers_between_customers_raise_none(
        self, platform: Platform, clock: FrozenClock, monitor: OutflowMonitor
    ) -> None:
        with platform.transaction() as session:
            books = Books(platform, session)
            books.capital(1_000_000 * YUAN)
            payer, payee = books.person(100_000 * YUAN), books.person()
            clock.advance(timedelta(minutes=5))
            books.withdraw(payer, 1_000 * YUAN)  # 1%
            books.move(payer.ledger_account_id, payee.ledger_account_id, 50_000 * YUAN)
            assert monitor.check(session) == []
            assert alerts(session) == []

    def test_money_coming_back_in_the_window_nets_out(
        self, platform: Platform, clock: FrozenClock, monitor: OutflowMonitor
    ) -> None:
        with platform.transaction() as session:
            books = Books(platform, session)
            books.capital(1_000_000 * YUAN)
            account = books.person(100_000 * YUAN)
            clock.advance(timedelta(minutes=5))
            books.withdraw(account, 3_000 * YUAN)
            books.deposit(account, 2_000 * YUAN)
            assert monitor.check(session) == []

    def test_a_run_on_hqla_raises_the_hqla_alert(
        self, platform: Platform, clock: FrozenClock, monitor: OutflowMonitor
    ) -> None:
        with platform.transaction() as session:
            books = Books(platform, session)
            # Customers' money lent out (an asset that is no HQLA): little HQLA left.
            account = books.person(1_000_000 * YUAN)
            books.capital(1 * YUAN)
            books.move(
                books.account("bank:loans", AccountType.ASSET),
                books.clearing(),
                900_000 * YUAN,
            )
            clock.advance(timedelta(minutes=5))
            books.withdraw(account, 15_000 * YUAN)  # 1.5% of deposits, 15% of HQLA
            assert alerts(session) == []
            monitor.check(session)
            assert alerts(session) == [("hqla", 15_000 * YUAN, 0)]

    def test_one_alert_per_window(
        self, platform: Platform, clock: FrozenClock, monitor: OutflowMonitor
    ) -> None:
        with platform.transaction() as session:
            books = Books(platform, session)
            books.capital(1_000_000 * YUAN)
            account = books.person(100_000 * YUAN)
            clock.advance(timedelta(minutes=5))
            books.withdraw(account, 3_000 * YUAN)
            monitor.check(session)
            clock.advance(timedelta(minutes=1))
            books.withdraw(account, 3_000 * YUAN)
            monitor.check(session)
            # The next check sees the ended window again, and raises nothing twice.
            clock.advance(timedelta(minutes=4))
            monitor.check(session)
            assert len(alerts(session)) == 1
            clock.advance(timedelta(minutes=1))
            books.withdraw(account, 3_000 * YUAN)
            monitor.check(session)
            assert len(alerts(session)) == 2
            assert len(events(session)) == 2

    def test_the_job_runs_a_check_in_its_own_transaction(
        self, platform: Platform, clock: FrozenClock, monitor: OutflowMonitor
    ) -> None:
        with platform.transaction() as session:
            books = Books(platform, session)
            books.capital(1_000_000 * YUAN)
            account = books.person(100_000 * YUAN)
            clock.advance(timedelta(minutes=5))
            books.withdraw(account, 5_000 * YUAN)
        interval, run = monitor_job(platform.transaction, clock, FACTORS)
        assert interval == FACTORS.monitor.check_seconds
        run()
        with platform.transaction() as session:
            assert alerts(session) == [("deposits", 5_000 * YUAN, 0)]
