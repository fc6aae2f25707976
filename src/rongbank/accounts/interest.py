"""Interest on demand deposits (活期存款): accrued every business day, settled
quarterly.

How Chinese banks compute it, and so how this module does:

- **Day count.** 中国人民银行《人民币利率管理规定》and the 计结息规则 of
  《关于人民币存贷款计结息问题的通知》(银发〔2005〕129号) set a 360-day year for
  RMB deposits: 日利率 = 年利率 ÷ 360. With the 积数计息法 of the same notice,
  interest = Σ (each day's closing balance) × 日利率, that is
  ``balance × annual rate / 360`` per calendar day, whatever the month's length.
- **Settlement.** Demand deposits settle quarterly: the 结息日 is the 20th of the
  last month of each quarter (3/20, 6/20, 9/20, 12/20), and the interest is paid
  into the account the next day (银发〔2005〕129号). The end-of-day run of a
  settlement date therefore posts, after that day has ended.
- **Rate.** The bank's published demand rate, from ``interest_rates.toml``; each
  day accrues at the rate in force on that business date. (银发〔2005〕129号
  prices a quarter of demand deposits at the rate on its settlement date; this
  bank applies a change from the day it takes effect, which its published terms
  must say.)

Exactness. A day's interest ``balance × rate / 360`` is rarely a whole number of
anything decimal (the 360 brings a factor 3). Instead of rounding each day, we
store it exactly as an integer count of *accrual units* of 1/(360 × 10^8) fen:
with the rate held as an integer count of 10^-8 (eight decimals), one day's
interest is ``balance × rate_units`` units, with no rounding at all. Posting
divides by :data:`UNITS_PER_FEN` once per period, rounding half up to the fen, and
carries the remainder (positive or negative, under half a fen) into the next
period. So over any number of periods, what was paid plus what is carried equals
the exact interest to the unit: no fen is lost or created. The columns are
``numeric`` because a large balance times a rate can pass bigint's range.
"""

from __future__ import annotations

import bisect
import tomllib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.errors import Conflict, InvalidRequest
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import MAX_BATCH, LedgerService, Transfer

DAYS_PER_YEAR = 360
RATE_DECIMALS = 8
UNITS_PER_FEN = DAYS_PER_YEAR * 10**RATE_DECIMALS
"""Accrual units per fen: one day's interest on ``b`` fen at annual rate ``r`` is
exactly ``b × r × 10^8`` units."""

SETTLEMENT_DAYS = ((3, 20), (6, 20), (9, 20), (12, 20))
"""结息日: (month, day) of each quarter's settlement date."""

INTEREST_EXPENSE_ACCOUNT = "bank:interest-expense:CNY"
INTEREST_CLIENT_PREFIX = f"{Namespace.INTEREST}:"
"""Ledger client ids of interest payments start with this (statements use it to
tell interest from transfers)."""

CURRENCY = "CNY"


class BusinessDayNotOver(Conflict):
    code = "business_day_not_over"
    message = "The business day has not ended yet; run end of day after midnight Beijing time."


class InterestRateNotConfigured(InvalidRequest):
    code = "interest_rate_not_configured"
    message = "No demand-deposit interest rate is configured for this date."


class InterestAccrualIncomplete(Conflict):
    code = "interest_accrual_incomplete"
    message = (
        "End of day did not run for every day of this interest period; run the missing "
        "days first, so that the settlement pays for every day."
    )


# -- rates -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateEntry:
    effective_from: date
    annual_rate: Decimal
    """A fraction: ``Decimal("0.0005")`` is 0.05% a year."""


class InterestRates:
    """The demand-deposit rate in force on each business date."""

    def __init__(self, entries: Sequence[RateEntry]) -> None:
        ordered = sorted(entries, key=lambda e: e.effective_from)
        days = [e.effective_from for e in ordered]
        if len(set(days)) != len(days):
            raise ValueError("two interest rates take effect on the same date")
        for entry in ordered:
            rate_units(entry.annual_rate)  # refuses negative or over-precise rates
        self._days = days
        self._rates = [e.annual_rate for e in ordered]

    def on(self, day: date) -> Decimal:
        index = bisect.bisect_right(self._days, day) - 1
        if index < 0:
            raise InterestRateNotConfigured(date=day.isoformat())
        return self._rates[index]


