"""``rongbank risk ...``: the risk centre's commands, one sub-command per area."""

from __future__ import annotations

import typer

from rongbank.risk.liquidity.cli import liquidity_app

risk_app = typer.Typer(help="The risk centre.", no_args_is_help=True)
risk_app.add_typer(liquidity_app, name="liquidity")
