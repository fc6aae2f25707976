"""The fraud model on the real ULB/Worldline card-fraud data (see ``conftest.py``)."""

from __future__ import annotations

import pandas as pd

from rongbank.risk.model import FraudModel
from rongbank.risk.model.artefact import SHIPPED
from rongbank.risk.model.data import labelled, split
from rongbank.risk.model.metrics import measure
from rongbank.risk.model.train import Options, evaluate
from rongbank.risk.model.ulb import LABEL, TIME


def test_on_a_sample_gradient_boosting_beats_logistic_regression(
    card_fraud_data: pd.DataFrame,
) -> None:
    # Every other payment: the real features, timing and share of fraud (0.17%), half
    # the rows to learn from. One thread, so that every machine builds the same trees
    # (LightGBM is deterministic for a given thread count): 0.84 against 0.79.
    sample = card_fraud_data.iloc[::2]
    report = evaluate(
        labelled(sample, label=LABEL, time=TIME),
        0.7,
        Options(leaves=(15,), max_trees=200, threads=1),
    )
    assert report.evaluation["frauds"] >= 50
    assert report.gbm.auprc > report.logistic.auprc
    assert report.gbm.recall_at_precision_90 > 0


def test_the_shipped_model_scores_the_later_rows_as_its_manifest_says(
    card_fraud_data: pd.DataFrame,
) -> None:
    model = FraudModel.shipped()
    claimed = model.manifest["evaluation"]
    _, later = split(labelled(card_fraud_data, label=LABEL, time=TIME), claimed["split"], part="t")
    assert len(later) == claimed["rows"]["rows"]
    scores = measure(later.label, model.score_frame(later.columns))
    assert abs(scores.auprc - claimed["lightgbm"]["auprc"]) < 1e-5
    assert claimed["lightgbm"]["auprc"] > claimed["logistic_regression"]["auprc"]
    assert model.manifest["training"]["time_to"] < claimed["rows"]["time_from"]


def test_the_shipped_model_is_small_text_and_scores_a_payment() -> None:
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) < 1 << 20
    assert sorted(p.name for p in SHIPPED.iterdir()) == ["manifest.json", "model.txt"]
    model = FraudModel.shipped()
    usual = model.score({"Amount": 12.5, **{f"V{i}": 0.0 for i in range(1, 29)}})
    assert 0.0 <= usual < 0.01
