"""The benchmark behind ``rongbank bench paths``: every customer money path over HTTP,
one after the other, beside pgbench's TPC-B measured on the same server in the same run.

1. A fresh embedded PostgreSQL (or ``database_url``), migrated
   (:func:`rongbank.ledger.bench.bench_server`); merchants with a counter code and a
   cashier login each, a wealth product, and ``customers`` customers *per path* with a
   funded class II e-account and a logged-in session (through the services:
   :func:`rongbank.payments.bench.set_up`).
2. **pgbench** (reference): TPC-B on the same server, ``clients`` connections.
3. The API as ``rongbank up --workers N`` serves it (:func:`rongbank.api.serve.serve`:
   N processes behind one port, each with its own group committers), then for each
   path ``clients`` threads with a keep-alive connection each send its requests for
   ``seconds`` (whatever a path needs made beforehand, an order, a payment code, a
   chat card, is made through the services just before its turn, so that a payment
   code is still valid). Before each window the outbox's readers are let catch up
   (:func:`rongbank.api.bench_drain.drain`), so that a window does not carry the
   background work of the one before; after the full-load window too, with the CPU
   that catching up costs measured: the background work the path's payments owe
   (the report says how long each wait took):

   - ``transfer``: ``POST /api/v1/me/transfers`` to another customer of the bank;
   - ``static_qr``: ``POST /api/v1/me/payments/static-qr``;
   - ``order``: ``POST /api/v1/me/orders/{token}/pay``, a web shop's order;
   - ``code``: ``POST /api/v1/merchant/payment-codes``, the cashier scanning the
     customer's payment code;
   - ``card``: ``POST /api/v1/me/chat/conversations/{c}/cards/{id}/act``, the sender
     of a chat transfer card paying it;
   - ``wealth``: ``POST /api/v1/me/wealth/purchases``.

   Each is a payment of 0.01-1.00 yuan within the password-free allowance, so it goes
   the whole way (bearer login, limits, step-up allowance, risk hook, ledger entry,
   audit row, commit) without a challenge; a customer pays at most the allowance's
   daily count, so a path whose customers have used it all stops early (the report
   says so: run with more ``customers``).
4. With ``half_load``, each path right away again with half the clients, for the
   issue's p99 goal at half the load.
5. With ``batch_size``, the ledger's own batched path as ``rongbank bench ledger``
   measures it (:func:`rongbank.ledger.bench.measure_batched`: two processes, one
   transaction per batch, between 10,000 funded ledger accounts), for the issue's 5x.

Afterwards, per path, the payers' ledger accounts must have been debited by exactly
one entry per success answer and by exactly the amounts answered, every batched
transfer created must be an entry, and the whole ledger must balance and verify;
:attr:`PathsReport.sound` is False otherwise.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.api import bench_floor
from rongbank.api.bench_clients import (
    Call,
    Client,
    PathSpec,
    Payer,
    Stage,
    World,
    load,
    postmaster,
)
from rongbank.api.bench_cpu import CpuMeter, CpuUse
from rongbank.api.bench_drain import BOUND_S, Drained, drain
from rongbank.api.bench_floor import Floors
from rongbank.api.serve import serve
from rongbank.auth.limits import load_tool_limits
from rongbank.auth.service import PrincipalKind
from rongbank.chat.members import CUSTOMER, Member
from rongbank.ledger.bench import (
    BenchServer,
    LedgerCheck,
    Machine,
    PathResult,
    bench_server,
    check_ledger,
    checkpoint,
    combine,
    create_accounts,
    measure_batched,
    render_header,
    render_ledger,
    render_paths,
)
from rongbank.money import format_amount
from rongbank.payments.bench import free_port, set_up, wait_ready
from rongbank.payments.orders import OrderRequest
from rongbank.platform import Platform
from rongbank.settings import Settings, throwaway_secrets
from rongbank.wealth import rules as wealth_rules

API = "/api/v1"
TARGET = 0.5
"""Issue 17's goal for every path: at least half of pgbench's tps."""
BATCHED_TARGET = 5.0
"""Issue 17's goal for the ledger's own batched path."""
HALF_LOAD_P99_MS = 50.0
"""Issue 17's goal for every path's p99 latency at half the clients."""
SETUP_CHUNK = 500  # things made per transaction
BATCH_CLIENTS = 2  # processes sending batches, as `rongbank bench ledger` has them
BATCH_ACCOUNTS = 10_000  # ledger accounts the batches move money between
WEALTH_ANSWERS = {q.id: "d" for q in wealth_rules.QUESTIONNAIRE} | {"age": "b"}
"""Questionnaire answers that make a customer C5: suitable for any product."""


# ---------------------------------------------------------------------------
# The paths


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def _rounds(payers: list[Payer], count: int) -> list[tuple[int, Payer]]:
    """``count`` payments, each payer once per round (so none passes the daily
    allowance while another has some left)."""
    return [(k, payers[k % len(payers)]) for k in range(count)]


def _yuan(fen: int) -> str:
    return format_amount(fen, scale=2)


def _transfer(world: World, payers: list[Payer], count: int, tag: str) -> Stage:
    calls = []
    for k, payer in _rounds(payers, count):
        fen = world.rnd.randint(1, 100)
        payee = payers[(k + 1) % len(payers)] if len(payers) > 1 else payer
        body = {
            "source": payer.account,
            "destination": payee.account,
            "amount": _yuan(fen),
            "client_id": f"{tag}{k}",
        }
        calls.append(Call(f"{API}/me/transfers", _json(body), payer.token, fen))
    return Stage(calls, 201)


def static_qr_stage(world: World, payers: list[Payer], count: int, tag: str) -> Stage:
    calls = []
    for k, payer in _rounds(payers, count):
        fen = world.rnd.randint(1, 100)
        body = {
            "qr": world.rnd.choice(world.scene.qrs),
            "account": payer.account,
            "amount": _yuan(fen),
            "client_id": f"{tag}{k}",
        }
        calls.append(Call(f"{API}/me/payments/static-qr", _json(body), payer.token, fen))
    return Stage(calls, 201)


def _order(world: World, payers: list[Payer], count: int, tag: str) -> Stage:
    platform, merchants = world.platform, world.scene.merchant_ids
    calls = []
    planned = _rounds(payers, count)
    for start in range(0, count, SETUP_CHUNK):
        with platform.transaction() as session:
            for k, payer in planned[start : start + SETUP_CHUNK]:
                fen = world.rnd.randint(1, 100)
                order, _ = platform.payments.create_order(
                    session,
                    merchant_id=merchants[k % len(merchants)],
                    order=OrderRequest(order_no=f"{tag}{k}", amount=fen, channel="online"),
                )
                body = {"account": payer.account, "client_id": f"{tag}{k}"}
                url = f"{API}/me/orders/{order.token}/pay"
                calls.append(Call(url, _json(body), payer.token, fen))
    return Stage(calls, 200)


def _code(world: World, payers: list[Payer], count: int, tag: str) -> Stage:
    platform, cashiers = world.platform, world.cashier_tokens
    calls = []
    planned = _rounds(payers, count)
    for start in range(0, count, SETUP_CHUNK):
        with platform.transaction() as session:
            for k, payer in planned[start : start + SETUP_CHUNK]:
                fen = world.rnd.randint(1, 100)
                code, _ = platform.payments.issue_code(
                    session, customer_id=payer.customer_id, account_number=payer.account
                )
                body = {"code": code, "order_no": f"{tag}{k}", "amount": _yuan(fen)}
                # The customer's code, scanned by a cashier of one of the merchants.
                cashier = cashiers[k % len(cashiers)]
                calls.append(Call(f"{API}/merchant/payment-codes", _json(body), cashier, fen))
    return Stage(calls, 201)


def _card(world: World, payers: list[Payer], count: int, tag: str) -> Stage:
    platform = world.platform
    contacts, cards = platform.chat.contacts, platform.cards
    with platform.transaction() as session:
        conversations = [
            contacts.open_direct(
                session,
                customer_id=payer.customer_id,
                other_id=payers[(i + 1) % len(payers)].customer_id,
            ).conversation.id
            for i, payer in enumerate(payers)
        ]
    calls = []
    planned = _rounds(payers, count)
    for start in range(0, count, SETUP_CHUNK):
        with platform.transaction() as session:
            for k, payer in planned[start : start + SETUP_CHUNK]:
                fen = world.rnd.randint(1, 100)
                conversation = conversations[k % len(payers)]
                card, _ = cards.send_transfer(
                    session,
                    Member(CUSTOMER, payer.customer_id),
                    conversation_id=conversation,
                    client_id=f"{tag}{k}",
                    account=payer.account,
                    amount=fen,
                )
                url = f"{API}/me/chat/conversations/{conversation}/cards/{card.id}/act"
                calls.append(Call(url, _json({}), payer.token, fen))
    return Stage(calls, 200)


def _wealth(world: World, payers: list[Payer], count: int, tag: str) -> Stage:
    platform = world.platform
    with platform.transaction() as session:
        for payer in payers:
            platform.wealth.assess(session, customer_id=payer.customer_id, answers=WEALTH_ANSWERS)
    calls = []
    for k, payer in _rounds(payers, count):
        fen = world.rnd.randint(100, 200)  # the product's least is 1.00 yuan
        body = {
            "product_code": world.product_code,
            "account": payer.account,
            "amount": _yuan(fen),
            "client_id": f"{tag}{k}",
        }
        calls.append(Call(f"{API}/me/wealth/purchases", _json(body), payer.token, fen))
    return Stage(calls, 201)


PATHS: tuple[PathSpec, ...] = (
    PathSpec("transfer", "transfer to a customer", _transfer),
    PathSpec("static_qr", "e-Pay static-QR payment", static_qr_stage),
    PathSpec("order", "e-Pay online-order payment", _order),
    PathSpec("code", "e-Pay payment code (cashier)", _code),
    PathSpec("card", "chat transfer card acted on", _card),
    PathSpec("wealth", "wealth purchase", _wealth),
)
PATH_NAMES = tuple(p.name for p in PATHS)


# ---------------------------------------------------------------------------
# The report


@dataclass(frozen=True, kw_only=True)
class PathCheck:
    """A path's money after the load: what the answers said against the ledger."""

    answered: int
    """Success answers."""
    answered_fen: int
    entries: int
    """Ledger entries that debited the path's payers (their funding aside)."""
    debited_fen: int
    refusals: dict[str, int]
    """Other answers, by ``<status> <error code>``."""
    exhausted: bool
    """Some client used up its payers' password-free allowance before the end."""

    @property
    def sound(self) -> bool:
        return self.entries == self.answered and self.debited_fen == self.answered_fen


