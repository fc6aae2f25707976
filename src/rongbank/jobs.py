"""Which process runs the bank's periodic jobs, when several serve one database.

``rongbank up --workers N`` runs N API processes (and a bank may run more on other
hosts); each starts the periodic jobs of :meth:`rongbank.platform.Platform.start`,
but only one of them, the leader, runs those that need doing once (expiring holds,
sealing the audit trail, paying out wealth, sending notifications...). The leader is
the process that holds the PostgreSQL advisory lock ``jobs`` on a connection of its
own: the lock lasts as long as that connection, so when the leader stops, crashes or
loses its connection the server lets go of it, and the next process to ask takes
over within a check or two. Every process asks (``pg_try_advisory_lock``, which
never waits) before each job's run, at most once every ``recheck`` seconds.

A leader whose connection is cut learns it at its next check; meanwhile another
may have taken the lock, so two can run the same job for a moment. The jobs allow
it (each locks what it changes, as they must anyway for an operator running one by
hand); leadership keeps them from running N times over, it is not what makes them
safe.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import metrics
from rongbank.clock import Clock
from rongbank.db import SessionFactory, advisory_key, run, statement, unit_of_work

logger = logging.getLogger(__name__)

Connect = Callable[[], psycopg.Connection[Any]]

_TAKE = f"SELECT pg_try_advisory_lock({advisory_key('%(namespace)s', '0')})"


class Leadership:
    """Whether this process is the one that runs the once-only jobs now."""

    def __init__(self, connect: Connect, *, recheck: float = 1.0) -> None:
        self._connect = connect
        self._recheck = recheck
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._checked_until = 0.0

    def held(self) -> bool:
        """True while this process holds the lock; takes it if it is free."""
        with self._lock:
            if time.monotonic() < self._checked_until:
                return self._held
            self._checked_until = time.monotonic() + self._recheck
            try:
                if self._conn is None:
                    self._conn = self._connect()
                if self._held:
                    self._conn.execute("SELECT 1")  # the lock is this connection's
                else:
                    row = self._conn.execute(_TAKE, {"namespace": "jobs"}).fetchone()
                    self._held = bool(row and row[0])
                    if self._held:
                        logger.info("process %d runs the periodic jobs", os.getpid())
            except psycopg.Error as error:
                if self._held:
                    logger.warning("lost the lead of the periodic jobs: %r", error)
                self._drop()
            return self._held

    def close(self) -> None:
        """Let go of the lead (another process takes it at its next check)."""
        with self._lock:
            self._drop()
            self._checked_until = float("inf")

    def _drop(self) -> None:
        held, self._held = self._held, False
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                if held:
                    # Let go at once: a closed connection's lock is freed only when the
                    # server has ended its backend, in its own time.
                    conn.execute("SELECT pg_advisory_unlock_all()")
            except psycopg.Error:
                logger.debug("letting go of the jobs lock failed", exc_info=True)
            finally:
                try:
                    conn.close()
                except psycopg.Error:
                    logger.debug("closing the jobs connection failed", exc_info=True)


# -- the record of each job's runs -------------------------------------------------------

_RECORD_RUN = statement(
    "INSERT INTO job_runs (name, interval_seconds, started_at, finished_at, ok, error, "
    "host, pid, last_ok_at) VALUES (:name, :interval, :started, :finished, :ok, :error, "
    ":host, :pid, CASE WHEN :ok THEN CAST(:finished AS timestamptz) END) "
    "ON CONFLICT (name) DO UPDATE SET interval_seconds = EXCLUDED.interval_seconds, "
    "started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, ok = EXCLUDED.ok, "
    "error = EXCLUDED.error, host = EXCLUDED.host, pid = EXCLUDED.pid, "
    "last_ok_at = COALESCE(EXCLUDED.last_ok_at, job_runs.last_ok_at)"
)


@dataclass(frozen=True, slots=True)
class JobRun:
    """The last run of a periodic job, whichever process ran it."""

    name: str
    interval_seconds: float
    started_at: datetime
    finished_at: datetime
    ok: bool
    error: str | None
    host: str
    pid: int
    last_ok_at: datetime | None

    def lag(self, now: datetime) -> float | None:
        """Seconds past the job's interval since its last successful run (0: on time;
        None: it never succeeded)."""
        if self.last_ok_at is None:
            return None
        late = (now - self.last_ok_at).total_seconds() - self.interval_seconds
        return max(0.0, late)


def run_recorded(
    name: str, interval: float, job: Callable[[], object], factory: SessionFactory, clock: Clock
) -> None:
    """Run ``job`` once, then record the run in ``job_runs`` and the metrics; what
    the job raised is raised again after."""
    started, timer = clock.now(), time.perf_counter()
    failure: Exception | None = None
    try:
        job()
    except Exception as error:
        failure = error
    metrics.JOB_SECONDS.labels(name).observe(time.perf_counter() - timer)
    metrics.JOB_RUNS.labels(name, "ok" if failure is None else "failed").inc()
    try:
        with unit_of_work(factory) as session:
            run(
                session,
                _RECORD_RUN,
                {
                    "name": name,
                    "interval": interval,
                    "started": started,
                    "finished": clock.now(),
                    "ok": failure is None,
                    # The kind only: an exception's text may hold personal data; the
                    # log line has it, masked.
                    "error": None if failure is None else type(failure).__name__,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                },
            )
    except Exception:
        logger.warning("recording a run of %s failed", name, exc_info=True)
    if failure is not None:
        raise failure


def job_runs(session: Session) -> list[JobRun]:
    rows = session.execute(
        text(
            "SELECT name, interval_seconds, started_at, finished_at, ok, error, host, pid, "
            "last_ok_at FROM job_runs ORDER BY name"
        )
    ).all()
    return [JobRun(*row) for row in rows]


def job_lags(session: Session, now: datetime) -> dict[str, float]:
    """Each job's lag (:meth:`JobRun.lag`), those that never succeeded left out."""
    return {r.name: lag for r in job_runs(session) if (lag := r.lag(now)) is not None}
