"""``rongbank lending ...``: the online financing centre's commands.

``lending eod``: the lending end of day (accrual, auto-debit, penalty, classification,
provisions, write-off) for the business dates not yet run; the server runs it too.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console

from rongbank.cli.platform import DataDir, open_platform
from rongbank.money import format_amount

lending_app = typer.Typer(help="Online financing centre (网络融资中心).", no_args_is_help=True)
console = Console()


@lending_app.command("eod")
def eod(
    day: Annotated[
        str | None,
        typer.Option("--date", help="Business date YYYY-MM-DD (default: yesterday, Beijing)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the lending end of day of every business date up to --date not yet run,
    one transaction a date. A date already run changes nothing, so running it again,
    or while the server runs it, is safe."""
    with open_platform(data_dir) as p:
        until = date.fromisoformat(day) if day else None
        if until is not None and until > p.loans.business_day():
            console.print(f"[red]{until} has not begun yet (Beijing).[/]")
            raise typer.Exit(2)
        done = p.run_lending_eod(until)
        with p.transaction() as session:
            p.audit.record(
                session,
                actor_kind="operator",
                actor_id=None,
                action="lending.eod",
                details={"dates": [f.business_date for f in done if not f.already_run]},
            )
    for f in done:
        if f.already_run:
            console.print(f"{f.business_date}: already run, nothing changed.")
            continue
        console.print(
            f"{f.business_date}: accrued {format_amount(f.interest_accrued, scale=2)} interest, "
            f"{format_amount(f.fee_accrued, scale=2)} fees, "
            f"{format_amount(f.penalty_accrued, scale=2)} penalty; collected "
            f"{format_amount(f.collected, scale=2)} from {f.collected_loans} loans "
            f"({f.collected_short} short); {f.overdue_loans} overdue; provisions "
            f"{format_amount(f.provision_change, scale=2)}; {f.written_off_loans} written off "
            f"({format_amount(f.written_off_principal, scale=2)}); {f.notices} notices."
        )
