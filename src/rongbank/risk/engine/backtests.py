"""A rule's backtest as background work: asked for in the console, run by the job.

Replaying a rule over a bank's history is minutes of work: too long for a web
request (it would time out, hold a worker and a database connection, and a double
click would run it twice). So asking records the backtest (who asked, the rule's
version, the Beijing days) and answers at once; the ``risk-backtests`` job of the
process that leads the periodic jobs (``rongbank.jobs``) replays it with
``rongbank.risk.monitoring.rules.replay``, the same reading as before, one Beijing day
per transaction. After each day it keeps the figures so far and the last day done:
the page shows that progress, a run cut off (the process stopped) is resumed from
the next day by whichever process leads next, and no snapshot is held for minutes.

A run takes a backtest with ``FOR UPDATE SKIP LOCKED`` and a new ``attempt``; it
writes only while the row's attempt is still its own, so a run that went silent for
``STALE`` and was taken over stops at its next day rather than count twice. Asking
again for the same rule version and days while one waits or runs is that one (a
unique index over the waiting ones makes it so under concurrent asks too).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

import rule_engine
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import Clock
from rongbank.errors import InvalidRequest, NotFound
from rongbank.risk.engine import store
from rongbank.risk.monitoring.rules import Daily, Labelled, replay

logger = logging.getLogger(__name__)

Transaction = Callable[[], AbstractContextManager[Session]]

INTERVAL_SECONDS = 5.0
"""How often the leader looks for a waiting backtest (one indexed probe)."""
STALE = timedelta(minutes=10)
"""A running backtest silent this long lost its process: another run takes it over."""
ATTEMPTS = 5
"""Runs a backtest may be taken by before it is given up as interrupted."""
LONGEST_DAYS = 366

WAITING = ("queued", "running")

Status = Literal["queued", "running", "done", "failed"]
Failure = Literal["rule_unevaluable", "interrupted", "error"]


class BacktestPeriodInvalid(InvalidRequest):
    code = "risk_backtest_period_invalid"
    message = "The backtest's period must start before it ends, and last at most a year."


class BacktestNotFound(NotFound):
    code = "risk_backtest_not_found"
    message = "There is no such backtest."


@dataclass(frozen=True, slots=True)
class AskedBacktest:
    """A backtest as asked for, and how far it got."""

    id: int
    rule_id: int
    first: date
    last: date
    asked_by: int
    asked_by_name: str
    asked_at: datetime
    status: Status
    """``queued``, ``running``, ``done`` or ``failed``."""
    done_through: date | None
    figures: Daily | None
    """The days replayed so far (all of them once done)."""
    finished_at: datetime | None
    failure: Failure | None
    """Why it failed: ``rule_unevaluable`` (on ``failure_day``), ``interrupted`` or
    ``error`` (the log has the details)."""
    failure_day: date | None

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def days_done(self) -> int:
        return 0 if self.done_through is None else (self.done_through - self.first).days + 1

    @property
    def finished(self) -> bool:
        return self.status not in WAITING


def _daily(first: date, found: dict[str, Any] | None) -> Daily | None:
    if found is None:
        return None
    hits: list[int] = found["hits"]
    return Daily(
        days=[(first + timedelta(days=n)).isoformat() for n in range(len(hits))],
        hits=hits,
        total=Labelled(**found["total"]),
        decisions=found["decisions"],
        amount=found["amount"],
    )


def _added(so_far: Daily | None, day: Daily) -> Daily:
    """The figures through ``day``: ``so_far``'s with the day's after them."""
    if so_far is None:
        return day
    return Daily(
        days=so_far.days + day.days,
        hits=so_far.hits + day.hits,
        total=so_far.total + day.total,
        decisions=(so_far.decisions or 0) + (day.decisions or 0),
        amount=so_far.amount + day.amount,
    )


def _stored(figures: Daily) -> str:
    t = figures.total
    return json.dumps(
        {
            "hits": figures.hits,
            "total": {
                "hits": t.hits,
                "closed": t.closed,
                "fraud": t.fraud,
                "false_positives": t.false_positives,
            },
            "decisions": figures.decisions,
            "amount": figures.amount,
        }
    )


_SELECT = (
    "SELECT b.id, b.rule_id, b.first_day, b.last_day, b.asked_by, s.name, b.asked_at, "
    "b.status, b.done_through, b.figures, b.finished_at, b.failure, b.failure_day "
    "FROM risk_backtest b JOIN staff s ON s.id = b.asked_by"
)


def _asked(row: Any) -> AskedBacktest:
    asked = AskedBacktest(*row)
    return replace(asked, figures=_daily(asked.first, row.figures))


def ask(session: Session, rule_id: int, *, first: date, last: date, by: int, now: datetime) -> int:
    """The backtest of rule version ``rule_id`` over Beijing days ``first`` to
    ``last``, queued for the job; the one already waiting or running for the same
    version and days if there is one. Its id."""
    if first > last or (last - first).days >= LONGEST_DAYS:
        raise BacktestPeriodInvalid(field="since")
    store.get(session, rule_id)  # 404 for a rule that is not there
    params = {"rule": rule_id, "first": first, "last": last, "by": by, "now": now}
    for _ in range(3):  # the one it met may finish between the two statements
        added = session.execute(
            text(
                "INSERT INTO risk_backtest (rule_id, first_day, last_day, asked_by, asked_at) "
                "VALUES (:rule, :first, :last, :by, :now) ON CONFLICT (rule_id, first_day, "
                "last_day) WHERE status IN ('queued', 'running') DO NOTHING RETURNING id"
            ),
            params,
        ).scalar_one_or_none()
        if added is None:
            added = session.execute(
                text(
                    "SELECT id FROM risk_backtest WHERE rule_id = :rule AND first_day = :first "
                    "AND last_day = :last AND status IN ('queued', 'running')"
                ),
                params,
            ).scalar_one_or_none()
        if added is not None:
            return int(added)
    raise RuntimeError("asking for a backtest kept meeting one that finished")


def get(session: Session, backtest_id: int) -> AskedBacktest:
    row = session.execute(text(f"{_SELECT} WHERE b.id = :id"), {"id": backtest_id}).one_or_none()
    if row is None:
        raise BacktestNotFound()
    return _asked(row)


def of_rule(session: Session, rule_id: int, *, limit: int = 5) -> list[AskedBacktest]:
    """The rule version's latest backtests, newest first."""
    rows = session.execute(
        text(f"{_SELECT} WHERE b.rule_id = :rule ORDER BY b.id DESC LIMIT :n"),
        {"rule": rule_id, "n": limit},
    ).all()
    return [_asked(r) for r in rows]


