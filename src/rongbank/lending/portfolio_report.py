"""The lending portfolio's report: the dashboard's figures as charts (PNG, matplotlib),
the same charts in one PDF, and the figures as JSON, written into a folder.

Words are English: the default matplotlib fonts have no Chinese glyphs."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display

import matplotlib.pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from rongbank.lending.portfolio import BUCKETS, CLOSED, Figures

YUAN = 100


def applications_chart(figures: Figures) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    days = [d.day.isoformat() for d in figures.applications]
    ax.bar(days, [d.applications for d in figures.applications], color="#4a78c2")
    ax.set_ylabel("applications")
    rate = ax.twinx()
    rates = [d.approval_rate for d in figures.applications]
    rate.plot(days, [float("nan") if r is None else r * 100 for r in rates], "o-", color="#c7000b")
    rate.set_ylim(0, 100)
    rate.set_ylabel("approval rate, % (offered / decided)")
    ax.set_title("Applications and approval rate by day")
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    fig.tight_layout()
    return fig


def balances_chart(figures: Figures) -> Figure:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    left.bar([c.name for c in figures.categories], [c.principal / YUAN for c in figures.categories])
    left.set_title("Principal outstanding by category")
    left.set_ylabel("yuan")
    left.tick_params(axis="x", labelrotation=30, labelsize=7)
    right.bar([b.name for b in figures.buckets], [b.principal / YUAN for b in figures.buckets])
    right.set_title("Principal outstanding by days past due")
    fig.tight_layout()
    return fig


def roll_chart(figures: Figures) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    months = figures.roll_months
    targets = [*BUCKETS, *CLOSED]
    if months:
        matrix = figures.roll_matrix(months[-1])
        sources = [b for b in BUCKETS if b in matrix]
        cells = [[matrix[s].get(t, 0.0) * 100 for t in targets] for s in sources]
        ax.imshow(cells, cmap="Reds", vmin=0, vmax=100, aspect="auto")
        for y, row in enumerate(cells):
            for x, value in enumerate(row):
                ax.text(x, y, f"{value:.1f}%", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(targets)), targets, fontsize=7)
        ax.set_yticks(range(len(sources)), sources, fontsize=7)
        ax.set_title(f"Roll rates: end of {months[-1]:%Y-%m} to a month later (by count)")
    else:
        ax.set_title("Roll rates: two month ends are needed")
        ax.axis("off")
    fig.tight_layout()
    return fig


def vintage_chart(figures: Figures) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    curves: dict[str, list[float]] = {}
    for point in figures.vintages:
        curves.setdefault(f"{point.vintage:%Y-%m}", []).append(point.share * 100)
    for month, shares in curves.items():
        ax.plot(range(len(shares)), shares, marker=".", label=month)
    ax.set_xlabel("months on book")
    ax.set_ylabel("% of principal 30+ days past due (cumulative)")
    ax.set_title("Vintage curves")
    if curves:
        ax.legend(loc="upper left", fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


CHARTS = {
    "applications.png": applications_chart,
    "balances.png": balances_chart,
    "roll_rates.png": roll_chart,
    "vintages.png": vintage_chart,
}


def _jsonable(figures: Figures) -> dict[str, Any]:
    data = asdict(figures)
    data["approval_rates"] = [d.approval_rate for d in figures.applications]
    jsonable: dict[str, Any] = json.loads(json.dumps(data, default=str))  # dates as text
    return jsonable


def write_report(figures: Figures, out: Path) -> list[Path]:
    """Write each chart as PNG, all of them in ``portfolio.pdf`` and the figures in
    ``portfolio.json`` into ``out`` (made if missing); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with PdfPages(out / "portfolio.pdf") as pdf:
        for name, draw in CHARTS.items():
            fig = draw(figures)
            fig.savefig(out / name)
            pdf.savefig(fig)
            plt.close(fig)
            written.append(out / name)
    (out / "portfolio.json").write_text(json.dumps(_jsonable(figures), indent=1))
    return [*written, out / "portfolio.pdf", out / "portfolio.json"]
