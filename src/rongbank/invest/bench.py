"""``rongbank bench invest``: the tick engine with 100,000 resting orders, and trades
over HTTP, beside pgbench on the same server in the same run.

1. **Ticks** (in this process, no database): ``orders`` pending orders rest on gold
   (limit buys below the price, sell-first limits above it, from ``customers``
   customers); the reference walks randomly and each tick fills every leg it crosses.
   Fired orders are replaced between ticks (untimed), so the book stays full. Figures:
   ticks/s, trigger checks/s (resting legs covered per tick times ticks/s), fills, and
   ``missed``: legs left resting that the tick's prices cross (must be 0: every
   triggered order filled within its tick).
2. **pgbench** (reference): TPC-B on a fresh embedded PostgreSQL.
3. **HTTP**: the API served as ``rongbank up`` serves it, on that server; ``clients``
   threads each ask a quote and close 1 g of a customer's gold at it
   (``POST /me/invest/quotes``, ``POST /me/invest/trades``) for ``seconds``; trades/s
   and the trade's p50/p99. Closing pays the customer, so no challenge is asked. The
   products file of the run trades around the clock, so the bench runs at weekends.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import random
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

from rongbank.auth.service import PrincipalKind
from rongbank.invest.engine import Engine
from rongbank.invest.products import load_catalogue
from rongbank.ledger.bench import BenchServer, Machine, PathResult, bench_server, percentile
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.payments.bench import free_port, person, wait_ready
from rongbank.platform import Platform
from rongbank.settings import Settings, throwaway_secrets
from rongbank.wealth import rules as wealth_rules

API = "/api/v1/me/invest"
GRAM = 1000
ANSWERS = {q.id: "d" for q in wealth_rules.QUESTIONNAIRE} | {"age": "b"}  # C5


@dataclass(frozen=True, kw_only=True)
class TickFigures:
    orders_resting: int
    ticks: int
    elapsed_s: float
    cpu_s: float
    ticks_per_s: float
    checks_per_s: float
    checks_per_cpu_s: float
    """Trigger checks per second of this process's CPU (what the work costs, whatever
    else loads the machine)."""
    fills: int
    forced_closes: int
    missed: int


@dataclass(frozen=True, kw_only=True)
class HttpFigures:
    clients: int
    trades: int
    refused: dict[str, int]
    elapsed_s: float
    trades_per_s: float
    trade_p50_ms: float
    trade_p99_ms: float
    quote_p50_ms: float
    quote_p99_ms: float


@dataclass(frozen=True, kw_only=True)
class InvestReport:
    machine: Machine | None
    ticks: TickFigures
    pgbench: PathResult | None
    http: HttpFigures | None

    @property
    def sound(self) -> bool:
        return self.ticks.missed == 0 and (self.http is None or self.http.trades > 0)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "sound": self.sound}


def measure_ticks(*, orders: int, customers: int, ticks: int, seed: int = 7) -> TickFigures:
    catalogue = load_catalogue()
    gold = catalogue.product("AU_CNY")
    engine = Engine(catalogue)
    rnd = random.Random(seed)  # noqa: S311  # a reproducible workload
    ref = 500_00
    expires = "9999-12-31T00:00:00+00:00"
    next_id = 1

    def place() -> None:
        nonlocal next_id
        short = rnd.random() < 0.5
        # Limits within 2% of the price: the walk crosses some every tick.
        offset = rnd.randint(1, ref // 50)
        price = ref + offset if short else ref - offset
        spec = {
            "kind": "limit",
            "side": "short" if short else "long",
            "action": "open",
            "price": price,
            "quantity": GRAM,
        }
        reserve = price if not short else price // 10
        engine.feed(
            {
                "type": "order",
                "order_id": next_id,
                "customer": next_id % customers,
                "product": gold.code,
                "spec": spec,
                "reserve": reserve,
                "expires_at": expires,
            }
        )
        next_id += 1

    for _ in range(orders):
        place()
    at = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    fills = forced = missed = 0
    elapsed = cpu = 0.0
    checks_before = engine.checks
    for n in range(ticks):
        ref += rnd.randint(-ref // 400, ref // 400)
        quotes = {gold.code: {"bid": ref - gold.spread, "ask": ref + gold.spread, "ref": ref}}
        stamp = (at + timedelta(seconds=n)).isoformat()
        t0, c0 = time.perf_counter(), time.process_time()
        out = engine.tick(stamp, quotes)
        elapsed += time.perf_counter() - t0
        cpu += time.process_time() - c0
        fills += sum(1 for o in out if o["type"] == "fill")
        forced += sum(1 for o in out if o["type"] == "forced_close")
        missed += _crossed(engine, gold.code, quotes[gold.code])
        for _ in range(orders - len(engine.orders)):
            place()
    return TickFigures(
        orders_resting=orders,
        ticks=ticks,
        elapsed_s=round(elapsed, 4),
        cpu_s=round(cpu, 4),
        ticks_per_s=round(ticks / elapsed, 1),
        checks_per_s=round((engine.checks - checks_before) / elapsed),
        checks_per_cpu_s=round((engine.checks - checks_before) / max(cpu, 1e-9)),
        fills=fills,
        forced_closes=forced,
        missed=missed,
    )


def _crossed(engine: Engine, code: str, quote: dict[str, int]) -> int:
    """Resting legs the tick's prices cross: none, if every trigger was filled."""
    missed = 0
    for (product, watches, rises), book in engine.books.items():
        if product != code or not book.keys:
            continue
        price = quote[watches]
        if rises:
            missed += sum(1 for trigger, _ in book.keys[:64] if trigger <= price)
        else:
            missed += sum(1 for trigger, _ in book.keys[-64:] if trigger >= price)
    return missed


