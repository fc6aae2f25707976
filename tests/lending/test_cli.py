"""``rongbank lending eod``: runs the dates not yet run, once each."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.platform import Platform
from rongbank.settings import Settings, get_settings
from tests.factories.loans import Borrowers, assert_book_matches_loans


def test_eod_runs_yesterday_once_and_refuses_a_date_to_come(
    fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    platform = Platform.connect(fresh_db, Settings(), group_commit=False)
    try:
        borrowers = Borrowers(platform)
        with platform.transaction() as session:
            account = borrowers.person(session)
            borrowers.lend(session, account, 1_200_000, rate=1200)
        today = platform.loans.business_day()

        def eod(*args: str) -> tuple[int, str]:
            result = CliRunner().invoke(cli, ["lending", "eod", *args], env={"COLUMNS": "200"})
            return result.exit_code, result.output

        code, output = eod()
        assert code == 0, output
        assert output.startswith(f"{today - timedelta(days=1)}: accrued 0.00 interest")
        code, output = eod()
        first, head = output.splitlines()
        assert (code, first) == (0, f"{today - timedelta(days=1)}: already run, nothing changed.")
        assert head.startswith("Audit chain head: ")  # printed by every end of day
        code, output = eod("--date", str(today + timedelta(days=1)))
        assert (code, "has not begun yet" in output) == (2, True)
        code, output = eod("--date", str(today))
        assert code == 0
        assert output.startswith(f"{today}: accrued 0.00 interest")  # lent today: none yet
        with platform.transaction() as session:
            runs = session.execute(text("SELECT count(*) FROM lending_eod_runs")).scalar_one()
            assert runs == 2
            assert_book_matches_loans(session, platform.ledger)
    finally:
        platform.close()
