"""Training data: read, the target made 0/1, the columns a model may use, a fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rongbank.lending.model.errors import TrainingDataInvalid
from rongbank.lending.model.protected import is_protected, refuse_protected
from rongbank.lending.model.scorecard import category_text, is_missing


@dataclass(frozen=True)
class Columns:
    """The columns a model may use, and why each other column was left out."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    protected: tuple[str, ...] = ()
    by_request: tuple[str, ...] = ()
    unusable: tuple[str, ...] = field(default=())

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


def read_csv(path: str | Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise TrainingDataInvalid(f"{path}: {exc}") from exc


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the data as CSV text: the same rows and columns give the same print
    whether they came from a CSV file or a package's data frame."""
    text = frame.to_csv(index=False, lineterminator="\n")
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def target_vector(frame: pd.DataFrame, target: str, bad: str) -> np.ndarray:
    """1 where the row went bad, 0 where it did not; refuses anything but two classes."""
    if target not in frame.columns:
        raise TrainingDataInvalid(f"There is no column {target!r}.", columns=list(frame.columns))
    values = frame[target]
    if values.isna().any():
        raise TrainingDataInvalid(f"The target {target!r} has missing values.")
    text = values.map(category_text)
    classes = sorted(set(text))
    if len(classes) != 2 or bad not in classes:
        raise TrainingDataInvalid(
            f"The target {target!r} must have two values, one of them {bad!r}.",
            values=classes[:10],
        )
    y: np.ndarray = (text == bad).to_numpy(dtype=np.int64)
    if min(int(y.sum()), len(y) - int(y.sum())) < 10:
        raise TrainingDataInvalid("Too few rows of one class to fit a model.")
    return y


def select_columns(
    frame: pd.DataFrame,
    target: str,
    *,
    exclude: Iterable[str] = (),
    features: Sequence[str] | None = None,
    group: str | None = None,
) -> Columns:
    """The model's candidate columns: every column but the target, the fairness group,
    the excluded ones and protected attributes (dropped silently when merely present,
    refused when named as ``features``); numeric by dtype, categorical otherwise."""
    excluded = set(exclude)
    missing = sorted((excluded | set(features or ())) - set(frame.columns))
    if missing:
        raise TrainingDataInvalid(f"No such column(s): {', '.join(missing)}.", columns=missing)
    if features is not None:
        refuse_protected(features, why="features of a credit model")
        names = [c for c in features if c not in excluded]
    else:
        names = [c for c in frame.columns if c not in (target, group)]
    protected = tuple(c for c in names if is_protected(c))
    by_request = tuple(c for c in frame.columns if c in excluded)
    numeric: list[str] = []
    categorical: list[str] = []
    unusable: list[str] = []
    for c in names:
        if c in protected or c in excluded or c in (target, group):
            continue
        column = frame[c]
        if column.nunique(dropna=True) < 2:
            unusable.append(c)
        elif pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numeric.append(c)
        else:
            categorical.append(c)
    if not numeric and not categorical:
        raise TrainingDataInvalid("No column is left to build a model from.")
    return Columns(tuple(numeric), tuple(categorical), protected, by_request, tuple(unusable))


def as_categories(column: pd.Series) -> np.ndarray:
    """A categorical column as text (the scorer's form), missing values as None."""
    return np.array(
        [None if pd.isna(v) or is_missing(v) else category_text(v) for v in column.tolist()],
        dtype=object,
    )


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The rows as the scorer takes them: plain Python values, missing ones as None."""
    return [
        {str(k): (None if pd.isna(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]
