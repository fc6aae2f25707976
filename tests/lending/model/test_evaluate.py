"""Cross-validation against a plain logistic regression on one-hot features.

The full 5 x 5 runs by ``rongbank lending model evaluate`` (figures in the README); here
the first two repeats of the same folds (seed 42), and fewer on German credit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rongbank.lending.model.evaluate import evaluate, metrics
from rongbank.lending.model.train import TrainOptions


def test_the_scorecard_beats_one_hot_logistic_regression_on_credit_data(
    credit_data: pd.DataFrame,
) -> None:
    report = evaluate(
        credit_data,
        "Status",
        "bad",
        folds=5,
        repeats=2,
        seed=42,
        group="Marital",
        options=TrainOptions(exclude=("rownames",)),
    )
    assert report["paired_folds"] == len(report["per_fold"]) == 10
    assert report["scorecard_wins"]["auc"] > report["paired_folds"] / 2
    mean = report["mean"]
    assert mean["scorecard"]["auc"] > mean["logistic"]["auc"] > 0.8
    assert 0.45 < mean["scorecard"]["ks"] < 0.65
    assert mean["scorecard"]["brier"] < 0.16
    # Marital is the fairness view's group, and (protected) no candidate feature
    assert "Marital" not in report["data"]["candidate_features"]
    groups = report["groups"]["by_group"]
    assert {"married", "single", "separated", "widow", "divorced"} <= set(groups)
    assert sum(g["rows"] for g in groups.values()) == len(credit_data)
    assert 0.5 < groups["married"]["approval_rate"] < 0.95
    assert groups["married"]["auc"] > 0.75


def test_evaluate_runs_on_german_credit(german_credit: pd.DataFrame) -> None:
    report = evaluate(german_credit, "creditability", "bad", folds=3, repeats=1, seed=1)
    assert report["paired_folds"] == 3
    assert "personal_status_and_sex" in report["data"]["protected_excluded"]
    for model in ("scorecard", "logistic"):
        assert 0.7 < report["mean"][model]["auc"] < 0.9


def test_metrics_of_a_perfect_and_a_useless_model() -> None:
    y = np.array([0, 0, 1, 1])
    assert metrics(y, np.array([0.0, 0.0, 1.0, 1.0])) == {"auc": 1.0, "ks": 1.0, "brier": 0.0}
    useless = metrics(y, np.array([0.5, 0.5, 0.5, 0.5]))
    assert useless == {"auc": 0.5, "ks": 0.0, "brier": 0.25}
