"""The e-Pay benchmark behind ``rongbank bench pay``: the payment path from an HTTP
request to a durable ledger entry, beside pgbench's TPC-B measured on the same
server in the same run.

1. A server is made ready as for the ledger benchmark
   (:func:`rongbank.ledger.bench.bench_server`: a fresh embedded PostgreSQL, or
   ``database_url``), then ``merchants`` merchants are onboarded and approved, each
   with a static counter QR code, and ``customers`` customers with a funded class II
   e-account and a logged-in session each (made through the services, not over HTTP:
   an argon2 login per customer would dominate the setup).
2. **pgbench** (reference): TPC-B on the same server, ``clients`` connections.
3. **pay**: ``servers`` API processes (uvicorn, the app of ``rongbank up``, with its
   background jobs) and ``clients`` threads, each with a keep-alive HTTP connection
   (the standard library's ``http.client``: the lightest client, so the load
   generator takes least CPU from the server it measures), sending
   ``POST /api/v1/me/payments/static-qr`` as its customers (0.01-1.00 yuan to a
   random merchant). Each request is authenticated by its bearer session and goes
   through the whole path: step-up (here the password-free allowance), the barcode
   limit of 银发〔2017〕296号, the e-account class limits, the ledger entry, the audit
   row, and the commit before the 201 answer. A customer pays at most the
   password-free allowance's daily count; a client that has used all of its
   customers' allowance stops early (the report says so).

Afterwards every 201 answer must have its ``paid`` payment and its ledger entry, the
merchants' payable accounts must have received exactly the amounts answered, and
the ledger must balance and verify.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import random
import secrets
import socket
import threading
import time
import traceback
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.identity import resident_id_check_character
from rongbank.accounts.service import EAccount
from rongbank.auth.limits import load_tool_limits
from rongbank.auth.service import PrincipalKind
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
    render_ledger,
    render_paths,
)
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.money import format_amount
from rongbank.platform import Platform
from rongbank.settings import Settings, throwaway_secrets

PAY_PATH = "/api/v1/me/payments/static-qr"
FUNDING = 1_000_000  # fen per customer: far more than its allowance lets it spend
SETUP_CHUNK = 500  # customers made per transaction


@dataclass(frozen=True, kw_only=True)
class PayBenchReport:
    seconds: float
    clients: int
    servers: int
    merchants: int
    customers: int
    pgbench_scale: int
    machine: Machine
    pgbench: PathResult
    pay: PathResult
    refusals: dict[str, int]
    """Answers other than 201, by ``<status> <error code>``."""
    exhausted: bool
    """Some client used up its customers' password-free allowance before the end."""
    answered_fen: int
    """The sum of the amounts answered 201."""
    payable_fen: int
    """What the merchants' payable accounts received in the ledger."""
    payments_paid: int
    """``paid`` payments in the database."""
    ledger: LedgerCheck

    @property
    def ratio(self) -> float:
        """Payments/s over pgbench's tps."""
        base = self.pgbench.rate
        return self.pay.rate / base if base > 0 else float("inf")

    @property
    def sound(self) -> bool:
        return (
            self.ledger.sound
            and self.answered_fen == self.payable_fen
            and self.payments_paid == self.pay.transfers
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "clients": self.clients,
            "servers": self.servers,
            "merchants": self.merchants,
            "customers": self.customers,
            "pgbench_scale": self.pgbench_scale,
            "machine": asdict(self.machine),
            "paths": {p.name: asdict(p) for p in (self.pgbench, self.pay)},
            "ratio": self.ratio,
            "refusals": self.refusals,
            "exhausted": self.exhausted,
            "answered": format_amount(self.answered_fen, scale=2),
            "payable": format_amount(self.payable_fen, scale=2),
            "payments_paid": self.payments_paid,
            "ledger": {**asdict(self.ledger), "sound": self.ledger.sound},
            "sound": self.sound,
        }


