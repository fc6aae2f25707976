"""``rongbank risk labels ...``: the bank's own labels, from the closed risk cases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rongbank.cli.platform import DataDir, open_platform
from rongbank.risk.cases.labels import LABEL, TIME, export

labels_app = typer.Typer(
    help="The bank's own labels: closed risk cases for the fraud model.", no_args_is_help=True
)
console = Console()


@labels_app.command("export")
def labels_export(
    out: Annotated[Path, typer.Option("--out", help="The CSV file to write.")],
    data_dir: DataDir = None,
) -> None:
    """Write every alert of a closed case (features, score, reason codes, the time it
    was raised, and the label: 1 when the case was decided fraud) as CSV, for
    ``rongbank risk model train --data F.csv --label label --time raised_at``."""
    with open_platform(data_dir) as platform, platform.transaction() as session:
        done = export(session, out)
    console.print(
        f"{done.rows} alerts of closed cases written to {out} ({done.frauds} fraud). "
        f"Train with: rongbank risk model train --data {out} --label {LABEL} --time {TIME} "
        "--out DIR"
    )
