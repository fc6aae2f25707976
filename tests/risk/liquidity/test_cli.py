"""``rongbank risk liquidity ...`` as an operator runs them, on a committed bank."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.platform import Platform
from rongbank.settings import Settings, get_settings
from tests.factories.liquidity import YUAN, Books

pytestmark = pytest.mark.slow


@pytest.fixture
def bank(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """Capital of 100,000 yuan and two customers' 150,000, all in the clearing account."""
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    platform = Platform.connect(fresh_db, Settings(), group_commit=False)
    try:
        with platform.transaction() as session:
            books = Books(platform, session)
            books.capital(100_000 * YUAN)
            books.person(50_000 * YUAN)
            books.enterprise(100_000 * YUAN)
        yield platform
    finally:
        platform.close()
        get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["risk", "liquidity", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_report_prints_the_ratios(bank: Platform) -> None:
    code, output = run("report", "--json")
    assert code == 0, output
    figures = json.loads(output)
    # Outflows: 50,000 x 10% (a new customer) + 100,000 x 20% (insured corporate).
    assert figures["net_outflows"] == 25_000 * YUAN
    assert figures["hqla"] == 250_000 * YUAN
    assert figures["lcr"] == "10.0000"
    code, output = run("report")
    assert code == 0, output
    assert "LCR 1000.00%" in output


def test_report_refuses_a_broken_factors_file(bank: Platform, tmp_path: Path) -> None:
    broken = tmp_path / "factors.toml"
    broken.write_text("[lcr]\n")
    code, output = run("report", "--factors", str(broken))
    assert code == 2
    assert "factors.toml" in output


def test_simulate_without_a_run_takes_nothing(bank: Platform) -> None:
    code, output = run("simulate", "--intensity", "0", "--days", "2", "--json")
    assert code == 0, output
    result = json.loads(output)
    assert result["depositors"] == 2
    assert result["survived"] is True
    assert result["withdrawals"] == {"retail_small": 0, "retail_large": 0, "corporate": 0}
    assert result["lcr_daily"] == [10.0, 10.0, 10.0]


def test_simulate_writes_its_report_and_is_the_same_under_a_seed(
    bank: Platform, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = ("simulate", "--intensity", "500", "--days", "3", "--seed", "4", "--json")
    code, first = run(*args, "--out", str(out))
    assert code == 0, first
    assert {p.name for p in out.iterdir()} == {
        "lcr.png",
        "outflows.png",
        "result.json",
        "report.html",
    }
    assert (out / "lcr.png").read_bytes()[:4] == b"\x89PNG"
    assert "Bank-run simulation" in (out / "report.html").read_text()
    assert run(*args) == (0, first)
    withdrawn = json.loads(first)["withdrawn"]
    # Neither has a tool: 1,000 yuan a day each (password-free), for at most 3 days.
    assert 0 < withdrawn["retail_small"] + withdrawn["corporate"] <= 2 * 3 * 1_000 * YUAN


def test_find_breaking_names_an_intensity(bank: Platform) -> None:
    code, output = run("simulate", "--find-breaking", "--json", "--no-class-limits")
    assert code == 0, output
    result = json.loads(output)
    # Capital and all deposits are in the clearing account: nothing breaks this bank.
    assert result["breaking"] is None
    assert result["survived"] is True
