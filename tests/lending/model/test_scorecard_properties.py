"""Properties of scoring, over any inputs: points are the intercept's plus one bin's per
feature, the grade follows the cut-offs, the probability the scaling, reasons the
largest shortfalls; the same inputs give the same result."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.lending.model.bench import applicants, measure
from rongbank.lending.model.scorecard import Scorecard, probability_bad

CARD = Scorecard.load()
FEATURES = {f["name"]: f for f in CARD.artefact["features"]}


MISSING = st.sampled_from([None, math.nan, "", " "])


def _value(feature: dict[str, Any]) -> st.SearchStrategy[object]:
    if feature["kind"] == "numeric":
        edges = [b["upper"] for b in feature["bins"][:-1]]
        near = sorted({x for e in edges for x in (e - 0.5, e, e + 0.5)})
        return st.one_of(
            st.sampled_from(near),
            st.integers(-(10**6), 10**6),
            st.sampled_from([math.inf, -math.inf, "42", "1e3"]),
            MISSING,
        )
    categories = [c for b in feature["bins"] for c in b["categories"]]
    return st.one_of(st.sampled_from(categories), st.text(max_size=3), MISSING)


@st.composite
def _applicants(draw: st.DrawFn) -> dict[str, object]:
    """Any subset of the features (absent ones score as missing), any values."""
    present = draw(st.sets(st.sampled_from(sorted(FEATURES))))
    return {name: draw(_value(FEATURES[name])) for name in sorted(present)}


APPLICANTS = _applicants()


@given(APPLICANTS)
def test_points_are_the_intercept_and_the_bins_points(applicant: dict[str, object]) -> None:
    result = CARD.score(applicant)
    assert result.points == CARD.intercept_points + sum(CARD.bin_points(applicant).values())
    assert CARD.score(dict(applicant)) == result


@given(APPLICANTS)
def test_the_grade_follows_the_cut_offs(applicant: dict[str, object]) -> None:
    result = CARD.score(applicant)
    grades = CARD.artefact["grades"]
    expected = next(
        g for g in grades if g["min_points"] is None or result.points >= g["min_points"]
    )
    assert result.grade == expected["grade"]
    assert result.probability_bad <= expected["max_probability_bad"]
    better = [g for g in grades if g["grade"] < result.grade]
    assert all(result.probability_bad > g["max_probability_bad"] for g in better)
    assert math.isclose(result.probability_bad, probability_bad(result.points, CARD.scaling))


@given(APPLICANTS)
def test_reasons_are_the_largest_shortfalls_against_each_best_bin(
    applicant: dict[str, object],
) -> None:
    result = CARD.score(applicant)
    points = CARD.bin_points(applicant)
    best = {
        name: max(
            [b["points"] for b in f["bins"]]
            + [f["missing"]["points"], f.get("other", f["missing"])["points"]]
        )
        for name, f in FEATURES.items()
    }
    shortfall = {name: best[name] - points[name] for name in FEATURES}
    lost = [r.points_lost for r in result.reasons]
    assert lost == sorted(lost, reverse=True)
    assert all(shortfall[r.feature] == r.points_lost > 0 for r in result.reasons)
    left_out = [s for n, s in shortfall.items() if n not in {r.feature for r in result.reasons}]
    assert all(s <= min(lost, default=0) for s in left_out) or len(result.reasons) < 4
    assert len(result.reasons) == min(4, sum(s > 0 for s in shortfall.values()))


def test_the_bench_applicants_take_every_bin() -> None:
    rows = applicants(CARD, 2000)
    for name, f in FEATURES.items():
        taken = {CARD.bins(r)[name] for r in rows}
        extra = 2 if f["kind"] == "categorical" else 1
        assert taken == set(range(len(f["bins"]) + extra)), name


def test_the_bench_scores_and_reports_cpu_time_per_score() -> None:
    report = measure(500, CARD)
    assert report["scores"] == 500
    assert report["model_version"] == CARD.model_version
    # cpu_s is rounded to 0.1 ms: 0.2 µs a score over 500
    assert report["us_per_score"] == pytest.approx(report["cpu_s"] / 500 * 1e6, abs=0.3)
    assert report["us_per_score"] > 0
