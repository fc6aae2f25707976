"""The bank's own labels: closed cases exported as a labelled file, which the fraud
model's pipeline trains on as it is."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.platform import Platform
from rongbank.risk.cases.intake import Incoming, file_alert
from rongbank.settings import Settings, get_settings
from tests.factories.accounts import People
from tests.support.risk import staff_member

pytestmark = pytest.mark.slow
CASES = 240


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["risk", *args], env={"COLUMNS": "300"})
    return result.exit_code, result.output


@pytest.fixture
def bank(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    platform = Platform.connect(fresh_db, Settings(), group_commit=False)
    try:
        yield platform
    finally:
        platform.close()
        get_settings.cache_clear()


def decided_history(platform: Platform) -> None:
    """A customer's alerts over ten days, each decided in its own case: every fourth
    fraud (high scores, a new device), the rest genuine; and one case still open."""
    alice = staff_member(platform, username="alice", role="risk_analyst").id
    bob = staff_member(platform, username="bob", role="risk_analyst").id
    cases = platform.risk_desk.cases
    start = platform.clock.now() - timedelta(days=10)
    with platform.transaction() as session:
        customer_id = People(platform.accounts, platform.ledger).person(session).customer_id
        for i in range(CASES + 1):
            fraud = i % 4 == 0
            alert = Incoming(
                source="engine",
                source_ref=f"d{i}",
                customer_id=customer_id,
                action="block",
                score=(0.6 if fraud else 0.2) + (i % 7) / 20,
                reasons=["new_device", "night"] if fraud else ["night"],
                amount=10_000 * (i % 13 + 1),
                hold_ref=None,
                at=start + timedelta(hours=i),
            )
            file_alert(session, alert, platform.risk_desk.questions)
            if i == CASES:
                break  # the last case stays open: not a label yet
            [case] = [q.case for q in cases.queue(session)]
            cases.take(session, case_id=case.id, staff_id=alice)
            outcome = "fraud" if fraud else "genuine"
            cases.decide(session, case_id=case.id, staff_id=alice, outcome=outcome, note="n")
            if fraud:
                cases.confirm(session, case_id=case.id, staff_id=bob, note="同意")


def test_closed_cases_export_as_labels_the_model_trains_on(bank: Platform, tmp_path: Path) -> None:
    decided_history(bank)
    labels = tmp_path / "labels.csv"

    code, output = run("labels", "export", "--out", str(labels))
    assert code == 0, output
    assert f"{CASES} alerts of closed cases" in output
    with labels.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == CASES
    assert sum(int(r["label"]) for r in rows) == CASES // 4
    assert rows[0]["label"] == "1"
    assert (rows[0]["reason_new_device"], rows[1]["reason_new_device"]) == ("1", "0")
    assert {"raised_at", "score", "amount", "feature_hour", "feature_alerts_30d"} <= set(rows[0])
    assert not {"alert_id", "case_id", "outcome"} & set(rows[0])

    model = tmp_path / "model"
    code, output = run(
        "model",
        "train",
        "--data",
        str(labels),
        "--label",
        "label",
        "--time",
        "raised_at",
        "--out",
        str(model),
    )
    assert code == 0, output
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["training"]["rows"] == CASES
    assert manifest["training"]["frauds"] == CASES // 4
    assert (model / "model.txt").exists()
