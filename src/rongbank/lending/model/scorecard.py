"""Scoring in process from a scorecard's JSON lookup table.

The artefact is data, never code (no pickle): per feature its bins (numeric edges,
category sets, a missing bin, an ``other`` bin for categories never seen in training)
and the points of each (a small missing bin, and the ``other`` bin, score as the
feature's worst bin), the intercept's points, the points-to-double-odds scaling and
the grade cut-offs. A score is the intercept's points plus one bin's points per
feature; the probability of going bad follows from the scaling, the grade from the
cut-offs. Nothing here imports pandas or numpy, so the API process pays neither.

The reasons a declined customer sees are the features that cost the applicant most
points against the feature's best bin (largest shortfall first, at most
:data:`MAX_REASONS`), each with a stable code and words in Chinese and English.
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from rongbank.lending.model.errors import FeatureValueInvalid, ScorecardInvalid
from rongbank.lending.model.protected import refuse_protected

FORMAT = "rongbank.scorecard.v1"
MAX_REASONS = 4
APPLICATION_SCORECARD = Path(__file__).with_name("application_scorecard.json")
"""The shipped application scorecard (trained on modeldata/credit_data; see
``scripts/train_scorecard.py``)."""


@dataclass(frozen=True, slots=True)
class Reason:
    """A main factor of a score: the feature, and the points it cost against its best bin."""

    code: str
    feature: str
    points_lost: int
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class ScoreResult:
    points: int
    grade: str
    probability_bad: float
    reasons: tuple[Reason, ...]
    model_version: str


@dataclass(frozen=True, slots=True)
class _Feature:
    name: str
    numeric: bool
    edges: tuple[float, ...]
    categories: Mapping[str, int]
    """Categorical only: category -> bin."""
    points: tuple[int, ...]
    """Per bin, then the missing bin's and the other bin's."""
    missing: int
    """The missing bin's index (the number of bins); the other bin's is one more."""
    best_points: int
    code: str
    zh: str
    en: str


def canonical_json(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_version(content: Mapping[str, Any]) -> str:
    """The model version: a hash of everything in the artefact but the version itself."""
    body = {k: v for k, v in content.items() if k != "model_version"}
    return "sc-" + hashlib.sha256(canonical_json(body)).hexdigest()[:16]


def probability_bad(points: float, scaling: Mapping[str, float]) -> float:
    """Points-to-double-odds: at ``base_points`` the good:bad odds are ``base_odds``,
    and every ``pdo`` points more double them."""
    exponent = float((points - scaling["base_points"]) / scaling["pdo"])
    return 1.0 / (1.0 + scaling["base_odds"] * math.pow(2.0, exponent))


def points_for_probability(p_bad: float, scaling: Mapping[str, float]) -> float:
    """The inverse of :func:`probability_bad`."""
    odds_good = (1.0 - p_bad) / p_bad
    return float(
        scaling["base_points"] + scaling["pdo"] * math.log2(odds_good / scaling["base_odds"])
    )


def is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    return False


class Scorecard:
    """A loaded scorecard; immutable, safe to share between threads."""

    def __init__(self, artefact: Mapping[str, Any]) -> None:
        self.artefact = artefact
        self.model_version = _validate(artefact)
        self.scaling: Mapping[str, float] = artefact["scaling"]
        self.intercept_points: int = artefact["intercept_points"]
        self.grades: tuple[tuple[str, float], ...] = tuple(
            (g["grade"], -math.inf if g["min_points"] is None else g["min_points"])
            for g in artefact["grades"]
        )
        self._features = tuple(_compile(f) for f in artefact["features"])

    @classmethod
    def load(cls, path: str | Path = APPLICATION_SCORECARD) -> Scorecard:
        path = Path(path)
        if path.is_dir():
            path = path / "scorecard.json"
        try:
            artefact = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ScorecardInvalid(f"{path}: {exc}") from exc
        return cls(artefact)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self._features)

    def grade_for(self, points: int) -> str:
        for grade, floor in self.grades:
            if points >= floor:
                return grade
        raise AssertionError("the last grade has no floor")  # pragma: no cover

    def bin_points(self, features: Mapping[str, object]) -> dict[str, int]:
        """Each feature's points for these inputs (what :meth:`score` adds up)."""
        return {f.name: f.points[_bin(f, features.get(f.name))] for f in self._features}

    def bins(self, features: Mapping[str, object]) -> dict[str, int]:
        """Each feature's bin for these inputs: its index in the feature's ``bins``, or
        the number of bins for the missing bin, one more for the ``other`` bin."""
        return {f.name: _bin(f, features.get(f.name)) for f in self._features}

    def score(self, features: Mapping[str, object]) -> ScoreResult:
        """Score one applicant. Absent or missing values take the missing bin, a category
        never seen in training the ``other`` bin; a value of the wrong kind (text that is
        no number, for a numeric feature) is refused with :class:`FeatureValueInvalid`."""
        total = self.intercept_points
        shortfalls: list[tuple[int, int]] = []
        for i, f in enumerate(self._features):
            pts = f.points[_bin(f, features.get(f.name))]
            total += pts
            if pts < f.best_points:
                shortfalls.append((pts - f.best_points, i))
        shortfalls.sort()
        reasons = tuple(
            Reason(f.code, f.name, -gap, f.zh, f.en)
            for gap, i in shortfalls[:MAX_REASONS]
            for f in (self._features[i],)
        )
        return ScoreResult(
            points=total,
            grade=self.grade_for(total),
            probability_bad=probability_bad(total, self.scaling),
            reasons=reasons,
            model_version=self.model_version,
        )

    def score_many(self, rows: Iterable[Mapping[str, object]]) -> list[ScoreResult]:
        return [self.score(r) for r in rows]


