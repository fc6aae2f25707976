"""The payment benchmark, run small: real HTTP payments are measured beside pgbench,
and every payment answered 201 is in the ledger to the fen."""

from __future__ import annotations

import json

from rongbank.payments import bench


def test_small_run_measures_payments_and_finds_every_one_in_the_ledger(fresh_db: str) -> None:
    report = bench.run(
        seconds=1, clients=2, servers=1, merchants=2, customers=20, database_url=fresh_db
    )

    for path in (report.pgbench, report.pay):
        assert path.rate > 0, path
        assert path.operations > 0, path
        assert path.failed == 0, path
        assert 0 < path.p50_ms <= path.p99_ms, path
    assert report.refusals == {}
    assert report.payments_paid == report.pay.transfers == report.pay.operations
    assert report.answered_fen == report.payable_fen > 0
    assert report.ledger.entries_found == report.ledger.entries_expected == report.pay.transfers
    assert report.ledger.trial_balance == {"CNY": 0}
    assert report.ledger.problems == {}
    assert report.sound

    data = json.loads(json.dumps(report.to_json()))
    assert set(data["paths"]) == {"pgbench", "pay"}
    assert data["machine"]["synchronous_commit"] == "on"
    assert data["ratio"] == report.pay.rate / report.pgbench.rate
    assert data["sound"] is True

    text = bench.render(report)
    assert "payments/s" in text
    assert "pgbench TPC-B" in text
    assert "Payment check: OK" in text
