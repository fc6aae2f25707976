"""Pure rules of servicing a loan: what has accrued by a date, what is owed now, how
a payment is split, and how an early repayment reshapes the schedule. No I/O, no
clock: the service and the end of day pass the date.

The end of day computes the same accrual in SQL for the whole book at once
(``rongbank.lending.eod``); :func:`accrued` is the rule both follow, and the tests
check the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction

from rongbank.lending.schedule import Fees, RepaymentMethod, build_schedule, round_half_up


def accrued(amount: int, *, period_start: date, due_date: date, on: date) -> int:
    """How much of a period's ``amount`` (interest or fee) has accrued by the end of
    ``on``: in proportion to the days run, rounded down, all of it from the due date."""
    if on >= due_date:
        return amount
    if on <= period_start:
        return 0
    return amount * (on - period_start).days // (due_date - period_start).days


@dataclass(frozen=True, slots=True)
class Period:
    """One instalment of a loan as servicing sees it: scheduled, accrued and paid."""

    number: int
    period_start: date
    due_date: date
    principal: int
    interest: int
    fee: int
    interest_accrued: int = 0
    fee_accrued: int = 0
    penalty_accrued: int = 0
    principal_paid: int = 0
    interest_paid: int = 0
    fee_paid: int = 0
    penalty_paid: int = 0

    def owed_on(self, day: date) -> Split:
        """What is owed on it at ``day``: the whole instalment once due (interest and
        fee as scheduled, penalty as accrued), nothing of it before."""
        if day < self.due_date:
            return Split()
        return Split(
            principal=self.principal - self.principal_paid,
            interest=self.interest - self.interest_paid,
            fee=self.fee - self.fee_paid,
            penalty=self.penalty_accrued - self.penalty_paid,
        )

    @property
    def settled(self) -> bool:
        return (
            self.principal_paid == self.principal
            and self.interest_paid == self.interest
            and self.fee_paid == self.fee
            and self.penalty_paid == self.penalty_accrued
        )


@dataclass(frozen=True, slots=True)
class Split:
    """An amount by what it pays: principal, interest, fee, penalty interest."""

    principal: int = 0
    interest: int = 0
    fee: int = 0
    penalty: int = 0

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee + self.penalty

    def __add__(self, other: Split) -> Split:
        return Split(
            self.principal + other.principal,
            self.interest + other.interest,
            self.fee + other.fee,
            self.penalty + other.penalty,
        )


def allocate(owed: Sequence[tuple[int, Split]], amount: int) -> list[tuple[int, Split]]:
    """Split ``amount`` over what is owed, instalment by instalment, oldest first, and
    within one in the order loan contracts set (penalty interest, fees, interest,
    then principal), so that a short payment clears what costs the borrower most
    first and principal last. Returns each instalment's part (those it reaches)."""
    left = amount
    parts = []
    for number, due in owed:
        if left <= 0:
            break
        penalty = min(left, due.penalty)
        left -= penalty
        fee = min(left, due.fee)
        left -= fee
        interest = min(left, due.interest)
        left -= interest
        principal = min(left, due.principal)
        left -= principal
        part = Split(principal=principal, interest=interest, fee=fee, penalty=penalty)
        if part.total:
            parts.append((number, part))
    return parts


def days_past_due(periods: Sequence[Period], day: date) -> int:
    """Days since the oldest instalment due and not settled fell due (0: none)."""
    overdue = [p.due_date for p in periods if p.due_date < day and not p.settled]
    return (day - min(overdue)).days if overdue else 0


@dataclass(frozen=True, slots=True)
class Prepayment:
    """An early repayment on ``day``: what it pays, and the schedule after it."""

    settled: Period
    """The current period cut short at ``day``: its interest and fee as accrued to
    ``day``, and the principal repaid early; paid in full now."""
    following: tuple[Period, ...]
    """The rest of the schedule on the principal left, on the same due dates (empty
    when the loan is repaid in full)."""
    pays: Split
    """What the current period and the early principal cost now (arrears aside)."""


def prepay(
    periods: Sequence[Period],
    *,
    day: date,
    principal: int,
    annual_rate_bps: int,
    method: RepaymentMethod,
    term_months: int,
    monthly_fee_bps: int,
) -> Prepayment:
    """Repay ``principal`` early on ``day``, the instalments due by then settled first
    (the caller pays them). The current period (the first not yet due) ends at
    ``day`` with the interest and fee accrued to it; the principal left is scheduled
    again over the same remaining due dates by the same method, so the payments fall
    and the term stays (减少月供); the first new period, from ``day`` to the old due
    date, is charged for its days only."""
    ahead = [p for p in periods if p.due_date > day]
    if not ahead:
        raise ValueError("nothing is left to repay early")
    current = ahead[0]
    remaining = sum(p.principal - p.principal_paid for p in ahead)
    if not 0 < principal <= remaining:
        raise ValueError("the early principal must be positive and at most what is left")
    interest = accrued(
        current.interest, period_start=current.period_start, due_date=current.due_date, on=day
    )
    fee = accrued(current.fee, period_start=current.period_start, due_date=current.due_date, on=day)
    settled = replace(
        current,
        due_date=day,
        principal=current.principal_paid + principal,
        interest=interest,
        fee=fee,
        interest_accrued=interest,
        fee_accrued=fee,
    )
    pays = Split(
        principal=principal,
        interest=interest - current.interest_paid,
        fee=fee - current.fee_paid,
        penalty=current.penalty_accrued - current.penalty_paid,
    )
    left = remaining - principal
    if left == 0:
        return Prepayment(settled=settled, following=(), pays=pays)
    rebuilt = build_schedule(
        left,
        annual_rate_bps,
        term_months if method is RepaymentMethod.BULLET else len(ahead),
        method,
        start=current.period_start,
        fees=Fees(monthly_bps=monthly_fee_bps),
    )
    share = Fraction((current.due_date - day).days, (current.due_date - current.period_start).days)
    following: list[Period] = []
    start = day
    for old, new in zip(ahead, rebuilt, strict=True):
        first = not following
        following.append(
            Period(
                number=old.number + 1,
                period_start=start,
                due_date=old.due_date,
                principal=new.principal,
                interest=round_half_up(new.interest * share) if first else new.interest,
                fee=round_half_up(new.fee * share) if first else new.fee,
            )
        )
        start = old.due_date
    return Prepayment(settled=settled, following=tuple(following), pays=pays)