def load_interest_rates(path: Path | None = None) -> InterestRates:
    """The rates of ``path``, or those shipped in ``interest_rates.toml``."""
    source = (
        path.read_text()
        if path is not None
        else (files("rongbank.accounts") / "interest_rates.toml").read_text()
    )
    raw = tomllib.loads(source)
    entries = []
    for item in raw["demand_deposit"]:
        if not isinstance(item["effective_from"], date) or isinstance(
            item["effective_from"], datetime
        ):
            raise ValueError("effective_from must be a TOML date such as 2025-05-20")
        if not isinstance(item["annual_rate"], str):
            # A TOML float cannot hold 0.0005 exactly; the rate must be a string.
            raise ValueError('annual_rate must be a decimal string such as "0.0005"')
        entries.append(RateEntry(item["effective_from"], Decimal(item["annual_rate"])))
    return InterestRates(entries)


# -- pure rules --------------------------------------------------------------------


def rate_units(annual_rate: Decimal) -> int:
    """The rate as an integer count of 10^-8."""
    scaled = annual_rate.scaleb(RATE_DECIMALS)
    if not annual_rate.is_finite() or annual_rate < 0 or scaled != scaled.to_integral_value():
        raise ValueError(f"an annual rate must be >= 0 with at most {RATE_DECIMALS} decimals")
    return int(scaled)


def daily_accrual(balance: int, annual_rate: Decimal) -> int:
    """One day's interest on ``balance`` fen, exactly, in accrual units. A balance at
    or below zero earns nothing (an overdraft is not a deposit)."""
    return max(balance, 0) * rate_units(annual_rate)


@dataclass(frozen=True, slots=True)
class Settlement:
    paid: int
    """Fen to pay now."""
    carried: int
    """Accrual units carried to the next period: in [-UNITS_PER_FEN/2, UNITS_PER_FEN/2)."""


