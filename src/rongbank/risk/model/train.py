"""Training: gradient boosting (LightGBM) and its yardstick, logistic regression.

Both learn from the same rows and features and are judged on the same later rows.
Tuning happens only inside the training part: its last ``validation`` share, cut
chronologically, picks the number of leaves (a small grid) and the number of trees
(early stopping on AUPRC), as it picks logistic regression's regularisation; the
booster is then refitted on the whole training part with what was picked. Nothing
of the evaluation part is seen before it is scored.
"""

from __future__ import annotations

import platform as host
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import lightgbm as lgb
import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rongbank.risk.model.artefact import FraudModel
from rongbank.risk.model.data import Feature, Labelled, infer_features, matrix, split
from rongbank.risk.model.metrics import Scores, cutoffs, measure


@dataclass(frozen=True)
class Options:
    validation: float = 0.2
    """The last share of the training rows (by time) that tuning is judged on."""
    leaves: tuple[int, ...] = (7, 15, 31)
    """Leaves per tree tried; the best on the validation slice is kept."""
    max_trees: int = 400
    learning_rate: float = 0.05
    early_stopping: int = 50
    """Trees without improvement of the validation AUPRC before growing stops."""
    inverse_regularisation: tuple[float, ...] = (0.01, 0.1, 1.0)
    """Logistic regression's C values tried on the same validation slice."""
    seed: int = 7
    threads: int = 0
    """LightGBM's threads (0: OpenMP's default)."""


@dataclass(frozen=True)
class Evaluation:
    """Both models judged on the same later rows."""

    training: dict[str, Any]
    evaluation: dict[str, Any]
    gbm: Scores
    logistic: Scores
    model: FraudModel = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "training": self.training,
            "evaluation": self.evaluation,
            "lightgbm": self.gbm.to_json(),
            "logistic_regression": self.logistic.to_json(),
            "lightgbm_params": self.model.manifest["training"]["params"],
        }


def _params(options: Options, leaves: int) -> dict[str, Any]:
    return {
        "objective": "binary",
        "metric": "average_precision",
        "learning_rate": options.learning_rate,
        "num_leaves": leaves,
        "min_child_samples": 20,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": options.seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": options.threads,
        "verbosity": -1,
    }


def _dataset(data: Labelled, features: list[Feature]) -> lgb.Dataset:
    return lgb.Dataset(
        matrix(data.columns, features),
        label=data.label,
        feature_name=[f"f{i}" for i in range(len(features))],
        categorical_feature=[i for i, f in enumerate(features) if f.kind == "categorical"],
        free_raw_data=False,
    )


def fit(train: Labelled, options: Options = Options()) -> FraudModel:
    """Tune on the training rows' chronological validation slice, refit on them all."""
    fit_part, valid_part = split(train, 1 - options.validation, part="training")
    tuning_features = infer_features(fit_part.columns)
    fit_set = _dataset(fit_part, tuning_features)
    valid_set = _dataset(valid_part, tuning_features).construct()
    best: tuple[float, int, int, np.ndarray[Any, Any]] | None = None
    for leaves in options.leaves:
        booster = lgb.train(
            _params(options, leaves),
            fit_set,
            num_boost_round=options.max_trees,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(options.early_stopping, verbose=False)],
        )
        trees = max(1, booster.best_iteration)
        scores = booster.predict(matrix(valid_part.columns, tuning_features), num_iteration=trees)
        auprc = float(average_precision_score(valid_part.label, scores))
        if best is None or auprc > best[0]:
            best = (auprc, leaves, trees, np.asarray(scores))
    assert best is not None
    auprc, leaves, trees, valid_scores = best
    features = infer_features(train.columns)
    params = _params(options, leaves)
    booster = lgb.train(params, _dataset(train, features), num_boost_round=trees)
    training = {
        **_describe(train),
        "fingerprint": train.fingerprint(),
        "validation": {**_describe(valid_part), "auprc": round(auprc, 6)},
        "params": {**params, "num_trees": trees},
        "lightgbm": lgb.__version__,
        "python": host.python_version(),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return FraudModel.from_booster(
        booster,
        features,
        training=training,
        thresholds=cutoffs(valid_part.label, valid_scores),
    )


def fit_logistic(train: Labelled, options: Options = Options()) -> tuple[list[Feature], Pipeline]:
    """Logistic regression on the same features: numbers imputed (median, with a
    missing flag) and scaled, categories one-hot; C picked on the validation slice,
    then refitted on all the training rows."""
    fit_part, valid_part = split(train, 1 - options.validation, part="training")
    features = infer_features(fit_part.columns)
    best: tuple[float, float] | None = None
    for c in options.inverse_regularisation:
        model = _logistic(features, c, options).fit(
            matrix(fit_part.columns, features), fit_part.label
        )
        scores = model.predict_proba(matrix(valid_part.columns, features))[:, 1]
        auprc = float(average_precision_score(valid_part.label, scores))
        if best is None or auprc > best[0]:
            best = (auprc, c)
    assert best is not None
    features = infer_features(train.columns)
    model = _logistic(features, best[1], options)
    return features, model.fit(matrix(train.columns, features), train.label)


def _logistic(features: list[Feature], c: float, options: Options) -> Pipeline:
    numeric = [i for i, f in enumerate(features) if f.kind == "numeric"]
    categorical = [i for i, f in enumerate(features) if f.kind == "categorical"]
    columns = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    return make_pipeline(columns, LogisticRegression(C=c, max_iter=2000, random_state=options.seed))


def evaluate(data: Labelled, fraction: float, options: Options = Options()) -> Evaluation:
    """Fit both models on the earlier ``fraction`` of the rows, score the rest."""
    train, test = split(data, fraction, part="evaluation")
    model = fit(train, options)
    features, logistic = fit_logistic(train, options)
    gbm = measure(test.label, model.score_frame(test.columns))
    lr = measure(test.label, logistic.predict_proba(matrix(test.columns, features))[:, 1])
    return Evaluation(
        training=_describe(train),
        evaluation=_describe(test),
        gbm=gbm,
        logistic=lr,
        model=model.with_evaluation(
            {
                "split": fraction,
                "rows": _describe(test),
                "lightgbm": gbm.to_json(),
                "logistic_regression": lr.to_json(),
                "sklearn": sklearn.__version__,
            }
        ),
    )


def _describe(data: Labelled) -> dict[str, Any]:
    return {
        "rows": len(data),
        "frauds": data.positives,
        "time_from": float(data.time[0]),
        "time_to": float(data.time[-1]),
    }
