"""The rules as analysts review them: who proposed and approved each version, a
backtest day by day with what the cases later made of its hits, the hits a rule in
shadow really met, and each live rule's hits and precision over the last days.

A decision's label is the case of the alert the engine raised on it (a review, a
block or a shadow rule met), once that case is closed: ``fraud`` is confirmed fraud,
``genuine`` and ``no_action`` are false positives, ``suspicious`` is an AML finding
(neither). A payment the engine let through raised no alert and has no label: a
backtest says how many hits are still unlabelled rather than guess."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.risk.engine import store
from rongbank.risk.engine.backtest import recorded
from rongbank.risk.engine.rules import Rule

_LABEL = """
LEFT JOIN LATERAL (
    SELECT c.outcome FROM risk_alert a
    JOIN risk_case c ON c.id = a.case_id AND c.status = 'closed'
    WHERE a.source = 'engine' AND a.source_ref IN (d.id::text, d.id::text || '\\:shadow')
    ORDER BY c.outcome = 'fraud' DESC LIMIT 1
) label ON true
"""
"""The outcome of the closed case behind decision ``d`` (NULL: none yet): the
alerts' unique (source, source_ref) makes it two index probes."""

_COUNTS = (
    "count(*), count(label.outcome), count(*) FILTER (WHERE label.outcome = 'fraud'), "
    "count(*) FILTER (WHERE label.outcome IN ('genuine', 'no_action'))"
)


@dataclass(frozen=True, slots=True)
class Labelled:
    """Hits and what the closed cases made of them."""

    hits: int = 0
    closed: int = 0
    """Hits whose case is closed."""
    fraud: int = 0
    false_positives: int = 0

    @property
    def unlabelled(self) -> int:
        return self.hits - self.closed

    @property
    def precision(self) -> float | None:
        """Of the hits whose case is closed, the share confirmed as fraud."""
        return self.fraud / self.closed if self.closed else None

    def __add__(self, other: Labelled) -> Labelled:
        return Labelled(
            self.hits + other.hits,
            self.closed + other.closed,
            self.fraud + other.fraud,
            self.false_positives + other.false_positives,
        )


@dataclass(frozen=True, slots=True)
class Daily:
    """Hits per Beijing day over a period, every day listed (0 where none)."""

    days: list[str]
    hits: list[int]
    total: Labelled
    decisions: int | None = None
    """Decisions replayed (a backtest); None where the hits were recorded."""
    amount: int = 0
    """Minor units of the payments met (a backtest)."""


@dataclass(frozen=True, slots=True)
class RuleEntry:
    """A rule's version with the names of who proposed and approved it."""

    rule: store.StoredRule
    state: str
    """``draft`` (waiting for a second analyst), ``shadow``, ``live``, ``disabled``
    or ``superseded`` (a later version was approved)."""
    proposed_by: str
    approved_by: str
    approved_at: datetime | None = field(default=None)


def state_of(rule: store.StoredRule) -> str:
    if rule.status == "pending":
        return "draft"
    if rule.status == "active":
        return rule.mode
    return rule.status


def entries(session: Session, rules: list[store.StoredRule]) -> list[RuleEntry]:
    """``rules`` with their people's names and when each came into force."""
    ids = {r.switched_on_by for r in rules} | {r.approved_by for r in rules}
    names: dict[int, str] = dict(
        session.execute(
            text("SELECT id, name FROM staff WHERE id = ANY(:ids)"),
            {"ids": [i for i in ids if i is not None]},
        ).all()
    )
    approved: dict[int, datetime] = dict(
        session.execute(
            text("SELECT id, approved_at FROM risk_rule WHERE id = ANY(:ids)"),
            {"ids": [r.id for r in rules]},
        ).all()
    )

    def who(staff_id: int | None) -> str:
        # None: a baseline rule, put in force by its migration.
        return "" if staff_id is None else names.get(staff_id, f"#{staff_id}")

    return [
        RuleEntry(
            r,
            state_of(r),
            who(r.switched_on_by),
            who(r.approved_by),
            approved.get(r.id),
        )
        for r in rules
    ]


