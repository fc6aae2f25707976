"""``rongbank risk liquidity ...``: the day's LCR and NSFR, and the bank-run simulation."""

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

liquidity_app = typer.Typer(help="Liquidity: LCR, NSFR, bank-run simulation.", no_args_is_help=True)
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


@liquidity_app.command("simulate")
def simulate(
    intensity: Annotated[
        float, typer.Option(min=0, help="Run strength (0: none; 1: the reference run).")
    ] = 1.0,
    days: Annotated[int, typer.Option(min=1, max=365, help="Days to run.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same run.")] = 0,
    find_breaking: Annotated[
        bool,
        typer.Option(
            "--find-breaking",
            help="Find the intensity at which the LCR falls below 100% or the bank "
            "lasts less than 30 days (bisection).",
        ),
    ] = False,
    class_limits: Annotated[
        bool,
        typer.Option(
            "--class-limits/--no-class-limits",
            help="Hold transfers to the accounts' class limits (off: withdrawals to "
            "the customer's own bound card, limited by the tool alone).",
        ),
    ] = True,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the charts and the HTML report.")
    ] = None,
    as_json: Json = False,
    factors_file: FactorsFile = None,
    data_dir: DataDir = None,
) -> None:
    """A network bank run over the bank's depositors: self-exciting withdrawals per
    group, within each depositor's daily limits; the bank sells Level 2 assets at
    their haircuts and borrows from the central bank's facility, paid after a lag.
    Prints the survival horizon and the LCR path; deterministic under a seed."""
    from rongbank.risk.liquidity.charts import write_report
    from rongbank.risk.liquidity.simulation import Params, Rails

    factors = _factors(factors_file)
    params = Params(intensity=intensity, days=days, seed=seed)
    with open_platform(data_dir) as p:
        rails = Rails(
            class_daily={c: x.daily_outflow for c, x in p.accounts.limits.items()},
            tool_daily={str(k): t.daily for k, t in p.tools.limits.tools.items()},
            no_tool_daily=p.tools.limits.password_free.daily,
            class_limits=class_limits,
        )
        service = LiquidityService(factors, p.clock)
        with p.transaction() as session:
            run = (
                service.find_breaking(session, params, rails)
                if find_breaking
                else service.simulate(session, params, rails)
            )
    result = run.result
    files = (
        write_report(result, out, depositors=len(run.runners), breaking=run.breaking) if out else []
    )
    if as_json:
        data = result.to_json()
        del data["lcr_hourly"], data["cash_hourly"]
        data["depositors"] = len(run.runners)
        if find_breaking:
            data["breaking"] = (
                None
                if run.breaking is None
                else {"holds": run.breaking[0], "breaks": run.breaking[1]}
            )
        print(json.dumps(data))
        return
    survival = result.survival_hours
    console.print(
        f"{len(run.runners)} depositors, intensity {result.params.intensity:.4g}, "
        f"{result.params.days} days, seed {seed}: "
        + (
            "the bank lasts the whole run"
            if survival is None
            else f"cash runs out after {survival:.1f} hours"
        )
        + f"; lowest LCR {percent(result.min_lcr)}; "
        f"{sum(result.withdrawals.values())} withdrawals took "
        f"{yuan(sum(w[-1] for w in result.withdrawn.values()))} yuan; "
        f"Level 2 sold {yuan(result.sold)}, facility {yuan(result.facility)} yuan."
    )
    table = Table("day", "LCR", "cash (yuan)", title="LCR by day")
    for day in range(result.params.days + 1):
        h = day * 24
        table.add_row(str(day), percent(result.lcr[h]), yuan(result.cash[h]))
    console.print(table)
    if find_breaking:
        if run.breaking is None:
            console.print("Nothing breaks the bank up to 4,096 x the reference run.")
        elif run.breaking[1] == 0:
            console.print("The bank is broken without any run: its LCR is below 100% already.")
        else:
            console.print(
                f"The bank breaks at an intensity between {run.breaking[0]:.4g} and "
                f"{run.breaking[1]:.4g}."
            )
    for path in files:
        console.print(f"wrote {path}")
