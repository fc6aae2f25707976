"""The floor under the ledger's batched path, for ``rongbank bench ledger``.

The same rows a batch of transfers stores (one entry and two postings a transfer,
with the journal's indexes), written by a bare ``COPY`` into copies of the journal
tables that have no checks: no balance trigger, no foreign keys, no CHECKs, no
account locked, read or updated, no idempotency lookup, no Python deciding anything.
Each batch is still one durable transaction, from the same number of processes as
the batched path. Nothing a ledger must do costs less than this, so the batched
path's rate over the floor's says how much of the storage engine's speed the
ledger's guarantees leave it, and the floor over pgbench how far any design of
these rows could go on this machine.
"""

from __future__ import annotations

import hashlib
import random
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from multiprocessing.queues import Queue as MPQueue
from multiprocessing.synchronize import Barrier as MPBarrier

import psycopg

from rongbank.ledger.bench_measure import CURRENCY, CpuWindow, WorkerResult, random_transfers

CREATE = """
CREATE TABLE bench_floor_entry
    (LIKE ledger_entry INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES);
CREATE TABLE bench_floor_posting
    (LIKE ledger_posting INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES);
"""
COPY_ENTRIES = (
    "COPY bench_floor_entry (id, client_id, request_hash, kind, metadata, created_at) FROM STDIN"
)
COPY_POSTINGS = (
    "COPY bench_floor_posting (entry_id, account_id, currency, amount, pending, balance_after, "
    "created_at) FROM STDIN"
)
# A request hash of the size the ledger stores (its value does not matter here).
_HASH = "\\\\x" + hashlib.sha256(b"floor").hexdigest()
_ENTRY_IDS_PER_WORKER = 10**12


DROP = "DROP TABLE IF EXISTS bench_floor_entry, bench_floor_posting"


def create_tables(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DROP)
        conn.execute(CREATE)


def drop_tables(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DROP)


def copy_batch(
    conn: psycopg.Connection[tuple[object, ...]],
    first_id: int,
    rows: Sequence[tuple[str, int, int, int]],
    currency: str,
) -> None:
    """One transaction: ``rows`` (client id, debit account, credit account, amount)
    as entries and postings, by COPY; committed."""
    now = datetime.now(UTC).isoformat()
    entries = []
    postings = []
    for n, (client_id, debit, credit, amount) in enumerate(rows, first_id):
        entries.append(f"{n}\t{client_id}\t{_HASH}\ttransfer\t{{}}\t{now}\n")
        postings.append(f"{n}\t{debit}\t{currency}\t{amount}\tf\t0\t{now}\n")
        postings.append(f"{n}\t{credit}\t{currency}\t{-amount}\tf\t0\t{now}\n")
    with conn.cursor() as cur:
        with cur.copy(COPY_ENTRIES) as copy:
            copy.write("".join(entries))
        with cur.copy(COPY_POSTINGS) as copy:
            copy.write("".join(postings))
    conn.commit()


def floor_worker(
    url: str,
    account_ids: list[int],
    seconds: float,
    batch_size: int,
    prefix: str,
    seed: int,
    barrier: MPBarrier,
    results: MPQueue[object],
) -> None:
    """A worker process of the floor, as ``bench._process_worker`` is one of the
    batched path: the same random transfers, stored bare."""
    result = WorkerResult()
    try:
        rnd = random.Random(seed)  # noqa: S311 - load generation, not security
        with psycopg.connect(url) as conn:
            conn.execute("SELECT 1")  # connect before the clock starts
            conn.commit()
            cpu = CpuWindow(backend_pid=conn.info.backend_pid)
            barrier.wait()
            cpu.start()
            result.start = time.monotonic()
            deadline = result.start + seconds
            k = 0
            first = (seed + 1) * _ENTRY_IDS_PER_WORKER
            while time.monotonic() < deadline:
                commands = random_transfers(rnd, account_ids, batch_size, prefix, k)
                t0 = time.perf_counter()
                rows = [
                    (c.client_id, int(c.debit_account), int(c.credit_account), c.amount)
                    for c in commands
                ]
                copy_batch(conn, first + k, rows, CURRENCY)
                result.latencies.append(time.perf_counter() - t0)
                k += batch_size
                result.operations += 1
                result.transfers += batch_size
            result.end = time.monotonic()
            cpu.stop(result)
    except BaseException:
        barrier.abort()
        result.error = traceback.format_exc()
    finally:
        results.put(result)
