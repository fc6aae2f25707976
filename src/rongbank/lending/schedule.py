"""Repayment schedules and the annualised rate: pure functions, no I/O, no clock.

Everything is integer fen. Each period's interest is the outstanding principal times
the monthly rate (the annual rate / 12, as Chinese loan contracts state 月利率),
rounded half up to the fen; the equal instalment is rounded half up too, and the last
instalment takes whatever principal is left, so the principal always sums to the loan
exactly and no fen is lost to rounding. Fees are a flat monthly fee on the original
principal (the way instalment products price themselves, 每期手续费) spread the same way,
and an upfront fee kept at disbursement.

The annualised rate follows the PBoC announcement 2021 No. 3 (中国人民银行公告〔2021〕第3号):
the internal rate of return of the real cash flows (what the borrower receives net of
upfront fees, and every payment of principal, interest and fee), per month, times 12.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import numpy_financial as npf

BPS = 10_000
MONTHS_A_YEAR = 12
BULLET_MAX_MONTHS = 12
"""A bullet loan (到期一次还本付息) runs a year at most: longer credit repays as it goes."""


class RepaymentMethod(enum.StrEnum):
    EQUAL_INSTALMENT = "equal_instalment"
    """等额本息: the same payment each month; interest falls and principal rises."""
    EQUAL_PRINCIPAL = "equal_principal"
    """等额本金: the same principal each month plus the interest on what is left."""
    INTEREST_FIRST = "interest_first"
    """先息后本: interest each month, the whole principal with the last payment."""
    BULLET = "bullet"
    """到期一次还本付息: principal and all the interest in one payment at the end."""


@dataclass(frozen=True, slots=True)
class Instalment:
    number: int
    """1-based."""
    due_date: date
    principal: int
    interest: int
    fee: int

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee


@dataclass(frozen=True, slots=True)
class Fees:
    """A loan's fees, in basis points of the principal."""

    upfront_bps: int = 0
    """Kept at disbursement: the borrower receives the principal less this."""
    monthly_bps: int = 0
    """A flat fee each month on the original principal (0.6% = 60)."""

    def upfront(self, principal: int) -> int:
        return round_half_up(Fraction(principal * self.upfront_bps, BPS))


def round_half_up(value: Fraction) -> int:
    """The nearest integer, halves away from zero (Python's round() goes to even)."""
    if value >= 0:
        return int(value + Fraction(1, 2))
    return -int(-value + Fraction(1, 2))


def add_months(anchor: date, months: int) -> date:
    """``anchor`` plus ``months``, with the month-end rule: a day past the end of the
    target month falls on its last day (31 January + 1 month = 28/29 February), and
    an anchor on the last day of its month keeps every date on a month end (28
    February + 1 month = 31 March), so a borrower paid at month end pays then."""
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if anchor.day == calendar.monthrange(anchor.year, anchor.month)[1]:
        return date(year, month, last)
    return date(year, month, min(anchor.day, last))


def due_dates(*, start: date, term_months: int, first_due: date | None = None) -> list[date]:
    """The due date of each instalment: a month after ``start`` and monthly on, or from
    ``first_due`` on when the borrower chose a repayment day. A bullet loan has one."""
    if first_due is not None:
        if first_due <= start:
            raise ValueError("the first due date must come after the start")
        return [add_months(first_due, k) for k in range(term_months)]
    return [add_months(start, k) for k in range(1, term_months + 1)]


