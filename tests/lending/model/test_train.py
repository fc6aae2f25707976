"""Training: the artefact from real data, protected attributes, round trip, the scorer's
handling of missing and unseen values, monotonic points."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rongbank.lending.model.errors import (
    FeatureValueInvalid,
    ProtectedAttributeRefused,
    ScorecardInvalid,
    TrainingDataInvalid,
)
from rongbank.lending.model.protected import is_protected
from rongbank.lending.model.scorecard import APPLICATION_SCORECARD, Scorecard
from rongbank.lending.model.train import TrainOptions, train, trained_with, write_artefact


@pytest.mark.parametrize("libraries", ["installed", "others"])
def test_the_shipped_scorecard_is_what_the_package_data_gives(
    credit_artefact: dict[str, Any], credit_data: pd.DataFrame, libraries: str
) -> None:
    """Exactly, with the libraries it was trained with; with others (a new optbinning or
    scikit-learn), the same features and nearly the same points on every row."""
    shipped = json.loads(APPLICATION_SCORECARD.read_text(encoding="utf-8"))
    assert shipped["source"]["data"].endswith("modeldata/credit_data")
    assert Scorecard.load().model_version == shipped["model_version"]
    installed = trained_with() if libraries == "installed" else {"optbinning": "9"}
    if shipped["trained_with"] == installed:
        assert shipped == credit_artefact, "rebuild it: python scripts/train_scorecard.py"
        return
    ours, rebuilt = Scorecard(shipped), Scorecard(credit_artefact)
    assert ours.feature_names == rebuilt.feature_names
    rows = credit_data.to_dict("records")
    gaps = [
        abs(a.points - b.points)
        for a, b in zip(ours.score_many(rows), rebuilt.score_many(rows), strict=True)
    ]
    assert sum(gaps) / len(gaps) < 3, "the libraries changed the model: rebuild and review it"


def test_the_shipped_scorecard_names_each_feature_with_words_and_units() -> None:
    card = Scorecard.load()
    features = {f["name"]: f for f in card.artefact["features"]}
    assert {"Income", "Seniority", "Records", "Job", "Home"} <= set(features)
    assert all(f["unit"] and f["label"]["zh"] != f["name"] for f in features.values())
    assert features["Job"]["unit"] == "category: fixed, freelance, partime, others"
    assert {c for b in features["Job"]["bins"] for c in b["categories"]} == {
        "fixed",
        "freelance",
        "partime",
        "others",
    }


@pytest.mark.parametrize(
    ("name", "protected"),
    [
        ("Marital", True),
        ("marital_status", True),
        ("MaritalStatus", True),
        ("personal_status_and_sex", True),
        ("Sex", True),
        ("applicant-gender", True),
        ("ApplicantGender", True),
        ("Race", True),
        ("ethnicity", True),
        ("Religion", True),
        ("foreign_worker", True),
        ("Status", False),
        ("Income", False),
        ("Records", False),
        ("Seniority", False),
        ("grace_period", False),
    ],
)
def test_the_deny_list_matches_words_of_a_column_name(name: str, *, protected: bool) -> None:
    assert is_protected(name) is protected


def test_protected_columns_never_enter_a_model(
    credit_artefact: dict[str, Any], german_artefact: dict[str, Any]
) -> None:
    assert credit_artefact["excluded"]["protected"] == ["Marital"]
    assert set(german_artefact["excluded"]["protected"]) == {
        "personal_status_and_sex",
        "foreign_worker",
    }
    for artefact in (credit_artefact, german_artefact):
        assert not any(is_protected(f["name"]) for f in artefact["features"])


def test_a_protected_column_named_as_a_feature_is_refused(credit_data: pd.DataFrame) -> None:
    with pytest.raises(ProtectedAttributeRefused) as refused:
        train(credit_data, "Status", "bad", TrainOptions(features=("Income", "Marital")))
    assert refused.value.details["columns"] == ["Marital"]


def test_a_scorecard_file_with_a_protected_feature_is_refused(
    credit_artefact: dict[str, Any], tmp_path: Path
) -> None:
    tampered = json.loads(json.dumps(credit_artefact))
    tampered["features"][0]["name"] = "Gender"
    with pytest.raises(ProtectedAttributeRefused):
        Scorecard(tampered)


def test_an_edited_scorecard_is_refused_by_its_version(credit_artefact: dict[str, Any]) -> None:
    tampered = json.loads(json.dumps(credit_artefact))
    tampered["features"][0]["bins"][0]["points"] += 50
    with pytest.raises(ScorecardInvalid, match="version"):
        Scorecard(tampered)


def test_the_target_must_have_the_bad_value(credit_data: pd.DataFrame) -> None:
    with pytest.raises(TrainingDataInvalid, match="two values"):
        train(credit_data, "Status", "Bad")


def test_the_artefact_round_trips_through_json(
    german_artefact: dict[str, Any], german_credit: pd.DataFrame, tmp_path: Path
) -> None:
    path = write_artefact(german_artefact, tmp_path / "model")
    assert path.name == "scorecard.json"
    loaded = Scorecard.load(tmp_path / "model")
    assert loaded.artefact == german_artefact
    rows = german_credit.drop(columns=["creditability"]).to_dict("records")
    assert loaded.score_many(rows) == Scorecard(german_artefact).score_many(rows)


def test_german_credit_bins_numeric_and_categorical_columns(
    german_artefact: dict[str, Any],
) -> None:
    kinds = {f["kind"] for f in german_artefact["features"]}
    assert kinds == {"numeric", "categorical"}
    names = [f["name"] for f in german_artefact["features"]]
    assert "status_of_existing_checking_account" in names
    assert german_artefact["source"]["rows"] == 1000


def test_missing_values_and_unseen_categories_score_in_their_bins() -> None:
    card = Scorecard.load()
    features = {f["name"]: f for f in card.artefact["features"]}
    base = {"Income": 150, "Home": "owner", "Job": "fixed", "Seniority": 10}
    for missing in (None, math.nan, "", "  "):
        assert (
            card.bin_points({**base, "Income": missing})["Income"]
            == (features["Income"]["missing"]["points"])
        )
    assert (
        card.bin_points({**base, "Home": "houseboat"})["Home"]
        == (features["Home"]["other"]["points"])
    )
    assert card.bin_points({**base, "Home": None})["Home"] == features["Home"]["missing"]["points"]
    nothing = card.score({})  # every feature absent: each in its missing bin
    assert nothing.points == card.intercept_points + sum(
        f["missing"]["points"] for f in features.values()
    )
    assert card.score({**base, "Income": "150"}) == card.score(base)


def test_a_number_that_is_no_number_is_refused() -> None:
    with pytest.raises(FeatureValueInvalid) as refused:
        Scorecard.load().score({"Income": "a lot"})
    assert refused.value.details == {"feature": "Income"}


def test_points_follow_each_numeric_features_trend(credit_artefact: dict[str, Any]) -> None:
    card = Scorecard(credit_artefact)
    for f in credit_artefact["features"]:
        if f["kind"] != "numeric":
            continue
        edges = [b["upper"] for b in f["bins"][:-1]]
        grid = sorted({*edges, *(e - 0.25 for e in edges), edges[0] - 100, edges[-1] + 100})
        points = [card.bin_points({f["name"]: x})[f["name"]] for x in grid]
        step = sorted(points) if f["trend"] == "ascending" else sorted(points, reverse=True)
        assert points == step, f["name"]
        assert points[0] != points[-1], f["name"]


def test_reasons_are_the_features_that_cost_most_points() -> None:
    card = Scorecard.load()
    applicant = {
        "Seniority": 20,
        "Home": "owner",
        "Time": 12,
        "Records": "yes",
        "Job": "fixed",
        "Expenses": 40,
        "Income": 300,
        "Assets": 20000,
        "Debt": 0,
        "Amount": 500,
        "Price": 2000,
    }
    result = card.score(applicant)
    assert [r.feature for r in result.reasons] == ["Records"]
    (reason,) = result.reasons
    assert (reason.code, reason.zh, reason.en) == ("RECORDS", "逾期记录", "Past arrears on record")
    assert result.grade == "A"
    assert card.score({**applicant, "Records": "no"}).reasons == ()


def test_gaps_and_infinities_in_the_data_are_binned(german_credit: pd.DataFrame) -> None:
    """German credit has no missing values: blank a tenth of two columns' cells, put an
    infinity in, and the pipeline still trains, each blank in the missing bin."""
    frame = german_credit.copy()
    blank = frame.index % 10 == 3
    frame["credit_amount"] = frame["credit_amount"].astype(float)
    frame.loc[blank, ["credit_amount", "purpose"]] = None
    frame.loc[0, "credit_amount"] = math.inf
    artefact = train(frame, "creditability", "bad")
    features = {f["name"]: f for f in artefact["features"]}
    for name in ("credit_amount", "purpose"):
        assert features[name]["missing"]["count"] == blank.sum()
    card = Scorecard(artefact)
    rows = frame.drop(columns=["creditability"]).to_dict("records")
    assert len(card.score_many(rows)) == len(frame)
    assert card.bins({"credit_amount": math.inf})["credit_amount"] == (
        len(features["credit_amount"]["bins"]) - 1
    )


def test_leaving_an_input_out_never_raises_the_shipped_score() -> None:
    """Missing and unseen answers score as the worst bin (Income's missing bin, weighed
    from the data, is lower still)."""
    for f in Scorecard.load().artefact["features"]:
        worst = min(b["points"] for b in f["bins"])
        assert f["missing"]["points"] <= worst, f["name"]
        assert f.get("other", f["missing"])["points"] == worst or f["kind"] == "numeric"
        if f["missing"]["points_from"] == "worst bin":
            assert f["missing"]["points"] == worst
