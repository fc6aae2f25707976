"""Training a scorecard: optimal WOE binning, selection by IV, logistic regression,
points-to-double-odds scaling, grade cut-offs; the result a JSON-ready artefact.

Binning is optbinning's :class:`OptimalBinning` per column (numeric columns with a
monotonic trend, ascending or descending, whichever fits; categorical columns grouped
by bad rate; at least ``min_bin_size`` of the rows per bin). The weights of evidence,
the counts and the points are then computed here from the same bin assignment the
scorer uses (:func:`bin_index`), so training and scoring cannot disagree. A missing
bin too small to estimate (fewer rows than the smallest allowed bin), and the
``other`` bin of unseen categories, take the feature's worst bin's weight: leaving an
input out, or giving an answer the model never saw, never scores better than the
worst answer (on credit_data the few rows missing Assets, Home or Job are riskier
than average anyway, and the cross-validated AUC is a little higher than with a
neutral weight).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rongbank.lending.model.data import (
    Columns,
    as_categories,
    fingerprint,
    select_columns,
    target_vector,
)
from rongbank.lending.model.errors import TrainingDataInvalid
from rongbank.lending.model.protected import words
from rongbank.lending.model.scorecard import FORMAT, content_version, points_for_probability

GRADES = ("A", "B", "C", "D", "E")
DEFAULT_GRADE_PD = (0.05, 0.10, 0.20, 0.35)
"""The highest probability of going bad of grades A-D; E is the rest."""


@dataclass(frozen=True)
class Scaling:
    pdo: float = 20.0
    base_points: float = 600.0
    base_odds: float = 50.0

    def as_dict(self) -> dict[str, float]:
        return {"pdo": self.pdo, "base_points": self.base_points, "base_odds": self.base_odds}

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)


@dataclass(frozen=True)
class TrainOptions:
    exclude: tuple[str, ...] = ()
    features: tuple[str, ...] | None = None
    scaling: Scaling = field(default_factory=Scaling)
    grade_pd: tuple[float, ...] = DEFAULT_GRADE_PD
    min_iv: float = 0.02
    min_bin_size: float = 0.05
    max_n_bins: int = 20
    # Fine pre-bins (2 %) let the optimiser place edges where the bad rate turns; on
    # credit_data they lift the AUC from 0.836 to 0.838 and the folds won over the
    # one-hot regression from 13 to 17 of 25.
    min_prebin_size: float = 0.02
    max_n_prebins: int = 50
    name: str = "scorecard"
    source: str = ""
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per feature: ``zh`` and ``en`` words for reasons, ``unit`` of the source data."""
    notes: str = ""


@dataclass
class _Binned:
    name: str
    numeric: bool
    edges: list[float]
    categories: list[list[str]]
    index: np.ndarray  # per row: bin, or k for missing, k + 1 for other
    woe: np.ndarray  # per index value
    counts: np.ndarray
    bad_rates: list[float | None]
    iv: float
    imputed_missing: bool


def bin_index(
    values: np.ndarray, numeric: bool, edges: Sequence[float], categories: Sequence[Sequence[str]]
) -> np.ndarray:
    """Per row the bin the scorer would pick: ``0..k-1`` a bin, ``k`` missing, ``k+1``
    other (a category no bin holds)."""
    k = len(edges) + 1 if numeric else len(categories)
    if numeric:
        x = values.astype(float)
        idx = np.searchsorted(np.asarray(edges, dtype=float), x, side="right")
        return np.where(np.isnan(x), k, idx)
    lookup = {c: i for i, cats in enumerate(categories) for c in cats}
    return np.array([k if v is None else lookup.get(v, k + 1) for v in values], dtype=np.int64)


