"""A bank-run simulation's report: charts (PNG, matplotlib) and one HTML page beside
them, with the figures as JSON, written into a folder."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, and safe in a server's thread

import matplotlib.pyplot as plt

from rongbank.money import format_amount
from rongbank.risk.liquidity.simulation import HOURS_A_DAY, Group, Result


def _days(count: int) -> list[float]:
    return [h / HOURS_A_DAY for h in range(count)]


def lcr_chart(result: Result, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    values = [None if x is None else x * 100 for x in result.lcr]
    ax.plot(_days(len(values)), [float("nan") if v is None else v for v in values], lw=1.4)
    ax.axhline(100, color="#c7000b", lw=1, ls="--", label="100% (minimum)")
    if result.survival_hours is not None:
        ax.axvline(result.survival_hours / HOURS_A_DAY, color="k", lw=1, label="cash runs out")
    ax.set_xlabel("day of the run")
    ax.set_ylabel("LCR, %")
    ax.set_title("Liquidity coverage ratio through the run")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def outflow_chart(result: Result, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    days = _days(len(result.cash))
    groups = [g for g in Group if result.withdrawn[g][-1]]
    if groups:
        ax.stackplot(
            days,
            *[[v / 100 for v in result.withdrawn[g]] for g in groups],
            labels=[f"withdrawn: {g.value}" for g in groups],
            alpha=0.6,
        )
    ax.plot(days, [c / 100 for c in result.cash], color="k", lw=1.4, label="Level 1 cash")
    ax.axhline(0, color="#c7000b", lw=1, ls="--")
    ax.set_xlabel("day of the run")
    ax.set_ylabel("yuan")
    ax.set_title("Withdrawals by group, and the bank's cash")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _rows(summary: dict[str, Any]) -> str:
    return "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in summary.items()
    )


def write_report(
    result: Result,
    out: Path,
    *,
    depositors: int,
    breaking: tuple[float, float] | None = None,
) -> list[Path]:
    """Write ``lcr.png``, ``outflows.png``, ``result.json`` and ``report.html`` into
    ``out`` (made if missing); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    lcr_chart(result, out / "lcr.png")
    outflow_chart(result, out / "outflows.png")
    data = result.to_json()
    if breaking is not None:
        data["breaking"] = {"holds": breaking[0], "breaks": breaking[1]}
    (out / "result.json").write_text(json.dumps(data, indent=1))
    survival = result.survival_hours
    summary: dict[str, Any] = {
        "depositors": depositors,
        "intensity": result.params.intensity,
        "days": result.params.days,
        "seed": result.params.seed,
        "survival": "the whole run"
        if survival is None
        else f"{survival:.1f} hours ({survival / HOURS_A_DAY:.2f} days)",
        "lowest LCR": "n/a" if result.min_lcr is None else f"{result.min_lcr * 100:.2f}%",
        "withdrawals": sum(result.withdrawals.values()),
        "withdrawn (yuan)": format_amount(sum(w[-1] for w in result.withdrawn.values()), scale=2),
        "Level 2 sold (yuan)": format_amount(result.sold, scale=2),
        "central bank facility (yuan)": format_amount(result.facility, scale=2),
    }
    if breaking is not None:
        summary["breaking intensity"] = f"between {breaking[0]:.4g} and {breaking[1]:.4g}"
    page = (
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        "<title>Rongbank: bank-run simulation</title>"
        "<h1>Bank-run simulation</h1>"
        f"<table>{_rows(summary)}</table>"
        "<p><img src='lcr.png' alt='LCR through the run'></p>"
        "<p><img src='outflows.png' alt='Withdrawals and cash'></p>"
        "<p>Figures: <a href='result.json'>result.json</a> (amounts in fen).</p></html>"
    )
    (out / "report.html").write_text(page)
    return [out / name for name in ("lcr.png", "outflows.png", "result.json", "report.html")]
