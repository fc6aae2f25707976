"""The audit chain's head in each end-of-day report (issue 22): removing the newest
audit rows leaves the rest of the chain intact, so ``audit verify`` alone passes;
checked against the head a report printed, it does not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from rongbank.cli.main import app
from rongbank.cli.platform import open_platform

pytestmark = pytest.mark.slow

runner = CliRunner()
HEAD = re.compile(r"^Audit chain head: (\d+:[0-9a-f]{64}) ", re.MULTILINE)


def test_removing_the_newest_audit_rows_is_found_by_the_reports_head(tmp_path: Path) -> None:
    bank = str(tmp_path / "bank")
    with open_platform(tmp_path / "bank") as platform:
        for n in range(3):
            with platform.transaction() as session:
                platform.audit.record(
                    session, actor_kind="operator", actor_id=None, action="test.work", target=str(n)
                )
        for report in (["eod"], ["lending", "eod"]):
            ran = runner.invoke(app, [*report, "--data-dir", bank])
            assert ran.exit_code == 0, ran.output
            found = HEAD.search(ran.output)
            assert found, ran.output
        head = found.group(1)
        assert (
            runner.invoke(app, ["audit", "verify", "--data-dir", bank, "--head", head]).exit_code
            == 0
        )

        with platform.transaction() as session:  # someone with the database's keys
            session.execute(text("SET LOCAL session_replication_role = replica"))  # no guard
            session.execute(
                text(
                    "DELETE FROM audit_log WHERE id IN "
                    "(SELECT id FROM audit_log ORDER BY id DESC LIMIT 2)"
                )
            )

        alone = runner.invoke(app, ["audit", "verify", "--data-dir", bank])
        assert alone.exit_code == 0, alone.output  # the chain that is left is intact
        checked = runner.invoke(app, ["audit", "verify", "--data-dir", bank, "--head", head])
        assert checked.exit_code == 1
        assert "is missing" in checked.output