def _fit_bins(
    name: str, values: np.ndarray, y: np.ndarray, numeric: bool, options: TrainOptions
) -> _Binned:
    from optbinning import OptimalBinning

    binning = OptimalBinning(
        name=name,
        dtype="numerical" if numeric else "categorical",
        monotonic_trend="auto_asc_desc" if numeric else "auto",
        min_bin_size=options.min_bin_size,
        min_prebin_size=options.min_prebin_size,
        max_n_prebins=options.max_n_prebins,
        max_n_bins=options.max_n_bins,
        solver="cp",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optbinning's deprecation notices
        if numeric:  # ±inf binned as the extremes, as the scorer does (sklearn refuses it)
            x = values.astype(float)
            finite = x[np.isfinite(x)]
            low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
            binning.fit(np.clip(x, low, high), y)
        else:  # missing categories are binned here, not by optbinning
            present = np.array([v is not None for v in values], dtype=bool)
            binning.fit(values[present].astype(str), y[present])
    edges: list[float] = []
    categories: list[list[str]] = []
    if numeric:
        edges = [float(s) for s in binning.splits]
    else:
        categories = [sorted(str(c) for c in group) for group in binning.splits]
        seen = {c for group in categories for c in group}
        rest = sorted({v for v in values if v is not None} - seen)
        if rest:  # optbinning leaves out no category today; keep any it might
            categories.append(rest)
    index = bin_index(values, numeric, edges, categories)
    return _weigh(name, numeric, edges, categories, index, y, options)


def _weigh(
    name: str,
    numeric: bool,
    edges: list[float],
    categories: list[list[str]],
    index: np.ndarray,
    y: np.ndarray,
    options: TrainOptions,
) -> _Binned:
    k = len(edges) + 1 if numeric else len(categories)
    counts = np.bincount(index, minlength=k + 2)
    bads = np.bincount(index, weights=y, minlength=k + 2)
    total_bad = float(y.sum())
    population = math.log((len(y) - total_bad) / total_bad)
    woe = np.zeros(k + 2)
    bad_rates: list[float | None] = []
    imputed_missing = counts[k] < options.min_bin_size * len(y)
    iv = 0.0
    for i in range(k + 2):
        n = int(counts[i])
        if n == 0:
            bad_rates.append(None)
            continue
        rate = float(bads[i]) / n
        bad_rates.append(rate)
        if i == k + 1 or (i == k and imputed_missing):
            continue
        clipped = min(max(rate, 0.5 / n), 1 - 0.5 / n)
        woe[i] = math.log((1 - clipped) / clipped) - population
        share_good = (n - bads[i]) / (len(y) - total_bad)
        share_bad = bads[i] / total_bad
        iv += (share_good - share_bad) * woe[i]
    worst = float(woe[:k][counts[:k] > 0].min()) if counts[:k].any() else 0.0
    woe[k + 1] = worst
    if imputed_missing:
        woe[k] = worst
    return _Binned(
        name, numeric, edges, categories, index, woe, counts, bad_rates, iv, bool(imputed_missing)
    )


def _fit_logistic(
    binned: list[_Binned], y: np.ndarray
) -> tuple[list[_Binned], list[str], float, np.ndarray]:
    """Logistic regression of going bad on the weights of evidence. A coefficient must
    be negative (more evidence of good, less risk): a feature whose sign flips, through
    its correlation with others, is dropped and the rest refitted, so that every
    feature's points keep its binning's trend."""
    from sklearn.linear_model import LogisticRegression

    kept = list(binned)
    wrong_sign: list[str] = []
    while kept:
        x = np.column_stack([b.woe[b.index] for b in kept])
        model = LogisticRegression(C=1.0, max_iter=1000)
        model.fit(x, y)
        coef = model.coef_[0]
        worst = int(np.argmax(coef))
        if coef[worst] < 0:
            return kept, wrong_sign, float(model.intercept_[0]), coef
        wrong_sign.append(kept.pop(worst).name)
    raise TrainingDataInvalid("No feature keeps a coherent sign in the regression.")


def train(
    frame: pd.DataFrame, target: str, bad: str, options: TrainOptions | None = None
) -> dict[str, Any]:
    """Train a scorecard on ``frame``; the artefact, ready for :func:`write_artefact`."""
    options = options or TrainOptions()
    y = target_vector(frame, target, bad)
    columns = select_columns(frame, target, exclude=options.exclude, features=options.features)
    binned = [
        _fit_bins(c, frame[c].to_numpy(dtype=float), y, True, options) for c in columns.numeric
    ] + [_fit_bins(c, as_categories(frame[c]), y, False, options) for c in columns.categorical]
    low_iv = [b.name for b in binned if b.iv < options.min_iv]
    selected = [b for b in binned if b.iv >= options.min_iv]
    if not selected:
        raise TrainingDataInvalid(f"No feature reaches an IV of {options.min_iv}.")
    kept, wrong_sign, intercept, coef = _fit_logistic(selected, y)

    scaling = options.scaling
    intercept_points = round(scaling.offset - scaling.factor * intercept)
    features = [
        _feature_entry(b, float(c), scaling, options) for b, c in zip(kept, coef, strict=True)
    ]
    points = intercept_points + sum(
        np.asarray(f["_points"])[b.index] for f, b in zip(features, kept, strict=True)
    )
    for f in features:
        del f["_points"]
    artefact: dict[str, Any] = {
        "format": FORMAT,
        "model_version": "",
        "name": options.name,
        "source": {
            "data": options.source,
            "rows": len(frame),
            "fingerprint": fingerprint(frame),
            "target": target,
            "bad": bad,
            "bad_rate": round(float(y.mean()), 6),
        },
        "notes": options.notes,
        "scaling": scaling.as_dict(),
        "intercept_points": intercept_points,
        "features": features,
        "grades": _grades(options.grade_pd, scaling),
        "score_distribution": score_distribution(np.asarray(points)),
        "excluded": _excluded(columns, low_iv, wrong_sign, binned),
        "trained_with": trained_with(),
        "binning": {
            "method": "optbinning.OptimalBinning (cp), numeric trend auto_asc_desc",
            "min_bin_size": options.min_bin_size,
            "min_prebin_size": options.min_prebin_size,
            "max_n_prebins": options.max_n_prebins,
            "max_n_bins": options.max_n_bins,
            "min_iv": options.min_iv,
        },
    }
    artefact["model_version"] = content_version(artefact)
    return artefact


def trained_with() -> dict[str, str]:
    """The versions of the libraries a training ran with: an exact rebuild needs the same."""
    from importlib.metadata import version

    return {p: version(p) for p in ("optbinning", "ortools", "scikit-learn", "numpy", "pandas")}


def write_artefact(artefact: Mapping[str, Any], path: Path) -> Path:
    """Write the artefact as JSON (``path`` a file, or a folder to hold scorecard.json)."""
    if path.suffix != ".json":
        path.mkdir(parents=True, exist_ok=True)
        path = path / "scorecard.json"
    path.write_text(json.dumps(artefact, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _feature_entry(
    b: _Binned, coef: float, scaling: Scaling, options: TrainOptions
) -> dict[str, Any]:
    pts = [round(-scaling.factor * coef * w) for w in b.woe]
    k = len(pts) - 2

    def cell(i: int) -> dict[str, Any]:
        rate = b.bad_rates[i]
        return {
            "points": pts[i],
            "woe": round(float(b.woe[i]), 6),
            "count": int(b.counts[i]),
            "bad_rate": None if rate is None else round(rate, 6),
        }

    if b.numeric:
        bins = [{"upper": u, **cell(i)} for i, u in enumerate([*b.edges, None])]
        trend = "ascending" if b.woe[k - 1] >= b.woe[0] else "descending"
    else:
        bins = [{"categories": cats, **cell(i)} for i, cats in enumerate(b.categories)]
        trend = "by bad rate"
    label = options.labels.get(b.name, {})
    entry: dict[str, Any] = {
        "name": b.name,
        "code": "_".join(words(b.name)).upper(),
        "kind": "numeric" if b.numeric else "categorical",
        "label": {"zh": label.get("zh", b.name), "en": label.get("en", b.name)},
        "unit": label.get("unit", ""),
        "iv": round(b.iv, 6),
        "coefficient": round(coef, 6),
        "trend": trend,
        "bins": bins,
        "missing": {**cell(k), "points_from": "worst bin" if b.imputed_missing else "data"},
        "_points": pts,
    }
    if not b.numeric:
        entry["other"] = {**cell(k + 1), "points_from": "worst bin"}
    return entry


def _grades(grade_pd: Sequence[float], scaling: Scaling) -> list[dict[str, Any]]:
    if len(grade_pd) != len(GRADES) - 1 or list(grade_pd) != sorted(set(grade_pd)):
        raise TrainingDataInvalid("Grade cut-offs: four rising probabilities, for A to D.")
    grades: list[dict[str, Any]] = [
        {
            "grade": g,
            "min_points": math.ceil(points_for_probability(pd_, scaling.as_dict())),
            "max_probability_bad": pd_,
        }
        for g, pd_ in zip(GRADES, grade_pd, strict=False)
    ]
    grades.append({"grade": GRADES[-1], "min_points": None, "max_probability_bad": 1.0})
    return grades


def score_distribution(points: np.ndarray) -> dict[str, Any]:
    """Decile edges of the scores and the share of scores in each (for PSI later)."""
    edges = sorted({int(e) for e in np.quantile(points, np.linspace(0.1, 0.9, 9))})
    shares = np.bincount(np.searchsorted(edges, points, side="right"), minlength=len(edges) + 1)
    return {
        "edges": edges,
        "shares": [round(float(s) / len(points), 6) for s in shares],
        "mean": round(float(points.mean()), 3),
        "std": round(float(points.std()), 3),
        "min": int(points.min()),
        "max": int(points.max()),
    }


def _excluded(
    columns: Columns, low_iv: list[str], wrong_sign: list[str], binned: list[_Binned]
) -> dict[str, Any]:
    ivs = {b.name: round(b.iv, 6) for b in binned}
    return {
        "protected": list(columns.protected),
        "by_request": list(columns.by_request),
        "constant": list(columns.unusable),
        "low_iv": [{"name": n, "iv": ivs[n]} for n in low_iv],
        "wrong_sign": [{"name": n, "iv": ivs[n]} for n in wrong_sign],
    }
