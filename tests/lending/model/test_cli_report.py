"""``rongbank lending model train / evaluate / report`` on a CSV, and the report's PSI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.lending.model.report import psi
from rongbank.lending.model.scorecard import APPLICATION_SCORECARD, Scorecard


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["lending", "model", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_train_evaluate_and_report_from_a_csv(german_credit_csv: Path, tmp_path: Path) -> None:
    common = ["--data", str(german_credit_csv), "--target", "creditability", "--bad", "bad"]
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps({"credit_amount": {"zh": "贷款金额", "en": "Amount", "unit": "DM"}})
    )
    code, out = _run(
        "train", *common, "--out", str(tmp_path / "model"), "--pdo", "40", "--labels", str(labels)
    )
    assert code == 0, out
    card = Scorecard.load(tmp_path / "model")
    assert card.artefact["scaling"]["pdo"] == 40
    (amount,) = (f for f in card.artefact["features"] if f["name"] == "credit_amount")
    assert (amount["label"], amount["unit"]) == ({"zh": "贷款金额", "en": "Amount"}, "DM")
    assert "personal_status_and_sex" in out  # said to be left out

    code, out = _run("evaluate", *common, "--folds", "2", "--repeats", "1", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert len(report["per_fold"]) == 2
    assert set(report["mean"]) == {"scorecard", "logistic"}
    code, out = _run("evaluate", *common, "--folds", "301")
    assert code == 2
    assert "301 folds need at least 301 rows of each class" in out

    frame = pd.read_csv(german_credit_csv)
    older = frame[frame["age_in_years"] >= 35]
    older.to_csv(tmp_path / "older.csv", index=False)
    code, out = _run(
        "report",
        "--model",
        str(tmp_path / "model"),
        "--data",
        str(german_credit_csv),
        "--compare",
        str(tmp_path / "older.csv"),
        "--out",
        str(tmp_path / "report"),
    )
    assert code == 0, out
    page = (tmp_path / "report" / "report.html").read_text()
    for png in ("score_distribution.png", "calibration.png"):
        assert (tmp_path / "report" / png).read_bytes()[:4] == b"\x89PNG"
        assert png in page
    assert "Information value" in page
    assert "Population stability" in page
    assert "age_in_years" in page


def test_a_protected_feature_is_refused_by_the_cli(german_credit_csv: Path, tmp_path: Path) -> None:
    code, out = _run(
        "train",
        "--data",
        str(german_credit_csv),
        "--target",
        "creditability",
        "--bad",
        "bad",
        "--feature",
        "credit_amount",
        "--feature",
        "personal_status_and_sex",
        "--out",
        str(tmp_path / "model"),
    )
    assert code == 2
    assert "personal_status_and_sex" in out
    assert not (tmp_path / "model").exists()


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    same = [0.25, 0.25, 0.25, 0.25]
    assert psi(same, same) == 0
    small = psi(same, [0.3, 0.25, 0.25, 0.2])
    large = psi(same, [0.7, 0.1, 0.1, 0.1])
    assert 0 < small < 0.1 < 0.25 < large
    assert psi([0.1, 0.9], [0.9, 0.1]) == pytest.approx(0.8 * 2 * 2.1972245, rel=1e-6)


def test_a_report_on_applications_without_outcomes_has_psi_against_training(
    credit_data: pd.DataFrame, tmp_path: Path
) -> None:
    credit_data.drop(columns=["Status"]).to_csv(tmp_path / "applications.csv", index=False)
    code, out = _run(
        "report",
        "--model",
        str(APPLICATION_SCORECARD),
        "--data",
        str(tmp_path / "applications.csv"),
        "--out",
        str(tmp_path / "report"),
    )
    assert code == 0, out
    page = (tmp_path / "report" / "report.html").read_text()
    assert "The data has no Status column: no calibration." in page
    # the training data itself: its score deciles are the artefact's, so PSI is ~0
    assert "Score PSI, training data against this data: 0.0000." in page
    assert not (tmp_path / "report" / "calibration.png").exists()
