"""The AML batch: run over one or more Beijing days of the ledger (see
:mod:`rongbank.risk.aml.queries` for how), storing what is new and raising each new
finding to the risk centre; a day run again stores and raises nothing."""

from __future__ import annotations

import logging
import time as clocks
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.errors import InvalidRequest
from rongbank.risk.aml import queries
from rongbank.risk.aml.config import AmlConfig, Customers, fen, load_config
from rongbank.risk.aml.explain import finding_sentence, report_sentence
from rongbank.risk.events import RiskAlertRaised

logger = logging.getLogger(__name__)

Transaction = Callable[[], AbstractContextManager[Session]]

WORK_MEM = "256MB"
"""For the run's sorts and hash joins over millions of postings (this transaction only)."""

MAX_DAYS = 366


class AmlDaysInvalid(InvalidRequest):
    code = "aml_days_invalid"
    message = "The days to run are not valid: the first must not be after the last."


@dataclass(frozen=True, kw_only=True)
class AmlRun:
    """What one run did: the movements it looked at in its days, and what was new."""

    first: date
    last: date
    movements: int
    reports: int
    findings: dict[str, int] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    """Wall seconds of each step (for the benchmark: what the time goes to)."""

    @property
    def found(self) -> int:
        return sum(self.findings.values())


def day_start(day: date) -> datetime:
    """The instant a Beijing day begins."""
    return datetime.combine(day, time(), tzinfo=BUSINESS_TIME_ZONE)


