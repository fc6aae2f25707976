"""``rongbank wealth ...``: the payout run of wealth products (maturities, and
redemptions due on a later business day)."""

from __future__ import annotations

import typer
from rich.console import Console

from rongbank.cli.platform import DataDir, open_platform
from rongbank.money import format_amount
from rongbank.wealth.rules import CNY_SCALE

wealth_app = typer.Typer(help="Wealth products (理财): payouts due.", no_args_is_help=True)
console = Console()


@wealth_app.command("mature")
def mature(data_dir: DataDir = None) -> None:
    """Pay out every holding of a fixed-term product whose maturity date (Beijing) has
    come, and every redemption waiting for its value date that has come: principal
    plus yield (ACT/365, rounded down to the fen). The server does this every minute
    too; running it again, or at the same time, pays nothing twice."""
    with open_platform(data_dir) as p:
        run = p.mature_wealth()
        with p.transaction() as session:
            p.audit.record(
                session,
                actor_kind="operator",
                actor_id=None,
                action="wealth.mature",
                details={
                    "holdings": run.holdings,
                    "redemptions": run.redemptions,
                    "principal": run.principal,
                    "yield": run.yield_amount,
                },
            )
    console.print(
        f"{run.holdings} holdings matured and {run.redemptions} redemptions due paid: "
        f"{format_amount(run.principal, scale=CNY_SCALE)} yuan principal and "
        f"{format_amount(run.yield_amount, scale=CNY_SCALE)} yuan yield."
    )
