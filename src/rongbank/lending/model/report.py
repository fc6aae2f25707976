"""A scorecard's report as HTML with matplotlib PNGs: the IV table and each feature's
bins, the score distribution, calibration by decile, and the population stability
index (PSI) of the score and of each feature between two data sets.

Without a second data set the PSI compares the data with the training data's score
distribution kept in the artefact. The usual reading: below 0.1 stable, 0.1 to 0.25
worth a look, above 0.25 the population has shifted (re-train or re-check the model).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment

from rongbank.lending.model.data import records
from rongbank.lending.model.scorecard import Scorecard

PSI_FLOOR = 1e-4
"""Shares below this count as this, so that an empty bin does not make PSI infinite."""


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index between two distributions over the same bins."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, PSI_FLOOR), max(a, PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def shares(index: np.ndarray, n_bins: int) -> list[float]:
    counts = np.bincount(index, minlength=n_bins)
    return [float(c) / max(len(index), 1) for c in counts]


def bin_labels(feature: dict[str, Any]) -> list[str]:
    """Each bin of a feature in words: numeric ranges, category lists; then missing, other."""
    labels: list[str] = []
    if feature["kind"] == "numeric":
        lower: float | None = None
        for b in feature["bins"]:
            upper = b["upper"]
            if lower is None:
                labels.append(f"< {upper:g}")
            elif upper is None:
                labels.append(f">= {lower:g}")
            else:
                labels.append(f"[{lower:g}, {upper:g})")
            lower = upper
    else:
        labels = [", ".join(b["categories"]) for b in feature["bins"]]
    return [*labels, "(missing)", "(other)"]


class _Scored:
    """A data set scored: points, probabilities and each feature's bin per row."""

    def __init__(self, card: Scorecard, frame: pd.DataFrame) -> None:
        rows = records(frame)
        results = card.score_many(rows)
        self.points = np.array([r.points for r in results])
        self.p_bad = np.array([r.probability_bad for r in results])
        self.grades = [r.grade for r in results]
        bins = [card.bins(r) for r in rows]
        self.bins = {name: np.array([b[name] for b in bins]) for name in card.feature_names}


def _plot(path: Path, draw: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    draw(ax)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
    return path.name


def write_report(
    card: Scorecard, frame: pd.DataFrame, out: Path, *, compare: pd.DataFrame | None = None
) -> Path:
    """Write ``out/report.html`` and its PNGs; return the HTML file's path."""
    out.mkdir(parents=True, exist_ok=True)
    artefact = card.artefact
    data = _Scored(card, frame)
    other = _Scored(card, compare) if compare is not None else None
    cutoffs = [(g["grade"], g["min_points"]) for g in artefact["grades"] if g["min_points"]]

    def distribution(ax: Any) -> None:
        bins = np.linspace(
            min(data.points.min(), artefact["score_distribution"]["min"]),
            max(data.points.max(), artefact["score_distribution"]["max"]),
            40,
        )
        ax.hist(data.points, bins=bins, alpha=0.6, label="data", density=True)
        if other is not None:
            ax.hist(other.points, bins=bins, alpha=0.6, label="compare", density=True)
        for grade, floor in cutoffs:
            ax.axvline(floor, color="grey", linewidth=0.8)
            ax.text(floor, ax.get_ylim()[1] * 0.95, f" {grade}", fontsize=8)
        ax.set_xlabel("score (points)")
        ax.set_ylabel("density")
        ax.legend()

    figures = {"distribution": _plot(out / "score_distribution.png", distribution)}

    calibration = _calibration(artefact, frame, data)
    if calibration:

        def calibration_plot(ax: Any) -> None:
            predicted = [c["predicted"] for c in calibration]
            observed = [c["observed"] for c in calibration]
            top = max(*predicted, *observed) * 1.05
            ax.plot([0, top], [0, top], color="grey", linewidth=0.8)
            ax.plot(predicted, observed, marker="o")
            ax.set_xlabel("predicted bad rate (decile mean)")
            ax.set_ylabel("observed bad rate")

        figures["calibration"] = _plot(out / "calibration.png", calibration_plot)

    stability = _stability(card, data, other)
    grades = {
        g["grade"]: sum(1 for x in data.grades if x == g["grade"]) / len(data.grades)
        for g in artefact["grades"]
    }
    html = _TEMPLATE.render(
        a=artefact,
        labels={f["name"]: bin_labels(f) for f in artefact["features"]},
        figures=figures,
        calibration=calibration,
        stability=stability,
        grades=grades,
        rows=len(frame),
        compared=other is not None,
        compare_rows=0 if compare is None else len(compare),
    )
    page = out / "report.html"
    page.write_text(html, encoding="utf-8")
    return page


def _calibration(
    artefact: Mapping[str, Any], frame: pd.DataFrame, data: _Scored
) -> list[dict[str, float]]:
    """Predicted against observed bad rate by decile of predicted probability, when the
    data has the training target."""
    target, bad = artefact["source"]["target"], artefact["source"]["bad"]
    if target not in frame.columns or frame[target].isna().any():
        return []
    y = (frame[target].astype(str) == bad).to_numpy(dtype=float)
    order = np.argsort(data.p_bad, kind="stable")
    out = []
    for part in np.array_split(order, 10):
        if len(part):
            out.append(
                {
                    "rows": len(part),
                    "predicted": float(data.p_bad[part].mean()),
                    "observed": float(y[part].mean()),
                }
            )
    return out


def _stability(card: Scorecard, data: _Scored, other: _Scored | None) -> dict[str, Any]:
    dist = card.artefact["score_distribution"]
    edges = dist["edges"]
    data_shares = shares(np.searchsorted(edges, data.points, side="right"), len(edges) + 1)
    if other is None:
        return {
            "against": "training",
            "score": psi(dist["shares"], data_shares),
            "features": [],
        }
    other_shares = shares(np.searchsorted(edges, other.points, side="right"), len(edges) + 1)
    features = []
    for f in card.artefact["features"]:
        n = len(f["bins"]) + 2
        features.append(
            {
                "name": f["name"],
                "psi": psi(shares(data.bins[f["name"]], n), shares(other.bins[f["name"]], n)),
            }
        )
    return {
        "against": "compare",
        "score": psi(data_shares, other_shares),
        "training": psi(dist["shares"], data_shares),
        "features": features,
    }


_TEMPLATE = Environment(autoescape=True).from_string(
    Path(__file__).with_name("report.html").read_text(encoding="utf-8")
)
