"""The fraud model as the bank ships it, and scores with in process.

A model is a folder of two text files, never a pickle (a pickle runs code when it
is loaded; these are only read):

- ``model.txt``: LightGBM's own text format of the trees;
- ``manifest.json``: the features in the order the trees read them (a categorical
  one with its categories, by code), the version (a hash of the content, checked on
  load), suggested cut-offs, how and on what it was trained, and how it fared.

:meth:`FraudModel.score` scores one transaction from a mapping of its features, as
the inline engine will: a missing feature, a value that is not a number, or a
category the model never saw are all "missing" to it, never an error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from rongbank.risk.model.data import Feature, matrix
from rongbank.risk.model.errors import ModelArtefactInvalid

FORMAT = 1
MODEL_FILE = "model.txt"
MANIFEST_FILE = "manifest.json"
SHIPPED = Path(__file__).parent / "shipped"
"""The model the bank ships: learned from the ULB card-fraud data (rebuilt by
``python scripts/train_fraud_model.py``)."""


def content_version(model_text: str, features: list[Feature]) -> str:
    """The model's version: a hash of its trees and of the features they read, so
    that two folders with one version score alike."""
    digest = hashlib.sha256(model_text.encode())
    digest.update(json.dumps([f.to_json() for f in features], sort_keys=True).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where a feature's value goes in the row, and how it is read."""

    index: int
    codes: dict[str, float] | None
    """A categorical feature's codes; None for a numeric one."""


class FraudModel:
    def __init__(self, booster: lgb.Booster, manifest: dict[str, Any]) -> None:
        self.booster = booster
        self.manifest = manifest
        self.features = [Feature.from_json(f) for f in manifest["features"]]
        self.version: str = manifest["version"]
        self._slots = {
            f.name: _Slot(i, {c: float(k) for k, c in enumerate(f.categories)} or None)
            if f.kind == "categorical"
            else _Slot(i, None)
            for i, f in enumerate(self.features)
        }

    @classmethod
    def from_booster(
        cls,
        booster: lgb.Booster,
        features: list[Feature],
        *,
        training: dict[str, Any],
        thresholds: list[dict[str, Any]],
    ) -> FraudModel:
        text = booster.model_to_string()
        manifest = {
            "format": FORMAT,
            "kind": "lightgbm-binary",
            "version": content_version(text, features),
            "features": [f.to_json() for f in features],
            "thresholds": thresholds,
            "training": training,
        }
        return cls(lgb.Booster(model_str=text), manifest)

    def with_evaluation(self, evaluation: dict[str, Any]) -> FraudModel:
        """The same model, its manifest recording how it fared on later rows."""
        return FraudModel(self.booster, {**self.manifest, "evaluation": evaluation})

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MODEL_FILE).write_text(self.booster.model_to_string())
        (folder / MANIFEST_FILE).write_text(
            json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n"
        )

    @classmethod
    def load(cls, folder: Path | str) -> FraudModel:
        """Read a model folder; refused if a file is missing, of another format, or
        not the version its manifest names (changed since it was written)."""
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text())
            text = (folder / MODEL_FILE).read_text()
        except (OSError, json.JSONDecodeError) as error:
            raise ModelArtefactInvalid(f"{folder}: {error}", folder=str(folder)) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ModelArtefactInvalid(f"{folder}: not a format {FORMAT} model manifest.")
        try:
            features = [Feature.from_json(f) for f in manifest["features"]]
        except (KeyError, TypeError, ValueError) as error:
            raise ModelArtefactInvalid(f"{folder}: bad feature list ({error}).") from None
        if content_version(text, features) != manifest.get("version"):
            raise ModelArtefactInvalid(
                f"{folder}: the trees or features are not those of version "
                f"{manifest.get('version')!r}.",
                folder=str(folder),
            )
        return cls(lgb.Booster(model_str=text), manifest)

    @classmethod
    def shipped(cls) -> FraudModel:
        return cls.load(SHIPPED)

    def score(self, features: Mapping[str, float | str | None]) -> float:
        """The probability-like fraud score (0 to 1) of one transaction."""
        row = np.full((1, len(self.features)), np.nan)
        slots = self._slots
        for name, value in features.items():
            slot = slots.get(name)
            if slot is None or value is None:
                continue
            if slot.codes is not None:
                row[0, slot.index] = slot.codes.get(str(value), np.nan)
            else:
                with suppress(ValueError):  # not a number: missing, as in training
                    row[0, slot.index] = float(value)
        # One thread: a single row is far cheaper than waking OpenMP's pool.
        return float(self.booster.predict(row, num_threads=1)[0])

    def score_frame(self, columns: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Scores of many rows at once (evaluation, backtests)."""
        return np.asarray(self.booster.predict(matrix(columns, self.features)), dtype=np.float64)
