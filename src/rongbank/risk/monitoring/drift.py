"""The drift of the engine's scores: each Beijing day's distribution of decision
scores against a baseline, as a population stability index (PSI).

The baseline is the first week of recorded decisions (the seven Beijing days from
the first one): the shipped model's artefact keeps no distribution of the scores
it was trained to give, and a decision's score blends the rules' points with it.
Scores (0 to 100 points) fall in ten bins of ten points. PSI is
``sum((a - e) * ln(a / e))`` over the bins' shares, each at least
:data:`FLOOR` so that an empty bin counts as rare rather than as infinitely
surprising; by the usual reading, under 0.1 is stable, 0.1 to 0.25 a shift worth
watching, above 0.25 a shift to act on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.risk.monitoring.rules import day_range

BINS = 10
FLOOR = 1e-4
WATCH, ACT = 0.1, 0.25
BASELINE_DAYS = 7

_BINNED = (
    "SELECT {day} least(floor(score / 10)::int, 9), count(*), sum(score) FROM risk_decision "
    "WHERE decided_at >= :since AND decided_at < :until GROUP BY {group}"
)


def psi(expected: Sequence[int], actual: Sequence[int]) -> float | None:
    """The population stability index of ``actual`` counts per bin against
    ``expected`` ones; None when either has no counts."""
    e_total, a_total = sum(expected), sum(actual)
    if not e_total or not a_total:
        return None
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e_share, a_share = max(e / e_total, FLOOR), max(a / a_total, FLOOR)
        total += (a_share - e_share) * math.log(a_share / e_share)
    return total


def band(value: float | None) -> str:
    """``stable``, ``watch`` or ``act`` (``none`` without figures)."""
    if value is None:
        return "none"
    return "stable" if value < WATCH else "watch" if value < ACT else "act"


@dataclass(frozen=True, slots=True)
class DriftDay:
    day: str
    decisions: int
    mean_score: float | None
    shares: list[float]
    """The share of the day's decisions in each bin."""
    psi: float | None


@dataclass(frozen=True, slots=True)
class Drift:
    baseline_from: str | None
    """The first Beijing day of the baseline week (None: no decision yet)."""
    baseline_until: str | None
    baseline: list[int]
    """Decisions per bin over the baseline week."""
    days: list[DriftDay]


def _bins(rows: Sequence[tuple[int, int]]) -> list[int]:
    counts = [0] * BINS
    for b, n in rows:
        counts[int(b)] += int(n)
    return counts


def drift(session: Session, today: date, *, days: int = 30) -> Drift:
    """The ``days`` Beijing days up to ``today``, each against the baseline week."""
    first_at: datetime | None = session.execute(
        text("SELECT min(decided_at) FROM risk_decision")
    ).scalar_one()
    first = today - timedelta(days=days - 1)
    listed = [first + timedelta(days=n) for n in range(days)]
    if first_at is None:
        empty = [DriftDay(d.isoformat(), 0, None, [0.0] * BINS, None) for d in listed]
        return Drift(None, None, [0] * BINS, empty)
    base_first = first_at.astimezone(BUSINESS_TIME_ZONE).date()
    base_last = base_first + timedelta(days=BASELINE_DAYS - 1)
    since, until = day_range(base_first, base_last)
    baseline = _bins(
        [
            (b, n)
            for b, n, _ in session.execute(
                text(_BINNED.format(day="", group="1")), {"since": since, "until": until}
            ).all()
        ]
    )
    since, until = day_range(first, today)
    per_day: dict[date, list[tuple[int, int]]] = {}
    sums: dict[date, float] = {}
    for day, b, n, total in session.execute(
        text(_BINNED.format(day="(decided_at AT TIME ZONE 'Asia/Shanghai')::date,", group="1, 2")),
        {"since": since, "until": until},
    ).all():
        per_day.setdefault(day, []).append((b, n))
        sums[day] = sums.get(day, 0.0) + float(total)
    found = []
    for d in listed:
        counts = _bins(per_day.get(d, []))
        n = sum(counts)
        found.append(
            DriftDay(
                d.isoformat(),
                n,
                round(sums[d] / n, 2) if n else None,
                [c / n if n else 0.0 for c in counts],
                psi(baseline, counts),
            )
        )
    return Drift(base_first.isoformat(), base_last.isoformat(), baseline, found)
