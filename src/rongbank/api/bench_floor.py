"""The floors ``rongbank bench paths`` measures under each path, on the same server in
the same run (issue 17: what bounds a path, measured):

- **The SQL floor** of a path: the statements one request of it sends, captured from
  real requests (:mod:`rongbank.api.bench_sql`, in this process, through the same app
  and the same services) and replayed by pgbench as a custom script (``-M prepared``,
  the same clients and seconds), each transaction of the request as a transaction.
  Its rate is what the path could reach with no Python at all: below the goal, the
  path needs fewer or cheaper statements, not a faster API.
- **The HTTP floor**: the served app answering, with the same clients, the cheapest
  authenticated request (a bearer login check and a small JSON answer) and the
  unauthenticated ``/healthz``: what the web stack alone costs per request.

How a replay stands for many requests. Requests are captured from ``payers`` payers
of the path (one each after a first that warms what the process keeps, then the
first payer's again), each paying the least amount. A parameter equal in all of them
is a constant (``-D``); one that differs between payers is read per transaction from
a table of one row per payer (each client takes its payers in turn, as the path's
clients do: one statement more than the path sends, said in the report); one that
differs between the first payer's two requests is the request's own. Of those, a
value that holds the request's ``client_id`` has it replaced by a number unique to
the transaction (idempotency keys, ledger ``client_id``\\ s, audit details), a whole
number becomes that number (ids the path takes from a sequence, a card's id), other
text and array literals of keys get it appended (event keys, ``epay:202``), and a
JSON document's whole numbers that differ get it (a chat message's seq); timestamps,
bytes and the rest are kept as the payer's request sent them. What a replay leaves
out: a row the path finds by a key of its own request (an order, a payment code, a
card) is not found again, so its lock and update touch nothing; the rows each
transaction adds per table are measured beside the path's.

The replays run after every money check of the run: what they write (balances set
as the captured request set them) is not counted by those checks.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from fastapi.testclient import TestClient
from psycopg import postgres, sql

from rongbank.api import bench_floor_trip
from rongbank.api.app import create_app
from rongbank.api.bench_clients import Call, PathSpec, Payer, World, load, postmaster
from rongbank.api.bench_cpu import CpuMeter
from rongbank.api.bench_sql import BEGIN, Step, counting
from rongbank.embedded import env_without_pg
from rongbank.ledger.bench import (
    FAILED,
    PROCESSED,
    TPS,
    PathResult,
    combine,
    percentile,
    pgbench_latencies,
)
from rongbank.platform import Platform
from rongbank.settings import Settings

if TYPE_CHECKING:
    from rongbank.ledger.bench import BenchServer

PAYERS_PER_CLIENT = 4
"""Payers a path's SQL floor is captured from, per client (rounded up to a multiple
of the merchants, so that the first payer's two requests pay one merchant): each
client takes its own in turn, and another's payee is seldom its payer."""


