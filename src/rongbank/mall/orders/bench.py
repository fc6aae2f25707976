"""The checkout half of ``rongbank bench mall``: a cart of three sellers checked out
and paid, over HTTP, beside pgbench's TPC-B on the same server in the same run.

1. A fresh embedded PostgreSQL (or ``database_url``), migrated
   (:func:`rongbank.ledger.bench.bench_server`); through the services: the mall's
   clearing merchant, three sellers with an open shop and a SKU each (stock enough
   for the run), and ``customers`` funded customers with a session, each with a cart
   of one unit from each seller (``payments.bench.set_up`` makes the people).
2. **pgbench** (reference): TPC-B on the same server, ``clients`` connections.
3. ``workers`` API processes (one port each, as ``rongbank up`` runs one), then
   ``clients`` threads with a keep-alive connection each: per customer, ``POST
   /api/v1/me/mall/checkouts`` (stock reserved, three orders, one e-Pay order) then
   ``POST .../checkouts/{id}/pay`` (the whole cart paid into the mall's clearing,
   committed: durable), timed together as one checkout. Each cart is small (a few
   yuan) so the payment goes through within the password-free allowance.

Afterwards: every answered checkout is paid, the clearing holds exactly their
amounts, each SKU's stock fell by exactly the units sold, and the ledger balances
(:attr:`CheckoutReport.sound`).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text

from rongbank.ledger.bench import (
    START_TIMEOUT_S,
    BenchServer,
    LedgerCheck,
    Machine,
    PathResult,
    WorkerResult,
    bench_server,
    check_ledger,
    checkpoint,
    combine,
    render_header,
    render_paths,
)
from rongbank.payments.bench import free_port, person, set_up, wait_ready
from rongbank.platform import Platform
from rongbank.settings import Settings, throwaway_secrets

PRICES = (1_00, 2_50, 3_99)
"""One unit from each of the three sellers: 7.49 yuan a cart."""
SETUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Buyer:
    token: str
    account: str


@dataclass(frozen=True, kw_only=True)
class CheckoutCheck:
    answered: int
    paid: int
    clearing_fen: int
    expected_fen: int
    units_sold: int
    stock_taken: int
    refusals: dict[str, int]

    @property
    def sound(self) -> bool:
        return (
            self.answered == self.paid
            and self.clearing_fen == self.expected_fen
            and self.units_sold == self.stock_taken
        )


@dataclass(frozen=True, kw_only=True)
class CheckoutReport:
    seconds: float
    clients: int
    workers: int
    customers: int
    machine: Machine
    pgbench: PathResult
    checkout: PathResult
    check: CheckoutCheck
    ledger: LedgerCheck
    api_cpu_ms: float
    """CPU of the API processes per checkout (checkout and payment), ms: what a
    shared machine's figure still says."""

    @property
    def ratio(self) -> float:
        return self.checkout.rate / self.pgbench.rate if self.pgbench.rate else 0.0

    @property
    def sound(self) -> bool:
        return self.check.sound and self.ledger.sound

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "clients": self.clients,
            "workers": self.workers,
            "customers": self.customers,
            "machine": asdict(self.machine),
            "pgbench": asdict(self.pgbench),
            "checkout": asdict(self.checkout),
            "x_pgbench": round(self.ratio, 4),
            "check": asdict(self.check) | {"sound": self.check.sound},
            "ledger_balanced": self.ledger.balanced,
            "api_cpu_ms_per_checkout": self.api_cpu_ms,
            "sound": self.sound,
        }


def render(report: CheckoutReport) -> str:
    lines = render_header(
        f"融e购 checkout over HTTP (a cart of three sellers to durable payment): "
        f"{report.seconds:g} s, {report.clients} clients, {report.workers} API process(es)",
        report.machine,
    )
    lines += render_paths(
        [report.pgbench, report.checkout], {"checkout": report.ratio}, unit="checkouts/s"
    )
    c = report.check
    lines.append(f"API CPU per checkout: {report.api_cpu_ms:.2f} ms")
    lines.append(
        f"answered {c.answered:,}, paid {c.paid:,}; clearing {c.clearing_fen / 100:,.2f} yuan "
        f"(expected {c.expected_fen / 100:,.2f}); units sold {c.units_sold:,}, stock taken "
        f"{c.stock_taken:,}; ledger {'balanced' if report.ledger.balanced else 'UNBALANCED'}: "
        f"{'OK' if report.sound else 'MISMATCH'}; refused: "
        + (", ".join(f"{k} x{v}" for k, v in sorted(c.refusals.items())) or "none")
    )
    return "\n".join(lines)