def build_schedule(
    principal_fen: int,
    annual_rate_bps: int,
    term_months: int,
    method: RepaymentMethod,
    *,
    start: date,
    first_due: date | None = None,
    fees: Fees = Fees(),
) -> tuple[Instalment, ...]:
    """The loan's instalments. Interest is per month at ``annual_rate_bps / 12``
    whatever the days in the month (a first period up to ``first_due`` is one period
    too); a bullet loan has a single instalment after ``term_months``."""
    if principal_fen <= 0:
        raise ValueError("principal must be positive")
    if annual_rate_bps < 0 or fees.upfront_bps < 0 or fees.monthly_bps < 0:
        raise ValueError("rates and fees cannot be negative")
    if term_months < 1:
        raise ValueError("term must be at least one month")
    if method is RepaymentMethod.BULLET and term_months > BULLET_MAX_MONTHS:
        raise ValueError(f"a bullet loan runs at most {BULLET_MAX_MONTHS} months")
    monthly = Fraction(annual_rate_bps, BPS * MONTHS_A_YEAR)
    if method is RepaymentMethod.BULLET:
        if first_due is not None:
            raise ValueError("a bullet loan falls due at the end of its term")
        due = add_months(start, term_months)
        interest = round_half_up(principal_fen * monthly * term_months)
        fee = round_half_up(Fraction(principal_fen * fees.monthly_bps * term_months, BPS))
        return (Instalment(1, due, principal_fen, interest, fee),)
    dates = due_dates(start=start, term_months=term_months, first_due=first_due)
    principals = _principal_parts(principal_fen, monthly, term_months, method)
    fee_parts = _even_parts(
        round_half_up(Fraction(principal_fen * fees.monthly_bps * term_months, BPS)),
        term_months,
    )
    instalments = []
    balance = principal_fen
    for number, (due, principal, fee) in enumerate(
        zip(dates, principals, fee_parts, strict=True), start=1
    ):
        instalments.append(
            Instalment(number, due, principal, round_half_up(balance * monthly), fee)
        )
        balance -= principal
    return tuple(instalments)


def _principal_parts(
    principal: int, monthly: Fraction, term: int, method: RepaymentMethod
) -> list[int]:
    if method is RepaymentMethod.INTEREST_FIRST:
        return [0] * (term - 1) + [principal]
    if method is RepaymentMethod.EQUAL_PRINCIPAL or monthly == 0:
        return _even_parts(principal, term)
    # 等额本息: payment = P r / (1 - (1 + r)^-n), rounded; each month's principal is
    # the payment less that month's interest, the last takes what is left.
    payment = round_half_up(principal * monthly / (1 - (1 + monthly) ** -term))
    parts, balance = [], principal
    for _ in range(term - 1):
        part = min(max(payment - round_half_up(balance * monthly), 0), balance)
        parts.append(part)
        balance -= part
    return [*parts, balance]


def _even_parts(total: int, count: int) -> list[int]:
    """``total`` in ``count`` equal parts, the last taking the remainder."""
    share = total // count
    return [share] * (count - 1) + [total - share * (count - 1)]


def schedule_totals(schedule: tuple[Instalment, ...]) -> tuple[int, int, int]:
    """Principal, interest and fees over the whole schedule."""
    return (
        sum(i.principal for i in schedule),
        sum(i.interest for i in schedule),
        sum(i.fee for i in schedule),
    )


def apr_bps(
    principal_fen: int,
    schedule: tuple[Instalment, ...],
    *,
    upfront_fee_fen: int = 0,
    start: date | None = None,
) -> int:
    """The annualised rate (年化利率) in basis points, rounded half up: 12 times the
    monthly internal rate of return of the cash flows, the borrower receiving
    ``principal_fen - upfront_fee_fen`` at the start and paying each instalment's
    total at the end of its month. Periods are counted in whole months from the
    start to each due date (a bullet's single payment sits ``term`` months out)."""
    if not schedule:
        raise ValueError("a schedule has at least one instalment")
    anchor = start if start is not None else add_months(schedule[0].due_date, -1)
    flows = [0.0] * (_months_between(anchor, schedule[-1].due_date) + 1)
    flows[0] = -float(principal_fen - upfront_fee_fen)
    for instalment in schedule:
        flows[max(_months_between(anchor, instalment.due_date), 1)] += float(instalment.total)
    monthly = npf.irr(flows)
    if monthly != monthly:  # NaN: no real rate (flows that never pay the loan back)
        raise ValueError("the cash flows have no internal rate of return")
    return round_half_up(Fraction(monthly).limit_denominator(10**12) * MONTHS_A_YEAR * BPS)


def _months_between(earlier: date, later: date) -> int:
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months if later.day >= earlier.day or _is_month_end(later) else months - 1


def _is_month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]
