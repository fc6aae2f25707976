"""``rongbank bench risk``, run small: the e-Pay payment with and without the fraud
engine on one server beside pgbench, and the engine's own time per decision."""

from __future__ import annotations

import pytest

from rongbank.api import risk_bench
from rongbank.auth.stepup import NewPayeeRiskCheck
from rongbank.platform import Platform
from rongbank.settings import Settings

pytestmark = pytest.mark.slow


def test_the_engine_is_measured_against_the_payment_without_it(fresh_db: str) -> None:
    report = risk_bench.run(
        seconds=1,
        clients=2,
        workers=1,
        merchants=2,
        customers=4,
        decisions=40,
        aml_transfers=1000,
        database_url=fresh_db,
    )
    assert report.pgbench.rate > 0
    for measured in (report.without, report.with_engine):
        assert measured.transfers > 0, measured
        assert measured.failed == 0, measured
    assert report.cost == 1 - report.with_engine.rate / report.without.rate
    assert report.engine.decisions == 40
    assert 0 < report.engine.p50_ms <= report.engine.p99_ms
    assert report.engine.cpu_mean_ms > 0
    figures = report.to_json()
    assert figures["aml"]["transfers"] == 1000  # the AML batch on the same server
    assert figures["aml"]["wall_s"] > 0
    assert set(figures["paths"]) == {"pgbench", "without_engine", "with_engine"}
    assert "Throughput cost of the engine" in risk_bench.render(report)
    assert "1,000 ledger transfers in" in risk_bench.render(report)


def test_without_the_engine_the_old_check_decides_alone(fresh_db: str) -> None:
    """What "without" measures: the new-payee check that was the default before."""
    for enabled in (True, False):
        settings = Settings(database_url=fresh_db, risk_engine_enabled=enabled)
        platform = Platform.connect(fresh_db, settings, group_commit=False)
        try:
            old = isinstance(platform.stepup.risk, NewPayeeRiskCheck)
            assert old is not enabled
        finally:
            platform.close()
