"""``rongbank risk aml ...`` as an operator runs them, on a committed bank."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.platform import Platform
from rongbank.settings import Settings, get_settings
from tests.factories.liquidity import YUAN, Books

pytestmark = pytest.mark.slow


@pytest.fixture
def bank(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """A person whose 600,000 yuan arrived today through the clearing account."""
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    platform = Platform.connect(fresh_db, Settings(), group_commit=False)
    try:
        with platform.transaction() as session:
            Books(platform, session).person(600_000 * YUAN)
        yield platform
    finally:
        platform.close()
        get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["risk", "aml", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_run_reports_the_day_once_and_exports_it(bank: Platform) -> None:
    today = bank.clock.now().astimezone(BUSINESS_TIME_ZONE).date().isoformat()
    code, output = run("run", "--day", today, "--json")
    assert code == 0, output
    done = json.loads(output)
    assert (done["movements"], done["reports"], done["findings"]) == (1, 1, {})
    code, output = run("run", "--day", today)
    assert code == 0, output
    assert "0 new large-value report(s)" in output
    code, output = run("export", "--day", today)
    assert code == 0, output
    rows = list(csv.DictReader(io.StringIO(output)))
    assert [(r["rule"], r["direction"], r["total"], r["currency"]) for r in rows] == [
        ("natural_domestic_transfer", "in", "600000.00", "CNY")
    ]
    assert rows[0]["article"] == "第五条(三)"


def test_run_refuses_days_in_the_wrong_order_and_a_broken_file(
    bank: Platform, tmp_path: Path
) -> None:
    today = bank.clock.now().astimezone(BUSINESS_TIME_ZONE).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    code, output = run("run", "--since", tomorrow, "--day", today.isoformat())
    assert code == 2
    assert "first must not be after the last" in output
    broken = tmp_path / "aml.toml"
    broken.write_text("[fan]\n")
    code, output = run("run", "--config", str(broken))
    assert code == 2
    assert "aml.toml" in output
