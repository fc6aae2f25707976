"""``rongbank risk ...``: the risk centre's commands."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rongbank.cli.platform import DataDir, open_platform
from rongbank.errors import DomainError
from rongbank.money import format_amount
from rongbank.risk.liquidity.config import Factors, load_factors
from rongbank.risk.liquidity.rules import Figures, Line
from rongbank.risk.liquidity.service import LiquidityService

risk_app = typer.Typer(help="The risk centre.", no_args_is_help=True)
liquidity_app = typer.Typer(help="Liquidity: LCR, NSFR, bank-run simulation.", no_args_is_help=True)
risk_app.add_typer(liquidity_app, name="liquidity")
console = Console()

FactorsFile = Annotated[
    Path | None,
    typer.Option("--factors", help="Liquidity factors file (default: the one shipped)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON (amounts in fen).")]


def _factors(path: Path | None) -> Factors:
    try:
        return load_factors(path)
    except DomainError as error:
        console.print(f"[red]{error.detail_message}[/]")
        raise typer.Exit(2) from None


def yuan(fen: int) -> str:
    return format_amount(fen, scale=2)


def percent(ratio: Any) -> str:
    return "n/a" if ratio is None else f"{float(ratio) * 100:.2f}%"


def _lines(lines: tuple[Line, ...]) -> list[dict[str, Any]]:
    return [
        {"name": x.name, "balance": x.balance, "factor": str(x.factor), "weighted": x.weighted}
        for x in lines
    ]


def figures_json(f: Figures) -> dict[str, Any]:
    return {
        "lcr": None if f.lcr is None else str(f.lcr),
        "nsfr": None if f.nsfr is None else str(f.nsfr),
        "hqla": f.hqla,
        "outflows": f.outflows,
        "inflows": f.inflows,
        "net_outflows": f.net_outflows,
        "asf": f.asf,
        "rsf": f.rsf,
        "deposits": f.deposits,
        "lines": {"lcr": _lines(f.lcr_lines), "nsfr": _lines(f.nsfr_lines)},
    }


def _table(title: str, lines: tuple[Line, ...]) -> Table:
    table = Table("line", "balance (yuan)", "factor", "weighted (yuan)", title=title)
    for x in lines:
        table.add_row(x.name, yuan(x.balance), str(x.factor), yuan(x.weighted))
    return table


@liquidity_app.command("report")
def report(
    day: Annotated[
        datetime | None,
        typer.Option(
            "--date", formats=["%Y-%m-%d"], help="Day (default: today, Beijing time, as of now)."
        ),
    ] = None,
    as_json: Json = False,
    factors_file: FactorsFile = None,
    data_dir: DataDir = None,
) -> None:
    """The day's liquidity coverage ratio (LCR) and net stable funding ratio (NSFR)
    from the ledger's balances at its end, stored for the risk page. Both must be
    at least 100% (商业银行流动性风险管理办法, 2018)."""
    factors = _factors(factors_file)
    with open_platform(data_dir) as p:
        service = LiquidityService(factors, p.clock)
        with p.transaction() as session:
            done = service.report(session, day.date() if day else None)
    f = done.figures
    if as_json:
        print(
            json.dumps({"day": done.day.isoformat(), "at": done.at.isoformat(), **figures_json(f)})
        )
        return
    console.print(_table(f"LCR lines, {done.day}", f.lcr_lines))
    console.print(_table(f"NSFR lines, {done.day}", f.nsfr_lines))
    console.print(
        f"{done.day} (balances up to {done.at:%Y-%m-%d %H:%M %Z}): "
        f"LCR {percent(f.lcr)} (HQLA {yuan(f.hqla)} / net outflows {yuan(f.net_outflows)}), "
        f"NSFR {percent(f.nsfr)} (ASF {yuan(f.asf)} / RSF {yuan(f.rsf)}); "
        f"customer deposits {yuan(f.deposits)} yuan."
    )
