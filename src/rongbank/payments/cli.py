"""``rongbank payments ...``: the e-Pay end-of-day run and reconciliation files."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rongbank.cli.platform import DataDir, open_platform
from rongbank.errors import DomainError
from rongbank.payments.settlement import compare, settle_all, settlement_report, transaction_file

payments_app = typer.Typer(help="e-Pay: settlement and reconciliation.", no_args_is_help=True)
console = Console()

Day = Annotated[
    datetime | None,
    typer.Option(
        "--date",
        formats=["%Y-%m-%d"],
        help="Business day (default: yesterday, Beijing time).",
    ),
]


def _day(given: datetime | None, today: date) -> date:
    return given.date() if given else today - timedelta(days=1)


@payments_app.command("settle")
def settle(
    business_day: Day = None,
    reports: Annotated[
        Path | None, typer.Option(help="Folder to write each merchant's settlement CSV into.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Settle a business day (T+1): pay each merchant its net of payments, refunds and
    fees; a negative net is carried forward. Running a day again changes nothing for
    the merchants settled, and settles those whose settlement failed. Exit code 1 if
    any merchant's settlement failed (the others are settled all the same)."""
    with open_platform(data_dir) as p:
        day = _day(business_day, p.accounts.business_day())
        try:
            run = settle_all(p.session_factory, p.payments, day)
        except DomainError as error:  # the day is not over yet
            console.print(f"[red]{error.detail_message}[/] {error.details}")
            raise typer.Exit(1) from None
        with p.transaction() as session:
            p.audit.record(
                session,
                actor_kind="operator",
                actor_id=None,
                action="epay.settle",
                target=day.isoformat(),
                details=run.summary(),
            )
            if reports is not None:
                reports.mkdir(parents=True, exist_ok=True)
                for settled in run.settled:
                    path = reports / f"settlement-{settled.merchant_id}-{day}.csv"
                    path.write_text(settlement_report(session, settled))
    table = Table("merchant", "payments", "refunds", "fees", "paid", "carried forward")
    for x in run.settled:
        table.add_row(
            str(x.merchant_id),
            *(f"{v / 100:.2f}" for v in (x.payments, x.refunds, x.fees, x.paid, x.carried_forward)),
        )
    console.print(table)
    console.print(f"Settled {day} for {len(run.settled)} merchants.")
    if run.failed:
        failed = Table("merchant", "error", "message", title="[red]Not settled[/]")
        for f in run.failed:
            failed.add_row(str(f.merchant_id), f.error, f.message)
        console.print(failed)
        console.print(
            f"[red]{len(run.failed)} merchants not settled[/] (see the log); run the day "
            "again once the cause is fixed."
        )
        raise typer.Exit(1)


@payments_app.command("transactions")
def transactions(
    output: Annotated[Path, typer.Option(help="CSV file to write.")],
    business_day: Day = None,
    merchant: Annotated[int | None, typer.Option(help="Only this merchant.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Write the transaction file of a business day (all merchants, or one)."""
    with open_platform(data_dir) as p, p.transaction() as session:
        day = _day(business_day, p.accounts.business_day())
        output.write_text(transaction_file(session, day, merchant_id=merchant))
    console.print(f"Wrote {output}.")


@payments_app.command("reconcile")
def reconcile(
    file: Annotated[Path, typer.Argument(help="The external transaction file (CSV).")],
    business_day: Day = None,
    merchant: Annotated[int | None, typer.Option(help="Only this merchant.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Compare an external transaction file with the ledger and list every line that
    is missing on either side or differs in amount. Exit code 1 on any mismatch."""
    with open_platform(data_dir) as p, p.transaction() as session:
        day = _day(business_day, p.accounts.business_day())
        try:
            found = compare(session, day, file.read_text(), merchant_id=merchant)
        except (DomainError, KeyError, ValueError) as error:  # not a transaction file
            console.print(f"[red]{file} cannot be read as a transaction file:[/] {error!r}")
            raise typer.Exit(2) from None
    if not found:
        console.print(f"[green]{file} agrees with the ledger for {day}.[/]")
        return
    table = Table("merchant", "kind", "order no", "refund no", "problem", "ledger", "file")
    for column in table.columns:  # an operator greps these: never cut them short
        column.overflow = "fold"
    for m in found:
        table.add_row(*(str(k) for k in m.key), m.problem, m.ledger, m.file)
    console.print(table)
    raise typer.Exit(1)
