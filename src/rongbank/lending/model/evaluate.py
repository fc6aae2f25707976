"""Repeated stratified cross-validation of the scorecard pipeline against a plain
logistic regression on one-hot features, on the same folds.

Each fold trains the whole pipeline (binning, selection, regression, scaling) on the
training part and scores the held-out part with the in-process scorer, so what is
measured is what ships. The baseline: numeric columns imputed by the median (with a
missing indicator) and standardised, categorical columns one-hot with missing as a
category of its own, then :class:`sklearn.linear_model.LogisticRegression`.

``group``: a column (often a protected attribute, never a feature) by whose values
approval rate and AUC are reported, each row scored by the model of the fold that held
it out, per repeat, then averaged over the repeats.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from rongbank.lending.model.data import (
    as_categories,
    fingerprint,
    records,
    select_columns,
    target_vector,
)
from rongbank.lending.model.errors import TrainingDataInvalid
from rongbank.lending.model.scorecard import Scorecard
from rongbank.lending.model.train import TrainOptions, train

METRICS = ("auc", "ks", "brier")


def metrics(y: np.ndarray, p_bad: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, p_bad)
    return {
        "auc": round(float(roc_auc_score(y, p_bad)), 6),
        "ks": round(float(np.max(tpr - fpr)), 6),
        "brier": round(float(brier_score_loss(y, p_bad)), 6),
    }


def _baseline(numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                list(numeric),
            ),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(categorical)),
        ]
    )
    return make_pipeline(columns, LogisticRegression(max_iter=2000))


def _baseline_frame(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    out = frame[list(numeric)].astype(float)
    for c in categorical:
        out[c] = [("(missing)" if v is None else v) for v in as_categories(frame[c])]
    return out


def evaluate(
    frame: pd.DataFrame,
    target: str,
    bad: str,
    *,
    folds: int = 5,
    repeats: int = 5,
    seed: int = 42,
    group: str | None = None,
    approve_grades: str = "ABCD",
    options: TrainOptions | None = None,
) -> dict[str, Any]:
    from sklearn.model_selection import RepeatedStratifiedKFold

    options = options or TrainOptions()
    if group is not None:
        options = dataclasses.replace(options, exclude=(*options.exclude, group))
    y = target_vector(frame, target, bad)
    if folds > min(int(y.sum()), len(y) - int(y.sum())):
        raise TrainingDataInvalid(f"{folds} folds need at least {folds} rows of each class.")
    columns = select_columns(frame, target, exclude=options.exclude, group=group)
    base_x = _baseline_frame(frame, columns.numeric, columns.categorical)
    rows = records(frame[list(columns.features)])
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)

    per_fold: list[dict[str, Any]] = []
    oof = np.zeros((repeats, len(y)))
    approved = np.zeros((repeats, len(y)), dtype=bool)
    for n, (train_idx, test_idx) in enumerate(splitter.split(base_x, y)):
        repeat, fold = divmod(n, folds)
        artefact = train(frame.iloc[train_idx], target, bad, options)
        results = Scorecard(artefact).score_many(rows[i] for i in test_idx)
        p_card = np.array([r.probability_bad for r in results])
        oof[repeat, test_idx] = p_card
        approved[repeat, test_idx] = [r.grade in approve_grades for r in results]
        baseline = _baseline(columns.numeric, columns.categorical)
        baseline.fit(base_x.iloc[train_idx], y[train_idx])
        p_base = baseline.predict_proba(base_x.iloc[test_idx])[:, 1]
        per_fold.append(
            {
                "repeat": repeat,
                "fold": fold,
                "features": len(artefact["features"]),
                "scorecard": metrics(y[test_idx], p_card),
                "logistic": metrics(y[test_idx], p_base),
            }
        )
    report: dict[str, Any] = {
        "data": {
            "rows": len(y),
            "bad_rate": round(float(y.mean()), 6),
            "fingerprint": fingerprint(frame),
            "target": target,
            "bad": bad,
            "candidate_features": list(columns.features),
            "protected_excluded": list(columns.protected),
        },
        "folds": folds,
        "repeats": repeats,
        "seed": seed,
        "per_fold": per_fold,
        "mean": {
            model: {m: round(statistics.fmean(f[model][m] for f in per_fold), 6) for m in METRICS}
            for model in ("scorecard", "logistic")
        },
        "std": {
            model: {m: round(statistics.pstdev(f[model][m] for f in per_fold), 6) for m in METRICS}
            for model in ("scorecard", "logistic")
        },
        "paired_folds": len(per_fold),
        "scorecard_wins": {
            "auc": sum(f["scorecard"]["auc"] > f["logistic"]["auc"] for f in per_fold),
            "ks": sum(f["scorecard"]["ks"] > f["logistic"]["ks"] for f in per_fold),
            "brier": sum(f["scorecard"]["brier"] < f["logistic"]["brier"] for f in per_fold),
        },
    }
    if group is not None:
        report["groups"] = _by_group(frame[group], y, oof, approved, approve_grades)
    return report


def _by_group(
    column: pd.Series, y: np.ndarray, oof: np.ndarray, approved: np.ndarray, grades: str
) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    labels = np.array(["(missing)" if v is None else v for v in as_categories(column)])
    out: dict[str, Any] = {"column": column.name, "approve_grades": grades, "by_group": {}}
    for value in sorted(set(labels)):
        mask = labels == value
        both = 0 < y[mask].sum() < mask.sum()
        aucs = [float(roc_auc_score(y[mask], p[mask])) for p in oof] if both else []
        approved_bad = [float(y[mask][a[mask]].mean()) for a in approved if a[mask].any()]
        out["by_group"][value] = {
            "rows": int(mask.sum()),
            "bad_rate": round(float(y[mask].mean()), 6),
            "approval_rate": round(float(approved[:, mask].mean()), 6),
            "bad_rate_of_approved": round(statistics.fmean(approved_bad), 6)
            if approved_bad
            else None,
            "auc": round(statistics.fmean(aucs), 6) if aucs else None,
        }
    return out
