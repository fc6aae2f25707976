"""``rongbank cluster``: the bank as a cluster on one machine, and its failover
benchmark."""

from __future__ import annotations

import json
import logging
import signal
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rongbank.cluster import bench
from rongbank.cluster.config import Layout, free_layout, validate
from rongbank.cluster.supervisor import Cluster
from rongbank.settings import get_settings

cluster_app = typer.Typer(
    help="PostgreSQL with Patroni and etcd, API processes behind HAProxy, NATS.",
    no_args_is_help=True,
)
console = Console()

Nodes = Annotated[int, typer.Option(min=1, max=9, help="PostgreSQL members.")]
Apis = Annotated[int, typer.Option(min=1, max=9, help="API processes behind HAProxy.")]
Nats = Annotated[int, typer.Option(min=1, max=9, help="NATS servers, routed to each other.")]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@cluster_app.command("up")
def up(
    nodes: Nodes = 3,
    apis: Apis = 2,
    nats: Nats = 2,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Where the members, etcd and logs live (default: <data dir>/cluster)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="HAProxy's port; the other parts listen on the next 60 ports."),
    ] = None,
) -> None:
    """Start etcd, NATS, PostgreSQL members under Patroni (synchronous replication),
    the schema migrated on the leader, API processes and HAProxy, all on 127.0.0.1.
    Runs until SIGTERM or Ctrl-C, then stops everything."""
    validate(nodes, apis, nats)
    settings = get_settings()
    root = (data_dir or settings.data_dir / "cluster").expanduser()
    layout = Layout(port or settings.port, nodes, apis, nats)
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    console.print(f"Starting a cluster in {root} (logs in {root / 'logs'})...")
    with suppress(KeyboardInterrupt), Cluster(root, layout, bench.app_secrets) as cluster:
        table = Table("part", "listens on")
        for part, where in cluster.listening():
            table.add_row(part, where)
        console.print(table)
        console.print(f"Leader: pg{cluster.leader()}. The API processes' database URL")
        console.print(f"(its password is in {root / 'secrets.json'}):", soft_wrap=True)
        console.print(f"  {cluster.layout.database_url('PASSWORD')}", soft_wrap=True)
        console.print(
            f"[bold green]Up[/] in {time.monotonic() - started:.0f} s: the web bank is at "
            f"{cluster.balancer_url}/ . Press Ctrl-C to stop."
        )
        while True:
            time.sleep(3600)
    console.print("Cluster stopped.")


@cluster_app.command("failover-bench")
def failover_bench(
    clients: Annotated[int, typer.Option(min=1, help="Client pairs paying each other.")] = 8,
    before: Annotated[float, typer.Option(help="Seconds of load before the kill.")] = 5.0,
    after: Annotated[float, typer.Option(help="Seconds of load after the promotion.")] = 10.0,
    node: Annotated[
        bool,
        typer.Option(help="Then kill a whole member (Patroni too): the leader key must expire."),
    ] = False,
    pgbench_seconds: Annotated[int, typer.Option(min=1)] = 5,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the cluster (and its logs) here; default: thrown away."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """A cluster of three members under transfers through HAProxy; its primary killed
    with SIGKILL. Prints the write gap, the transfers acknowledged and whether each
    is in the ledger once, beside pgbench on the same cluster."""
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="rongbank-failover-") as folder:
        root = data_dir or Path(folder)
        layout = free_layout(3, 2, 2)
        with Cluster(root, layout, bench.app_secrets, api_env=bench.api_env(root / "load")) as c:
            reference = bench.pgbench(c, seconds=pgbench_seconds, work_dir=root)
            reports = [bench.run(c, clients=clients, before_s=before, after_s=after)]
            if node:
                bench.wait_healed(c)
                reports.append(
                    bench.run(c, clients=clients, before_s=before, after_s=after, node=True)
                )
    if as_json:
        print(
            json.dumps({"pgbench_tps": reference, "runs": [r.to_json() for r in reports]}, indent=2)
        )
    else:
        console.print(f"pgbench TPC-B on the same cluster: {reference:.0f} tps")
        for report in reports:
            console.print(report.render())
    if not all(r.sound for r in reports):
        raise typer.Exit(1)
