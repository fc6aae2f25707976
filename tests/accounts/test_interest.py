"""Interest on demand deposits: exact daily accrual, quarterly settlement."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.interest import (
    INTEREST_EXPENSE_ACCOUNT,
    UNITS_PER_FEN,
    BusinessDayNotOver,
    EodReport,
    InterestAccrualIncomplete,
    InterestRateNotConfigured,
    InterestRates,
    InterestService,
    RateEntry,
    daily_accrual,
    end_of_business_day,
    is_settlement_date,
    last_closed_business_date,
    load_interest_rates,
    previous_settlement_date,
    run_eod_command,
    settle,
)
from rongbank.accounts.rules import load_class_limits
from rongbank.accounts.service import AccountsService, EAccount
from rongbank.auth.service import AuthService
from rongbank.clock import FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import LedgerService, Transfer, balance_of
from rongbank.platform import Platform
from tests.factories.identity import resident_id

RATE = Decimal("0.0005")  # the shipped demand rate in force in 2026
FIRST_DAY = date(2026, 3, 2)  # the conftest clock's business date

rates = st.decimals(min_value=0, max_value=Decimal("0.1"), places=8)
balances = st.integers(min_value=0, max_value=10**15)


def exact_interest(balance: int, rate: Decimal) -> Fraction:
    """人民银行 计息规则: one day's interest on a demand deposit is balance × rate / 360."""
    return Fraction(max(balance, 0)) * Fraction(rate) / 360