def run(
    *,
    seconds: float = 10.0,
    clients: int = 32,
    workers: int = 2,
    customers: int = 2_000,
    data_dir: Path | None = None,
    database_url: str | None = None,
    pgbench_scale: int | None = None,
) -> CheckoutReport:
    """Measure pgbench, then checkouts at ``clients`` clients; check the money after."""
    if seconds <= 0 or min(clients, workers) < 1 or customers < clients:
        raise ValueError("seconds > 0; clients, workers >= 1; customers >= clients")
    with bench_server(data_dir=data_dir, database_url=database_url) as db:
        return _run_on(
            db,
            seconds=seconds,
            clients=clients,
            workers=workers,
            customers=customers,
            scale=pgbench_scale or max(1, clients),
        )


def _run_on(
    db: BenchServer, *, seconds: float, clients: int, workers: int, customers: int, scale: int
) -> CheckoutReport:
    prefix = f"m{uuid.uuid4().hex[:6]}"
    values: dict[str, Any] = {
        "database_url": db.url,
        "data_dir": db.work_dir,
        "db_pool_size": max(10, -(-clients // workers) + 4),
        **throwaway_secrets(),
    }
    platform = Platform.connect(db.url, Settings(**values), group_commit=False)
    try:
        clearing, skus, buyers = _world(platform, prefix, customers)
        values["mall_merchant_id"] = clearing
        reference = db.reference(scale=scale, clients=clients, seconds=seconds)
        checkpoint(db.admin_url)
        ports = [free_port() for _ in range(workers)]
        servers = [
            multiprocessing.get_context("spawn").Process(
                target=_serve, args=(db.url, values, port), name=f"bench-mall-{port}"
            )
            for port in ports
        ]
        for server in servers:
            server.start()
        try:
            for port, server in zip(ports, servers, strict=True):
                wait_ready(port, server)
            before = _cpu_s(servers)
            results, refusals = _load(buyers, ports, clients=clients, seconds=seconds)
            api_cpu_s = _cpu_s(servers) - before
        finally:
            for server in servers:
                server.terminate()
                server.join(timeout=60)
        measured = combine(
            "checkout", "cart of 3 sellers to payment", clients, "clients", "checkout", results
        )
        check = _check(
            platform, clearing, skus, measured.transfers, refusals, stock=customers * len(skus)
        )
        ledger = check_ledger(db.url, expected=0, count_sql="SELECT 0")
    finally:
        platform.close()
    return CheckoutReport(
        seconds=seconds,
        clients=clients,
        workers=workers,
        customers=customers,
        machine=db.machine,
        pgbench=reference,
        checkout=measured,
        check=check,
        ledger=ledger,
        api_cpu_ms=round(api_cpu_s * 1000 / max(measured.operations, 1), 3),
    )


def _cpu_s(servers: Sequence[multiprocessing.process.BaseProcess]) -> float:
    """CPU seconds the API processes have used (user and system)."""
    total = 0.0
    for server in servers:
        assert server.pid is not None
        times = psutil.Process(server.pid).cpu_times()
        total += times.user + times.system
    return total


def _world(platform: Platform, prefix: str, customers: int) -> tuple[int, list[int], list[Buyer]]:
    """The clearing merchant, three sellers' SKUs, and buyers with a cart each."""
    scene = set_up(platform, prefix=prefix, merchants=len(PRICES), customers=customers)
    with platform.transaction() as session:
        staff = [
            int(
                session.execute(
                    text("SELECT id FROM staff WHERE username = :u"), {"u": f"{prefix}{role}"}
                ).scalar_one()
            )
            for role in ("onboard", "approve")
        ]
        owner, account = person(platform, session, prefix, 10**7 + secrets.randbelow(10**6))
        clearing = platform.payments.onboard(
            session,
            staff_id=staff[0],
            customer_id=owner,
            name="融e购",
            mcc="5311",
            settlement_account=account.number,
            fee_bps=0,
        )
        platform.payments.approve(session, merchant_id=clearing.id, staff_id=staff[1])
        category = session.execute(
            text(
                "INSERT INTO mall_category (code, name_zh, name_en, commission_bp) "
                "VALUES (:c, '基准', 'Bench', 500) RETURNING id"
            ),
            {"c": prefix},
        ).scalar_one()
        skus = []
        for merchant_id, price in zip(scene.merchant_ids, PRICES, strict=True):
            user = platform.payments.add_user(
                session, merchant_id=merchant_id, role="owner", name="店主"
            )
            shop = session.execute(
                text(
                    "INSERT INTO mall_shop (merchant_id, name, status, requested_by, created_at) "
                    "VALUES (:m, :n, 'open', :u, now()) RETURNING id"
                ),
                {"m": merchant_id, "n": f"{prefix}店{merchant_id}", "u": user},
            ).scalar_one()
            product = session.execute(
                text(
                    "INSERT INTO mall_product (shop_id, category_id, title, status, created_at, "
                    "updated_at) VALUES (:s, :c, '基准商品', 'published', now(), now()) "
                    "RETURNING id"
                ),
                {"s": shop, "c": category},
            ).scalar_one()
            skus.append(
                int(
                    session.execute(
                        text(
                            "INSERT INTO mall_sku (product_id, code, price, stock) "
                            "VALUES (:p, 'B', :price, :stock) RETURNING id"
                        ),
                        {"p": product, "price": price, "stock": customers},
                    ).scalar_one()
                )
            )
    platform.mall_orders.use_merchant(clearing.id)
    buyers = [Buyer(c.token, c.account) for c in scene.customers]
    for start in range(0, len(scene.customers), SETUP_CHUNK):
        with platform.transaction() as session:
            for c in scene.customers[start : start + SETUP_CHUNK]:
                customer_id = platform.auth.authenticate(session, c.token).id
                for sku in skus:
                    platform.mall_orders.checkouts.add(
                        session, customer_id=customer_id, sku_id=sku, quantity=1
                    )
    return clearing.id, skus, buyers


def _serve(url: str, values: dict[str, Any], port: int) -> None:
    """One API process, as ``rongbank up`` runs it (uvicorn stops on SIGTERM)."""
    import uvicorn

    from rongbank.api.app import create_app, tune_gc_for_serving

    platform = Platform.connect(url, Settings(**values))
    app = create_app(platform)
    tune_gc_for_serving()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _post(conn: http.client.HTTPConnection, url: str, token: str, body: dict[str, Any]) -> Any:
    conn.request(
        "POST",
        url,
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def _client(
    buyers: list[Buyer],
    port: int,
    seconds: float,
    barrier: threading.Barrier,
    result: WorkerResult,
    refusals: dict[str, int],
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.connect()
        barrier.wait()
        result.start = time.monotonic()
        deadline = result.start + seconds
        for n, buyer in enumerate(buyers):
            if time.monotonic() >= deadline:
                break
            t0 = time.perf_counter()
            status, made = _post(
                conn, "/api/v1/me/mall/checkouts", buyer.token, {"client_id": f"b{n}"}
            )
            if status == 201:
                status, made = _post(
                    conn,
                    f"/api/v1/me/mall/checkouts/{made['id']}/pay",
                    buyer.token,
                    {"account": buyer.account},
                )
            result.latencies.append(time.perf_counter() - t0)
            result.operations += 1
            if status == 200 and made.get("status") == "paid":
                result.transfers += 1
            else:
                result.failed += 1
                code = f"{status} {made.get('error', {}).get('code', '')}".strip()
                refusals[code] = refusals.get(code, 0) + 1
        result.end = time.monotonic()
    except BaseException:
        barrier.abort()
        result.error = traceback.format_exc()
    finally:
        conn.close()


def _load(
    buyers: list[Buyer], ports: list[int], *, clients: int, seconds: float
) -> tuple[list[WorkerResult], dict[str, int]]:
    barrier = threading.Barrier(clients + 1)
    results = [WorkerResult() for _ in range(clients)]
    refusals: list[dict[str, int]] = [{} for _ in range(clients)]
    threads = [
        threading.Thread(
            target=_client,
            args=(buyers[i::clients], ports[i % len(ports)], seconds, barrier, results[i]),
            kwargs={"refusals": refusals[i]},
            name=f"bench-mall-{i}",
        )
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    with suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=START_TIMEOUT_S)
    for thread in threads:
        thread.join()
    merged: dict[str, int] = {}
    for r in refusals:
        for k, v in r.items():
            merged[k] = merged.get(k, 0) + v
    return results, merged


def _check(
    platform: Platform,
    clearing: int,
    skus: list[int],
    answered: int,
    refusals: dict[str, int],
    *,
    stock: int,
) -> CheckoutCheck:
    """The run's money and stock: ``stock`` units were put on the SKUs."""
    with platform.transaction() as session:
        paid, expected = session.execute(
            text(
                "SELECT count(*), coalesce(sum(amount), 0) FROM mall_checkout WHERE status = 'paid'"
            )
        ).one()
        merchant = platform.payments.merchant(session, clearing)
        held = platform.payments.merchant_funds(session, merchant).held
        sold = session.execute(
            text(
                "SELECT coalesce(sum(l.quantity), 0) FROM mall_order_line l "
                "JOIN mall_order o ON o.id = l.order_id WHERE o.status = 'paid'"
            )
        ).scalar_one()
        left = session.execute(
            text("SELECT coalesce(sum(stock), 0) FROM mall_sku WHERE id = ANY(:k)"), {"k": skus}
        ).scalar_one()
        reserved = session.execute(
            text(
                "SELECT coalesce(sum(l.quantity), 0) FROM mall_order_line l "
                "JOIN mall_order o ON o.id = l.order_id WHERE o.status = 'reserved'"
            )
        ).scalar_one()
    return CheckoutCheck(
        answered=answered,
        paid=int(paid),
        clearing_fen=held,
        expected_fen=int(expected),
        units_sold=int(sold),
        stock_taken=stock - int(left) - int(reserved),
        refusals=refusals,
    )
