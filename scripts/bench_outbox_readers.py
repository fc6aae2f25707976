"""What the outbox's readers cost per payment that does not concern them.

    python scripts/bench_outbox_readers.py [--payments 2000]

On a fresh embedded server: records ``--payments`` e-Pay payment events
(``PaymentMade``), one per transaction as a payment records it, then runs the jobs of
the readers that do not handle payments (risk's screening, cases and holds) until
their queues are empty, as ``rongbank up`` runs them in the API process. Reports CPU
milliseconds per payment: this process's (the recording's Python, the jobs' Python)
and the PostgreSQL server's. Before the readers declared their kinds each of the
three took, decoded and acknowledged every payment's event; since, nothing is queued
for them. The push job's work on the same events (it tells the customer) is the same
either way and not run here.
"""

from __future__ import annotations

import argparse
import math
import os
from datetime import UTC, datetime
from typing import Any

from rongbank import outbox
from rongbank.api.bench_clients import postmaster
from rongbank.api.bench_cpu import CpuMeter, CpuUse
from rongbank.ledger.bench import bench_server
from rongbank.payments.events import PaymentMade
from rongbank.platform import Platform
from rongbank.settings import Settings, throwaway_secrets

AT = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def payment(n: int) -> PaymentMade:
    return PaymentMade(
        payment_id=n,
        customer_id=1,
        e_account_id=1,
        account_tail="0001",
        merchant_id=1,
        merchant="基准商户",
        amount=100,
        currency="CNY",
        status="paid",
        occurred_at=AT,
    )


def per_payment(use: CpuUse, payments: int) -> str:
    return (
        f"this process {use.clients_s * 1000 / payments:.3f} ms, "
        f"PostgreSQL {(use.database_s or 0.0) * 1000 / payments:.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=2000)
    args = parser.parse_args()
    payments: int = args.payments
    with bench_server() as db:
        values: dict[str, Any] = {
            "database_url": db.url,
            "data_dir": db.work_dir,
            **throwaway_secrets(),
        }
        settings = Settings(**values)
        platform = Platform.connect(db.url, settings, group_commit=False)
        try:
            meter = CpuMeter(api_pid=os.getpid(), postmaster_pid=postmaster(db))
            meter.start()
            for n in range(payments):
                with platform.transaction() as session:
                    outbox.record(session, payment(n))
            recorded = meter.stop()
            meter.start()
            platform.screen_watchlists()
            platform.risk_desk.file(platform.transaction)
            for _ in range(math.ceil(payments / 200) + 1):  # holds take 200 a run
                platform.resolve_risk_holds()
            read = meter.stop()
        finally:
            platform.close()
    print(f"{payments:,} payment events, per payment:")
    print(f"  recording (one transaction each): {per_payment(recorded, payments)}")
    print(f"  the risk readers' jobs:           {per_payment(read, payments)}")


if __name__ == "__main__":
    main()