def like(pattern: str) -> str:
    """A shell-style pattern of the configuration (``*``, ``?``) as SQL LIKE."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _kinds(customers: Sequence[Customers]) -> list[str]:
    if Customers.ANY in customers:
        return [Customers.PERSON.value, Customers.ENTERPRISE.value]
    return [c.value for c in customers]


@contextmanager
def _step(steps: dict[str, float], name: str) -> Iterator[None]:
    started = clocks.monotonic()
    yield
    steps[name] = round(steps.get(name, 0.0) + clocks.monotonic() - started, 3)


def _run_script(session: Session, script: str, params: dict[str, Any]) -> None:
    for sql in script.split(";\n"):
        if sql.strip():
            session.execute(text(sql), params)


class AmlBatch:
    """The batch with its configuration and clock."""

    def __init__(self, config: AmlConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock

    def yesterday(self) -> date:
        """The last Beijing day that has ended."""
        return self.clock.now().astimezone(BUSINESS_TIME_ZONE).date() - timedelta(days=1)

    def run(self, session: Session, first: date, last: date | None = None) -> AmlRun:
        """Reports and findings of the days ``first`` .. ``last`` (default: ``first``),
        in one pass over their postings; stores the new ones and raises each new
        finding as a ``risk.alert_raised`` event, in ``session``'s transaction."""
        last = first if last is None else last
        if last < first or (last - first).days >= MAX_DAYS:
            raise AmlDaysInvalid(first=first.isoformat(), last=last.isoformat())
        c = self.config
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('risk-aml'))"))
        session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        for table in ("aml_candidate", "aml_report_candidate", "aml_movement", "aml_account"):
            session.execute(text(f"DROP TABLE IF EXISTS {table}"))
        params: dict[str, Any] = {
            "first": first,
            "last": last,
            "since": day_start(first - timedelta(days=c.lookback_days)),
            "start": day_start(first),
            "until": day_start(last + timedelta(days=1)),
            "cash": [like(p) for p in c.accounts.cash],
            "cross_border": [like(p) for p in c.accounts.cross_border],
            "exempt": [like(p) for p in c.accounts.exempt],
            "r_rule": [x.rule.value for x in c.large_value],
            "r_customers": [x.customers.value for x in c.large_value],
            "r_channel": [x.channel.value for x in c.large_value],
            "r_cny": [x.cny_fen for x in c.large_value],
            "r_usd": [x.usd_cents for x in c.large_value],
            "fx_currency": list(c.fx),
            "fx_rate": list(c.fx.values()),
        }
        steps: dict[str, float] = {}
        with _step(steps, "accounts"):
            _run_script(session, queries.ACCOUNTS, params)
        with _step(steps, "movements"):
            _run_script(session, queries.MOVEMENTS, params)
            per_day = {d: int(n) for d, n in session.execute(text(queries.COUNT_MOVEMENTS), params)}
        with _step(steps, "large_value"):
            reports = self._reports(session, params)
        findings = self._findings(session, params, steps)
        at = self.clock.now()
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        session.execute(
            text(queries.RECORD_RUN),
            {
                "days": days,
                "at_": [at] * len(days),
                "movements": [per_day.get(d, 0) for d in days],
                "reports": [reports[d] for d in days],
                "findings": [sum(n for (d2, _), n in findings.items() if d2 == d) for d in days],
            },
        )
        by_pattern: Counter[str] = Counter()
        for (_, pattern), n in findings.items():
            by_pattern[pattern] += n
        return AmlRun(
            first=first,
            last=last,
            movements=sum(per_day.values()),
            reports=sum(reports.values()),
            findings=dict(sorted(by_pattern.items())),
            steps=steps,
        )

    def _reports(self, session: Session, params: dict[str, Any]) -> Counter[date]:
        session.execute(text(queries.REPORTS), params)
        articles = {x.rule.value: x.article for x in self.config.large_value}
        numbers, zh, en = [], [], []
        for row in session.execute(
            text(
                "SELECT n, day, rule, direction, currency_class, total, threshold, movements, "
                "entry_ids FROM aml_report_candidate ORDER BY n"
            )
        ):
            z, e = report_sentence(
                day=row.day,
                rule=row.rule,
                article=articles[row.rule],
                direction=row.direction,
                currency_class=row.currency_class,
                total=int(row.total),
                threshold=int(row.threshold),
                movements=int(row.movements),
                entry_ids=row.entry_ids,
            )
            numbers.append(int(row.n))
            zh.append(z)
            en.append(e)
        stored: Counter[date] = Counter()
        if numbers:
            for (day,) in session.execute(
                text(queries.INSERT_REPORTS),
                {"n": numbers, "zh": zh, "en": en, "at": self.clock.now()},
            ):
                stored[day] += 1
        return stored

    def _findings(
        self, session: Session, params: dict[str, Any], steps: dict[str, float]
    ) -> Counter[tuple[date, str]]:
        c = self.config
        p = {
            **params,
            "band": c.structuring.band,
            "structuring_count": c.structuring.min_count,
            "structuring_window": c.structuring.window_days,
            "round_min": fen(c.round_amounts.min_amount),
            "round_unit": fen(c.round_amounts.unit),
            "round_count": c.round_amounts.min_count,
            "round_window": c.round_amounts.window_days,
            "fan_kinds": _kinds(c.fan.customers),
            "fan_count": c.fan.min_counterparties,
            "fan_total": fen(c.fan.min_total),
            "fan_window": c.fan.window_days,
            "rapid_hours": c.rapid_in_out.hours,
            "rapid_min": fen(c.rapid_in_out.min_in),
            "rapid_share": c.rapid_in_out.share,
            "rapid_kinds": _kinds(c.rapid_in_out.customers),
            "dormant_min": fen(c.dormant.min_amount),
            "dormant_months": c.dormant.months,
        }
        session.execute(text(queries.CANDIDATES))
        windowed = queries.WINDOWED.format(
            structuring_days=int(c.structuring.window_days) - 1,
            round_days=int(c.round_amounts.window_days) - 1,
        )
        fan = queries.FAN.format(fan_days=int(c.fan.window_days) - 1)
        for name, sql in (
            ("structuring_round", windowed),
            ("fan", fan),
            ("rapid_in_out", queries.RAPID),
            ("dormant", queries.DORMANT),
        ):
            with _step(steps, name):
                session.execute(text(sql), p)
        with _step(steps, "store_findings"):
            return self._store(session)

    def _store(self, session: Session) -> Counter[tuple[date, str]]:
        keys, zh, en = [], [], []
        for row in session.execute(text(queries.NEW_CANDIDATES)):
            z, e = finding_sentence(
                row.pattern, amount=int(row.amount), entry_ids=row.entry_ids, details=row.details
            )
            keys.append(row.finding_key)
            zh.append(z)
            en.append(e)
        stored: Counter[tuple[date, str]] = Counter()
        if not keys:
            return stored
        at = self.clock.now()
        inserted = session.execute(
            text(queries.INSERT_FINDINGS), {"keys": keys, "zh": zh, "en": en, "at": at}
        ).all()
        for row in inserted:
            stored[(row.day, row.pattern)] += 1
            outbox.record(
                session,
                RiskAlertRaised(
                    occurred_at=at,
                    source="aml",
                    source_ref=str(row.id),
                    customer_id=int(row.customer_id),
                    action="report",
                    reasons=str(row.pattern),
                    amount=int(row.amount),
                ),
            )
        return stored

    def run_due(self, transaction: Transaction) -> AmlRun | None:
        """The daily job: the days from the one after the last run (at most
        ``catch_up_days`` back) to yesterday, in one run; None when none is due."""
        last = self.yesterday()
        with transaction() as session:
            done = session.execute(text("SELECT max(day) FROM risk_aml_run")).scalar_one()
            first = last - timedelta(days=self.config.job.catch_up_days - 1)
            if done is not None:
                first = max(first, done + timedelta(days=1))
            if first > last:
                return None
            return self.run(session, first, last)


def aml_job(
    transaction: Transaction, clock: Clock, config: AmlConfig | None = None
) -> tuple[float, Callable[[], None]]:
    """The batch as a periodic job of ``rongbank up``: its interval and its run."""
    batch = AmlBatch(config or load_config(), clock)

    def run() -> None:
        done = batch.run_due(transaction)
        if done is not None:
            logger.info("AML batch %s..%s: %s", done.first, done.last, done)

    return float(batch.config.job.check_seconds), run
