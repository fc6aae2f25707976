"""A fraud model trained (``rongbank risk model train``'s pipeline) on the engine's own
feature columns, blended with the rules: its score is a feature rules act on, and the
decision's score is at least its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.platform import Platform
from rongbank.risk.engine.engine import load_model
from rongbank.risk.model.data import labelled
from rongbank.risk.model.train import fit
from tests.factories.people import People
from tests.support.risk_engine import YUAN, decisions, in_force, transfer


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frauds: large payments to a new payee (what the engine records as features)."""
    rnd = np.random.default_rng(7)
    n = 3000
    amount = rnd.integers(100, 2_000_000, n)
    new_payee = rnd.integers(0, 2, n)
    fraud = ((amount > 300_000) & (new_payee == 1)).astype(int)
    frame = pd.DataFrame(
        {"t": np.arange(n), "amount": amount, "new_payee": new_payee, "fraud": fraud}
    )
    out = tmp_path_factory.mktemp("model")
    fit(labelled(frame, label="fraud", time="t")).save(out)
    return out


@pytest.fixture
def client(platform: Platform, model_dir: Path) -> Iterator[TestClient]:
    platform.risk_engine.model = load_model(model_dir)
    with TestClient(create_app(platform, background=False)) as client:
        yield client


def test_the_model_score_is_a_feature_and_a_floor_of_the_decision_score(
    client: TestClient, platform: Platform
) -> None:
    people = People(client, platform)
    alice, bob, carol = people.register("爱丽丝"), people.register("鲍勃"), people.register("卡罗")
    people.fund(alice, 100_000 * YUAN)
    in_force(
        platform, name="model_says", condition="model_score >= 0.5", action="block", reason="model"
    )
    assert transfer(client, alice, bob, "20.00", "small").status_code == 201
    small = decisions(platform)[-1]
    assert small.features["model_score"] < 0.5
    assert small.action == "allow"
    refused = transfer(client, alice, carol, "4000.00", "large")
    assert refused.json()["error"]["code"] == "payment_refused_risk"
    large = decisions(platform)[-1]
    assert large.features["model_score"] >= 0.5
    assert (large.action, large.reasons) == ("block", ["model"])
    assert large.score >= 100 * large.features["model_score"] - 1e-3
