"""``rongbank risk rules ...`` and ``rongbank risk backtest`` as analysts run them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from rongbank.auth.tools import PaymentRequest
from rongbank.cli.main import app as cli
from rongbank.platform import Platform
from rongbank.settings import Settings, get_settings
from tests.factories.accounts import People

pytestmark = pytest.mark.slow


@pytest.fixture
def bank(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    platform = Platform.connect(fresh_db, Settings(), group_commit=False)
    try:
        with platform.transaction() as session:
            for n in (1, 2):
                platform.accounts.create_staff(
                    session, username=f"analyst{n}", name="风控", role="risk_analyst"
                )
        yield platform
    finally:
        platform.close()
        get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["risk", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def payments(platform: Platform, amounts: list[int]) -> None:
    """Payments the engine decided (and recorded) as they were made."""
    with platform.transaction() as session:
        payer = People(platform.accounts, platform.ledger).person(session)
        for n, amount in enumerate(amounts):
            request = PaymentRequest(
                "transfer", payer.number, f"622{n:016d}", amount, "CNY", f"k{n}"
            )
            platform.risk_engine.assess(session, payer.customer_id, request)


def test_a_rule_is_added_approved_by_another_and_backtested(bank: Platform, tmp_path: Path):
    payments(bank, [10_000, 300_000, 900_000])
    rule = tmp_path / "big.toml"
    rule.write_text(
        'name = "big_new_payee"\ncondition = "new_payee and amount >= 200000"\n'
        'action = "review"\nreason = "big_new_payee"\nscore = 40\n'
    )
    code, output = run("backtest", "--rule", str(rule), "--since", "2000-01-01", "--json")
    assert code == 0, output
    found = json.loads(output)
    assert (found["decisions"], found["hits"], found["hit_amount"]) == (3, 2, 1_200_000)
    # The large one was challenged by the baseline; a review would have stopped both.
    assert (found["would_stop"], found["would_stop_amount"]) == (2, 1_200_000)

    code, output = run("rules", "add", str(rule), "--by", "analyst1")
    assert code == 0, output
    with bank.transaction() as session:
        rule_id = session.execute(
            text("SELECT id FROM risk_rule WHERE name = 'big_new_payee'")
        ).scalar_one()
    code, output = run("rules", "approve", str(rule_id), "--by", "analyst1")
    assert (code, "another analyst" in output) == (2, True)
    code, output = run("rules", "approve", str(rule_id), "--by", "analyst2")
    assert code == 0, output
    code, output = run("rules", "list", "--json")
    listed = {r["name"]: r["status"] for r in json.loads(output)}
    assert listed == {"new_payee_large": "active", "big_new_payee": "active"}
    with bank.transaction() as session:
        actions = session.execute(
            text("SELECT action, result FROM audit_log WHERE action LIKE 'risk.rule.%' ORDER BY id")
        ).all()
    assert [tuple(a) for a in actions] == [
        ("risk.rule.add", "ok"),
        ("risk.rule.approve", "refused"),
        ("risk.rule.approve", "ok"),
    ]

    code, output = run("backtest", "--rule", str(rule_id), "--since", "2000-01-01", "--json")
    assert json.loads(output)["hits"] == 2
    code, output = run("rules", "shadow", str(rule_id), "--by", "analyst2")
    assert code == 0
    assert "pending" in output
    code, output = run("rules", "disable", str(rule_id), "--by", "analyst1")
    assert code == 0
    assert "disabled" in output


def test_a_rule_naming_no_feature_is_refused(bank: Platform, tmp_path: Path):
    rule = tmp_path / "bad.toml"
    rule.write_text('name = "bad"\ncondition = "__import__(\'os\')"\naction = "block"\n')
    code, output = run("rules", "add", str(rule), "--by", "analyst1")
    assert code == 2
    assert "cannot be read" in output or "no feature" in output