def _products_around_the_clock(work_dir: Path) -> Path:
    """The shipped products, open every day all day (``close`` = ``open``)."""
    text = (files("rongbank.invest") / "products.toml").read_text()
    text = text.replace("days = [1, 2, 3, 4, 5]", "days = [1, 2, 3, 4, 5, 6, 7]", 1)
    text = text.replace('close = "04:00"', 'close = "08:00"', 1)
    path = work_dir / "invest-products.toml"
    path.write_text(text)
    return path


def _customers(platform: Platform, count: int) -> list[tuple[str, str]]:
    """Funded, assessed customers holding gold: (bearer token, account number) each."""
    first = secrets.randbelow(14_000 - count // 1000 - 1) * 1000
    out = []
    with platform.transaction() as session:
        vault, _ = platform.ledger.create_account(
            session, code="bench:invest-vault", currency="CNY", type=AccountType.ASSET
        )
    for n in range(first, first + count):
        with platform.transaction() as session:
            customer_id, account = person(platform, session, "投资", n)
            platform.ledger.transfer(
                session,
                Transfer(
                    client_id=f"bench-invest-fund-{account.number}",
                    debit_account=vault.id,
                    credit_account=account.ledger_account_id,
                    amount=10_000_000_00,
                    currency="CNY",
                ),
            )
            platform.wealth.assess(session, customer_id=customer_id, answers=ANSWERS)
            token = platform.auth.open_session(
                session, kind=PrincipalKind.CUSTOMER, principal_id=customer_id, client="bench"
            ).token
        with platform.transaction() as session:
            quote = platform.invest.quote(session, customer_id=customer_id, code="AU_CNY")
            platform.invest.trade(
                session,
                customer_id=customer_id,
                quote_id=quote.id,
                side="long",
                action="open",
                quantity=5_000 * GRAM,
                account_number=account.number,
                client_id="bench-open",
            )
        out.append((token, account.number))
    return out


def _trader(
    port: int,
    token: str,
    account: str,
    deadline: float,
    barrier: threading.Barrier,
    sink: dict[str, Any],
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    quotes: list[float] = []
    trades: list[float] = []
    refused: dict[str, int] = {}
    conn.connect()
    barrier.wait()
    n = 0
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        conn.request("POST", f"{API}/quotes", json.dumps({"product": "AU_CNY"}), headers)
        answer = conn.getresponse()
        quote = json.loads(answer.read())
        quotes.append(time.perf_counter() - t0)
        body = {
            "client_id": f"c{n}",
            "quote_id": quote.get("id", "none"),
            "side": "long",
            "action": "close",
            "quantity": "1",
            "account": account,
        }
        n += 1
        t1 = time.perf_counter()
        conn.request("POST", f"{API}/trades", json.dumps(body), headers)
        response = conn.getresponse()
        result = json.loads(response.read())
        trades.append(time.perf_counter() - t1)
        if response.status != 201:
            code = f"{response.status} {result.get('error', {}).get('code', '')}"
            refused[code] = refused.get(code, 0) + 1
    conn.close()
    with threading.Lock():
        sink.setdefault("quotes", []).extend(quotes)
        sink.setdefault("trades", []).extend(trades)
        for k, v in refused.items():
            sink.setdefault("refused", {})[k] = sink.get("refused", {}).get(k, 0) + v


def _serve(url: str, values: dict[str, Any], port: int) -> None:
    """One API process, as ``rongbank up`` runs it (uvicorn stops on SIGTERM)."""
    import uvicorn

    from rongbank.api.app import create_app, tune_gc_for_serving

    platform = Platform.connect(url, Settings(**values))
    app = create_app(platform)
    tune_gc_for_serving()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def measure_http(db: BenchServer, *, clients: int, seconds: float, workers: int) -> HttpFigures:
    plain: dict[str, Any] = {
        "database_url": db.url,
        "data_dir": str(db.work_dir),
        "invest_products_file": str(_products_around_the_clock(Path(db.work_dir))),
        **{k: v.get_secret_value() for k, v in throwaway_secrets().items()},
    }
    settings = Settings(**plain)
    platform = Platform.connect(db.url, settings, group_commit=False)
    try:
        people = _customers(platform, clients)
    finally:
        platform.close()
    sink: dict[str, Any] = {}
    ctx = multiprocessing.get_context("spawn")
    ports = [free_port() for _ in range(workers)]
    servers = [
        ctx.Process(target=_serve, args=(db.url, plain, port), name=f"bench-invest-{port}")
        for port in ports
    ]
    for process in servers:
        process.start()
    try:
        for port, process in zip(ports, servers, strict=True):
            wait_ready(port, process)
        barrier = threading.Barrier(clients + 1)
        deadline_holder: list[float] = []
        threads = []
        start = time.monotonic() + 0.5
        deadline_holder.append(start + seconds)
        for n, (token, account) in enumerate(people):
            port = ports[n % len(ports)]
            thread = threading.Thread(
                target=_trader, args=(port, token, account, deadline_holder[0], barrier, sink)
            )
            thread.start()
            threads.append(thread)
        barrier.wait()
        began = time.monotonic()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
    finally:
        for process in servers:
            process.terminate()
            process.join(timeout=60)
    trades = sorted(sink.get("trades", []))
    quotes = sorted(sink.get("quotes", []))
    refused = sink.get("refused", {})
    made = len(trades) - sum(refused.values())
    return HttpFigures(
        clients=clients,
        trades=made,
        refused=refused,
        elapsed_s=round(elapsed, 2),
        trades_per_s=round(made / elapsed, 1),
        trade_p50_ms=round(percentile(trades, 0.5) * 1000, 2),
        trade_p99_ms=round(percentile(trades, 0.99) * 1000, 2),
        quote_p50_ms=round(percentile(quotes, 0.5) * 1000, 2),
        quote_p99_ms=round(percentile(quotes, 0.99) * 1000, 2),
    )


def run(
    *,
    orders: int = 100_000,
    customers: int = 1_000,
    ticks: int = 200,
    seconds: float = 10.0,
    clients: int = 8,
    workers: int = 1,
    http: bool = True,
) -> InvestReport:
    tick_figures = measure_ticks(orders=orders, customers=customers, ticks=ticks)
    if not http:
        return InvestReport(machine=None, ticks=tick_figures, pgbench=None, http=None)
    with bench_server() as db:
        reference = db.reference(scale=max(1, clients), clients=clients, seconds=seconds)
        http_figures = measure_http(db, clients=clients, seconds=seconds, workers=workers)
        return InvestReport(
            machine=db.machine, ticks=tick_figures, pgbench=reference, http=http_figures
        )


def render(report: InvestReport) -> str:
    t = report.ticks
    lines = [
        f"Tick engine: {t.orders_resting:,} orders resting, {t.ticks} ticks",
        f"  {t.ticks_per_s:,.0f} ticks/s, {t.checks_per_s:,.0f} trigger checks/s "
        f"({t.checks_per_cpu_s:,.0f} per CPU second; CPU {t.cpu_s:.3f} s), "
        f"{t.fills:,} fills, {t.forced_closes} forced closes, "
        f"missed {t.missed} (every triggered order filled within its tick: "
        f"{'yes' if t.missed == 0 else 'NO'})",
    ]
    if report.pgbench is not None and report.http is not None:
        h, p = report.http, report.pgbench
        lines += [
            f"pgbench TPC-B: {p.rate:,.0f} tps, p50 {p.p50_ms:.2f} ms, p99 {p.p99_ms:.2f} ms "
            f"({p.workers} clients)",
            f"HTTP trades (quote, then close 1 g at it): {h.trades_per_s:,.1f} trades/s "
            f"({h.trades_per_s / p.rate:.2f}x pgbench), trade p50 {h.trade_p50_ms:.2f} ms, "
            f"p99 {h.trade_p99_ms:.2f} ms; quote p50 {h.quote_p50_ms:.2f} ms, "
            f"p99 {h.quote_p99_ms:.2f} ms ({h.clients} clients, {h.trades:,} trades)",
        ]
        if h.refused:
            lines.append(f"  refused: {h.refused}")
    return "\n".join(lines)