def floor_payers(clients: int, merchants: int) -> int:
    return merchants * -(-PAYERS_PER_CLIENT * clients // merchants)


HTTP_FLOOR = "/api/v1/me/wealth/questionnaire"
"""The cheapest authenticated request: a bearer login check, a fixed JSON answer."""
MARKER = "flr"
"""Begins the ``client_id`` (order number) of each captured request: the replay
replaces it where a statement's parameter holds it."""
UNIQUE_BASE = 1_000_000_000
"""The first of the numbers unique to a replayed transaction (beyond the sequences'
values a bench reaches, within a 32-bit column)."""
UNIQUE_SPAN = 100_000_000  # numbers per path's replay
_INSERT = re.compile(r"\bINSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_PARAM = re.compile(r"\$(\d+)")
_STRAY_COLON = re.compile(r"(?<!:):(?!:)")
_TEXT_TYPES = {0, 25, 1043}  # unknown, text, varchar
_INT_TYPES = {20, 21, 23}
_TEXT_ARRAYS = {1009, 1015}  # text[], varchar[]


class SameAmount(random.Random):
    """Every captured request pays the least amount the path allows (the same in each,
    so that an amount is a constant of the replay), and the ``k``-th request's choice
    (a merchant) is the ``k % period``-th: a payer's requests each ``period`` apart
    choose alike, as the same request again would."""

    def __init__(self, period: int) -> None:
        super().__init__(17)
        self.period = period
        self.chosen = 0

    def randint(self, a: int, b: int) -> int:
        return a

    def choice(self, seq: Sequence[Any]) -> Any:  # type: ignore[override]
        self.chosen += 1
        return seq[(self.chosen - 1) % self.period % len(seq)]


@dataclass(frozen=True, kw_only=True)
class Replay:
    """A path's captured statements as a pgbench script."""

    path: str
    script: str
    sql: list[str]
    """The script's statements, each transaction's BEGIN and COMMIT in their places
    (after its ``\\set`` lines and the payer's row)."""
    defines: dict[str, str]
    table: str
    columns: list[str]
    rows: list[list[str | None]]
    steps: list[Step]
    """The first payer's first request, as captured."""
    statements: int
    transactions: int
    inserts: list[str]
    """Tables the path's statements insert into."""
    varied: dict[str, int]
    """Parameters by how the replay sets them (constant, payer, unique...)."""


@dataclass(frozen=True, kw_only=True)
class SqlFloor:
    path: str
    statements: int
    """Per request, the transactions' BEGIN and COMMIT apart (the replay sends one
    statement more: the payer's row)."""
    transactions: int
    result: PathResult | None
    database_ms: float | None
    """PostgreSQL's CPU per replayed transaction (None: not on this machine)."""
    rows_per_request: dict[str, float]
    """Rows the path's requests added per table, as captured."""
    rows_per_replay: dict[str, float]
    """Rows each replayed transaction added per table."""
    varied: dict[str, int]
    error: str | None = None
    trip: PathResult | None = None
    """The same statements, each transaction one call of a SQL function on the server
    (:mod:`.bench_floor_trip`): no round trip, parse or client per statement."""
    trip_database_ms: float | None = None
    rows_per_trip: dict[str, float] = field(default_factory=dict)
    trip_error: str | None = None


@dataclass(frozen=True, kw_only=True)
class HttpFloor:
    name: str
    label: str
    result: PathResult
    api_ms: float | None
    database_ms: float | None


@dataclass(frozen=True, kw_only=True)
class Floors:
    sql: dict[str, SqlFloor] = field(default_factory=dict)
    http: list[HttpFloor] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Capture


Send = Callable[[Any], int]
"""Sends one call (a request) through the app; returns its HTTP status."""


def capture(calls: Sequence[Any], ok: int, send: Send) -> list[list[Step]]:
    """The steps of each call, sent one after the other (each must answer ``ok``)."""
    runs = []
    for call in calls:
        with counting(keep_steps=True) as tally:
            status = send(call)
        if status != ok:
            raise RuntimeError(f"a captured request answered {status}, not {ok}: {call.url}")
        runs.append(tally.steps)
    return runs


def build(path: str, runs: list[list[Step]], *, clients: int, index: int) -> Replay:
    """The replay of ``runs``: one request of each payer, then the first payer's
    second (see the module's docstring)."""
    if len(runs) < 2:
        raise ValueError("at least two captured requests")
    first, again, payers = runs[0], runs[-1], runs[:-1]
    shape = [s.query for s in first]
    for run in runs:
        if [s.query for s in run] != shape:
            differ = next(
                (
                    f"{a[:80]!r} / {b[:80]!r}"
                    for a, b in zip(shape, [s.query for s in run], strict=False)
                    if a != b
                ),
                f"{len(shape)} / {len(run)} statements",
            )
            raise _Shapeless(f"{path}: its requests do not all send the same statements: {differ}")
    markers = [_marker(run) for run in runs]
    defines: dict[str, str] = {"n": "0", "base": str(UNIQUE_BASE + index * UNIQUE_SPAN)}
    columns: list[str] = ["m"]
    table_rows: list[list[str | None]] = [[m] for m in markers[:-1]]
    varied: dict[str, int] = {}
    lines = [
        "\\set n :n + 1",
        f"\\set u :base + :n * {clients} + :client_id",
        # Client c takes payers c, c + clients, ... in turn, as the path's clients do.
        f"\\set j mod(:client_id + :n * {clients}, {len(payers)})",
        "",  # the payer's row, once the columns are known
    ]
    for i, step in enumerate(first):
        if not step.params and step.query.split(" ")[0] in (BEGIN, "COMMIT", "ROLLBACK"):
            lines.append(step.query + ";")
            continue
        if _STRAY_COLON.search(step.query.replace("::", "")):
            raise ValueError(f"{path}: a statement pgbench would read a variable in: {step.query}")
        exprs: list[str] = []
        for k, oid in enumerate(step.types):
            name = f"p{i}_{k}"
            values = [run[i].params[k] for run in payers]
            a, b = first[i].params[k], again[i].params[k]
            kind, expr = _param(name, oid, a, b, values, markers)
            varied[kind] = varied.get(kind, 0) + 1
            if kind == "null":
                exprs.append("NULL" + _cast(oid))
                continue
            if kind == "constant" and a:
                defines[name] = a
            elif kind == "constant":  # pgbench takes no empty -D value
                exprs.append("''" + _cast(oid))
                continue
            elif kind != "unique":
                columns.append(name)
                for row, value in zip(table_rows, values, strict=True):
                    row.append(value)
            exprs.append(expr)
        query = _PARAM.sub(partial(_nth, exprs), step.query).rstrip(";")
        lines.append(query + ";")
    table = f"bench_floor_{path}"
    # A pgbench script line (its names are ours), not a statement of the bank.
    head = lines[:4]
    head[3] = f"SELECT {', '.join(columns)} FROM {table} WHERE j = :j \\gset"  # noqa: S608
    statements = sum(1 for s in first if s.params or s.query.split(" ")[0] not in _BOUNDS)
    return Replay(
        path=path,
        script="\n".join(head + lines[4:]) + "\n",
        sql=[line.removesuffix(";") for line in lines[4:]],
        defines=defines,
        table=table,
        columns=columns,
        rows=table_rows,
        steps=first,
        statements=statements,
        transactions=sum(1 for s in first if s.query.startswith(BEGIN)),
        inserts=sorted({t for s in first for t in _INSERT.findall(s.query)}),
        varied=varied,
    )


_BOUNDS = (BEGIN, "COMMIT", "ROLLBACK")


def _nth(exprs: list[str], match: re.Match[str]) -> str:
    return exprs[int(match.group(1)) - 1]


def _marker(run: list[Step]) -> str:
    """The request's ``client_id`` as its statements carry it ("": none do)."""
    found = {
        m.group(0) for s in run for p in s.params if p for m in re.finditer(MARKER + r"\w+", p)
    }
    return found.pop() if len(found) == 1 else ""


def _cast(oid: int) -> str:
    """The type psycopg gave a parameter, as a cast (none where it left it unknown)."""
    if oid in _INT_TYPES:
        # psycopg types a whole number by its size (int2 for 2): any payer's, or the
        # unique number, may be larger than the first payer's.
        return "::int8"
    info = postgres.types.get(oid) if oid else None
    if info is None:
        return ""
    return f"::{info.name}[]" if oid == info.array_oid else f"::{info.name}"


def _param(
    name: str,
    oid: int,
    a: str | None,
    b: str | None,
    values: list[str | None],
    markers: list[str],
) -> tuple[str, str]:
    """How the replay sets a parameter: its kind and its expression in the script."""
    var = f":{name}{_cast(oid)}"
    if all(v is None for v in (a, b, *values)):
        return "null", ""
    if any(v is None for v in (a, b, *values)):
        raise ValueError(f"parameter {name} is NULL in some requests only")
    assert a is not None
    assert b is not None
    if a == b and all(v == a for v in values):
        return "constant", var
    if a == b:
        return "payer", var
    if all(markers) and all(m in v for m, v in zip(markers, [*values, b], strict=True) if v):
        return "client_id", f"replace(:{name}::text, :m, :u::text){_cast(oid) or ''}"
    if oid in _INT_TYPES:
        return "unique", f":u{_cast(oid)}"
    if oid in _TEXT_TYPES and a[:1] not in "{[":
        return "unique text", f"(:{name}::text || '.' || :u::text)"
    if oid in _TEXT_TYPES and _is_json(a) and _is_json(b) and (leaves := _numbers(a, b)):
        # A JSON document of the request (a chat message's seq): its whole numbers that
        # differ made unique; the rest as the payer's request sent it.
        made = f":{name}::jsonb"
        for where in leaves:
            made = f"jsonb_set({made}, '{{{','.join(where)}}}', to_jsonb(:u::int8))"
        return "unique json", f"({made})::text"
    array = a[:1] == "{" and not _is_json(a)
    if oid in _TEXT_TYPES | _TEXT_ARRAYS and array and _keys(a):
        # An array literal of keys (a ledger client_id made of an id of the request):
        # each element made unique as a scalar key is.
        made = f"regexp_replace(:{name}::text, '([^{{}},\"]+)', '\\1.' || :u::text, 'g')"
        return "unique text", made + (_cast(oid) or "::text[]")
    return "request", var


def _is_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _numbers(a: str, b: str) -> list[list[str]]:
    """Where two JSON documents hold different whole numbers (paths of keys and
    indexes), the same structure around them."""
    found: list[list[str]] = []

    def walk(x: Any, y: Any, where: list[str]) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for key in x.keys() & y.keys():
                walk(x[key], y[key], [*where, key])
        elif isinstance(x, list) and isinstance(y, list):
            for i, (u, v) in enumerate(zip(x, y, strict=False)):
                walk(u, v, [*where, str(i)])
        elif type(x) is int and type(y) is int and x != y:
            found.append(where)

    walk(json.loads(a), json.loads(b), [])
    return found if all(re.fullmatch(r"\w+", k) for w in found for k in w) else []


def _keys(array: str) -> bool:
    """Whether an array literal holds keys (``epay:202``) only."""
    items = [i.strip('"') for i in array.strip("{}").split(",")]
    return all(re.match(r"[A-Za-z][\w-]*:", i) for i in items)


# ---------------------------------------------------------------------------
# Replay


def install(url: str, replay: Replay) -> None:
    """The table of the payers' values the script reads its row from."""
    ident = sql.Identifier(replay.table)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
        columns = sql.SQL(", ").join(
            sql.SQL("{} text").format(sql.Identifier(c)) for c in replay.columns
        )
        conn.execute(sql.SQL("CREATE TABLE {} (j int PRIMARY KEY, {})").format(ident, columns))
        with conn.cursor() as cur:
            holes = sql.SQL(", ").join(sql.Placeholder() * (len(replay.columns) + 1))
            cur.executemany(
                sql.SQL("INSERT INTO {} VALUES ({})").format(ident, holes),
                [[j, *row] for j, row in enumerate(replay.rows)],
            )
        conn.execute(sql.SQL("ANALYZE {}").format(ident))


def count_rows(url: str, tables: Sequence[str]) -> dict[str, int]:
    counts = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            row = conn.execute(query).fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def run_script(
    pgbench: Path,
    url: str,
    replay: Replay,
    *,
    clients: int,
    seconds: float,
    work_dir: Path,
) -> PathResult:
    """pgbench running ``replay``'s script on ``url`` (``-M prepared``)."""
    folder = Path(tempfile.mkdtemp(prefix=f"floor-{replay.path}-", dir=work_dir))
    script = folder / "replay.sql"
    script.write_text(replay.script)
    defines = [arg for k, v in replay.defines.items() for arg in ("-D", f"{k}={v}")]
    command = [
        str(pgbench), "-n", "-M", "prepared", "-f", str(script),
        "-c", str(clients), "-j", str(min(2, clients)), "-T", str(max(1, round(seconds))),
        "-l", "--log-prefix", str(folder / "pgb"), *defines, url,
    ]  # fmt: skip
    done = subprocess.run(  # noqa: S603 - our own arguments, no shell
        command, env=env_without_pg(), check=False, capture_output=True, text=True
    )
    tps = TPS.findall(done.stdout)
    if done.returncode != 0 or not tps:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stderr[-2000:]}")
    latencies = sorted(pgbench_latencies(folder))
    processed = PROCESSED.search(done.stdout)
    failed = FAILED.search(done.stdout)
    operations = int(processed.group(1)) if processed else len(latencies)
    rate = float(tps[-1])
    return PathResult(
        name=replay.path,
        label=f"{replay.path}'s SQL by pgbench",
        workers=clients,
        worker_kind="clients",
        elapsed_s=round(operations / rate, 3) if rate > 0 else 0.0,
        operations=operations,
        transfers=operations,
        failed=int(failed.group(1)) if failed else 0,
        rate=rate,
        latency_of="transaction",
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
    )


def settle() -> None:
    """Let the backends of a finished run go (their rows counted after)."""
    time.sleep(0.3)


CAPTURES = 2
"""Tries at capturing requests that all send the same statements: a cache that a
process refreshes now and then (the risk rules) adds a statement to one request.
(A wealth path's calls each assess its payers again: twice a day at most.)"""


class _Shapeless(ValueError):
    """The captured requests did not all send the same statements."""


def measure_sql(
    path: str,
    calls_for: Callable[[int], tuple[Sequence[Any], int]],
    send: Send,
    *,
    url: str,
    pgbench: Path,
    clients: int,
    seconds: float,
    work_dir: Path,
    index: int,
    meter: CpuMeter,
) -> SqlFloor:
    """Capture the calls of ``calls_for(attempt)`` (one per payer, then the first
    payer's second; again while they do not all send the same statements), replay
    them for ``seconds`` with ``clients`` pgbench clients; a failure is the floor's
    error."""
    replay = None
    try:
        for attempt in range(CAPTURES):
            calls, ok = calls_for(attempt)
            first = capture(calls[:1], ok, send)
            tables = sorted({t for s in first[0] for t in _INSERT.findall(s.query)})
            before = count_rows(url, tables)
            runs = first + capture(calls[1:], ok, send)
            after = count_rows(url, tables)
            captured = {t: (after[t] - before[t]) / (len(calls) - 1) for t in tables}
            try:
                replay = build(path, runs, clients=clients, index=index)
                break
            except _Shapeless:
                if attempt == CAPTURES - 1:
                    raise
        assert replay is not None
        install(url, replay)
        before = count_rows(url, tables)
        meter.start()
        result = run_script(
            pgbench, url, replay, clients=clients, seconds=seconds, work_dir=work_dir
        )
        cpu = meter.stop()
        settle()
        after = count_rows(url, tables)
    except Exception as error:  # the floor's error, not the end of the run
        return SqlFloor(
            path=path,
            statements=replay.statements if replay else 0,
            transactions=replay.transactions if replay else 0,
            result=None,
            database_ms=None,
            rows_per_request={},
            rows_per_replay={},
            varied=replay.varied if replay else {},
            error=str(error).strip()[-500:],
        )
    trip = _measure_trip(
        url, replay, tables, pgbench=pgbench, clients=clients, seconds=seconds,
        work_dir=work_dir, meter=meter,
    )  # fmt: skip
    done = max(1, result.operations)
    return SqlFloor(
        **trip,
        path=path,
        statements=replay.statements,
        transactions=replay.transactions,
        result=result,
        database_ms=None if cpu.database_s is None else cpu.database_s * 1000 / done,
        rows_per_request=captured,
        rows_per_replay={t: (after[t] - before[t]) / done for t in tables},
        varied=replay.varied,
    )


def _measure_trip(
    url: str,
    replay: Replay,
    tables: Sequence[str],
    *,
    pgbench: Path,
    clients: int,
    seconds: float,
    work_dir: Path,
    meter: CpuMeter,
) -> dict[str, Any]:
    """``replay``'s transactions each as one call of a SQL function: the
    :class:`SqlFloor` fields of its run, or why it failed (the floor's, not the run's)."""
    try:
        trip = bench_floor_trip.build(url, replay)
        bench_floor_trip.install(url, trip)
        before = count_rows(url, tables)
        meter.start()
        as_calls = bench_floor_trip.as_replay(replay, trip, span=UNIQUE_SPAN)
        result = run_script(
            pgbench, url, as_calls, clients=clients, seconds=seconds, work_dir=work_dir
        )
        cpu = meter.stop()
        settle()
        after = count_rows(url, tables)
    except Exception as error:  # reported beside the floor, not the end of the run
        return {"trip_error": str(error).strip()[-500:]}
    done = max(1, result.operations)
    return {
        "trip": result,
        "trip_database_ms": None if cpu.database_s is None else cpu.database_s * 1000 / done,
        "rows_per_trip": {t: (after[t] - before[t]) / done for t in tables},
    }


# ---------------------------------------------------------------------------
# The run (rongbank.api.bench's)


def measure_http(
    floored: list[PathSpec],
    groups: dict[str, list[Payer]],
    meter: CpuMeter,
    *,
    port: int,
    clients: int,
    seconds: float,
) -> list[HttpFloor]:
    """The served app answering a login check, then ``/healthz``, to the same clients."""

    if not floored:
        return []
    payers = groups[floored[0].name]
    floors = []
    for name, label, url in (
        ("login", f"GET {HTTP_FLOOR} (bearer login check)", HTTP_FLOOR),
        ("healthz", "GET /healthz (no login)", "/healthz"),
    ):
        # More calls than the clients can send (a payer's token each, in turn).
        calls = [Call(url, b"", p.token, 0, "GET") for p in payers] * (
            1 + int(20_000 * seconds) // len(payers)
        )
        meter.start()
        done, _ = load(calls, 200, port=port, clients=clients, seconds=seconds)
        cpu = meter.stop()
        result = combine(name, label, clients, "clients", "request", [s.result for s in done])
        spent = cpu.per_payment_ms(result.operations)
        floors.append(
            HttpFloor(
                name=name,
                label=label,
                result=result,
                api_ms=spent["api"],
                database_ms=spent["database"],
            )
        )
    return floors


def measure_sql_floors(
    db: BenchServer,
    world: World,
    floored: list[PathSpec],
    groups: dict[str, list[Payer]],
    settings: Settings,
    *,
    clients: int,
    seconds: float,
) -> dict[str, SqlFloor]:
    """Each path's statements, captured from its floor payers' requests through the
    app in this process, replayed by pgbench (:func:`.bench_floor.measure_sql`)."""

    if not floored:
        return {}
    meter = CpuMeter(api_pid=os.getpid(), postmaster_pid=postmaster(db))
    platform = Platform.connect(db.url, settings)  # as a served process has it
    floors = {}
    try:
        with TestClient(create_app(platform, background=False)) as client:

            def send(call: Call) -> int:
                headers = {
                    "Authorization": f"Bearer {call.token}",
                    "Content-Type": "application/json",
                }
                response = client.request(call.method, call.url, content=call.body, headers=headers)
                return response.status_code

            for index, spec in enumerate(floored):
                payers = groups[f"floor:{spec.name}"]

                def calls_for(
                    attempt: int,
                    spec: PathSpec = spec,
                    payers: list[Payer] = payers,
                    index: int = index,
                ) -> tuple[list[Call], int]:
                    # One request of each payer, then the first payer's again (the same
                    # merchant: a payer's choices are ``len(payers)`` apart).
                    # The first time after a request of each payer that warms what a
                    # process keeps (not captured).
                    warm = 0 if attempt else len(payers)
                    same = replace(world, rnd=SameAmount(len(payers)))
                    tag = f"{MARKER}{index}a{attempt}q"
                    stage = spec.prepare(same, payers, warm + len(payers) + 1, tag)
                    for call in stage.calls[:warm]:
                        send(call)
                    return stage.calls[warm:], stage.ok

                floors[spec.name] = measure_sql(
                    spec.name,
                    calls_for,
                    send,
                    url=db.admin_url,
                    pgbench=db.pgbench,
                    clients=clients,
                    seconds=seconds,
                    work_dir=db.work_dir,
                    index=index,
                    meter=meter,
                )
    finally:
        platform.close()
    return floors


# ---------------------------------------------------------------------------
# The report


def to_json(floors: Floors, pgbench_rate: float) -> dict[str, Any]:
    def ratio(result: PathResult | None) -> float | None:
        return result.rate / pgbench_rate if result and pgbench_rate > 0 else None

    return {
        "sql": {name: {**asdict(f), "ratio": ratio(f.result)} for name, f in floors.sql.items()},
        "http": {f.name: {**asdict(f), "ratio": ratio(f.result)} for f in floors.http},
    }


def render(floors: Floors, pgbench_rate: float, paths: Sequence[PathResult]) -> list[str]:
    """The floors beside each path: its rate, its SQL replayed, the web stack alone."""
    if not floors.sql and not floors.http:
        return []
    rates = {p.name: p.rate for p in paths}
    lines = [
        "",
        "Floors (same server, same clients): each path's own SQL replayed by pgbench",
        "(-M prepared, one more statement a transaction: the payer's row), and the web",
        "stack alone; rate and x pgbench:",
        f"  {'path':<10} {'HTTP /s':>9} {'x':>5}  {'its SQL /s':>10} {'x':>5}  "
        f"{'stmts':>5} {'tx':>3} {'PG ms/tx':>8}  path/SQL",
    ]
    for name, f in floors.sql.items():
        http = rates.get(name, 0.0)
        head = f"  {name:<10} {http:9.1f} {http / pgbench_rate:5.2f}  "
        if f.result is None:
            lines.append(head + f"replay failed: {f.error}")
            continue
        sql_rate = f.result.rate
        pg = "-" if f.database_ms is None else f"{f.database_ms:.2f}"
        lines.append(
            head + f"{sql_rate:10.1f} {sql_rate / pgbench_rate:5.2f}  {f.statements:5d} "
            f"{f.transactions:3d} {pg:>8}  {http / sql_rate if sql_rate else 0:.2f}"
        )
        if f.trip is not None:
            trip_pg = "-" if f.trip_database_ms is None else f"{f.trip_database_ms:.2f}"
            lines.append(
                f"  {'':<10} {'':>9} {'':>5}  {f.trip.rate:10.1f} "
                f"{f.trip.rate / pgbench_rate:5.2f}  one call a transaction    "
                f"PG {trip_pg} ms/tx"
            )
        elif f.trip_error:
            lines.append(f"  {'':<10} one call a transaction failed: {f.trip_error}")
    for h in floors.http:
        api = "-" if h.api_ms is None else f"{h.api_ms:.2f}"
        pg = "-" if h.database_ms is None else f"{h.database_ms:.2f}"
        lines.append(
            f"  {h.name:<10} {h.result.rate:9.1f} {h.result.rate / pgbench_rate:5.2f}  "
            f"CPU ms/request API {api}, PG {pg}; p50 {h.result.p50_ms:.1f} ms, p99 "
            f"{h.result.p99_ms:.1f} ms: {h.label}"
        )
    short = [
        f"  {name:<10} "
        + ", ".join(
            f"{t} {f.rows_per_request.get(t, 0):.2f}->{f.rows_per_replay.get(t, 0):.2f}"
            for t in sorted(f.rows_per_request)
        )
        for name, f in floors.sql.items()
        if f.result is not None
    ]
    if short:
        lines += ["Rows added per request -> per replayed transaction, by table:", *short]
    return lines