def settle(carried_in: int, accrued: int) -> Settlement:
    """Round what is owed (``carried_in + accrued`` units) half up to the fen, and
    carry the remainder, so that ``paid × UNITS_PER_FEN + carried`` is exactly
    what was owed."""
    owed = carried_in + accrued
    paid = max((2 * owed + UNITS_PER_FEN) // (2 * UNITS_PER_FEN), 0)
    return Settlement(paid, owed - paid * UNITS_PER_FEN)


def is_settlement_date(day: date) -> bool:
    return (day.month, day.day) in SETTLEMENT_DAYS


def previous_settlement_date(day: date) -> date:
    """The last settlement date strictly before ``day``."""
    for year in (day.year, day.year - 1):
        for month, dom in reversed(SETTLEMENT_DAYS):
            candidate = date(year, month, dom)
            if candidate < day:
                return candidate
    raise AssertionError("unreachable: every year has settlement dates")


def end_of_business_day(day: date) -> datetime:
    """The instant business date ``day`` ends: the next midnight, Beijing time."""
    return datetime.combine(day + timedelta(days=1), time(), BUSINESS_TIME_ZONE)


def last_closed_business_date(now: datetime) -> date:
    """The latest business date that has ended at instant ``now``."""
    return now.astimezone(BUSINESS_TIME_ZONE).date() - timedelta(days=1)


def format_units(units: int) -> str:
    """Accrual units as yuan with six decimals, for people (rounded for display only)."""
    yuan = Decimal(units) / Decimal(UNITS_PER_FEN * 100)
    return str(yuan.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


# -- the end-of-day run -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EodReport:
    business_date: date
    accounts: int
    """E-accounts accrued for: every one opened by the end of the day and not closed."""
    accrued: int
    """The day's interest, all accounts together, in accrual units."""
    settled: bool
    """Whether this was a settlement date, on which interest was paid."""
    accounts_paid: int
    paid: int
    """Fen paid into customers' accounts."""
    already_run: bool = False
    """The date had been run before; this run changed nothing."""


@dataclass(frozen=True, slots=True)
class _Account:
    id: int
    number: str
    ledger_account_id: int


class InterestService:
    def __init__(self, ledger: LedgerService, clock: Clock, rates: InterestRates) -> None:
        self.ledger = ledger
        self.clock = clock
        self.rates = rates

    def run_end_of_day(self, session: Session, business_date: date) -> EodReport:
        """Accrue one day of interest on every e-account that is not closed, and on
        a settlement date pay the period's interest. Running a date again changes
        nothing and answers what the first run did."""
        end = end_of_business_day(business_date)
        if self.clock.now() < end:
            raise BusinessDayNotOver(business_date=business_date.isoformat())
        # One run at a time: a second one waits, then finds the date done.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('interest-end-of-day'))"))
        done = session.execute(
            text(
                "SELECT accounts, accrued, settled, accounts_paid, paid FROM interest_eod_run "
                "WHERE business_date = :d"
            ),
            {"d": business_date},
        ).first()
        if done is not None:
            return EodReport(
                business_date,
                int(done[0]),
                int(done[1]),
                bool(done[2]),
                int(done[3]),
                int(done[4]),
                already_run=True,
            )
        rate = self.rates.on(business_date)
        accounts = [
            _Account(*row)
            for row in session.execute(
                text(
                    "SELECT id, number, ledger_account_id FROM e_account "
                    "WHERE status <> 'closed' AND currency = :ccy AND opened_at < :end "
                    "ORDER BY id"
                ),
                {"ccy": CURRENCY, "end": end},
            )
        ]
        accrued = self._accrue(session, accounts, business_date, end, rate)
        settled = is_settlement_date(business_date)
        paid_accounts, paid = self._settle(session, accounts, business_date) if settled else (0, 0)
        report = EodReport(business_date, len(accounts), accrued, settled, paid_accounts, paid)
        session.execute(
            text(
                "INSERT INTO interest_eod_run (business_date, finished_at, rate, accounts, "
                "accrued, settled, accounts_paid, paid) "
                "VALUES (:d, :at, :rate, :n, :accrued, :settled, :np, :paid)"
            ),
            {
                "d": business_date,
                "at": self.clock.now(),
                "rate": rate,
                "n": report.accounts,
                "accrued": report.accrued,
                "settled": settled,
                "np": paid_accounts,
                "paid": paid,
            },
        )
        return report

    def _accrue(
        self,
        session: Session,
        accounts: Sequence[_Account],
        business_date: date,
        end: datetime,
        rate: Decimal,
    ) -> int:
        # The ledger's balance_at includes postings at the instant given; a posting
        # at midnight exactly belongs to the next business day, so ask for the last
        # microsecond (PostgreSQL's resolution) of this one.
        last_instant = end - timedelta(microseconds=1)
        balances = [
            self.ledger.balance_at(session, a.ledger_account_id, last_instant) for a in accounts
        ]
        amounts = [daily_accrual(b, rate) for b in balances]
        if accounts:
            session.execute(
                text(
                    "INSERT INTO interest_accrual (e_account_id, business_date, balance, "
                    "annual_rate, accrued) "
                    "SELECT a, :d, b, :rate, x FROM unnest(CAST(:ids AS bigint[]), "
                    "CAST(:balances AS bigint[]), CAST(:amounts AS numeric[])) AS t(a, b, x) "
                    "ON CONFLICT (e_account_id, business_date) DO NOTHING"
                ),
                {
                    "d": business_date,
                    "rate": rate,
                    "ids": [a.id for a in accounts],
                    "balances": balances,
                    "amounts": amounts,
                },
            )
        return sum(amounts)

    def _settle(
        self, session: Session, accounts: Sequence[_Account], period_end: date
    ) -> tuple[int, int]:
        """Pay each account what it accrued since its last settlement, plus what that
        one carried; returns (accounts paid, fen paid)."""
        period_start = previous_settlement_date(period_end) + timedelta(days=1)
        self._check_no_missing_days(session, period_start, period_end)
        owed = {
            int(row[0]): (int(row[1]), int(row[2]))
            for row in session.execute(
                text(
                    "SELECT a.id, coalesce(last.carried_out, 0), coalesce(sum(x.accrued), 0) "
                    "FROM unnest(CAST(:ids AS bigint[])) AS a(id) "
                    "LEFT JOIN LATERAL (SELECT p.period_end, p.carried_out "
                    "  FROM interest_posting p WHERE p.e_account_id = a.id "
                    "  ORDER BY p.period_end DESC LIMIT 1) last ON true "
                    "LEFT JOIN interest_accrual x ON x.e_account_id = a.id "
                    "  AND x.business_date <= :end "
                    "  AND x.business_date > coalesce(last.period_end, '-infinity'::date) "
                    "GROUP BY a.id, last.carried_out"
                ),
                {"ids": [a.id for a in accounts], "end": period_end},
            )
        }
        expense, _ = self.ledger.create_account(
            session,
            code=INTEREST_EXPENSE_ACCOUNT,
            currency=CURRENCY,
            type=AccountType.EXPENSE,
            name="Interest paid on demand deposits",
        )
        rows: list[dict[str, Any]] = []
        payments: list[Transfer] = []
        for account in accounts:
            carried_in, accrued = owed[account.id]
            result = settle(carried_in, accrued)
            client_id = Namespace.INTEREST.client_id(account.number, period_end.isoformat())
            rows.append(
                {
                    "a": account.id,
                    "end": period_end,
                    "cin": carried_in,
                    "accrued": accrued,
                    "paid": result.paid,
                    "cout": result.carried,
                    "cid": client_id if result.paid else None,
                }
            )
            if result.paid:
                payments.append(
                    Transfer(
                        client_id=client_id,
                        debit_account=expense.id,
                        credit_account=account.ledger_account_id,
                        amount=result.paid,
                        currency=CURRENCY,
                        description=f"活期存款利息 {period_start}至{period_end}",
                        metadata={
                            "e_account": account.number,
                            "period_start": period_start.isoformat(),
                            "period_end": period_end.isoformat(),
                        },
                    )
                )
        entry_ids: dict[str | None, int | None] = {None: None}
        for start in range(0, len(payments), MAX_BATCH):
            chunk = payments[start : start + MAX_BATCH]
            for outcome in self.ledger.execute(session, chunk):
                # A refusal here is a fault (the expense account has no limit and a
                # credit never breaks a deposit's rule): raise, and the run rolls back.
                entry_ids[outcome.client_id] = outcome.entry_id_or_raise()
        for row in rows:
            row["entry"] = entry_ids[row.pop("cid")]
        if rows:
            session.execute(
                text(
                    "INSERT INTO interest_posting (e_account_id, period_end, carried_in, "
                    "accrued, paid, carried_out, entry_id) "
                    "VALUES (:a, :end, :cin, :accrued, :paid, :cout, :entry)"
                ),
                rows,
            )
        return len(payments), sum(p.amount for p in payments)

    @staticmethod
    def _check_no_missing_days(session: Session, period_start: date, period_end: date) -> None:
        """Every day of the period before the settlement date must have run, from the
        first run ever on (days before the bank went live have nothing to accrue)."""
        missing = [
            row[0]
            for row in session.execute(
                text(
                    "SELECT d::date FROM generate_series(CAST(greatest(CAST(:start AS date), "
                    "  coalesce((SELECT min(business_date) FROM interest_eod_run), :end)) "
                    "  AS timestamp), CAST(:last AS timestamp), interval '1 day') AS d "
                    "WHERE NOT EXISTS (SELECT 1 FROM interest_eod_run r "
                    "  WHERE r.business_date = d::date) ORDER BY d LIMIT 10"
                ),
                {"start": period_start, "end": period_end, "last": period_end - timedelta(days=1)},
            )
        ]
        if missing:
            raise InterestAccrualIncomplete(missing=[d.isoformat() for d in missing])


def run_eod_command(
    transaction: Callable[[], AbstractContextManager[Session]],
    *,
    ledger: LedgerService,
    clock: Clock,
    business_date: date | None = None,
) -> EodReport:
    """The body of ``rongbank eod``: run end of day for ``business_date`` (default:
    the last business date that has ended) in one ``transaction()``."""
    service = InterestService(ledger, clock, load_interest_rates())
    day = business_date or last_closed_business_date(clock.now())
    with transaction() as session:
        return service.run_end_of_day(session, day)
