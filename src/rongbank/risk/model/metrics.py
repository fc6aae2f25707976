"""How well scores rank frauds, in the figures a fraud team reads.

Fraud is rare (0.17% of the ULB card data), so ROC-AUC flatters every model: the
area under the precision-recall curve (AUPRC, average precision) is the headline.
Precision at the top 100 is what analysts see of a day's queue; recall at
precision >= 0.9 is how much fraud can be blocked outright with few false alarms.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

TOP = 100
HIGH_PRECISION = 0.9


@dataclass(frozen=True, slots=True)
class Scores:
    auprc: float
    roc_auc: float
    precision_at_100: float
    """Of the 100 highest-scored rows, the share that are fraud."""
    recall_at_precision_90: float
    """The most fraud caught by a cut-off whose alerts are at least 90% fraud (0 if none is)."""

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 6) for k, v in asdict(self).items()}


def measure(label: np.ndarray[Any, Any], score: np.ndarray[Any, Any]) -> Scores:
    precision, recall, _ = precision_recall_curve(label, score)
    top = np.argsort(-score, kind="stable")[:TOP]
    high = recall[precision >= HIGH_PRECISION]
    return Scores(
        auprc=float(average_precision_score(label, score)),
        roc_auc=float(roc_auc_score(label, score)),
        precision_at_100=float(label[top].mean()),
        recall_at_precision_90=float(high.max()) if high.size else 0.0,
    )


def cutoffs(label: np.ndarray[Any, Any], score: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
    """Suggested cut-offs for the rules beside the model, as measured on rows the
    model did not learn from: the lowest score reaching each precision, the highest
    keeping each recall, and the score that alerts on 1 in 1,000 rows."""
    precision, recall, threshold = precision_recall_curve(label, score)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    out: list[dict[str, Any]] = []
    for target in (0.9, 0.5):
        reach = np.flatnonzero(precision >= target)
        if reach.size:
            i = int(reach[0])
            out.append(_cutoff(f"precision>={target}", threshold[i], precision[i], recall[i]))
    for target in (0.8,):
        keep = np.flatnonzero(recall >= target)
        if keep.size:
            i = int(keep[-1])
            out.append(_cutoff(f"recall>={target}", threshold[i], precision[i], recall[i]))
    rate = float(np.quantile(score, 0.999))
    alerted = score >= rate
    out.append(
        _cutoff(
            "alert_rate=0.001",
            rate,
            float(label[alerted].mean()) if alerted.any() else 0.0,
            float(label[alerted].sum() / max(1, label.sum())),
        )
    )
    return out


def _cutoff(name: str, threshold: float, precision: float, recall: float) -> dict[str, Any]:
    return {
        "name": name,
        "threshold": float(threshold),
        "precision": round(float(precision), 4),
        "recall": round(float(recall), 4),
    }
