"""``rongbank risk aml ...``: run the AML batch, export the large-value reports, and
its benchmark."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rongbank.cli.platform import DataDir, open_platform
from rongbank.errors import DomainError
from rongbank.risk.aml.config import AmlConfig, load_config

aml_app = typer.Typer(
    help="Anti-money-laundering over the ledger: large-value reports, suspicious patterns.",
    no_args_is_help=True,
)
console = Console()

ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="AML thresholds file (default: the one shipped)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Day = Annotated[
    datetime | None,
    typer.Option("--day", formats=["%Y-%m-%d"], help="The Beijing day (default: yesterday)."),
]


def _config(path: Path | None) -> AmlConfig:
    try:
        return load_config(path)
    except DomainError as error:
        console.print(f"[red]{error.detail_message}[/]")
        raise typer.Exit(2) from None


@aml_app.command("run")
def run(
    day: Day = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since",
            formats=["%Y-%m-%d"],
            help="Run every day from this one through --day, in one pass.",
        ),
    ] = None,
    config: ConfigFile = None,
    as_json: Json = False,
    data_dir: DataDir = None,
) -> None:
    """The day's large-value reports and suspicious-pattern findings: stores what is
    new and raises each new finding to the risk centre; a day run again adds nothing."""
    from rongbank.risk.aml.batch import AmlBatch

    settings = _config(config)
    with open_platform(data_dir) as p:
        batch = AmlBatch(settings, p.clock)
        last = day.date() if day is not None else batch.yesterday()
        first = since.date() if since is not None else last
        try:
            with p.transaction() as session:
                done = batch.run(session, first, last)
        except DomainError as error:
            console.print(f"[red]{error.detail_message}[/]")
            raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(asdict(done), default=str, indent=2))
        return
    what = ", ".join(f"{n} {pattern}" for pattern, n in done.findings.items()) or "none"
    console.print(
        f"AML {done.first}..{done.last}: {done.movements:,} customer movements; "
        f"{done.reports:,} new large-value report(s); new findings: {what}."
    )


@aml_app.command("export")
def export(
    day: Day = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="CSV file to write (default: standard output).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """The large-value reports of a day as CSV (UTF-8 with BOM, for spreadsheets)."""
    from rongbank.risk.aml.reports import large_value_csv

    with open_platform(data_dir) as p:
        from rongbank.risk.aml.batch import AmlBatch

        when = day.date() if day is not None else AmlBatch(load_config(), p.clock).yesterday()
        with p.transaction() as session:
            body = large_value_csv(session, when)
    if out is None:
        typer.echo(body, nl=False)
    else:
        out.write_text(body, encoding="utf-8-sig")
        console.print(f"Wrote the large-value reports of {when} to {out}.")


@aml_app.command("bench")
def bench(
    transfers: Annotated[int, typer.Option(help="Ledger transfers in the history.", min=1000)] = (
        1_000_000
    ),
    days: Annotated[
        int, typer.Option(help="Days the history spans (to yesterday).", min=8, max=366)
    ] = 30,
    planted: Annotated[int, typer.Option(help="Customers planted per pattern.", min=1)] = 50,
    seconds: Annotated[float, typer.Option(help="Seconds of the pgbench reference.")] = 10.0,
    clients: Annotated[int, typer.Option(help="pgbench clients.")] = 8,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the embedded server here (default: a temp dir).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Use this (scratch) server instead of an embedded one.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Build a ledger history of ``--transfers`` transfers on a fresh embedded
    PostgreSQL (with planted patterns), run pgbench's TPC-B beside it, then time the
    AML batch over every day of it and a rerun of the last day. Goal: <= 5 minutes."""
    from rongbank.risk.aml import bench as aml_bench

    report = aml_bench.run_aml_bench(
        transfers=transfers,
        days=days,
        planted=planted,
        seconds=seconds,
        clients=clients,
        data_dir=data_dir,
        database_url=database_url,
    )
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, default=str))
    else:
        typer.echo(aml_bench.render(report))
    if not report.sound:
        raise typer.Exit(1)
