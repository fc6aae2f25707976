"""A writer killed with SIGKILL in the middle of large batches leaves the ledger
whole: each batch is stored entirely or not at all, every entry has all its
postings, account totals equal their postings, and the books balance.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from typing import Any

import psycopg
import pytest

from rongbank.db import make_engine, make_session_factory, unit_of_work
from rongbank.ledger import repository as repo
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import LedgerService
from tests.ledger.factories import create_account, create_bank_asset, create_deposit, fund

pytestmark = pytest.mark.slow

BATCH = 2_000
KILLS = 5

# The writer: batches of transfers (a tenth of them pending) among the accounts
# given, each batch in one transaction. It says when it starts a batch, how many
# entries the batch created just before committing, and when the commit returned.
CHILD = """
import random, sys
from datetime import timedelta
from rongbank.db import make_engine, make_session_factory, unit_of_work
from rongbank.ledger.service import LedgerService, Transfer

url, accounts, seed, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
accounts = [int(a) for a in accounts.split(",")]
factory = make_session_factory(make_engine(url, pool_size=1))
service = LedgerService()
rng = random.Random(seed)
batch = 0
while True:
    commands = []
    for i in range(size):
        debit, credit = rng.sample(accounts, 2)
        pending = rng.random() < 0.1
        commands.append(Transfer(
            client_id=f"crash-{seed}-{batch}-{i}", debit_account=debit, credit_account=credit,
            amount=rng.randint(1, 5_000), currency="CNY", pending=pending,
            timeout=timedelta(hours=1) if pending else None,
        ))
    print(f"start {batch}", flush=True)
    with unit_of_work(factory) as session:
        outcomes = service.execute(session, commands)
        created = sum(o.status == "created" for o in outcomes)
        print(f"applied {batch} {created}", flush=True)
    print(f"committed {batch}", flush=True)
    batch += 1
"""


@pytest.fixture
def accounts(fresh_db: str) -> list[int]:
    """A bank asset, two open suspense accounts and four funded deposits, some of
    which will run dry (so that some transfers in every batch fail)."""
    engine = make_engine(fresh_db, pool_size=1)
    service = LedgerService()
    with unit_of_work(make_session_factory(engine)) as session:
        bank = create_bank_asset(session)
        suspense = [
            create_account(session, type=AccountType.LIABILITY, rule=BalanceRule.NONE)
            for _ in range(2)
        ]
        deposits = [create_deposit(session) for _ in range(4)]
        for deposit in deposits:
            fund(service, session, source=bank, destination=deposit, amount=100_000)
    engine.dispose()
    return [bank, *suspense, *deposits]


def wait_for_line(child: subprocess.Popen[str], prefix: str, deadline: float) -> list[str]:
    lines: list[str] = []
    assert child.stdout is not None
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"the writer never printed {prefix!r}: {lines}")


def wait_for_other_backends_to_end(conn: psycopg.Connection[Any]) -> None:
    """The server rolls back a dead client's transaction when it notices; wait for
    that so the check sees the final state."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        others = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        ).fetchone()
        if others == (0,):
            return
        time.sleep(0.05)
    raise AssertionError("the killed writer's session never ended")


def check_ledger(conn: psycopg.Connection[Any], seed: int, log: list[str]) -> None:
    assert repo.verify(conn) == {}
    for row in repo.trial_balance(conn):
        assert (row.debits_posted, row.debits_pending) == (row.credits_posted, row.credits_pending)
    incomplete = conn.execute(
        "SELECT e.client_id, count(p.id) FROM ledger_entry e "
        "LEFT JOIN ledger_posting p ON p.entry_id = e.id "
        "WHERE e.kind IN ('transfer', 'pending') GROUP BY e.id HAVING count(p.id) <> 2"
    ).fetchall()
    assert incomplete == []
    holds, pendings = conn.execute(
        "SELECT (SELECT count(*) FROM ledger_hold), "
        "(SELECT count(*) FROM ledger_entry WHERE kind = 'pending')"
    ).fetchone()  # type: ignore[misc]
    assert holds == pendings

    stored = dict(
        conn.execute(
            "SELECT split_part(client_id, '-', 3)::int, count(*) FROM ledger_entry "
            "WHERE client_id LIKE %s GROUP BY 1",
            [f"crash-{seed}-%"],
        ).fetchall()
    )
    applied = {
        int(b): int(n) for _, b, n in (line.split() for line in log if line.startswith("applied"))
    }
    committed = {int(line.split()[1]) for line in log if line.startswith("committed")}
    assert committed, "no batch committed before the kill"
    for batch in committed:
        assert stored.get(batch) == applied[batch], f"committed batch {batch} not all there"
    for batch, count in stored.items():
        # The batch in flight when the writer died: all of it or none of it.
        assert count == applied.get(batch), f"batch {batch} stored {count} of {applied}"


class TestKilledWriter:
    def test_the_ledger_stays_whole_after_sigkill(self, fresh_db: str, accounts: list[int]) -> None:
        rng = random.Random()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            for seed in range(KILLS):
                child = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        CHILD,
                        fresh_db,
                        ",".join(map(str, accounts)),
                        str(seed),
                        str(BATCH),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                )
                try:
                    deadline = time.monotonic() + 60
                    # Let at least one batch commit, then kill during a later one.
                    log = wait_for_line(child, "start 1", deadline)
                    if rng.random() < 0.5:
                        log += wait_for_line(child, f"start {rng.randint(2, 3)}", deadline)
                    time.sleep(rng.uniform(0, 0.5))
                    child.send_signal(signal.SIGKILL)
                finally:
                    child.kill()
                    rest, _ = child.communicate(timeout=30)
                assert child.returncode == -signal.SIGKILL
                log += rest.splitlines()

                wait_for_other_backends_to_end(conn)
                check_ledger(conn, seed, log)
