"""What the benchmarks send and measure, and how it adds up: random transfers
(:func:`random_transfers`), one path's figures
(:class:`PathResult`), one worker's (:class:`WorkerResult`, with the CPU it and its
PostgreSQL backend spent, :class:`CpuWindow`), and :func:`combine` of the workers'.
Shared by ``rongbank bench ledger`` (:mod:`rongbank.ledger.bench`) and the other
benchmarks, which import these names from there."""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rongbank.ledger.service import Transfer

CURRENCY = "CNY"


@dataclass(frozen=True, kw_only=True)
class PathResult:
    """One measured path. ``rate`` is transfers/s (transactions/s for pgbench);
    latencies are per ``latency_of`` (a transaction, a transfer, or a batch)."""

    name: str
    label: str
    workers: int
    worker_kind: str  # "clients", "threads", "processes"
    elapsed_s: float
    operations: int  # transactions, transfers or batches completed
    transfers: int  # transfers created (pgbench: transactions)
    failed: int
    rate: float
    latency_of: str
    p50_ms: float
    p99_ms: float
    client_cpu_us: float | None = None  # per transfer, the workers' own processes
    server_cpu_us: float | None = None  # per transfer, their PostgreSQL backends


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(kw_only=True)
class WorkerResult:
    """What one worker (thread or process) measured. Times are ``time.monotonic``,
    which is system-wide on Linux, so processes' windows can be combined."""

    operations: int = 0
    transfers: int = 0
    failed: int = 0
    start: float = 0.0
    end: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds
    error: str | None = None
    client_cpu_s: float | None = None  # the worker process's CPU in the window
    server_cpu_s: float | None = None  # its PostgreSQL backend's, where /proc shows it


def backend_cpu_s(pid: int) -> float | None:
    """User plus system CPU seconds of a PostgreSQL backend on this machine (Linux
    ``/proc``); None where it cannot be read (another machine's server)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(kw_only=True)
class CpuWindow:
    """The CPU a worker process and its backend spend between :meth:`start` and
    :meth:`stop`."""

    backend_pid: int
    client: float = 0.0
    server: float | None = None

    def start(self) -> None:
        self.client = time.process_time()
        self.server = backend_cpu_s(self.backend_pid)

    def stop(self, result: WorkerResult) -> None:
        result.client_cpu_s = time.process_time() - self.client
        server = backend_cpu_s(self.backend_pid)
        if server is not None and self.server is not None:
            result.server_cpu_s = server - self.server


def combine(
    name: str,
    label: str,
    workers: int,
    worker_kind: str,
    latency_of: str,
    results: Sequence[WorkerResult],
) -> PathResult:
    errors = [r.error for r in results if r.error]
    if errors:
        raise RuntimeError(f"{name}: a worker failed:\n{errors[0]}")
    elapsed = max(r.end for r in results) - min(r.start for r in results)
    transfers = sum(r.transfers for r in results)
    latencies = sorted(x for r in results for x in r.latencies)
    client_cpu = [r.client_cpu_s for r in results if r.client_cpu_s is not None]
    server_cpu = [r.server_cpu_s for r in results if r.server_cpu_s is not None]

    def per_transfer(seconds: list[float]) -> float | None:
        measured = seconds and len(seconds) == len(results) and transfers
        return sum(seconds) / transfers * 1e6 if measured else None

    return PathResult(
        name=name,
        label=label,
        workers=workers,
        worker_kind=worker_kind,
        elapsed_s=round(elapsed, 3),
        operations=sum(r.operations for r in results),
        transfers=transfers,
        failed=sum(r.failed for r in results),
        rate=transfers / elapsed if elapsed > 0 else 0.0,
        latency_of=latency_of,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        client_cpu_us=per_transfer(client_cpu),
        server_cpu_us=per_transfer(server_cpu),
    )


def random_transfers(
    rnd: random.Random, account_ids: Sequence[int], count: int, prefix: str, first: int
) -> list[Transfer]:
    n = len(account_ids)
    transfers = []
    for k in range(first, first + count):
        i = rnd.randrange(n)
        j = rnd.randrange(n - 1)
        if j >= i:
            j += 1
        transfers.append(
            Transfer(
                client_id=f"{prefix}{k}",
                debit_account=account_ids[i],
                credit_account=account_ids[j],
                amount=rnd.randint(1, 100),
                currency=CURRENCY,
            )
        )
    return transfers
