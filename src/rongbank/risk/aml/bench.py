"""The AML batch benchmark behind ``rongbank risk aml bench`` (and ``rongbank bench
risk``, which calls :func:`run_aml_bench`).

One run, one PostgreSQL server (:func:`rongbank.ledger.bench.bench_server`):

1. **Set-up** (not measured): persons and enterprises with an e-account each, and a
   ledger history of ``transfers`` transfers over ``days`` Beijing days ending
   yesterday, written in bulk (INSERT ... SELECT over generate_series: entries,
   postings with their running balances, the accounts' totals), as the ledger's own
   statement-level checks accept it. The mix: small payments between persons and to
   enterprises, top-ups and withdrawals through the clearing account, trade between
   enterprises (some of millions), salaries, a few large personal transfers, a little
   cash and cross-border. Planted among them, ``planted`` customers for each pattern
   (structuring, rapid in-and-out, fan-in, fan-out, a dormant account woken, round
   amounts) on their own accounts.
2. **pgbench** (reference): TPC-B on the same server, as every benchmark prints it.
3. **The batch** over every day of the history in one run (every transfer looked
   at), then the last day alone again (a rerun: nothing new). Each is timed by the
   wall clock, this process's CPU and the PostgreSQL backend's CPU (on a shared
   machine the CPU times say what the work costs).
4. **Check**: each planted customer has a finding of its pattern; the trial balance
   is zero.

The goal from the issue: the batch over 1,000,000 ledger transfers in at most 5 minutes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import SystemClock
from rongbank.db import make_engine, make_session_factory, unit_of_work
from rongbank.ledger.bench import BenchServer, Machine, PathResult, bench_server
from rongbank.risk.aml.batch import AmlBatch, AmlRun, day_start
from rongbank.risk.aml.config import load_config

GOAL_SECONDS = 300.0
PATTERNS = (
    "structuring",
    "rapid_in_out",
    "fan_in",
    "fan_out",
    "dormant_woken",
    "round_amounts",
)

# The mix: (upper bound of the draw, kind, payer, payee, smallest and largest amount in
# yuan, drawn log-uniformly). p: a person, e: an enterprise; the channels by name.
MIX: tuple[tuple[float, str, str, str, int, int], ...] = (
    (0.45, "p2p", "p", "p", 1, 5_000),
    (0.65, "purchase", "p", "e", 10, 2_000),
    (0.77, "top_up", "clearing", "p", 100, 20_000),
    (0.87, "withdrawal", "p", "clearing", 100, 20_000),
    (0.95, "trade", "e", "e", 1_000, 3_000_000),
    (0.985, "salary", "e", "p", 3_000, 30_000),
    (0.995, "large", "p", "p", 50_000, 800_000),
    (0.997, "cash_in", "cash", "p", 1_000, 100_000),
    (0.998, "cash_out", "p", "cash", 1_000, 100_000),
    (1.0, "cross_border", "p", "cross_border", 5_000, 300_000),
)

CHANNELS = {
    "clearing": ("bank:clearing:CNY", "asset"),
    "cash": ("bank:cash:CNY", "asset"),
    "cross_border": ("bank:crossborder:CNY", "asset"),
    "interest": ("bank:interest:CNY", "expense"),
}


@dataclass(frozen=True, kw_only=True)
class BatchTiming:
    what: str
    first: str
    last: str
    wall_s: float
    client_cpu_s: float
    """This process's CPU (Python: the explanations, the events)."""
    backend_cpu_s: float
    """The PostgreSQL backend's CPU (the set-based statements)."""
    movements: int
    reports: int
    findings: dict[str, int]
    steps: dict[str, float]
    """Wall seconds of each step of the batch."""


@dataclass(frozen=True, kw_only=True)
class AmlBenchReport:
    machine: Machine
    transfers: int
    days: int
    persons: int
    enterprises: int
    planted: int
    setup_s: float
    pgbench: PathResult
    runs: list[BatchTiming]
    planted_found: dict[str, int]
    balanced: bool
    load_average: tuple[float, float, float]

    @property
    def sound(self) -> bool:
        return (
            self.balanced
            and all(n == self.planted for n in self.planted_found.values())
            and self.runs[-1].reports == 0
            and not self.runs[-1].findings
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "sound": self.sound, "goal_s": GOAL_SECONDS}


