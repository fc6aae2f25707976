"""A labelled transaction file made ready to learn from: label, time, features.

Any tabular file will do: numeric columns are read as numbers, the others as
categories; missing values stay missing (LightGBM routes them; logistic regression
imputes them). The label may be spelled 1/0, true/false, yes/no... The rows are put
in time order, and every split is chronological: a model is judged on rows later
than every row it learned from, as it will be used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from rongbank.risk.model.errors import (
    ColumnMissing,
    LabelNotBinary,
    OneClassOnly,
    TimeNotReadable,
    TooFewRows,
)

POSITIVE = frozenset({"1", "1.0", "true", "t", "yes", "y", "fraud", "fraudulent", "positive"})
NEGATIVE = frozenset(
    {"0", "0.0", "false", "f", "no", "n", "legit", "legitimate", "genuine", "normal", "negative"}
)
MAX_CATEGORIES = 255
"""Categories kept per column (the most frequent); the rest score as unseen."""
MIN_CATEGORY_ROWS = 5
"""A category seen in fewer training rows is treated as unseen: too rare to learn from."""


@dataclass(frozen=True, slots=True)
class Feature:
    """A column the model reads. A categorical one lists the categories it learned,
    by code (its position); anything else (unseen, missing) is missing to it."""

    name: str
    kind: Literal["numeric", "categorical"]
    categories: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "categorical":
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Feature:
        kind = raw["kind"]
        if kind not in ("numeric", "categorical"):
            raise ValueError(f"unknown feature kind {kind!r}")
        return cls(str(raw["name"]), kind, tuple(str(c) for c in raw.get("categories", ())))


@dataclass(frozen=True)
class Labelled:
    """Rows in time order: the raw feature columns, the 0/1 label, the time in
    seconds (epoch seconds for dates)."""

    columns: pd.DataFrame
    label: np.ndarray[Any, np.dtype[np.int8]]
    time: np.ndarray[Any, np.dtype[np.float64]]

    def __len__(self) -> int:
        return len(self.label)

    @property
    def positives(self) -> int:
        return int(self.label.sum())

    def rows(self, start: int, stop: int) -> Labelled:
        return Labelled(
            self.columns.iloc[start:stop], self.label[start:stop], self.time[start:stop]
        )

    def fingerprint(self) -> str:
        """A hash of the rows as learned from (columns, label, time), whatever the
        file's layout: the same rows give the same hash."""
        digest = hashlib.sha256()
        digest.update(",".join(map(str, self.columns.columns)).encode())
        digest.update(pd.util.hash_pandas_object(self.columns, index=False).to_numpy().tobytes())
        digest.update(self.label.tobytes())
        digest.update(self.time.tobytes())
        return digest.hexdigest()


