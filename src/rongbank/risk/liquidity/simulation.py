"""A network bank run over the bank's own depositors: pure, deterministic under a seed.

**Who runs.** Each depositor is in one group: retail *small* (at most the insured
500,000 yuan), retail *large* (above it) and *corporate*. In each group withdrawals
come as a self-exciting (Hawkes) process with an exponential kernel: a base rate
(``intensity`` x the group's rate per depositor x the group's size) of people who
hear of trouble on their own, and every withdrawal making more likely, for a few
hours, that others follow (``branching`` of them on average, after ``Exp(decay)``
hours): the "spending concentrated in moments" of a network run.

**How much.** A withdrawal takes all the depositor can get out that day: what is
left on their accounts, up to their daily limits on the rails (their strongest
authentication tool's daily limit, or the password-free allowance without one;
and, unless turned off, the daily outflow limit of their accounts' classes, which
binds payments and transfers to others; a withdrawal to their own bound card is
limited by the tool alone). A depositor hit again later that day gets nothing more;
the next day they may take another day's limit.

**The bank.** It pays out of its Level 1 HQLA (cash, reserves); short of it, it
sells Level 2 assets at their haircuts; it asks the central bank's facility (SLF
and the like) for a loan against its other assets when the run starts, and the
money comes ``facility_lag_hours`` later. The bank *survives* while cash plus what
its Level 2 assets fetch plus what the facility has paid covers what it paid out;
the survival horizon is the first moment it does not. The LCR is recomputed each
hour from the balances left (:func:`rongbank.risk.liquidity.rules.compute`).

**Determinism and monotonicity.** Runs are coupled across intensities: the base
withdrawals are the points of one Poisson process on time x [0, infinity) (drawn
in strips of rate 1, each from its own seed) kept below the base rate, and each
one's cascade (times, depositors hit) comes from a seed of its own. A higher
intensity therefore gives the same withdrawals and more, never fewer; since a
depositor's cumulative withdrawal only grows with more events, and survival
depends on that sum alone, a higher intensity never survives longer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np

from rongbank.risk.liquidity.config import Factors, HqlaLevel
from rongbank.risk.liquidity.rules import (
    BalanceSheet,
    Depositor,
    DepositorKind,
    compute,
    hqla_stock,
)

HOURS_A_DAY = 24
BREAKING_DAYS = 30
"""A bank that cannot last 30 days is broken, whatever its LCR (the LCR's horizon)."""


class Group(StrEnum):
    RETAIL_SMALL = "retail_small"
    """A person with at most the insured amount."""
    RETAIL_LARGE = "retail_large"
    """A person with more than the insured amount."""
    CORPORATE = "corporate"


@dataclass(frozen=True, slots=True)
class Runner:
    """A depositor who may run: their deposits and how much the rails let out a day."""

    depositor: Depositor
    daily_cap: int | None
    """Fen a day; None: no limit."""

    @property
    def balance(self) -> int:
        return max(self.depositor.deposits, 0) + max(self.depositor.operational, 0)


@dataclass(frozen=True, slots=True)
class Rails:
    """The limits a depositor's money leaves by, in fen a day (None: no limit)."""

    class_daily: dict[int, int | None]
    """Each account class's daily outflow limit (``accounts/account_classes.toml``)."""
    tool_daily: dict[str, int]
    """Each authentication tool's daily limit (``auth/tool_limits.toml``)."""
    no_tool_daily: int
    """What a customer without a tool may move a day (password-free)."""
    class_limits: bool = True
    """Whether the class limits bind (transfers to others); a withdrawal to the
    customer's own bound card is held to the tool's limit alone."""

    def daily_cap(self, classes: list[int], tools: list[str]) -> int | None:
        """A depositor's daily limit: their strongest tool's, and (with
        ``class_limits``) the sum of their accounts' class limits."""
        caps = [self.tool_daily[t] for t in tools if t in self.tool_daily]
        cap: int | None = max(caps) if caps else self.no_tool_daily
        if self.class_limits and classes:
            limits = [self.class_daily.get(c) for c in classes]
            if all(x is not None for x in limits):
                total = sum(x for x in limits if x is not None)
                cap = total if cap is None else min(cap, total)
        return cap


@dataclass(frozen=True, slots=True)
class Params:
    intensity: float = 1.0
    """The run's strength: 0 is no run; 1 the bank's reference run."""
    days: int = 30
    seed: int = 0
    rates: dict[Group, float] = field(
        default_factory=lambda: {
            Group.RETAIL_SMALL: 0.0005,
            Group.RETAIL_LARGE: 0.002,
            Group.CORPORATE: 0.001,
        }
    )
    """Base withdrawals per depositor per hour at intensity 1: the uninsured run first."""
    branching: float = 0.7
    """Withdrawals each withdrawal sets off, on average (below 1, or it never stops)."""
    decay: float = 1 / 6
    """Per hour: the excitement after a withdrawal falls by e in 6 hours."""
    facility_share: float = 0.7
    """What the central bank lends against the bank's other assets (loans)."""
    facility_lag_hours: int = 48

    def __post_init__(self) -> None:
        if not (self.intensity >= 0 and self.days >= 1 and 0 <= self.branching < 1):
            raise ValueError("intensity >= 0, days >= 1 and 0 <= branching < 1")
        if self.decay <= 0 or not 0 <= self.facility_share <= 1 or self.facility_lag_hours < 0:
            raise ValueError("decay > 0, facility_share in [0, 1], facility_lag_hours >= 0")


@dataclass(frozen=True, slots=True)
class Result:
    params: Params
    survival_hours: float | None
    """When the bank could first not pay (None: it lasted the whole run)."""
    lcr: list[float | None]
    """The LCR at each hour, from hour 0 (None: no outflows left to cover)."""
    cash: list[int]
    """Level 1 HQLA at each hour, fen (negative once the bank has failed)."""
    withdrawn: dict[Group, list[int]]
    """What each group has taken out by each hour, fen."""
    withdrawals: dict[Group, int]
    """How many withdrawals took money out, per group."""
    sold: int
    """Level 2 assets sold (face value), fen."""
    facility: int
    """What the central bank's facility paid, fen."""

    @property
    def min_lcr(self) -> float | None:
        known = [x for x in self.lcr if x is not None]
        return min(known) if known else None

    def to_json(self) -> dict[str, Any]:
        """The result as JSON (amounts in fen; the LCR as a ratio, 1.0 = 100%)."""
        p = self.params
        return {
            "intensity": p.intensity,
            "days": p.days,
            "seed": p.seed,
            "survival_hours": self.survival_hours,
            "survived": self.survival_hours is None,
            "breaks": self.breaks,
            "min_lcr": self.min_lcr,
            "lcr_hourly": self.lcr,
            "lcr_daily": self.lcr[::HOURS_A_DAY],
            "cash_hourly": self.cash,
            "withdrawn": {g.value: self.withdrawn[g][-1] for g in Group},
            "withdrawn_daily": {g.value: self.withdrawn[g][::HOURS_A_DAY] for g in Group},
            "withdrawals": {g.value: self.withdrawals[g] for g in Group},
            "sold": self.sold,
            "facility": self.facility,
        }

    @property
    def breaks(self) -> bool:
        """The LCR fell below 100%, or the bank did not last 30 days."""
        short = self.survival_hours is not None and self.survival_hours < BREAKING_DAYS * 24
        low = self.min_lcr is not None and self.min_lcr < 1
        return short or low


def group_of(runner: Runner, insured_limit: int) -> Group:
    if runner.depositor.kind is DepositorKind.CORPORATE:
        return Group.CORPORATE
    return Group.RETAIL_LARGE if runner.balance > insured_limit else Group.RETAIL_SMALL


def _cascade(
    seed: tuple[int, ...], start: float, horizon: float, size: int, params: Params
) -> list[tuple[float, int]]:
    """A base withdrawal at ``start`` and everything it sets off before ``horizon``:
    (time, index of the depositor hit within the group)."""
    rng = np.random.default_rng(seed)
    events = [(start, int(rng.integers(size)))]
    parents = [start]
    while parents:
        t = parents.pop()
        for _ in range(int(rng.poisson(params.branching))):
            child = t + float(rng.exponential(1 / params.decay))
            target = int(rng.integers(size))
            if child < horizon:
                events.append((child, target))
                parents.append(child)
    return events


def withdrawal_times(
    size: int, rate: float, group_index: int, params: Params
) -> list[tuple[float, int]]:
    """Every withdrawal in one group, in time order (see the module's coupling)."""
    horizon = float(params.days * HOURS_A_DAY)
    base = params.intensity * rate * size
    if size == 0 or base <= 0:
        return []
    events: list[tuple[float, int]] = []
    for strip in range(math.ceil(base)):
        rng = np.random.default_rng((params.seed, group_index, strip))
        count = int(rng.poisson(horizon))
        times = rng.uniform(0, horizon, count)
        levels = strip + rng.uniform(0, 1, count)
        for i in np.flatnonzero(levels < base):
            events += _cascade(
                (params.seed, group_index, strip, int(i)), float(times[i]), horizon, size, params
            )
    events.sort()
    return events


def simulate(
    sheet: BalanceSheet, runners: list[Runner], factors: Factors, params: Params
) -> Result:
    """Run the bank ``sheet`` (whose depositors are ``runners``) through a bank run."""
    limit = factors.deposit_insurance.limit_fen
    by_group: dict[Group, list[int]] = {g: [] for g in Group}
    for i, r in enumerate(runners):
        by_group[group_of(r, limit)].append(i)
    schedule: list[tuple[float, int, Group]] = []
    for gi, group in enumerate(Group):
        members = by_group[group]
        for t, k in withdrawal_times(len(members), params.rates[group], gi, params):
            schedule.append((t, members[k], group))
    schedule.sort(key=lambda e: e[0])

    left = [r.balance for r in runners]
    taken_on: list[tuple[int, int]] = [(-1, 0) for _ in runners]  # (day, taken that day)
    cash = sheet.hqla.get(HqlaLevel.LEVEL1, 0)
    level2 = {lv: sheet.hqla.get(lv, 0) for lv in (HqlaLevel.LEVEL2A, HqlaLevel.LEVEL2B)}
    reserves = cash + sum(int(v * (1 - factors.haircut[lv])) for lv, v in level2.items())
    """What the bank can pay with before the facility: Level 1, and Level 2 sold."""
    # Asked for when the run starts (the outflow monitor sees it within minutes), so
    # that when it pays does not depend on the path: see the module's monotonicity.
    facility = int(max(sheet.other_assets, 0) * params.facility_share) if params.intensity else 0
    facility_at = float(params.facility_lag_hours)
    rest = compute(replace(sheet, depositors=()), factors)
    loan_inflows = int(sheet.loans.inflows_30d * factors.lcr.inflow.performing_loans)
    outflow_of = [
        compute(BalanceSheet(depositors=(r.depositor,)), factors).outflows for r in runners
    ]
    outflows = sum(outflow_of)

    hours = params.days * HOURS_A_DAY
    lcr: list[float | None] = []
    cash_path: list[int] = []
    withdrawn = {g: [0] * (hours + 1) for g in Group}
    counts = dict.fromkeys(Group, 0)
    totals = dict.fromkeys(Group, 0)
    paid_out = sold = received = 0
    survival: float | None = None
    event = 0

    def snapshot() -> None:
        levels = {HqlaLevel.LEVEL1: max(cash, 0), **level2}
        stock, _ = hqla_stock(levels, factors)
        gross = rest.outflows + outflows
        inflows = min(loan_inflows, int(gross * factors.lcr.inflow.cap))
        net = gross - inflows
        lcr.append(None if net <= 0 else stock / net)
        cash_path.append(cash)

    for hour in range(hours + 1):
        while event < len(schedule) and schedule[event][0] < hour:
            t, i, group = schedule[event]
            event += 1
            if received == 0 and facility and t >= facility_at:
                cash += facility
                received = facility
            day = int(t // HOURS_A_DAY)
            today = taken_on[i][1] if taken_on[i][0] == day else 0
            cap = runners[i].daily_cap
            room = left[i] if cap is None else min(left[i], cap - today)
            if room <= 0:
                continue
            left[i] -= room
            taken_on[i] = (day, today + room)
            paid_out += room
            cash -= room
            totals[group] += room
            counts[group] += 1
            # Deposits go first, what is operational (merchants') after.
            d = runners[i].depositor
            deposits = min(max(d.deposits, 0), left[i])
            now = replace(d, deposits=deposits, operational=left[i] - deposits)
            new = compute(BalanceSheet(depositors=(now,)), factors).outflows
            outflows += new - outflow_of[i]
            outflow_of[i] = new
            if cash < 0:  # sell Level 2 assets, the better ones first, at their haircut
                for lv in (HqlaLevel.LEVEL2A, HqlaLevel.LEVEL2B):
                    keep = 1 - factors.haircut[lv]
                    if cash >= 0 or not level2[lv] or keep == 0:
                        continue
                    face = min(level2[lv], math.ceil(-cash / keep))
                    level2[lv] -= face
                    sold += face
                    cash += int(face * keep)
            if cash < 0 and not any(level2.values()):
                cash = reserves + received - paid_out  # everything sold: no rounding left
            # Sales move value between cash and Level 2 at a price fixed by the
            # haircut, so whether the bank can pay depends on the withdrawals alone.
            if survival is None and reserves + received - paid_out < 0:
                survival = t
        if received == 0 and facility and hour >= facility_at:
            cash += facility
            received = facility
        for g in Group:
            withdrawn[g][hour] = totals[g]
        snapshot()
    return Result(
        params=params,
        survival_hours=survival,
        lcr=lcr,
        cash=cash_path,
        withdrawn=withdrawn,
        withdrawals=counts,
        sold=sold,
        facility=received,
    )


def find_breaking(
    breaks: Callable[[float], bool], *, low: float = 0.0, high: float = 1.0, tolerance: float = 0.01
) -> tuple[float, float] | None:
    """The intensity at which ``breaks`` turns true, as (last that holds, first that
    breaks) no further apart than ``tolerance`` (relative to the latter); None if even
    2**12 x ``high`` does not break (a run that strong is no longer a run: everyone
    leaves within hours, and simulating it costs in proportion). ``breaks`` is taken
    to be monotone."""
    if breaks(low):
        return (low, low)
    for _ in range(13):
        if breaks(high):
            break
        low, high = high, high * 2
    else:
        return None
    while high - low > tolerance * high:
        middle = (low + high) / 2
        if breaks(middle):
            high = middle
        else:
            low = middle
    return low, high