@dataclass(frozen=True, kw_only=True)
class PathsReport:
    seconds: float
    clients: int
    workers: int
    merchants: int
    customers: int
    pgbench_scale: int
    machine: Machine
    pgbench: PathResult
    paths: list[PathResult]
    half_load: list[PathResult]
    """Each path again with half the clients (none when not measured)."""
    batched: PathResult | None
    """The ledger's own batched path (None when not measured)."""
    checks: dict[str, PathCheck]
    cpu: dict[str, CpuUse]
    """CPU spent in each path's full-load window, by the API, PostgreSQL, the clients."""
    ledger: LedgerCheck
    floors: Floors = field(default_factory=Floors)
    """What bounds each path, measured beside it (none when not measured)."""
    drained: dict[str, dict[str, Drained]] = field(default_factory=dict)
    """The waits for the outbox's readers, by path (and ``floors``), by when: ``before``
    its full-load window, ``after`` it, ``before half`` its half-load window."""

    @property
    def ratios(self) -> dict[str, float]:
        """Each path's payments/s over pgbench's tps."""
        base = self.pgbench.rate
        measured = [*self.paths, *([self.batched] if self.batched else [])]
        return {p.name: p.rate / base if base > 0 else float("inf") for p in measured}

    @property
    def sound(self) -> bool:
        return self.ledger.sound and all(c.sound for c in self.checks.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "clients": self.clients,
            "workers": self.workers,
            "merchants": self.merchants,
            "customers": self.customers,
            "pgbench_scale": self.pgbench_scale,
            "machine": asdict(self.machine),
            "paths": {p.name: asdict(p) for p in (self.pgbench, *self.paths)},
            "half_load": {p.name: asdict(p) for p in self.half_load},
            "batched": asdict(self.batched) if self.batched else None,
            "batched_target": BATCHED_TARGET,
            "ratios": self.ratios,
            "target": TARGET,
            "half_load_p99_ms": HALF_LOAD_P99_MS,
            "checks": {
                name: {**asdict(check), "sound": check.sound} for name, check in self.checks.items()
            },
            "cpu": {name: asdict(use) for name, use in self.cpu.items()},
            "cpu_ms_per_payment": {
                p.name: self.cpu[p.name].per_payment_ms(p.transfers)
                for p in self.paths
                if p.name in self.cpu
            },
            "ledger": {**asdict(self.ledger), "sound": self.ledger.sound},
            "floors": bench_floor.to_json(self.floors, self.pgbench.rate),
            "drained": {
                name: {when: {**asdict(d), "done": d.done} for when, d in waits.items()}
                for name, waits in self.drained.items()
            },
            "sound": self.sound,
        }