class TestAccrualRules:
    @given(balance=balances, rate=rates)
    def test_a_day_accrues_balance_times_rate_over_360_exactly(
        self, balance: int, rate: Decimal
    ) -> None:
        assert Fraction(daily_accrual(balance, rate), UNITS_PER_FEN) == exact_interest(
            balance, rate
        )

    def test_a_negative_balance_earns_nothing(self) -> None:
        assert daily_accrual(-5_000, RATE) == 0

    def test_a_rate_with_more_than_eight_decimals_is_refused(self) -> None:
        with pytest.raises(ValueError, match="decimals"):
            daily_accrual(100, Decimal("0.000000001"))

    @given(
        periods=st.lists(
            st.lists(st.tuples(balances, rates), min_size=0, max_size=92),
            min_size=1,
            max_size=6,
        )
    )
    def test_posting_never_loses_or_creates_a_fen(
        self, periods: list[list[tuple[int, Decimal]]]
    ) -> None:
        carried, paid_total, exact_total = 0, 0, Fraction(0)
        for days in periods:
            accrued = sum(daily_accrual(balance, rate) for balance, rate in days)
            exact_total += sum(
                (exact_interest(balance, rate) for balance, rate in days), Fraction(0)
            )
            result = settle(carried, accrued)
            assert result.paid >= 0
            assert 2 * abs(result.carried) <= UNITS_PER_FEN
            carried = result.carried
            paid_total += result.paid
        # What was paid plus what is carried is the exact interest, to the unit...
        assert Fraction(paid_total * UNITS_PER_FEN + carried, UNITS_PER_FEN) == exact_total
        # ...so what was paid is the exact interest rounded, never a fen off.
        assert abs(paid_total - exact_total) <= Fraction(1, 2)

    def test_half_a_fen_rounds_up_and_the_overpayment_is_carried(self) -> None:
        result = settle(0, UNITS_PER_FEN // 2)
        assert (result.paid, result.carried) == (1, -UNITS_PER_FEN // 2)
        assert settle(result.carried, UNITS_PER_FEN // 2).paid == 0

    def test_a_remainder_under_half_a_fen_is_carried(self) -> None:
        result = settle(0, 3 * UNITS_PER_FEN + UNITS_PER_FEN // 4)
        assert (result.paid, result.carried) == (3, UNITS_PER_FEN // 4)


class TestCalendar:
    @pytest.mark.parametrize(
        ("day", "expected"),
        [
            (date(2026, 3, 20), True),
            (date(2026, 6, 20), True),
            (date(2026, 9, 20), True),
            (date(2026, 12, 20), True),
            (date(2026, 3, 21), False),
            (date(2026, 4, 20), False),
        ],
    )
    def test_settlement_dates_are_the_20th_of_each_quarters_last_month(
        self, day: date, expected: bool
    ) -> None:
        assert is_settlement_date(day) is expected

    @pytest.mark.parametrize(
        ("day", "previous"),
        [
            (date(2026, 3, 21), date(2026, 3, 20)),
            (date(2026, 3, 20), date(2025, 12, 20)),
            (date(2026, 1, 5), date(2025, 12, 20)),
            (date(2026, 12, 31), date(2026, 12, 20)),
        ],
    )
    def test_previous_settlement_date(self, day: date, previous: date) -> None:
        assert previous_settlement_date(day) == previous

    def test_a_business_day_ends_at_midnight_beijing_time(self) -> None:
        assert end_of_business_day(date(2026, 3, 2)) == datetime(2026, 3, 2, 16, tzinfo=UTC)
        assert last_closed_business_date(datetime(2026, 3, 2, 16, tzinfo=UTC)) == date(2026, 3, 2)
        assert last_closed_business_date(datetime(2026, 3, 2, 15, 59, tzinfo=UTC)) == date(
            2026, 3, 1
        )


class TestRates:
    def test_a_rate_change_applies_from_its_date(self) -> None:
        table = InterestRates(
            [
                RateEntry(date(2025, 5, 20), Decimal("0.0005")),
                RateEntry(date(2024, 10, 18), Decimal("0.0010")),
            ]
        )
        assert table.on(date(2025, 5, 19)) == Decimal("0.0010")
        assert table.on(date(2025, 5, 20)) == Decimal("0.0005")

    def test_a_day_before_any_rate_is_refused(self) -> None:
        table = InterestRates([RateEntry(date(2025, 5, 20), Decimal("0.0005"))])
        with pytest.raises(InterestRateNotConfigured):
            table.on(date(2025, 5, 19))

    def test_the_shipped_table_has_the_big_banks_demand_rate(self) -> None:
        assert load_interest_rates().on(FIRST_DAY) == RATE

    def test_a_float_rate_in_the_file_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "rates.toml"
        path.write_text("[[demand_deposit]]\neffective_from = 2025-05-20\nannual_rate = 0.0005\n")
        with pytest.raises(ValueError, match="decimal string"):
            load_interest_rates(path)


# -- end of day, on PostgreSQL -------------------------------------------------------

_people = itertools.count(1)


class Bank:
    def __init__(
        self, session: Session, clock: FrozenClock, rates: InterestRates | None = None
    ) -> None:
        self.session = session
        self.clock = clock
        self.ledger = LedgerService(clock)
        self.accounts = AccountsService(
            self.ledger, clock, auth=AuthService(clock), limits=load_class_limits()
        )
        self.interest = InterestService(self.ledger, clock, rates or load_interest_rates())
        self.vault, _ = self.ledger.create_account(
            session, code="bank:vault", currency="CNY", type=AccountType.ASSET
        )
        self._moves = itertools.count()

    def person(self) -> EAccount:
        n = next(_people)
        _, account = self.accounts.register_person(
            self.session,
            name="王小明",
            mobile=f"137{n:08d}",
            resident_id=resident_id(n % 1000),
        )
        return account

    def move(self, account: EAccount, fen: int) -> None:
        """Deposit (fen > 0) into or withdraw (fen < 0) from the account, now."""
        if fen == 0:
            return
        into, out_of = (account.ledger_account_id, self.vault.id)
        if fen < 0:
            into, out_of = out_of, into
        self.ledger.transfer(
            self.session,
            Transfer(
                client_id=f"move-{next(self._moves)}",
                debit_account=out_of,
                credit_account=into,
                amount=abs(fen),
                currency="CNY",
            ),
        )

    def balance(self, account: EAccount) -> int:
        return balance_of(self.ledger.account(self.session, account.ledger_account_id)).posted

    def go_to(self, instant: datetime) -> None:
        assert instant >= self.clock.now()
        self.clock.advance(instant - self.clock.now())

    def run(self, day: date) -> EodReport:
        """End of day for ``day``, a minute after it ended (unless later already)."""
        self.go_to(max(self.clock.now(), end_of_business_day(day) + timedelta(minutes=1)))
        return self.interest.run_end_of_day(self.session, day)

    def run_days(self, first: date, last: date) -> list[EodReport]:
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        return [self.run(day) for day in days]

    def accrual(self, account: EAccount, day: date) -> tuple[int, int] | None:
        row = self.session.execute(
            text(
                "SELECT balance, accrued FROM interest_accrual "
                "WHERE e_account_id = :a AND business_date = :d"
            ),
            {"a": account.id, "d": day},
        ).first()
        return None if row is None else (int(row[0]), int(row[1]))

    def count(self, table: str) -> int:
        return int(self.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


@pytest.fixture
def bank(session: Session, clock: FrozenClock) -> Bank:
    return Bank(session, clock)


def units(balance: int, days: int = 1, rate: Decimal = RATE) -> int:
    return daily_accrual(balance, rate) * days


class TestEndOfDay:
    def test_a_day_accrues_on_the_balance_at_midnight_beijing_time(self, bank: Bank) -> None:
        account = bank.person()
        bank.move(account, 1_000_000)
        bank.go_to(end_of_business_day(FIRST_DAY) - timedelta(seconds=1))
        bank.move(account, -400_000)  # 23:59:59 Beijing: still the same business day
        bank.go_to(end_of_business_day(FIRST_DAY))
        bank.move(account, 5_000_000)  # 00:00:00 Beijing: the next business day
        report = bank.run(FIRST_DAY)
        assert bank.accrual(account, FIRST_DAY) == (600_000, units(600_000))
        assert (report.accounts, report.accrued, report.settled) == (1, units(600_000), False)

    def test_a_day_that_has_not_ended_is_refused(self, bank: Bank) -> None:
        bank.person()
        with pytest.raises(BusinessDayNotOver):
            bank.interest.run_end_of_day(bank.session, FIRST_DAY)
        assert bank.count("interest_accrual") == 0

    def test_running_a_day_again_changes_nothing(self, bank: Bank) -> None:
        account = bank.person()
        bank.move(account, 250_000)
        first = bank.run(FIRST_DAY)
        bank.move(account, 1_000_000)  # after the day: must not change its accrual
        again = bank.run(FIRST_DAY)
        assert again.already_run
        assert (again.accounts, again.accrued) == (first.accounts, first.accrued)
        assert bank.accrual(account, FIRST_DAY) == (250_000, units(250_000))
        assert bank.count("interest_accrual") == 1

    def test_frozen_accounts_accrue_and_closed_ones_do_not(self, bank: Bank) -> None:
        frozen, closed = bank.person(), bank.person()
        bank.move(frozen, 10_000)
        bank.accounts.set_status(bank.session, number=frozen.number, status="frozen", reason="x")
        bank.accounts.close(bank.session, number=closed.number)
        bank.run(FIRST_DAY)
        assert bank.accrual(frozen, FIRST_DAY) == (10_000, units(10_000))
        assert bank.accrual(closed, FIRST_DAY) is None

    def test_an_account_opened_after_the_day_does_not_accrue_for_it(self, bank: Bank) -> None:
        bank.go_to(end_of_business_day(FIRST_DAY) + timedelta(hours=1))
        late = bank.person()
        bank.interest.run_end_of_day(bank.session, FIRST_DAY)
        assert bank.accrual(late, FIRST_DAY) is None


class TestSettlement:
    SETTLEMENT = date(2026, 3, 20)

    def test_the_quarter_is_paid_after_the_settlement_date_rounded_half_up(
        self, bank: Bank
    ) -> None:
        account = bank.person()
        bank.move(account, 12_345_678)
        bank.run_days(FIRST_DAY, self.SETTLEMENT - timedelta(days=1))
        assert bank.balance(account) == 12_345_678  # nothing paid before the 结息日
        report = bank.run(self.SETTLEMENT)
        days = (self.SETTLEMENT - FIRST_DAY).days + 1
        exact = exact_interest(12_345_678, RATE) * days
        paid = int(exact + Fraction(1, 2))  # half up
        assert report.settled
        assert (report.accounts_paid, report.paid) == (1, paid)
        assert bank.balance(account) == 12_345_678 + paid
        expense = bank.ledger.account(bank.session, INTEREST_EXPENSE_ACCOUNT)
        assert balance_of(expense).posted == paid
        entry = bank.ledger.entry(bank.session, f"interest:{account.number}:{self.SETTLEMENT}")
        # Booked after the settlement date ended: it is the next day's movement.
        assert entry.created_at >= end_of_business_day(self.SETTLEMENT)
        assert bank.ledger.verify(bank.session) == {}

    def test_running_the_settlement_date_again_never_pays_twice(self, bank: Bank) -> None:
        account = bank.person()
        bank.move(account, 50_000_000)
        bank.run_days(FIRST_DAY, self.SETTLEMENT)
        after_first = bank.balance(account)
        again = bank.run(self.SETTLEMENT)
        assert again.already_run
        assert bank.balance(account) == after_first

    def test_a_missing_day_in_the_period_stops_the_settlement(self, bank: Bank) -> None:
        account = bank.person()
        bank.move(account, 50_000_000)
        bank.run(FIRST_DAY)
        bank.run_days(FIRST_DAY + timedelta(days=2), self.SETTLEMENT - timedelta(days=1))
        with pytest.raises(InterestAccrualIncomplete) as refused:
            bank.run(self.SETTLEMENT)
        assert refused.value.details["missing"] == ["2026-03-03"]
        assert bank.balance(account) == 50_000_000

    def test_a_small_balance_carries_its_fraction_into_the_next_quarter(self, bank: Bank) -> None:
        account = bank.person()
        bank.move(account, 300_000)  # 3,000 yuan: 19 days at 0.05% is 7.9 fen
        first = bank.run_days(FIRST_DAY, self.SETTLEMENT)[-1]
        assert first.paid == 8
        carried = bank.session.execute(
            text("SELECT carried_out FROM interest_posting WHERE e_account_id = :a"),
            {"a": account.id},
        ).scalar_one()
        assert int(carried) == units(300_000, days=19) - 8 * UNITS_PER_FEN < 0
        bank.move(account, -(300_000 + 8))  # emptied: it earns nothing from now on
        second = bank.run_days(self.SETTLEMENT + timedelta(days=1), date(2026, 6, 20))[-1]
        # The 0.1 fen paid ahead in March is set off, not paid again or lost.
        assert second.paid == 0
        assert bank.balance(account) == 0

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        moves=st.lists(
            st.lists(st.integers(min_value=-2_000_000, max_value=5_000_000), max_size=3),
            min_size=6,
            max_size=6,
        ),
        reruns=st.lists(st.booleans(), min_size=6, max_size=6),
    )
    def test_what_is_paid_is_the_exact_interest_of_the_daily_balances(
        self, session: Session, moves: list[list[int]], reruns: list[bool]
    ) -> None:
        savepoint = session.begin_nested()
        try:
            bank = Bank(session, FrozenClock(datetime(2026, 3, 15, 1, tzinfo=UTC)))
            account = bank.person()
            exact = Fraction(0)
            for offset, (day_moves, rerun) in enumerate(zip(moves, reruns, strict=True)):
                day = date(2026, 3, 15) + timedelta(days=offset)
                for fen in day_moves:
                    bank.move(account, max(fen, -bank.balance(account)))
                exact += exact_interest(bank.balance(account), RATE)
                bank.run(day)
                if rerun:
                    assert bank.run(day).already_run
            # Six days from 3/15: 3/20 is the settlement date, paid at its end.
            paid = bank.session.execute(
                text("SELECT coalesce(sum(paid), 0) FROM interest_posting WHERE e_account_id = :a"),
                {"a": account.id},
            ).scalar_one()
            assert paid == int(exact + Fraction(1, 2))
            assert bank.ledger.verify(bank.session) == {}
        finally:
            savepoint.rollback()


class TestCommand:
    def test_rongbank_eod_closes_the_last_ended_business_day_by_default(
        self, platform: Platform
    ) -> None:
        with platform.transaction() as session:
            # An account opened and funded in January, on a clock of its own.
            bank = Bank(session, FrozenClock(datetime(2026, 1, 5, 1, tzinfo=UTC)))
            bank.move(bank.person(), 100_000)
        report = run_eod_command(platform.transaction, ledger=platform.ledger, clock=platform.clock)
        assert report.business_date == FIRST_DAY - timedelta(days=1)
        assert (report.accounts, report.accrued) == (1, units(100_000))
        again = run_eod_command(platform.transaction, ledger=platform.ledger, clock=platform.clock)
        assert again.already_run
