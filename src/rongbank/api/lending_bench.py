"""The benchmark behind ``rongbank bench lending``: credit decisions over HTTP, end to
end, beside pgbench's TPC-B on the same server in the same run.

A fresh embedded PostgreSQL (:func:`rongbank.ledger.bench.bench_server`), migrated;
``customers`` customers with a class II e-account and a logged-in session; the API as
``rongbank up --workers N`` serves it; ``clients`` threads with a keep-alive
connection each send ``POST /api/v1/me/lending/applications`` for ``seconds``: the
bearer login, the eligibility rules (the customer's lock, the cap counting what is
owed and offered), the credit bureau (``FakeCreditBureau``), the fraud hook, the
shipped scorecard, pricing, and every stage, the application and its offer or review
stored, audited and committed. Each application asks 1,000 yuan over 12 months, so a
customer meets the 200,000-yuan cap only after 200 offers (``--customers`` keeps that
away). A decision is a 201 answer, whatever it decided (the outcomes are counted).

CPU per decision (the API's processes, PostgreSQL's, the clients') is printed too:
on a shared machine the rate says little, the CPU spent says what a quiet one would
reach.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from rongbank.api.bench import Serving
from rongbank.api.bench_clients import Call, load, postmaster
from rongbank.api.bench_cpu import CpuMeter, CpuUse
from rongbank.ledger.bench import (
    Machine,
    PathResult,
    bench_server,
    checkpoint,
    combine,
    render_header,
    render_paths,
)
from rongbank.payments.bench import set_up
from rongbank.platform import Platform
from rongbank.settings import Settings, throwaway_secrets

API = "/api/v1"
RATE_TARGET = 200.0
"""Issue 18's goal: decisions/s at 32 clients."""
P99_TARGET_MS = 100.0
FORM = {
    "product": "personal_credit",
    "amount": "1000.00",
    "term_months": 12,
    "method": "equal_instalment",
    "purpose": "consumption",
    "monthly_income": "8000.00",
    "monthly_expenses": "3000.00",
    "employment": "permanent",
    "years_with_employer": 5,
    "housing": "rent",
    "assets": "100000.00",
    "debts": "0.00",
}


@dataclass(frozen=True, kw_only=True)
class LendingReport:
    seconds: float
    clients: int
    workers: int
    customers: int
    machine: Machine
    pgbench: PathResult
    decisions: PathResult
    outcomes: dict[str, int]
    """Applications stored in the window, by status (offered, review, declined)."""
    refusals: dict[str, int]
    cpu: CpuUse

    @property
    def cpu_ms_per_decision(self) -> dict[str, float | None]:
        return self.cpu.per_payment_ms(self.decisions.transfers)

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "clients": self.clients,
            "workers": self.workers,
            "customers": self.customers,
            "machine": asdict(self.machine),
            "pgbench": asdict(self.pgbench),
            "decisions": asdict(self.decisions),
            "ratio": self.decisions.rate / self.pgbench.rate if self.pgbench.rate else None,
            "outcomes": self.outcomes,
            "refusals": self.refusals,
            "cpu": asdict(self.cpu),
            "cpu_ms_per_decision": self.cpu_ms_per_decision,
            "targets": {"rate": RATE_TARGET, "p99_ms": P99_TARGET_MS},
        }


def render(report: LendingReport) -> str:
    d = report.decisions
    lines = render_header(
        f"Credit decisions over HTTP: {report.seconds:g} s, {report.clients} clients, "
        f"{report.workers} API process(es), {report.customers} customers",
        report.machine,
    )
    lines += render_paths(
        [report.pgbench, d],
        {d.name: d.rate / report.pgbench.rate if report.pgbench.rate else 0.0},
        unit="decisions/s",
    )
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(report.outcomes.items())) or "none"
    refused = ", ".join(f"{k} x{v}" for k, v in sorted(report.refusals.items())) or "none"
    lines += [
        "",
        f"Decided: {outcomes}; refused: {refused}",
        f"Goal: at least {RATE_TARGET:g} decisions/s: {d.rate:,.0f} "
        f"{'PASS' if d.rate >= RATE_TARGET else 'MISS'}; p99 at most {P99_TARGET_MS:g} ms: "
        f"{d.p99_ms:.1f} {'PASS' if d.p99_ms <= P99_TARGET_MS else 'MISS'}",
        "CPU per decision, ms: "
        + ", ".join(
            f"{who} {'-' if ms is None else f'{ms:.2f}'}"
            for who, ms in report.cpu_ms_per_decision.items()
        ),
    ]
    return "\n".join(lines)


def run(
    *,
    seconds: float = 10.0,
    clients: int = 32,
    workers: int = 2,
    customers: int = 500,
    data_dir: Path | None = None,
    database_url: str | None = None,
) -> LendingReport:
    if seconds <= 0 or min(clients, workers, customers) < 1:
        raise ValueError("seconds > 0; clients, workers, customers >= 1")
    with bench_server(data_dir=data_dir, database_url=database_url) as db:
        prefix = f"l{uuid.uuid4().hex[:6]}"
        values: dict[str, Any] = {
            "database_url": db.url,
            "data_dir": db.work_dir,
            "db_pool_size": max(10, -(-clients // workers) + 4),
            **throwaway_secrets(),
        }
        settings = Settings(**values)
        platform = Platform.connect(db.url, settings, group_commit=False)
        try:
            platform.credit.scorer()  # no scorecard, no benchmark: say so before the run
            scene = set_up(platform, prefix=prefix, merchants=1, customers=customers)
            tokens = [c.token for c in scene.customers]
            with platform.transaction() as session:
                # The set-up's people are born on one day in 1950-1988: applicants of
                # working age instead, so that every decision runs all its stages.
                session.execute(
                    text(
                        "UPDATE customer SET birth_date = DATE '1990-03-07' WHERE id IN "
                        "(SELECT customer_id FROM e_account WHERE number = ANY(:n))"
                    ),
                    {"n": [c.account for c in scene.customers]},
                )
            reference = db.reference(scale=max(1, clients), clients=clients, seconds=seconds)
            # Enough calls that no client runs out: a generous rate times the window.
            count = int(seconds * 4_000)
            calls = [
                Call(
                    f"{API}/me/lending/applications",
                    json.dumps(FORM | {"client_id": f"{prefix}-{n}"}).encode(),
                    tokens[n % len(tokens)],
                    0,
                )
                for n in range(count)
            ]
            with Serving(settings, db.url, workers) as server:
                meter = CpuMeter(api_pid=server.pid, postmaster_pid=postmaster(db))
                checkpoint(db.admin_url)
                meter.start()
                states, _ = load(calls, 201, port=server.port, clients=clients, seconds=seconds)
                cpu = meter.stop()
            with platform.transaction() as session:
                outcomes: dict[str, int] = dict(
                    session.execute(
                        text(
                            "SELECT status, count(*) FROM lending_application "
                            "WHERE client_id LIKE :p GROUP BY status"
                        ),
                        {"p": f"{prefix}-%"},
                    ).all()
                )
        finally:
            platform.close()
    refusals: Counter[str] = Counter()
    for state in states:
        refusals.update(state.refusals)
    return LendingReport(
        seconds=seconds,
        clients=clients,
        workers=workers,
        customers=customers,
        machine=db.machine,
        pgbench=reference,
        decisions=combine(
            "decision",
            "credit decision",
            clients,
            "clients",
            "decision",
            [s.result for s in states],
        ),
        outcomes={str(k): int(v) for k, v in outcomes.items()},
        refusals=dict(refusals),
        cpu=cpu,
    )