def render(report: PathsReport) -> str:
    lines = render_header(
        f"Money paths over HTTP: {report.seconds:g} s each, {report.clients} clients, "
        f"{report.workers} API process(es), {report.merchants} merchants, "
        f"{report.customers} customers per path",
        report.machine,
    )
    lines += render_paths([report.pgbench, *report.paths], report.ratios, unit="payments/s")
    lines += ["", f"Goal: each path at {TARGET:g}x pgbench or better."]
    for path in report.paths:
        check = report.checks[path.name]
        ratio = report.ratios[path.name]
        refused = ", ".join(f"{k} x{v}" for k, v in sorted(check.refusals.items())) or "none"
        lines.append(
            f"  {path.name:<10} {ratio:5.2f}x {'PASS' if ratio >= TARGET else 'MISS'}; "
            f"answered {check.answered:,} ({_yuan(check.answered_fen)} yuan), ledger "
            f"{check.entries:,} entries ({_yuan(check.debited_fen)} yuan): "
            f"{'OK' if check.sound else 'MISMATCH'}; refused: {refused}"
            + ("; ran out of allowance (use more --customers)" if check.exhausted else "")
        )
    if report.cpu:
        lines += [
            "",
            "CPU per payment at full load, ms (what limits a path on a busy machine too; "
            "after: while the outbox's readers caught up with the window):",
        ]
        for path in report.paths:
            spent = report.cpu[path.name].per_payment_ms(path.transfers)
            lines.append(
                f"  {path.name:<10} "
                + ", ".join(
                    f"{who} {'-' if ms is None else f'{ms:.2f}'}" for who, ms in spent.items()
                )
            )
    if report.drained:
        lines += ["", "Waited for the outbox's readers to catch up:"]
        lines += [
            f"  {name:<10} " + "; ".join(f"{when} {d.render()}" for when, d in waits.items())
            for name, waits in report.drained.items()
        ]
    lines += bench_floor.render(report.floors, report.pgbench.rate, report.paths)
    if report.half_load:
        half = report.half_load[0]
        lines += ["", f"At half the load ({half.workers} {half.worker_kind}):"]
        lines += render_paths(
            report.half_load,
            {p.name: p.rate / report.pgbench.rate for p in report.half_load},
            unit="payments/s",
        )
        lines += ["", f"Goal: p99 at most {HALF_LOAD_P99_MS:g} ms at half the load."]
        lines += [
            f"  {p.name:<10} {p.p99_ms:7.2f} ms "
            f"{'PASS' if p.p99_ms <= HALF_LOAD_P99_MS else 'MISS'}"
            for p in report.half_load
        ]
    if report.batched:
        ratio = report.ratios[report.batched.name]
        verdict = "PASS" if ratio >= BATCHED_TARGET else "MISS"
        lines += ["", "The ledger's own batched path:"]
        lines += render_paths([report.batched], report.ratios, unit="transfers/s")
        lines += [
            "",
            f"Goal: the ledger's batched path at {BATCHED_TARGET:g}x: {ratio:.2f}x {verdict}",
        ]
    lines += [
        "",
        *render_ledger(report.ledger),
        f"Paths check: {'OK' if report.sound else 'FAILED'}",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The run


def run(
    *,
    seconds: float = 10.0,
    clients: int = 32,
    workers: int = 2,
    merchants: int = 50,
    customers: int = 1_000,
    paths: Sequence[str] = PATH_NAMES,
    half_load: bool = True,
    batch_size: int | None = 1000,
    data_dir: Path | None = None,
    database_url: str | None = None,
    pgbench_scale: int | None = None,
    floors: bool | Sequence[str] = True,
    drain_s: float = BOUND_S,
) -> PathsReport:
    """Measure pgbench and each of ``paths`` on one server (with ``half_load``, each
    path again with half the clients, for its p99; with ``batch_size``, the ledger's
    batched path); check the money after; with ``floors`` (True: every path's; or
    those paths'), measure the floors under the paths (:mod:`.bench_floor`). Before
    each window, wait up to ``drain_s`` for the outbox's readers."""
    if seconds <= 0 or min(clients, workers, merchants, batch_size or 1) < 1:
        raise ValueError("seconds > 0; clients, workers, merchants, batch_size >= 1")
    if customers < clients:
        raise ValueError("customers (per path) >= clients")
    unknown = set(paths) - set(PATH_NAMES)
    if unknown or not paths:
        raise ValueError(f"paths: some of {', '.join(PATH_NAMES)}")
    chosen = [p for p in PATHS if p.name in paths]
    floored = [p for p in chosen if floors is True or (floors and p.name in floors)]
    scale = pgbench_scale or max(1, clients)
    with bench_server(data_dir=data_dir, database_url=database_url) as db:
        return _run_on(
            db,
            chosen,
            seconds=seconds,
            clients=clients,
            workers=workers,
            merchants=merchants,
            customers=customers,
            half_load=half_load,
            batch_size=batch_size,
            scale=scale,
            floored=floored,
            drain_s=drain_s,
        )


def _run_on(
    db: BenchServer,
    chosen: list[PathSpec],
    *,
    seconds: float,
    clients: int,
    workers: int,
    merchants: int,
    customers: int,
    half_load: bool,
    batch_size: int | None,
    scale: int,
    floored: list[PathSpec],
    drain_s: float = BOUND_S,
) -> PathsReport:
    prefix = f"p{uuid.uuid4().hex[:6]}"
    # The keys every process shares (the setup's and the servers'), for this run only.
    values: dict[str, Any] = {
        "database_url": db.url,
        "data_dir": db.work_dir,
        "db_pool_size": max(10, -(-clients // workers) + 4),
        **throwaway_secrets(),
    }
    settings = Settings(**values)
    allowance = load_tool_limits(settings.tool_limits_file).password_free.daily_count
    platform = Platform.connect(db.url, settings, group_commit=False)
    try:
        floor_payers = bench_floor.floor_payers(clients, merchants) * bool(floored)
        world, groups = build_world(
            platform, prefix, chosen, merchants=merchants, customers=customers,
            floor_payers=floor_payers,
        )  # fmt: skip
        reference = db.reference(scale=scale, clients=clients, seconds=seconds)
        results: list[PathResult] = []
        halves: list[PathResult] = []
        checks: dict[str, PathCheck] = {}
        cpu: dict[str, CpuUse] = {}
        drained: dict[str, dict[str, Drained]] = {}
        batched = None

        def settle() -> Drained:
            return drain(platform.transaction, bound_s=drain_s)

        with Serving(settings, db.url, workers) as server:
            meter = CpuMeter(api_pid=server.pid, postmaster_pid=postmaster(db))
            for spec in chosen:
                payers = groups[spec.name]
                stage = spec.prepare(
                    world, payers, len(payers) * allowance, f"{prefix}{spec.name}-"
                )
                windows, states, cpu[spec.name], drained[spec.name] = measure_path(
                    spec,
                    stage,
                    db,
                    meter,
                    port=server.port,
                    clients=clients,
                    seconds=seconds,
                    half_load=half_load,
                    settle=settle,
                )
                results.append(windows[0])
                halves += windows[1:]
                checks[spec.name] = _check(platform, payers, f"{prefix}fund-", states)
            if floored:
                drained["floors"] = {"before": settle()}
            http_floors = bench_floor.measure_http(
                floored, groups, meter, port=server.port, clients=clients, seconds=seconds
            )
        batches = f"{prefix}-ledger-"
        if batch_size is not None:
            accounts = create_accounts(db.url, batches, BATCH_ACCOUNTS)
            checkpoint(db.admin_url)
            batched = measure_batched(
                db.url,
                accounts,
                clients=BATCH_CLIENTS,
                seconds=seconds,
                batch_size=batch_size,
                prefix=f"{batches}b",
            )
        ledger = check_ledger(
            db.url,
            expected=sum(c.answered for c in checks.values())
            + (BATCH_ACCOUNTS + batched.transfers if batched else 0),
            count_sql=_ALL_ENTRIES,
            params={
                "ids": [p.ledger_account_id for s in chosen for p in groups[s.name]],
                "funding": f"{prefix}fund-",
                "batches": batches,
            },
        )
        sql_floors = bench_floor.measure_sql_floors(
            db, world, floored, groups, settings, clients=clients, seconds=seconds
        )
    finally:
        platform.close()
    return PathsReport(
        seconds=seconds,
        clients=clients,
        workers=workers,
        merchants=merchants,
        customers=customers,
        pgbench_scale=scale,
        machine=db.machine,
        pgbench=reference,
        paths=results,
        half_load=halves,
        batched=batched,
        checks=checks,
        cpu=cpu,
        ledger=ledger,
        floors=Floors(sql=sql_floors, http=http_floors),
        drained=drained,
    )


def measure_path(
    spec: PathSpec,
    stage: Stage,
    db: BenchServer,
    meter: CpuMeter,
    *,
    port: int,
    clients: int,
    seconds: float,
    half_load: bool,
    settle: Callable[[], Drained],
) -> tuple[list[PathResult], list[Client], CpuUse, dict[str, Drained]]:
    """A path's window at full load (with its CPU, and that of its outbox readers
    catching up after it) and, with ``half_load``, its window at half the clients,
    each once the outbox's readers have caught up (``settle``); the clients' states
    of both, and the waits."""
    # The half load keeps a third of the calls for itself, so that a fast full load
    # cannot leave it none; it also gets those the full load left unsent.
    cut = len(stage.calls) * 2 // 3 if half_load else len(stage.calls)
    calls, kept = stage.calls[:cut], stage.calls[cut:]
    windows: list[PathResult] = []
    states: list[Client] = []
    cpu = None
    waits: dict[str, Drained] = {}
    for n in [clients, max(1, clients // 2)] if half_load else [clients]:
        waits["before half" if cpu else "before"] = settle()
        checkpoint(db.admin_url)
        meter.start()
        done, left = load(calls, stage.ok, port=port, clients=n, seconds=seconds)
        if cpu is None:
            window = meter.stop()
            meter.start()
            waits["after"] = settle()
            cpu = replace(window, after=meter.stop())
        calls, kept = left + kept, []
        windows.append(
            combine(spec.name, spec.label, n, "clients", "payment", [s.result for s in done])
        )
        states += done
    assert cpu is not None
    return windows, states, cpu, waits


def build_world(
    platform: Platform,
    prefix: str,
    chosen: list[PathSpec],
    *,
    merchants: int,
    customers: int,
    floor_payers: int = 0,
) -> tuple[World, dict[str, list[Payer]]]:
    """Merchants with a counter code and a cashier, a wealth product, and
    ``customers`` funded, logged-in payers for each path (and ``floor_payers`` more
    for each path's SQL floor, group ``floor:<path>``)."""
    groups_of = [s.name for s in chosen] + [f"floor:{s.name}" for s in chosen if floor_payers]
    sizes = [customers] * len(chosen) + [floor_payers] * (len(groups_of) - len(chosen))
    scene = set_up(platform, prefix=prefix, merchants=merchants, customers=sum(sizes))
    product_code = f"{prefix}W".upper()[:20]
    with platform.transaction() as session:
        cashier_tokens = [_cashier(platform, session, m) for m in scene.merchant_ids]
        rows = session.execute(
            text(
                "SELECT number, customer_id, ledger_account_id FROM e_account "
                "WHERE number = ANY(:n)"
            ),
            {"n": [c.account for c in scene.customers]},
        ).all()
        now = platform.clock.now()
        staff = session.execute(
            text("SELECT id FROM staff WHERE username = :u"), {"u": f"{prefix}approve"}
        ).scalar_one()
        platform.wealth.create_product(
            session,
            staff_id=staff,
            code=product_code,
            name="基准理财",
            terms=wealth_rules.Terms(
                risk_level=1,
                yield_bps=200,
                min_amount=100,
                step_amount=1,
                sale_start=now - timedelta(days=1),
                sale_end=now + timedelta(days=365),
            ),
        )
    found = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    payers = [Payer(c.token, c.account, *found[c.account]) for c in scene.customers]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    groups = {
        name: payers[start : start + size]
        for name, start, size in zip(groups_of, starts, sizes, strict=True)
    }
    world = World(platform, scene, cashier_tokens, product_code, random.Random(17))  # noqa: S311
    return world, groups


def _cashier(platform: Platform, session: Session, merchant_id: int) -> str:
    user_id = platform.payments.add_user(
        session, merchant_id=merchant_id, role="cashier", name="收银员"
    )
    login = platform.auth.open_session(
        session, kind=PrincipalKind.MERCHANT, principal_id=user_id, client="bench"
    )
    return login.token


_ENTRIES = (
    "SELECT count(DISTINCT p.entry_id) FROM ledger_posting p "
    "JOIN ledger_entry e ON e.id = p.entry_id "
    "WHERE p.account_id = ANY(:ids) AND NOT starts_with(e.client_id, :funding)"
)
"""The ledger entries that moved the payers' money, their funding aside."""
_ALL_ENTRIES = (
    "SELECT (SELECT count(DISTINCT p.entry_id) FROM ledger_posting p "
    "JOIN ledger_entry e ON e.id = p.entry_id "
    "WHERE p.account_id = ANY(:ids) AND NOT starts_with(e.client_id, :funding)) "
    "+ (SELECT count(*) FROM ledger_entry WHERE starts_with(client_id, :batches))"
)
"""Those of every path's payers, and the batched path's (its accounts' funding too)."""


def _check(
    platform: Platform, payers: list[Payer], funding: str, states: list[Client]
) -> PathCheck:
    """What the path's payers were debited, against what was answered."""
    refusals: Counter[str] = Counter()
    for state in states:
        refusals.update(state.refusals)
    ids = [p.ledger_account_id for p in payers]
    with platform.transaction() as session:
        entries = session.execute(text(_ENTRIES), {"ids": ids, "funding": funding}).scalar_one()
        debited = session.execute(
            text(
                "SELECT coalesce(sum(debits_posted + debits_pending), 0) FROM ledger_account "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        ).scalar_one()
    return PathCheck(
        answered=sum(s.result.transfers for s in states),
        answered_fen=sum(s.answered_fen for s in states),
        entries=int(entries),
        debited_fen=int(debited),
        refusals=dict(refusals),
        exhausted=any(s.exhausted for s in states),
    )


class Serving:
    """The API as ``rongbank up --workers N`` serves it, on a free port, in a process
    of its own (uvicorn's supervisor and its workers), stopped by SIGTERM."""

    def __init__(self, settings: Settings, url: str, workers: int) -> None:
        self.port = free_port()
        # Not a daemon: uvicorn's supervisor starts the workers as its children.
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve,
            args=(settings, url, self.port, workers),
            name=f"bench-api-{self.port}",
        )

    @property
    def pid(self) -> int:
        assert self.process.pid is not None, "not started"
        return self.process.pid

    def __enter__(self) -> Serving:
        self.process.start()
        try:
            wait_ready(self.port, self.process)
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        self.process.terminate()
        self.process.join(timeout=60)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _serve(settings: Settings, url: str, port: int, workers: int) -> None:
    serve(
        settings,
        url,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