def _bin(f: _Feature, value: object) -> int:
    """The bin ``value`` falls in: ``0..k-1`` a bin, ``k`` missing, ``k+1`` other."""
    if is_missing(value):
        return f.missing
    if f.numeric:
        if isinstance(value, int | float):
            x = float(value)
        else:
            try:
                x = float(value if isinstance(value, str | Decimal) else str(value))
            except ValueError:
                raise FeatureValueInvalid(
                    f"{f.name} must be a number, not {value!r}.", feature=f.name
                ) from None
            if math.isnan(x):
                return f.missing
        return bisect_right(f.edges, x)
    index = f.categories.get(value if isinstance(value, str) else category_text(value))
    return f.missing + 1 if index is None else index


def category_text(value: object) -> str:
    """Categories are kept as text; a number given for one is matched by its text
    (``2`` and ``2.0`` both as ``"2"``, as a CSV column of whole numbers reads)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _compile(f: Mapping[str, Any]) -> _Feature:
    bins = f["bins"]
    points = tuple(int(b["points"]) for b in bins)
    numeric = f["kind"] == "numeric"
    categories: dict[str, int] = {}
    if not numeric:
        for i, b in enumerate(bins):
            for c in b["categories"]:
                categories[str(c)] = i
    missing = int(f["missing"]["points"])
    other = int(f["other"]["points"]) if "other" in f else missing
    points = (*points, missing, other)
    label = f.get("label") or {}
    return _Feature(
        name=f["name"],
        numeric=numeric,
        edges=tuple(float(b["upper"]) for b in bins[:-1]) if numeric else (),
        categories=categories,
        points=points,
        missing=len(bins),
        best_points=max(points),
        code=f["code"],
        zh=label.get("zh", f["name"]),
        en=label.get("en", f["name"]),
    )


def _validate(artefact: Mapping[str, Any]) -> str:
    if not isinstance(artefact, Mapping) or artefact.get("format") != FORMAT:
        raise ScorecardInvalid(f"Not a {FORMAT} artefact.")
    try:
        features = artefact["features"]
        names = [f["name"] for f in features]
        refuse_protected(names, why="features of a scorecard")
        for f in features:
            if f["kind"] not in ("numeric", "categorical") or not f["bins"]:
                raise ScorecardInvalid(f"Feature {f['name']} has no bins or an unknown kind.")
            if f["kind"] == "numeric":
                uppers = [b["upper"] for b in f["bins"]]
                if uppers[-1] is not None or uppers[:-1] != sorted(uppers[:-1]):
                    raise ScorecardInvalid(f"Feature {f['name']}: edges out of order.")
        grades = artefact["grades"]
        floors = [g["min_points"] for g in grades]
        if not grades or floors[-1] is not None or floors[:-1] != sorted(floors[:-1])[::-1]:
            raise ScorecardInvalid("Grade cut-offs must fall, the last without a floor.")
        for key in ("pdo", "base_points", "base_odds"):
            float(artefact["scaling"][key])
        int(artefact["intercept_points"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ScorecardInvalid(f"Malformed scorecard: {exc!r}") from exc
    version = content_version(artefact)
    if artefact.get("model_version") != version:
        raise ScorecardInvalid(
            "The model version does not match the content (edited by hand?).",
            stated=artefact.get("model_version"),
            content=version,
        )
    return version