# -- the job --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claim:
    id: int
    attempt: int


def _claim(session: Session, now: datetime) -> _Claim | None:
    row = session.execute(
        text(
            "UPDATE risk_backtest SET status = 'running', attempt = attempt + 1, beat_at = :now "
            "WHERE id = (SELECT id FROM risk_backtest WHERE status = 'queued' "
            "OR (status = 'running' AND beat_at < :stale) ORDER BY id LIMIT 1 "
            "FOR UPDATE SKIP LOCKED) RETURNING id, attempt"
        ),
        {"now": now, "stale": now - STALE},
    ).one_or_none()
    return None if row is None else _Claim(int(row[0]), int(row[1]))


def _ended(session: Session, claim: _Claim, now: datetime, **outcome: Any) -> None:
    """Write the run's end, if the backtest is still this run's."""
    session.execute(
        text(
            "UPDATE risk_backtest SET status = :status, finished_at = :now, "
            "failure = :failure, failure_day = :day "
            "WHERE id = :id AND attempt = :attempt AND status = 'running'"
        ),
        {"id": claim.id, "attempt": claim.attempt, "now": now, "failure": None, "day": None}
        | outcome,
    )


def _run(
    transaction: Transaction, clock: Clock, claim: _Claim, stopping: Callable[[], bool]
) -> None:
    with transaction() as session:
        asked = get(session, claim.id)
        rule = store.as_rule(store.get(session, asked.rule_id))
    if claim.attempt > ATTEMPTS:
        with transaction() as session:
            _ended(session, claim, clock.now(), status="failed", failure="interrupted")
        return
    day = asked.first if asked.done_through is None else asked.done_through + timedelta(days=1)
    so_far = asked.figures
    while day <= asked.last:
        if stopping():
            _hand_back(transaction, claim)
            return
        try:
            with transaction() as session:
                so_far = _added(so_far, replay(session, rule, first=day, last=day))
                kept = session.execute(
                    text(
                        "UPDATE risk_backtest SET done_through = :day, figures = :figures, "
                        "beat_at = :now WHERE id = :id AND attempt = :attempt "
                        "AND status = 'running'"
                    ),
                    {
                        "id": claim.id,
                        "attempt": claim.attempt,
                        "day": day,
                        "now": clock.now(),
                        "figures": _stored(so_far),
                    },
                )
        except rule_engine.errors.EngineError:
            # The condition cannot be evaluated on what was recorded that day (a
            # feature recorded with another type then): the analyst's to change.
            logger.info("backtest %d: rule %d not evaluable on %s", claim.id, rule.id, day)
            with transaction() as session:
                _ended(
                    session,
                    claim,
                    clock.now(),
                    status="failed",
                    failure="rule_unevaluable",
                    day=day,
                )
            return
        if kept.rowcount == 0:  # type: ignore[attr-defined]
            logger.warning("backtest %d was taken over by another run", claim.id)
            return
        day += timedelta(days=1)
    with transaction() as session:
        _ended(session, claim, clock.now(), status="done")


def _hand_back(transaction: Transaction, claim: _Claim) -> None:
    """Queue it again for the next run, which resumes after its last kept day."""
    with transaction() as session:
        session.execute(
            text(
                "UPDATE risk_backtest SET status = 'queued' "
                "WHERE id = :id AND attempt = :attempt AND status = 'running'"
            ),
            {"id": claim.id, "attempt": claim.attempt},
        )


def _never() -> bool:
    return False


def run_waiting(
    transaction: Transaction, clock: Clock, stopping: Callable[[], bool] = _never
) -> int:
    """Run the waiting backtests one after another, oldest first (and those whose run
    went silent); how many it took. When ``stopping`` (the process is shutting down),
    the one it runs is queued again after the day it is on, for the next leader to
    resume at once rather than after ``STALE``."""
    taken = 0
    while not stopping():
        with transaction() as session:
            claim = _claim(session, clock.now())
        if claim is None:
            return taken
        taken += 1
        try:
            _run(transaction, clock, claim, stopping)
        except Exception:
            logger.exception("backtest %d failed", claim.id)
            with transaction() as session:
                _ended(session, claim, clock.now(), status="failed", failure="error")
    return taken


def backtest_job(
    transaction: Transaction, clock: Clock, stopping: Callable[[], bool]
) -> tuple[float, Callable[[], None]]:
    """The backtests as a periodic job of ``rongbank up``: its interval and its run
    (``stopping``: whether the process is shutting down)."""

    def run() -> None:
        run_waiting(transaction, clock, stopping)

    return INTERVAL_SECONDS, run
