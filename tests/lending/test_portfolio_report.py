"""``rongbank lending portfolio report --out DIR``: the dashboard's figures as PNG charts,
one PDF and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.lending.portfolio import Portfolio
from rongbank.lending.portfolio_report import write_report
from rongbank.platform import Platform
from rongbank.settings import get_settings
from tests.factories.loans import LATE, Borrowers, late_and_good

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_report_draws_the_books_figures(
    platform: Platform, borrowers: Borrowers, tmp_path: Path
) -> None:
    late_and_good(platform, borrowers)
    with platform.transaction() as session:
        figures = Portfolio(roll_months=12).figures(session)

    written = write_report(figures, tmp_path / "report")

    assert sorted(p.name for p in written) == [
        "applications.png",
        "balances.png",
        "portfolio.json",
        "portfolio.pdf",
        "roll_rates.png",
        "vintages.png",
    ]
    for path in written:
        if path.suffix == ".png":
            assert path.read_bytes().startswith(PNG)
    pdf = (tmp_path / "report" / "portfolio.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert b"/Count 4" in pdf  # a page a chart
    data = json.loads((tmp_path / "report" / "portfolio.json").read_text())
    assert data["as_of"] == "2026-05-31"
    assert data["vintages"][-1] == {
        "vintage": "2026-03-01",
        "months_on_book": 2,
        "disbursed": LATE + 600_000,
        "bad": LATE,
    }
    assert data["rolls"][2] == {
        "month": "2026-04-01",
        "source": "1-30",
        "target": "31-60",
        "loans": 1,
        "principal": LATE,
    }


def test_the_command_writes_the_report_of_an_empty_book(
    fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    out = tmp_path / "out"

    result = CliRunner().invoke(cli, ["lending", "portfolio", "report", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert (out / "portfolio.pdf").read_bytes().startswith(b"%PDF")
    assert json.loads((out / "portfolio.json").read_text())["as_of"] is None
    get_settings.cache_clear()