def run_aml_bench(
    *,
    transfers: int = 1_000_000,
    days: int = 30,
    planted: int = 50,
    seconds: float = 10.0,
    clients: int = 8,
    data_dir: Path | None = None,
    database_url: str | None = None,
    server: BenchServer | None = None,
) -> AmlBenchReport:
    """Build the history, run pgbench and the batch; ``server``: one already started
    (``rongbank bench risk`` shares its own), else a fresh one for this run."""
    if transfers < 1000 or not 7 < days <= 366 or planted < 1:
        raise ValueError("transfers >= 1000, 7 < days <= 366, planted >= 1")
    if server is not None:
        return _run_on(server, transfers, days, planted, seconds, clients)
    with bench_server(data_dir=data_dir, database_url=database_url) as db:
        return _run_on(db, transfers, days, planted, seconds, clients)


def _run_on(
    db: BenchServer, transfers: int, days: int, planted: int, seconds: float, clients: int
) -> AmlBenchReport:
    engine = make_engine(db.url, pool_size=1)
    factory = make_session_factory(engine)
    clock = SystemClock()
    batch = AmlBatch(load_config(), clock)
    last = batch.yesterday()
    first = last - timedelta(days=days - 1)
    persons = max(1000, transfers // 10)
    enterprises = max(100, transfers // 200)
    try:
        started = time.monotonic()
        with unit_of_work(factory) as session:
            _set_up(session, transfers, persons, enterprises, planted, first, last)
        with unit_of_work(factory) as session:
            session.execute(text("ANALYZE"))
        setup_s = time.monotonic() - started
        reference = db.reference(scale=max(1, clients), clients=clients, seconds=seconds)
        runs = [
            _timed(factory, batch, "every day, one pass", first, last),
            _timed(factory, batch, "the last day again", last, last),
        ]
        with unit_of_work(factory) as session:
            found = _planted_found(session, persons, planted)
            balanced = bool(
                session.execute(
                    text(
                        "SELECT coalesce(bool_and(d = 0), true) FROM (SELECT currency, "
                        "sum(debits_posted - credits_posted) AS d FROM ledger_account "
                        "GROUP BY currency) t"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()
    return AmlBenchReport(
        machine=db.machine,
        transfers=transfers,
        days=days,
        persons=persons,
        enterprises=enterprises,
        planted=planted,
        setup_s=round(setup_s, 2),
        pgbench=reference,
        runs=runs,
        planted_found=found,
        balanced=balanced,
        load_average=psutil.getloadavg(),
    )


def _timed(factory: Any, batch: AmlBatch, what: str, first: date, last: date) -> BatchTiming:
    with unit_of_work(factory) as session:
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
    backend = psutil.Process(pid)
    cpu_before, backend_before = time.process_time(), _cpu(backend)
    started = time.monotonic()
    with unit_of_work(factory) as session:
        if int(session.execute(text("SELECT pg_backend_pid()")).scalar_one()) != pid:
            raise RuntimeError("the pool gave another connection: the backend's CPU is not it")
        done: AmlRun = batch.run(session, first, last)
    return BatchTiming(
        what=what,
        first=first.isoformat(),
        last=last.isoformat(),
        wall_s=round(time.monotonic() - started, 3),
        client_cpu_s=round(time.process_time() - cpu_before, 3),
        backend_cpu_s=round(_cpu(backend) - backend_before, 3),
        movements=done.movements,
        reports=done.reports,
        findings=done.findings,
        steps=done.steps,
    )


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _log_uniform(low: int, high: int) -> str:
    """SQL for an amount in fen between ``low`` and ``high`` yuan, log-uniform."""
    return f"CAST(exp(ln({low * 100}) + random() * ln({high}.0 / {low})) AS bigint)"


def _set_up(
    session: Session,
    transfers: int,
    persons: int,
    enterprises: int,
    planted: int,
    first: date,
    last: date,
) -> None:
    """Customers, accounts and the history, in bulk (see the module's docstring)."""
    # Opened two months before the history (none has slept six months), but for the
    # persons planted as dormant, whose accounts are older.
    opened = day_start(first) - timedelta(days=60)
    session.execute(text("SELECT setseed(0.19)"))
    session.execute(
        text(
            "CREATE TEMP TABLE bench_who (kind text, n int, customer_id bigint, "
            "account_id bigint, PRIMARY KEY (kind, n)) ON COMMIT DROP"
        )
    )
    plants = planted * len(PATTERNS)
    for kind, count in (("p", persons + plants), ("e", enterprises)):
        _customers(session, kind, count, opened)
    session.execute(
        text(
            "UPDATE e_account e SET opened_at = :at FROM bench_who w "
            "WHERE w.kind = 'p' AND w.n >= :base AND w.n < :base + :k "
            "AND e.ledger_account_id = w.account_id"
        ),
        {"at": opened - timedelta(days=340), "base": persons + 4 * planted, "k": planted},
    )
    for name, (code, account_type) in CHANNELS.items():
        session.execute(
            text(
                "INSERT INTO ledger_account (code, currency, type, created_at) "
                "VALUES (:code, 'CNY', :type, :at) ON CONFLICT (code) DO NOTHING"
            ),
            {"code": code, "type": account_type, "at": opened},
        )
        session.execute(
            text(
                "INSERT INTO bench_who SELECT :name, 0, NULL, id FROM ledger_account "
                "WHERE code = :code"
            ),
            {"name": name, "code": code},
        )
    session.execute(
        text(
            "CREATE TEMP TABLE bench_plan (i bigint, debit bigint, credit bigint, "
            "amount bigint, at timestamptz) ON COMMIT DROP"
        )
    )
    _mix(session, transfers, persons, enterprises, first, last)
    _plant(session, persons, planted, first, last)
    _write(session)


def _customers(session: Session, kind: str, count: int, opened: datetime) -> None:
    person = kind == "p"
    session.execute(
        text(
            "WITH c AS (INSERT INTO customer (kind, name, mobile, resident_id, credit_code, "
            "created_at) SELECT :kind, :prefix || n, 'amlb-' || :short || n, "
            "CASE WHEN :person THEN 'amlb-' || n END, CASE WHEN NOT :person THEN 'amlb-' || n END, "
            ":at FROM generate_series(0, :count - 1) n RETURNING id, mobile), "
            "a AS (INSERT INTO ledger_account (code, name, currency, type, created_at) "
            "SELECT 'dep:amlb-' || c.mobile, 'bench deposit', 'CNY', 'liability', :at FROM c "
            "RETURNING id, code), "
            "e AS (INSERT INTO e_account (number, customer_id, class, currency, "
            "ledger_account_id, status, opened_at) SELECT substr(a.code, 5), c.id, 2, 'CNY', "
            "a.id, 'active', :at FROM c JOIN a ON a.code = 'dep:amlb-' || c.mobile "
            "RETURNING customer_id, ledger_account_id) "
            "INSERT INTO bench_who SELECT :short, "
            "CAST(substr(c.mobile, length('amlb-') + 2) AS int), e.customer_id, "
            "e.ledger_account_id FROM e JOIN c ON c.id = e.customer_id"
        ),
        {
            "kind": "person" if person else "enterprise",
            "short": kind,
            "prefix": "基准客户" if person else "基准企业",
            "person": person,
            "count": count,
            "at": opened,
        },
    )


def _mix(
    session: Session, transfers: int, persons: int, enterprises: int, first: date, last: date
) -> None:
    """The ordinary history: ``transfers`` transfers spread evenly over the days, each
    of a kind drawn from :data:`MIX`, between random customers of the kinds it names."""
    start = day_start(first)
    span = (day_start(last + timedelta(days=1)) - start).total_seconds()
    cases = " ".join(f"WHEN u < {upper} THEN '{kind}'" for upper, kind, *_ in MIX)
    session.execute(
        text(
            "CREATE TEMP TABLE bench_draw ON COMMIT DROP AS SELECT i, "  # noqa: S608
            f"CASE {cases} END AS kind, "
            "CAST(floor(random() * :p) AS int) AS pa, CAST(floor(random() * :p) AS int) AS pb, "
            "CAST(floor(random() * :e) AS int) AS ea, CAST(floor(random() * :e) AS int) AS eb, "
            "random() AS jitter FROM (SELECT i, random() AS u "
            "FROM generate_series(1, :n) i) s"
        ),
        {"p": persons, "e": enterprises, "n": transfers},
    )
    for _, kind, payer, payee, low, high in MIX:
        session.execute(
            text(
                "INSERT INTO bench_plan SELECT d.i, wa.account_id, wb.account_id, "  # noqa: S608
                f"{_log_uniform(low, high)}, "
                "CAST(:start AS timestamptz) + make_interval(secs => (d.i - 1 + d.jitter) "
                "* :span / :n) FROM bench_draw d "
                f"{_join(payer, 'a')} {_join(payee, 'b')} WHERE d.kind = :kind"
            ),
            {"start": start, "span": span, "n": transfers, "kind": kind},
        )
    # A customer paying themselves is not a transfer: the payee is the next one.
    session.execute(
        text(
            "UPDATE bench_plan p SET credit = w.account_id FROM bench_who w, bench_who x "
            "WHERE p.debit = p.credit AND x.account_id = p.debit AND w.kind = x.kind "
            "AND w.n = (x.n + 1) % (CASE x.kind WHEN 'p' THEN :p ELSE :e END)"
        ),
        {"p": persons, "e": enterprises},
    )


def _join(who: str, side: str) -> str:
    if who in CHANNELS:
        return f"JOIN bench_who w{side} ON w{side}.kind = '{who}'"
    column = f"{who}{side}"
    return f"JOIN bench_who w{side} ON w{side}.kind = '{who}' AND w{side}.n = d.{column}"


PLANTS = """
INSERT INTO bench_plan (i, debit, credit, amount, at)
SELECT 0, debit, credit, amount, at FROM (
  -- structuring: three amounts of 470,000-499,999 yuan out, one a day for three days
  SELECT w.account_id AS debit, c.account_id AS credit,
         CAST(47000000 + random() * 2999999 AS bigint) AS amount,
         :end_ - make_interval(days => 6 - k, hours => 10) AS at
    FROM bench_who w, bench_who c, generate_series(0, 2) k
   WHERE w.kind = 'p' AND w.n >= :base AND w.n < :base + :k AND c.kind = 'clearing'
  UNION ALL
  -- rapid in-and-out: 200,000 in, 195,000 out two hours later
  SELECT c.account_id, w.account_id, 20000000, :end_ - interval '3 days 8 hours'
    FROM bench_who w, bench_who c
   WHERE w.kind = 'p' AND w.n >= :base + :k AND w.n < :base + 2 * :k AND c.kind = 'clearing'
  UNION ALL
  SELECT w.account_id, c.account_id, 19500000, :end_ - interval '3 days 6 hours'
    FROM bench_who w, bench_who c
   WHERE w.kind = 'p' AND w.n >= :base + :k AND w.n < :base + 2 * :k AND c.kind = 'clearing'
  UNION ALL
  -- fan-in: 12 persons pay 6,000 each within five days
  SELECT x.account_id, w.account_id, 600000, :end_ - make_interval(days => 5, hours => -j * 9)
    FROM bench_who w, generate_series(0, 11) j, bench_who x
   WHERE w.kind = 'p' AND w.n >= :base + 2 * :k AND w.n < :base + 3 * :k
     AND x.kind = 'p' AND x.n = (w.n * 13 + j * 7919) % :persons
  UNION ALL
  -- fan-out: 6,000 each to 12 persons within five days (funded by interest first)
  SELECT w.account_id, x.account_id, 600000, :end_ - make_interval(days => 5, hours => -j * 9)
    FROM bench_who w, generate_series(0, 11) j, bench_who x
   WHERE w.kind = 'p' AND w.n >= :base + 3 * :k AND w.n < :base + 4 * :k
     AND x.kind = 'p' AND x.n = (w.n * 17 + j * 104729) % :persons
  UNION ALL
  SELECT i.account_id, w.account_id, 10000000, :start_ - interval '1 day'
    FROM bench_who w, bench_who i
   WHERE w.kind = 'p' AND w.n >= :base + 3 * :k AND w.n < :base + 4 * :k
     AND i.kind = 'interest'
  UNION ALL
  -- dormant: 100 yuan eight months before, then 100,000 yuan
  SELECT c.account_id, w.account_id, 10000, :start_ - interval '8 months'
    FROM bench_who w, bench_who c
   WHERE w.kind = 'p' AND w.n >= :base + 4 * :k AND w.n < :base + 5 * :k AND c.kind = 'clearing'
  UNION ALL
  SELECT c.account_id, w.account_id, 10000000, :end_ - interval '2 days 3 hours'
    FROM bench_who w, bench_who c
   WHERE w.kind = 'p' AND w.n >= :base + 4 * :k AND w.n < :base + 5 * :k AND c.kind = 'clearing'
  UNION ALL
  -- round amounts: 50,000, 60,000 and 70,000 yuan in, two days apart
  SELECT c.account_id, w.account_id, 5000000 + k * 1000000,
         :end_ - make_interval(days => 6 - 2 * k, hours => 5)
    FROM bench_who w, bench_who c, generate_series(0, 2) k
   WHERE w.kind = 'p' AND w.n >= :base + 5 * :k AND w.n < :base + 6 * :k AND c.kind = 'clearing'
) plants
"""


def _plant(session: Session, persons: int, planted: int, first: date, last: date) -> None:
    """The planted patterns, on persons numbered from ``persons`` on (none of the mix)."""
    session.execute(
        text(PLANTS),
        {
            "base": persons,
            "k": planted,
            "persons": persons,
            "start_": day_start(first),
            "end_": day_start(last + timedelta(days=1)),
        },
    )


def _write(session: Session) -> None:
    """The plan into the ledger: entries, postings in time order with their running
    balances, the accounts' totals."""
    session.execute(
        text(
            "CREATE TEMP TABLE bench_entry ON COMMIT DROP AS SELECT "
            "nextval(pg_get_serial_sequence('ledger_entry', 'id')) AS id, debit, credit, "
            "amount, at FROM (SELECT * FROM bench_plan ORDER BY at) p"
        )
    )
    session.execute(
        text(
            "INSERT INTO ledger_entry (id, client_id, request_hash, kind, description, "
            "created_at) SELECT id, 'aml-bench:' || id, '\\x00', 'transfer', 'bench', at "
            "FROM bench_entry"
        )
    )
    session.execute(
        text(
            "INSERT INTO ledger_posting (entry_id, account_id, currency, amount, pending, "
            "balance_after, created_at) SELECT id, account_id, 'CNY', amount, false, "
            "sum(amount) OVER (PARTITION BY account_id ORDER BY at, id, amount "
            "ROWS UNBOUNDED PRECEDING), at FROM (SELECT id, debit AS account_id, amount, at "
            "FROM bench_entry UNION ALL SELECT id, credit, -amount, at FROM bench_entry) s "
            "ORDER BY at, id, amount DESC"
        )
    )
    session.execute(
        text(
            "UPDATE ledger_account a SET debits_posted = s.d, credits_posted = s.c FROM ("
            "SELECT account_id, coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS d, "
            "coalesce(-sum(amount) FILTER (WHERE amount < 0), 0) AS c FROM ledger_posting "
            "GROUP BY account_id) s WHERE s.account_id = a.id"
        )
    )


def _planted_found(session: Session, persons: int, planted: int) -> dict[str, int]:
    """How many of each pattern's planted persons (numbered from ``persons`` on, in
    :data:`PATTERNS` order) have a finding of that pattern."""
    rows = session.execute(
        text(
            "SELECT (CAST(substr(c.mobile, 7) AS int) - :base) / :k, count(DISTINCT c.id) "
            "FROM customer c JOIN risk_aml_finding f ON f.customer_id = c.id "
            "WHERE c.mobile LIKE 'amlb-p%' AND CAST(substr(c.mobile, 7) AS int) >= :base "
            "AND f.pattern = (CAST(:patterns AS text[]))"
            "[1 + (CAST(substr(c.mobile, 7) AS int) - :base) / :k] GROUP BY 1"
        ),
        {"base": persons, "k": planted, "patterns": list(PATTERNS)},
    )
    found = dict.fromkeys(PATTERNS, 0)
    found.update({PATTERNS[int(i)]: int(n) for i, n in rows})
    return found


def render(report: AmlBenchReport) -> str:
    m = report.machine
    lines = [
        f"AML batch: {report.transfers:,} ledger transfers over {report.days} days, "
        f"{report.persons:,} persons and {report.enterprises:,} enterprises; "
        f"{report.planted} planted per pattern; set-up {report.setup_s:.1f} s",
        f"machine: {m.cpu_count} CPUs ({m.cpus_usable} usable), PostgreSQL {m.postgres_version}"
        f" ({m.server}), synchronous_commit={m.synchronous_commit}; load average "
        + " ".join(f"{x:.2f}" for x in report.load_average),
        f"pgbench TPC-B reference: {report.pgbench.rate:,.0f} tps, "
        f"p99 {report.pgbench.p99_ms:.1f} ms ({report.pgbench.workers} clients)",
        "",
        f"{'run':<22}{'days':>24}{'wall s':>9}{'py CPU s':>10}{'pg CPU s':>10}  what it found",
    ]
    for r in report.runs:
        found = ", ".join(f"{n:,} {p}" for p, n in r.findings.items()) or "no new finding"
        lines.append(
            f"{r.what:<22}{r.first + '..' + r.last:>24}{r.wall_s:>9.2f}{r.client_cpu_s:>10.2f}"
            f"{r.backend_cpu_s:>10.2f}  {r.movements:,} movements, {r.reports:,} new reports; "
            f"{found}"
        )
    for r in report.runs:
        lines.append(
            f"  {r.what}: " + ", ".join(f"{name} {s:.2f} s" for name, s in r.steps.items())
        )
    whole = report.runs[0].wall_s
    planted = ", ".join(f"{p} {n}/{report.planted}" for p, n in report.planted_found.items())
    lines += [
        "",
        f"goal: <= {GOAL_SECONDS:.0f} s for the batch over every transfer; {whole:.2f} s "
        f"({'met' if whole <= GOAL_SECONDS else 'NOT met'})",
        f"planted patterns found: {planted}",
        f"ledger balanced: {report.balanced}; sound: {report.sound}",
    ]
    return "\n".join(lines)
