"""``rongbank bench lending-eod`` on a small book: the figures are there, the second
run of a date does nothing, and the books agree after."""

from __future__ import annotations

import pytest

from rongbank.lending import bench

pytestmark = pytest.mark.slow


def test_a_small_book(fresh_db: str) -> None:
    report = bench.run(loans=300, borrowers=30, seconds=1, clients=2, database_url=fresh_db)
    assert report.sound
    assert report.instalments == 300 * bench.TERM
    first, second, again = report.runs
    assert not first.figures["already_run"]
    assert first.figures["collected_loans"] > 0
    assert first.figures["overdue_loans"] > 0  # the delinquent tenth
    assert again.figures["already_run"]
    assert again.business_date == second.business_date
    assert report.pgbench.rate > 0
    text = bench.render(report)
    assert "goal: <= 60 s" in text
    assert "lending accounts match the loans: True" in text
