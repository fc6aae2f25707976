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
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from rongbank.db import advisory_key

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
