"""A rule replayed over the decisions the engine recorded, before it goes live.

Each ``risk_decision`` keeps the features the engine saw; a backtest evaluates the
rule on them, as the payment stood then, and counts what it would have met: how
many payments and how much money, and, for a rule that reviews or blocks, how much
it would have stopped that went through. Features a rule names that an old decision
did not record make it not match there (a new feature has no history yet).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.risk.engine.rules import Rule

STOPPING = frozenset({"review", "block"})


@dataclass(frozen=True, slots=True)
class Backtest:
    rule: str
    action: str
    since: datetime
    until: datetime
    decisions: int
    hits: int
    hit_amount: int
    """Minor units of the payments it met."""
    would_stop: int
    """Payments it met that went through (allowed or challenged) and it would have
    held or refused: 0 for a rule that only challenges."""
    would_stop_amount: int
    hits_by_action: dict[str, int]
    """What the engine really did with the payments the rule met."""

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["since"], found["until"] = self.since.isoformat(), self.until.isoformat()
        return found


@dataclass(frozen=True, slots=True)
class Replayed:
    """One recorded decision, as a replay reads it."""

    id: int
    amount: int
    action: str
    features: dict[str, Any]
    decided_at: datetime


def recorded(
    session: Session, *, since: datetime, until: datetime, batch: int = 5000
) -> Iterator[Replayed]:
    """The decisions recorded in ``[since, until)``, oldest first, read in batches
    (a backtest over months never holds them all)."""
    last = 0
    while True:
        rows = session.execute(
            text(
                "SELECT id, amount, action, features, decided_at FROM risk_decision "
                "WHERE decided_at >= :since AND decided_at < :until AND id > :last "
                "ORDER BY id LIMIT :n"
            ),
            {"since": since, "until": until, "last": last, "n": batch},
        ).all()
        for decision_id, amount, action, features, at in rows:
            last = int(decision_id)
            yield Replayed(last, int(amount), action, features, at)
        if len(rows) < batch:
            return


def backtest(
    session: Session, rule: Rule, *, since: datetime, until: datetime, batch: int = 5000
) -> Backtest:
    hits = hit_amount = stopped = stopped_amount = decisions = 0
    by_action: dict[str, int] = {}
    for decision in recorded(session, since=since, until=until, batch=batch):
        decisions += 1
        if not rule.matches(decision.features):
            continue
        hits += 1
        hit_amount += decision.amount
        by_action[decision.action] = by_action.get(decision.action, 0) + 1
        if rule.action in STOPPING and decision.action not in STOPPING:
            stopped += 1
            stopped_amount += decision.amount
    return Backtest(
        rule=f"{rule.name} v{rule.version}",
        action=rule.action,
        since=since,
        until=until,
        decisions=decisions,
        hits=hits,
        hit_amount=hit_amount,
        would_stop=stopped,
        would_stop_amount=stopped_amount,
        hits_by_action=by_action,
    )
