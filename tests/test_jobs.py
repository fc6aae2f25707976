"""The periodic jobs run in one process at a time (``rongbank.jobs``), whichever
processes serve the bank: two platforms on one database, as two API workers are."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from rongbank.jobs import Leadership
from rongbank.platform import Platform
from rongbank.settings import Settings

WAIT_S = 60.0  # a guard against hanging, not a measurement


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_one_process_leads_until_it_lets_go(fresh_db: str) -> None:
    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(fresh_db, autocommit=True)

    one, other = Leadership(connect, recheck=0), Leadership(connect, recheck=0)
    try:
        assert one.held()
        assert not other.held()
        assert one.held()  # still, and only once
        one.close()
        assert not one.held()
        assert other.held()
    finally:
        one.close()
        other.close()


def test_a_leader_that_dies_is_replaced(fresh_db: str) -> None:
    """A process that ends without a word (killed) loses its connection, and the
    server its lock."""
    conns: list[psycopg.Connection[Any]] = []

    def connect() -> psycopg.Connection[Any]:
        conns.append(psycopg.connect(fresh_db, autocommit=True))
        return conns[-1]

    dead, other = Leadership(connect, recheck=0), Leadership(connect, recheck=0)
    try:
        assert dead.held()
        assert not other.held()
        conns[0].close()  # as the kernel does for a process killed
        # The server ends the closed connection's backend, and lets go of its lock, in
        # its own time (later on a loaded machine): the lock is the other's after that.
        eventually(other.held, "the lock of a closed connection was never let go")
    finally:
        dead.close()
        other.close()


@pytest.fixture
def two_platforms(fresh_db: str) -> Iterator[list[Platform]]:
    settings = Settings(audit_seal_interval_seconds=0.02)
    platforms = [Platform.connect(fresh_db, settings, group_commit=False) for _ in range(2)]
    yield platforms
    for platform in platforms:
        platform.close()


def test_the_jobs_run_in_one_of_two_processes_then_in_the_other(
    two_platforms: list[Platform], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [0, 0]
    for n, platform in enumerate(two_platforms):

        def seal(session: Any, n: int = n, seal: Any = platform.audit.seal) -> int:
            runs[n] += 1
            return int(seal(session))

        monkeypatch.setattr(platform.audit, "seal", seal)
        platform.start()
    eventually(lambda: sum(runs) >= 20, "the audit sealer runs")
    assert 0 in runs  # one process sealed, the other did not

    leader = runs.index(max(runs))
    before = runs[1 - leader]
    two_platforms[leader].close()
    eventually(lambda: runs[1 - leader] > before + 5, "the other process takes over")
