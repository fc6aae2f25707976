"""Liquidity use cases: the day's LCR and NSFR, computed from the ledger and kept."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.risk.liquidity import repository
from rongbank.risk.liquidity.config import Factors
from rongbank.risk.liquidity.rules import BalanceSheet, Figures, LoanPosition, compute
from rongbank.risk.liquidity.simulation import (
    BREAKING_DAYS,
    Params,
    Rails,
    Result,
    Runner,
    find_breaking,
    simulate,
)


class LoanBook(Protocol):
    """The seam to the lending domain: its performing loans and their repayments due
    in the next 30 days, on a day. Lending (being built at the same time) provides
    one reading its own tables; until it does, :data:`NO_LOANS` says the bank lends
    nothing, which is true while no lending tables exist."""

    def position(self, session: Session, day: date) -> LoanPosition: ...


class _NoLoans:
    def position(self, session: Session, day: date) -> LoanPosition:
        return LoanPosition()


NO_LOANS: LoanBook = _NoLoans()


def end_of(day: date) -> datetime:
    """The instant a Beijing day ends (the next one's midnight)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=BUSINESS_TIME_ZONE)


@dataclass(frozen=True, slots=True)
class DayReport:
    day: date
    at: datetime
    """The instant the balances are read at: the day's end (today: everything so far,
    as nothing is posted ahead of the clock)."""
    sheet: BalanceSheet
    figures: Figures


class LiquidityService:
    def __init__(self, factors: Factors, clock: Clock, *, loans: LoanBook = NO_LOANS) -> None:
        self.factors = factors
        self.clock = clock
        self.loans = loans

    def today(self) -> date:
        return self.clock.now().astimezone(BUSINESS_TIME_ZONE).date()

    def report(self, session: Session, day: date | None = None) -> DayReport:
        """The LCR and NSFR of ``day`` (default: today, Beijing time) from the ledger's
        balances at its end (for today: now), stored for the day."""
        now = self.clock.now()
        day = day or self.today()
        sheet = self.sheet(session, day)
        figures = compute(sheet, self.factors)
        repository.store_day(session, day=day, figures=figures, computed_at=now)
        return DayReport(day, end_of(day), sheet, figures)

    def trend(self, session: Session, *, days: int = 90) -> list[repository.StoredDay]:
        """The figures of the last ``days`` days reported, oldest first."""
        return repository.stored_days(session, limit=days)

    def last_simulation(self, session: Session) -> LastSimulation | None:
        found = repository.last_simulation(session)
        return None if found is None else LastSimulation(*found)

    def sheet(self, session: Session, day: date | None = None) -> BalanceSheet:
        day = day or self.today()
        return repository.balance_sheet(
            session,
            at=end_of(day),
            day=day,
            factors=self.factors,
            loans=self.loans.position(session, day),
        )

    def simulate(self, session: Session, params: Params, rails: Rails) -> Run:
        """A bank run over today's depositors (see :mod:`.simulation`), kept for the
        risk page."""
        sheet = self.sheet(session)
        runners = repository.runners(session, sheet, rails)
        result = simulate(sheet, runners, self.factors, params)
        self._keep(session, result, rails, breaking=None)
        return Run(sheet, runners, result, None)

    def find_breaking(
        self, session: Session, params: Params, rails: Rails, *, tolerance: float = 0.01
    ) -> Run:
        """The run intensity at which the LCR falls below 100% or the bank lasts less
        than 30 days (bisection; the run at the intensity found is the result)."""
        params = replace(params, days=max(params.days, BREAKING_DAYS))
        sheet = self.sheet(session)
        runners = repository.runners(session, sheet, rails)

        def run(intensity: float) -> Result:
            return simulate(sheet, runners, self.factors, replace(params, intensity=intensity))

        found = find_breaking(lambda x: run(x).breaks, tolerance=tolerance)
        result = run(found[1] if found else params.intensity)
        self._keep(session, result, rails, breaking=found)
        return Run(sheet, runners, result, found)

    def _keep(
        self,
        session: Session,
        result: Result,
        rails: Rails,
        *,
        breaking: tuple[float, float] | None,
    ) -> None:
        repository.store_simulation(
            session,
            ran_at=self.clock.now(),
            params={"class_limits": rails.class_limits, "breaking": breaking},
            result=result.to_json(),
        )


@dataclass(frozen=True, slots=True)
class LastSimulation:
    ran_at: datetime
    params: dict[str, Any]
    result: dict[str, Any]
    """:meth:`.simulation.Result.to_json`."""


@dataclass(frozen=True, slots=True)
class Run:
    sheet: BalanceSheet
    runners: list[Runner]
    result: Result
    breaking: tuple[float, float] | None
    """For ``find_breaking``: the last intensity that holds and the first that breaks
    (None: none breaks, or not asked)."""