def rules_to_approve(session: Session, staff_id: int) -> int:
    """Rules waiting for an approval this analyst may give (not their own)."""
    return int(
        session.execute(
            text(
                "SELECT count(*) FROM risk_rule WHERE status = 'pending' "
                "AND switched_on_by IS DISTINCT FROM :me"
            ),
            {"me": staff_id},
        ).scalar_one()
    )


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """Beijing days ``first`` to ``last``, both included, as instants."""
    start = datetime.combine(first, time(), BUSINESS_TIME_ZONE)
    return start, datetime.combine(last + timedelta(days=1), time(), BUSINESS_TIME_ZONE)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def labelled(session: Session, decision_ids: Iterable[int]) -> Labelled:
    """What the closed cases made of these decisions."""
    row = session.execute(
        text(f"SELECT {_COUNTS} FROM unnest(CAST(:ids AS bigint[])) AS d (id) {_LABEL}"),  # noqa: S608
        {"ids": list(decision_ids)},
    ).one()
    return Labelled(*(int(n) for n in row))


def replay(session: Session, rule: Rule, *, first: date, last: date) -> Daily:
    """``rule`` replayed over the decisions of Beijing days ``first`` to ``last``
    (``rongbank.risk.engine.backtest``'s reading of them), its hits per day and what
    the cases made of them."""
    since, until = day_range(first, last)
    days = _days(first, last)
    per_day = dict.fromkeys(days, 0)
    met: list[int] = []
    decisions = amount = 0
    for decision in recorded(session, since=since, until=until):
        decisions += 1
        if rule.matches(decision.features):
            met.append(decision.id)
            amount += decision.amount
            per_day[decision.decided_at.astimezone(BUSINESS_TIME_ZONE).date()] += 1
    return Daily(
        days=[d.isoformat() for d in days],
        hits=list(per_day.values()),
        total=labelled(session, met),
        decisions=decisions,
        amount=amount,
    )


def recorded_hits(
    session: Session, rule_ids: list[int], *, mode: str, first: date, last: date
) -> dict[int, Daily]:
    """The hits the engine recorded for these rules (in ``mode``: ``shadow`` hits of a
    rule in shadow, ``live`` ones of a rule in force), per rule and Beijing day."""
    since, until = day_range(first, last)
    rows = session.execute(
        text(
            "SELECT (r ->> 'id')::bigint, (d.decided_at AT TIME ZONE 'Asia/Shanghai')::date, "  # noqa: S608
            f"{_COUNTS} FROM risk_decision d CROSS JOIN LATERAL jsonb_array_elements(d.rules) r "
            f"{_LABEL} WHERE d.decided_at >= :since AND d.decided_at < :until "
            "AND r ->> 'mode' = :mode "
            "AND (r ->> 'id')::bigint = ANY(:ids) GROUP BY 1, 2"
        ),
        {
            "since": since,
            "until": until,
            "mode": mode,
            "ids": rule_ids,
        },
    ).all()
    days = _days(first, last)
    found: dict[int, dict[date, Labelled]] = {i: {} for i in rule_ids}
    for rule_id, day, *counts in rows:
        found[int(rule_id)][day] = Labelled(*(int(n) for n in counts))
    return {
        rule_id: Daily(
            days=[d.isoformat() for d in days],
            hits=[per.get(d, Labelled()).hits for d in days],
            total=sum(per.values(), Labelled()),
        )
        for rule_id, per in found.items()
    }


@dataclass(frozen=True, slots=True)
class Performance:
    """A live rule over the last days: its recorded hits, and of those whose case
    is closed, the share confirmed as fraud."""

    rule: store.StoredRule
    figures: Labelled


def performance(session: Session, today: date, *, days: int = 30) -> list[Performance]:
    """Each rule in force (live), over the ``days`` Beijing days up to ``today``."""
    live = [r for r in store.listed(session) if r.status == "active" and r.mode == "live"]
    first = today - timedelta(days=days - 1)
    hits = recorded_hits(session, [r.id for r in live], mode="live", first=first, last=today)
    return [Performance(r, hits[r.id].total) for r in live]