def read_labelled(path: Path, *, label: str, time: str) -> Labelled:
    """Read a CSV file (see :func:`labelled`)."""
    try:
        frame = pd.read_csv(path, low_memory=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise TooFewRows(f"{path} is not a readable CSV file: {error}", file=str(path)) from None
    return labelled(frame, label=label, time=time)


def labelled(frame: pd.DataFrame, *, label: str, time: str) -> Labelled:
    """The file's rows in time order with the label read as 0/1; refused with a clear
    error when the label or time column is missing or not what they must be."""
    for role, column in (("label", label), ("time", time)):
        if column not in frame.columns:
            raise ColumnMissing(
                f"There is no {role} column {column!r}; the columns are: "
                + ", ".join(map(str, frame.columns[:20])),
                column=column,
            )
    if label == time:
        raise ColumnMissing("The label and time columns must differ.", column=label)
    target = _binary(frame[label])
    seconds = _seconds(frame[time])
    order = np.argsort(seconds, kind="stable")
    columns = frame.drop(columns=[label, time]).iloc[order].reset_index(drop=True)
    return Labelled(columns, target[order], seconds[order])


def _binary(column: pd.Series) -> np.ndarray[Any, np.dtype[np.int8]]:
    spelled = column.astype("string").str.strip().str.lower()
    positive = spelled.isin(POSITIVE).to_numpy(dtype=bool, na_value=False)
    negative = spelled.isin(NEGATIVE).to_numpy(dtype=bool, na_value=False)
    unknown = ~(positive | negative)
    if unknown.any():
        seen = sorted({str(v) for v in column[unknown].head(1000)})[:5]
        raise LabelNotBinary(
            f"The label column {column.name!r} has {int(unknown.sum())} rows that are "
            f"neither fraud nor not (e.g. {', '.join(seen)}).",
            column=str(column.name),
            examples=seen,
        )
    if positive.all() or negative.all():
        raise OneClassOnly(
            f"Every row of {column.name!r} says {'fraud' if positive.all() else 'not fraud'}.",
            column=str(column.name),
        )
    return np.asarray(positive, dtype=np.int8)


def _seconds(column: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        seconds = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    else:
        stamps = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
        seconds = (
            (stamps - pd.Timestamp(0, tz="UTC"))
            .dt.total_seconds()
            .to_numpy(dtype=np.float64, na_value=np.nan)
        )
    missing = np.isnan(seconds)
    if missing.any():
        raise TimeNotReadable(
            f"The time column {column.name!r} has {int(missing.sum())} rows that are "
            "neither a number nor a date.",
            column=str(column.name),
        )
    return np.asarray(seconds, dtype=np.float64)


def chronological_cut(time: np.ndarray[Any, np.dtype[np.float64]], fraction: float) -> int:
    """Where to cut time-ordered rows so that about ``fraction`` come first and every
    row after the cut is strictly later than every row before it (rows of one
    instant all go after: none is learned from while its twin is judged)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("the split must be between 0 and 1")
    cut = int(len(time) * fraction)
    if 0 < cut < len(time):
        cut = int(np.searchsorted(time, time[cut], side="left"))
    return cut


def split(data: Labelled, fraction: float, *, part: str) -> tuple[Labelled, Labelled]:
    """The earlier ``fraction`` of the rows and the later rest (see
    :func:`chronological_cut`); each must hold both classes."""
    cut = chronological_cut(data.time, fraction)
    earlier, later = data.rows(0, cut), data.rows(cut, len(data))
    for name, piece in ((f"{part} (earlier)", earlier), (f"{part} (later)", later)):
        if piece.positives == 0 or piece.positives == len(piece):
            raise TooFewRows(
                f"The {name} part has {len(piece)} rows and {piece.positives} frauds: "
                "each part of a chronological split needs both classes.",
                part=name,
                rows=len(piece),
                frauds=piece.positives,
            )
    return earlier, later


def infer_features(columns: pd.DataFrame) -> list[Feature]:
    """The features to learn from the training rows: numeric columns as they are,
    every other column as a category (its frequent values); empty columns dropped."""
    features = []
    for name in columns.columns:
        column = columns[name]
        if column.isna().all():
            continue
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            features.append(Feature(str(name), "numeric"))
            continue
        counts = column.dropna().astype(str).value_counts()
        counts = counts[counts >= MIN_CATEGORY_ROWS]
        # Most frequent first, ties by value, so that the same rows give the same codes.
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES]
        features.append(Feature(str(name), "categorical", tuple(k for k, _ in ordered)))
    if not features:
        raise TooFewRows("The file has no column to learn from besides the label and time.")
    return features


def matrix(
    columns: pd.DataFrame, features: Sequence[Feature]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The numbers the models read: numeric columns as floats (NaN when missing or not
    a number), categorical ones as the code of their category (NaN when unseen)."""
    out = np.full((len(columns), len(features)), np.nan)
    for j, feature in enumerate(features):
        if feature.name not in columns.columns:
            continue  # a file without a column the model knows: missing throughout
        column = columns[feature.name]
        if feature.kind == "numeric":
            out[:, j] = pd.to_numeric(column, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        else:
            codes = {c: float(i) for i, c in enumerate(feature.categories)}
            out[:, j] = (
                column.astype("string").map(codes).to_numpy(dtype=np.float64, na_value=np.nan)
            )
    return out