def render(report: PayBenchReport) -> str:
    lines = render_header(
        f"e-Pay benchmark: {report.seconds:g} s, {report.clients} HTTP clients, "
        f"{report.servers} API process(es), {report.merchants} merchants, "
        f"{report.customers} customers",
        report.machine,
    )
    lines += render_paths(
        [report.pgbench, report.pay], {report.pay.name: report.ratio}, unit="payments/s"
    )
    lines += [
        "",
        "One payment: HTTP POST with a bearer session -> step-up (password-free allowance) "
        "-> barcode and e-account class limits -> ledger entry -> audit row -> commit -> 201.",
        "Refused: "
        + (", ".join(f"{k} x{v}" for k, v in sorted(report.refusals.items())) or "none"),
    ]
    if report.exhausted:
        lines.append(
            "Note: some clients ran out of password-free allowance before the end "
            "(run with more --customers)."
        )
    lines += [
        f"Money: answered {format_amount(report.answered_fen, scale=2)} yuan, merchants' "
        f"payable accounts received {format_amount(report.payable_fen, scale=2)} yuan; "
        f"{report.payments_paid:,} payments paid of {report.pay.transfers:,} answered 201",
        "",
        *render_ledger(report.ledger),
        f"Payment check: {'OK' if report.sound else 'FAILED'}",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Setup: staff, merchants with counter codes, customers with money and sessions


@dataclass(frozen=True, slots=True)
class Customer:
    token: str
    account: str


@dataclass(frozen=True, slots=True)
class Scene:
    merchant_ids: list[int]
    payable_ids: list[int]
    qrs: list[str]
    customers: list[Customer]


def _resident_id(n: int) -> str:
    born = date(1950, 1, 1) + timedelta(days=n // 1000)
    body = f"110105{born:%Y%m%d}{n % 1000:03d}"
    return body + resident_id_check_character(body)


def person(platform: Platform, session: Session, prefix: str, n: int) -> tuple[int, EAccount]:
    customer, account = platform.accounts.register_person(
        session,
        name=f"{prefix}客户{n}",
        mobile=f"139{n % 10**8:08d}",
        resident_id=_resident_id(n),
    )
    return customer.id, account


def set_up(platform: Platform, *, prefix: str, merchants: int, customers: int) -> Scene:
    # People born 1950-1988 (a thousand a day), from a random first day, so that a
    # second run on the same database meets no identity number or mobile taken.
    first = secrets.randbelow(14_000 - (merchants + customers) // 1000 - 1) * 1000
    with platform.transaction() as session:
        onboarder, approver = (
            platform.accounts.create_staff(
                session, username=f"{prefix}{role}", name="基准", role="operations"
            )
            for role in ("onboard", "approve")
        )
        vault, _ = platform.ledger.create_account(
            session, code=f"{prefix}vault", currency="CNY", type=AccountType.ASSET
        )
        merchant_ids, payable_ids, qrs = [], [], []
        for m in range(merchants):
            owner_id, settlement = person(platform, session, prefix, first + m)
            merchant = platform.payments.onboard(
                session,
                staff_id=onboarder,
                customer_id=owner_id,
                name=f"{prefix}商户{m}",
                mcc="5812",
                settlement_account=settlement.number,
                fee_bps=60,
            )
            platform.payments.approve(session, merchant_id=merchant.id, staff_id=approver)
            merchant_ids.append(merchant.id)
            payable_ids.append(merchant.payable_account_id)
            qrs.append(platform.payments.static_qr(session, merchant_id=merchant.id))
    made: list[Customer] = []
    for start in range(0, customers, SETUP_CHUNK):
        with platform.transaction() as session:
            funding = []
            for n in range(merchants + start, merchants + min(start + SETUP_CHUNK, customers)):
                customer_id, account = person(platform, session, prefix, first + n)
                login = platform.auth.open_session(
                    session, kind=PrincipalKind.CUSTOMER, principal_id=customer_id, client="bench"
                )
                made.append(Customer(login.token, account.number))
                funding.append(
                    Transfer(
                        client_id=f"{prefix}fund-{n}",
                        debit_account=vault.id,
                        credit_account=account.ledger_account_id,
                        amount=FUNDING,
                        currency="CNY",
                    )
                )
            outcomes = platform.ledger.execute(session, funding)
            refused = [o for o in outcomes if o.status != "created"]
            if refused:
                raise RuntimeError(f"funding failed: {refused[0]}")
    return Scene(merchant_ids, payable_ids, qrs, made)


# ---------------------------------------------------------------------------
# The API servers


def _serve(url: str, values: dict[str, Any], port: int) -> None:
    """One API process, as ``rongbank up`` runs it (uvicorn stops on SIGTERM)."""
    import uvicorn

    from rongbank.api.app import create_app, tune_gc_for_serving

    platform = Platform.connect(url, Settings(**values))
    app = create_app(platform)
    tune_gc_for_serving()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, process: multiprocessing.process.BaseProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process.is_alive():
            raise RuntimeError(f"the API process on port {port} exited ({process.exitcode})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API process on port {port} did not start")


# ---------------------------------------------------------------------------
# The clients


@dataclass(kw_only=True)
class _Client:
    result: WorkerResult = field(default_factory=WorkerResult)
    answered_fen: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    exhausted: bool = False


def _pay(
    client: _Client,
    *,
    port: int,
    customers: list[Customer],
    qrs: list[str],
    allowance: int,
    seconds: float,
    prefix: str,
    seed: int,
    barrier: threading.Barrier,
) -> None:
    result = client.result
    rnd = random.Random(seed)  # noqa: S311 - load generation, not security
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.connect()  # before the clock starts
        barrier.wait()
        result.start = time.monotonic()
        deadline = result.start + seconds
        k = 0
        while time.monotonic() < deadline:
            if k >= len(customers) * allowance:
                client.exhausted = True
                break
            # Round-robin over the client's customers: each pays once per round.
            customer = customers[k % len(customers)]
            amount = rnd.randint(1, 100)
            body = json.dumps(
                {
                    "qr": rnd.choice(qrs),
                    "account": customer.account,
                    "amount": format_amount(amount, scale=2),
                    "client_id": f"{prefix}{seed}-{k}",
                }
            )
            headers = {
                "Authorization": f"Bearer {customer.token}",
                "Content-Type": "application/json",
            }
            k += 1
            t0 = time.perf_counter()
            conn.request("POST", PAY_PATH, body, headers)
            response = conn.getresponse()
            answer = response.read()
            result.latencies.append(time.perf_counter() - t0)
            result.operations += 1
            if response.status == 201:
                result.transfers += 1
                client.answered_fen += amount
            else:
                result.failed += 1
                code = json.loads(answer).get("error", {}).get("code", "") if answer else ""
                client.refusals[f"{response.status} {code}".strip()] += 1
        result.end = time.monotonic()
    except BaseException:
        barrier.abort()
        result.error = traceback.format_exc()
    finally:
        conn.close()


def _run_clients(
    scene: Scene, ports: list[int], *, clients: int, seconds: float, prefix: str, allowance: int
) -> list[_Client]:
    barrier = threading.Barrier(clients + 1)
    states = [_Client() for _ in range(clients)]
    threads = [
        threading.Thread(
            target=_pay,
            args=(states[i],),
            kwargs={
                "port": ports[i % len(ports)],
                "customers": scene.customers[i::clients],
                "qrs": scene.qrs,
                "allowance": allowance,
                "seconds": seconds,
                "prefix": prefix,
                "seed": i,
                "barrier": barrier,
            },
            name=f"bench-pay-{i}",
        )
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    # A client that failed to connect breaks the barrier; its result carries the error.
    with suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=START_TIMEOUT_S)
    for thread in threads:
        thread.join()
    return states


# ---------------------------------------------------------------------------
# The run


def run(
    *,
    seconds: float = 10.0,
    clients: int = 32,
    servers: int = 1,
    merchants: int = 50,
    customers: int = 5_000,
    data_dir: Path | None = None,
    database_url: str | None = None,
    pgbench_scale: int | None = None,
) -> PayBenchReport:
    """Measure pgbench and the payment path on one server; check the money after."""
    if seconds <= 0 or clients < 1 or servers < 1 or merchants < 1 or customers < clients:
        raise ValueError("seconds > 0, clients, servers, merchants >= 1, customers >= clients")
    scale = pgbench_scale or max(1, clients)
    with bench_server(data_dir=data_dir, database_url=database_url) as db:
        return _run_on(
            db,
            seconds=seconds,
            clients=clients,
            servers=servers,
            merchants=merchants,
            customers=customers,
            scale=scale,
        )


def _run_on(
    db: BenchServer,
    *,
    seconds: float,
    clients: int,
    servers: int,
    merchants: int,
    customers: int,
    scale: int,
) -> PayBenchReport:
    prefix = f"b{uuid.uuid4().hex[:6]}"
    # The keys every process shares (the setup's and the servers'), for this run only.
    values: dict[str, Any] = {
        "database_url": db.url,
        "data_dir": str(db.work_dir),
        "db_pool_size": max(10, -(-clients // servers) + 4),
        **throwaway_secrets(),
    }
    settings = Settings(**values)
    platform = Platform.connect(db.url, settings, group_commit=False)
    try:
        scene = set_up(platform, prefix=prefix, merchants=merchants, customers=customers)
        allowance = load_tool_limits(settings.tool_limits_file).password_free.daily_count
        reference = db.reference(scale=scale, clients=clients, seconds=seconds)
        states = _measure(
            db,
            scene,
            values,
            clients=clients,
            servers=servers,
            seconds=seconds,
            prefix=prefix,
            allowance=allowance,
        )
        pay = combine(
            "pay",
            "static-QR payment over HTTP",
            clients,
            "clients",
            "payment",
            [s.result for s in states],
        )
        refusals: Counter[str] = Counter()
        for state in states:
            refusals.update(state.refusals)
        entries = (
            "SELECT count(*) FROM payment p JOIN ledger_entry e ON e.id = p.entry_id "
            "WHERE p.merchant_id = ANY(:m)"
        )
        ledger = check_ledger(
            db.url, expected=pay.transfers, count_sql=entries, params={"m": scene.merchant_ids}
        )
        with platform.transaction() as session:
            paid = session.execute(
                text(
                    "SELECT count(*) FROM payment WHERE status = 'paid' AND merchant_id = ANY(:m)"
                ),
                {"m": scene.merchant_ids},
            ).scalar_one()
            payable = session.execute(
                text(
                    "SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM ledger_account "
                    "WHERE id = ANY(:ids)"
                ),
                {"ids": scene.payable_ids},
            ).scalar_one()
    finally:
        platform.close()
    return PayBenchReport(
        seconds=seconds,
        clients=clients,
        servers=servers,
        merchants=merchants,
        customers=customers,
        pgbench_scale=scale,
        machine=db.machine,
        pgbench=reference,
        pay=pay,
        refusals=dict(refusals),
        exhausted=any(s.exhausted for s in states),
        answered_fen=sum(s.answered_fen for s in states),
        payable_fen=int(payable),
        payments_paid=int(paid),
        ledger=ledger,
    )


def _measure(
    db: BenchServer,
    scene: Scene,
    values: dict[str, Any],
    *,
    clients: int,
    servers: int,
    seconds: float,
    prefix: str,
    allowance: int,
) -> list[_Client]:
    """Start the API processes, run the clients against them, stop them."""
    ctx = multiprocessing.get_context("spawn")
    plain = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()}
    ports = [free_port() for _ in range(servers)]
    processes = [
        ctx.Process(
            target=_serve, args=(db.url, plain, port), name=f"bench-api-{port}", daemon=True
        )
        for port in ports
    ]
    for process in processes:
        process.start()
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_ready(port, process)
        checkpoint(db.admin_url)
        return _run_clients(
            scene, ports, clients=clients, seconds=seconds, prefix=prefix, allowance=allowance
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
