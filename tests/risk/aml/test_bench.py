"""``rongbank risk aml bench`` on a small history: every planted pattern is found, the
rerun of the last day finds nothing new, the ledger balances."""

from __future__ import annotations

import pytest

from rongbank.risk.aml import bench

pytestmark = pytest.mark.slow


def test_a_small_history(fresh_db: str) -> None:
    report = bench.run_aml_bench(
        transfers=5000, days=10, planted=3, seconds=1, clients=2, database_url=fresh_db
    )
    assert report.sound
    assert report.planted_found == dict.fromkeys(bench.PATTERNS, 3)
    whole, again = report.runs
    assert whole.movements > 5000  # most transfers touch two customers
    assert (again.reports, again.findings) == (0, {})
    assert report.pgbench.rate > 0
    text = bench.render(report)
    assert "goal: <= 300 s" in text
    assert "structuring 3/3" in text
