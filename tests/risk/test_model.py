"""The fraud model pipeline on made-up files: any labelled file trains, the split is
chronological, the artefact round-trips, bad files are refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.risk.model import FraudModel
from rongbank.risk.model.data import chronological_cut, labelled, split
from rongbank.risk.model.errors import (
    ColumnMissing,
    LabelNotBinary,
    ModelArtefactInvalid,
    OneClassOnly,
)
from rongbank.risk.model.train import Options, evaluate, fit
from tests.factories.transactions import RISKY, transactions

FAST = Options(leaves=(7,), max_trees=80, early_stopping=20, inverse_regularisation=(1.0,))
LABEL, TIME = "is_fraud", "txn_time"


@pytest.fixture(scope="module")
def model() -> FraudModel:
    return fit(labelled(transactions(), label=LABEL, time=TIME), FAST)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["risk", "model", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


class TestAnyLabelledFile:
    def test_a_file_with_categories_and_missing_values_trains_and_scores(
        self, tmp_path: Path
    ) -> None:
        transactions().to_csv(tmp_path / "txns.csv", index=False)
        code, output = invoke(
            "train", "--data", str(tmp_path / "txns.csv"), "--label", LABEL, "--time", TIME,
            "--out", str(tmp_path / "model"),
        )  # fmt: skip
        assert code == 0, output
        model = FraudModel.load(tmp_path / "model")
        kinds = {f.name: f.kind for f in model.features}
        assert kinds == {
            "amount": "numeric",
            "merchant_kind": "categorical",
            "channel": "categorical",
            "device_age_days": "numeric",
        }
        risky = model.score({"amount": 900.0, "merchant_kind": RISKY, "device_age_days": 1.0})
        usual = model.score({"amount": 30.0, "merchant_kind": "grocery", "channel": "app"})
        assert 0.0 <= usual < risky <= 1.0
        # Missing values: a mapping with nothing, or with None, still scores.
        assert 0.0 <= model.score({"amount": None, "channel": None}) <= 1.0

    def test_an_unseen_category_scores_as_a_missing_one(self, model: FraudModel) -> None:
        seen = {"amount": 120.0, "device_age_days": 40.0}
        unseen = model.score({**seen, "merchant_kind": "never-seen", "channel": "fax"})
        assert unseen == model.score({**seen, "merchant_kind": None})
        assert unseen == model.score(seen)

    def test_a_value_that_is_not_a_number_scores_as_missing(self, model: FraudModel) -> None:
        assert model.score({"amount": "lots"}) == model.score({})

    @pytest.mark.parametrize(
        "spelling", [("1", "0"), ("True", "False"), ("Y", "N"), ("fraud", "legit"), (1, 0)]
    )
    def test_the_label_may_be_spelled_any_common_way(self, spelling: tuple[str, str]) -> None:
        expected = labelled(transactions(200), label=LABEL, time=TIME).label
        given = labelled(transactions(200, label=spelling), label=LABEL, time=TIME).label
        assert np.array_equal(given, expected)


class TestChronologicalSplit:
    def test_no_row_learned_from_is_later_than_a_row_judged(self) -> None:
        # A merchant kind seen only in the last week: if the model had learned from
        # any of those rows, it would know the category.
        frame = transactions(seed=3)
        late = pd.to_datetime(frame[TIME]) >= pd.Timestamp("2026-01-24", tz="UTC")
        frame.loc[late & (frame["merchant_kind"] == "travel"), "merchant_kind"] = "late-only"
        report = evaluate(labelled(frame, label=LABEL, time=TIME), 0.7, FAST)
        training = report.model.manifest["training"]
        assert training["time_to"] < report.evaluation["time_from"]
        assert report.training["rows"] + report.evaluation["rows"] == len(frame)
        assert training["validation"]["time_to"] == training["time_to"]
        merchant = next(f for f in report.model.features if f.name == "merchant_kind")
        assert "late-only" not in merchant.categories
        assert "travel" in merchant.categories

    def test_rows_of_one_instant_are_never_on_both_sides(self) -> None:
        time = np.array([1.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
        cut = chronological_cut(time, 0.3)  # row 3 would cut through the 3.0s
        assert cut == 2
        assert time[:cut].max() < time[cut:].min()

    def test_rows_are_put_in_time_order_whatever_the_file_order(self) -> None:
        frame = transactions(500)
        shuffled = labelled(frame.sample(frac=1.0, random_state=5), label=LABEL, time=TIME)
        assert np.all(np.diff(shuffled.time) >= 0)
        ordered = labelled(frame, label=LABEL, time=TIME)
        assert shuffled.fingerprint() == ordered.fingerprint()

    def test_a_part_without_frauds_is_refused(self) -> None:
        frame = transactions(500)
        frame.loc[pd.to_datetime(frame[TIME]) > pd.Timestamp("2026-01-20", tz="UTC"), LABEL] = "no"
        with pytest.raises(Exception, match="needs both classes"):
            split(labelled(frame, label=LABEL, time=TIME), 0.7, part="evaluation")


class TestArtefact:
    def test_it_round_trips_and_scores_identically(self, model: FraudModel, tmp_path: Path) -> None:
        model.save(tmp_path)
        loaded = FraudModel.load(tmp_path)
        assert loaded.version == model.version
        rows = transactions(300, seed=9).drop(columns=[LABEL, TIME])
        assert np.array_equal(loaded.score_frame(rows), model.score_frame(rows))
        one_by_one = [loaded.score(r) for r in rows.to_dict("records")]
        assert np.allclose(one_by_one, model.score_frame(rows), rtol=0, atol=1e-12)

    def test_it_is_text_with_a_manifest_and_no_pickle(
        self, model: FraudModel, tmp_path: Path
    ) -> None:
        model.save(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "model.txt"]
        manifest = json.loads((tmp_path / "manifest.json").read_text())
        assert manifest["version"] == model.version
        assert manifest["training"]["fingerprint"]
        assert {t["name"] for t in manifest["thresholds"]} >= {"alert_rate=0.001"}
        assert (tmp_path / "model.txt").read_text().startswith("tree\n")

    def test_a_changed_model_is_refused(self, model: FraudModel, tmp_path: Path) -> None:
        model.save(tmp_path)
        text = (tmp_path / "model.txt").read_text()
        (tmp_path / "model.txt").write_text(text.replace("learning_rate", "learning_rate ", 1))
        with pytest.raises(ModelArtefactInvalid, match="not those of version"):
            FraudModel.load(tmp_path)

    def test_a_folder_without_a_model_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ModelArtefactInvalid):
            FraudModel.load(tmp_path)


class TestBadFiles:
    def test_no_label_column(self) -> None:
        with pytest.raises(ColumnMissing, match="no label column 'fraud'") as refused:
            labelled(transactions(100), label="fraud", time=TIME)
        assert refused.value.code == "column_missing"

    def test_one_class_only(self) -> None:
        frame = transactions(100).assign(is_fraud="no")
        with pytest.raises(OneClassOnly, match="Every row of 'is_fraud' says not fraud"):
            labelled(frame, label=LABEL, time=TIME)

    def test_a_label_that_is_not_binary(self) -> None:
        frame = transactions(100)
        frame.loc[3, LABEL] = "maybe"
        with pytest.raises(LabelNotBinary, match="maybe"):
            labelled(frame, label=LABEL, time=TIME)

    def test_the_command_says_why_and_writes_nothing(self, tmp_path: Path) -> None:
        transactions(100).assign(is_fraud=0).to_csv(tmp_path / "one.csv", index=False)
        code, output = invoke(
            "evaluate", "--data", str(tmp_path / "one.csv"), "--label", LABEL, "--time", TIME,
        )  # fmt: skip
        assert code == 2
        assert "Every row of 'is_fraud' says not fraud" in output
        code, output = invoke(
            "train", "--data", str(tmp_path / "one.csv"), "--label", "Class", "--time", TIME,
            "--out", str(tmp_path / "model"),
        )  # fmt: skip
        assert code == 2
        assert "no label column 'Class'" in output
        assert not (tmp_path / "model").exists()


def test_evaluate_prints_both_models_figures_as_json(tmp_path: Path) -> None:
    transactions().to_csv(tmp_path / "txns.csv", index=False)
    code, output = invoke(
        "evaluate", "--data", str(tmp_path / "txns.csv"), "--label", LABEL, "--time", TIME,
        "--split", "0.7", "--json",
    )  # fmt: skip
    assert code == 0, output
    report = json.loads(output)
    for model in ("lightgbm", "logistic_regression"):
        assert set(report[model]) == {
            "auprc", "roc_auc", "precision_at_100", "recall_at_precision_90"
        }  # fmt: skip
        assert 0.0 < report[model]["auprc"] <= 1.0
    assert report["training"]["time_to"] < report["evaluation"]["time_from"]
