"""The chat benchmark, run small: real clients, servers and PostgreSQL; every
message sent is acknowledged, stored and pushed to its recipient, and the figures
come out in JSON and text."""

from __future__ import annotations

import json

import pytest

from rongbank.chat import bench


def _check(report: bench.ChatBenchReport, *, clients: int) -> None:
    assert report.connected == clients
    assert report.sent == report.acked == report.delivered == report.stored > 0
    assert report.refused == {}
    assert report.dropped == {}
    assert report.sound
    assert 0 < report.p50_ms <= report.p99_ms <= report.max_ms
    assert 0 < report.ack_p50_ms <= report.ack_p99_ms
    assert report.achieved_rate > 0

    data = json.loads(json.dumps(report.to_json()))
    assert data["connected"] == clients
    assert data["achieved_rate"] == report.achieved_rate
    assert data["sound"] is True
    assert {g["goal"] for g in data["goals"]} == {goal for goal, _ in report.goals}
    assert data["machine"]["postgres_version"].startswith("PostgreSQL")

    text = bench.render(report)
    assert "Delivery latency: p50" in text
    assert "Check: OK" in text


def test_small_run_delivers_every_message() -> None:
    report = bench.run(clients=10, rate=40, seconds=1)

    assert report.bus == "in-process"
    _check(report, clients=10)


@pytest.mark.skipif(bench.nats_server_binary() is None, reason="nats-server is not installed")
def test_small_run_across_two_servers_through_nats() -> None:
    report = bench.run(clients=10, rate=40, seconds=1, servers=2)

    assert report.bus == "nats"
    _check(report, clients=10)
