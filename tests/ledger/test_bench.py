"""The ledger benchmark, run small: every path measures something, and the ledger
balances afterwards."""

from __future__ import annotations

import json

from rongbank.ledger import bench


def test_small_run_reports_every_path_and_a_balanced_ledger() -> None:
    report = bench.run(seconds=1, clients=4, batch_size=50, batch_clients=1, accounts=200)

    for path in report.paths:
        assert path.rate > 0, path
        assert path.operations > 0, path
        assert path.failed == 0, path
        assert 0 < path.p50_ms <= path.p99_ms, path
    assert report.ledger.balanced
    assert set(report.ledger.trial_balance.values()) == {0}
    assert report.ledger.entries_found == report.ledger.entries_expected
    assert report.ledger.problems == {}
    assert report.ledger.sound

    data = json.loads(json.dumps(report.to_json()))
    assert {
        "seconds",
        "clients",
        "batch_size",
        "batch_clients",
        "accounts",
        "pgbench_scale",
        "machine",
        "paths",
        "ratios",
        "goals",
        "ledger",
    } <= set(data)
    assert data["seconds"] == 1
    assert data["clients"] == 4
    assert data["machine"]["cpu_count"] > 0
    assert data["machine"]["postgres_version"].startswith("PostgreSQL")
    assert data["machine"]["synchronous_commit"] == "on"
    assert set(data["paths"]) == {"pgbench", "group_commit", "single_tx", "batched", "floor"}
    assert set(data["ratios"]) == {"group_commit", "single_tx", "batched", "floor"}
    assert {g["path"] for g in data["goals"]} == {"batched", "group_commit"}
    assert data["ledger"]["trial_balance"] == {"CNY": 0}

    text = bench.render(report)
    assert "pgbench" in text
    assert "PASS" in text or "MISS" in text
