"""``rongbank bench invest`` (registered on the bench commands in ``cli/main.py``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def bench_invest(
    orders: Annotated[int, typer.Option(min=1, help="Pending orders resting.")] = 100_000,
    ticks: Annotated[int, typer.Option(min=1, help="Ticks measured.")] = 200,
    seconds: Annotated[float, typer.Option(help="Seconds of pgbench and of HTTP trades.")] = 10.0,
    clients: Annotated[int, typer.Option(min=1, help="HTTP clients (and pgbench's).")] = 8,
    workers: Annotated[int, typer.Option(min=1, help="API worker processes.")] = 1,
    http: Annotated[bool, typer.Option(help="Also trades over HTTP beside pgbench.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """e-Invest: ticks/s and trigger checks/s with ``orders`` resting (every triggered
    order filled within its tick), and trades over HTTP with p50/p99 beside pgbench's
    TPC-B on one fresh embedded PostgreSQL."""
    from rongbank.invest import bench

    report = bench.run(
        orders=orders, ticks=ticks, seconds=seconds, clients=clients, workers=workers, http=http
    )
    print(json.dumps(report.to_json(), indent=2) if as_json else bench.render(report))
    if not report.sound:
        raise typer.Exit(1)
