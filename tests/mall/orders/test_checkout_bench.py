"""The checkout benchmark, run small: real HTTP checkouts of three sellers' carts
measured beside pgbench, every one paid into the mall's clearing to the fen."""

from __future__ import annotations

import json

from rongbank.mall.orders import bench


def test_small_run_measures_checkouts_and_finds_every_one_paid(fresh_db: str) -> None:
    report = bench.run(seconds=1, clients=2, workers=1, customers=20, database_url=fresh_db)

    for path in (report.pgbench, report.checkout):
        assert path.rate > 0, path
        assert path.operations > 0, path
        assert path.failed == 0, path
        assert 0 < path.p50_ms <= path.p99_ms, path
    check = report.check
    assert check.refusals == {}
    assert check.answered == check.paid == report.checkout.transfers
    assert check.clearing_fen == check.expected_fen == check.paid * sum(bench.PRICES)
    assert check.units_sold == check.stock_taken == 3 * check.paid
    assert report.ledger.balanced
    assert report.sound
    assert report.api_cpu_ms > 0

    data = json.loads(json.dumps(report.to_json()))
    assert data["x_pgbench"] == round(report.checkout.rate / report.pgbench.rate, 4)
    assert data["sound"] is True
    assert "checkouts/s" in bench.render(report)
