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


# Only a run that lost something waits this long for it: a busy machine that stalls
# the servers for seconds still delivers, and the run waits for it.
PATIENT_S = 120.0


def test_small_run_delivers_every_message(fresh_db: str) -> None:
    report = bench.run(
        clients=10, rate=40, seconds=1, drain_idle_s=PATIENT_S, database_url=fresh_db
    )

    assert report.bus == "in-process"
    _check(report, clients=10)


@pytest.mark.skipif(bench.nats_server_binary() is None, reason="nats-server is not installed")
def test_small_run_across_two_servers_through_nats(fresh_db: str) -> None:
    report = bench.run(
        clients=10,
        rate=40,
        seconds=1,
        servers=2,
        drain_idle_s=PATIENT_S,
        database_url=fresh_db,
    )

    assert report.bus == "nats"
    _check(report, clients=10)


class TestTheRunWaitsForWhatIsOwed:
    """A message's ack (to its sender's socket) and its push (to the recipient's) come
    in either order; the run ends only once both have come for every send."""

    def test_a_push_before_its_ack_leaves_the_ack_owed(self) -> None:
        load = bench._Load(total=2)
        load.sent = 2
        load.ack(0, 1.0)
        load.push(0, 1.1)
        load.push(1, 1.2)  # the gateway hands a message's push over before its ack
        assert not load.settled
        load.ack(1, 1.3)
        assert load.settled
        assert (load.acked, load.delivered) == (2, 2)

    def test_an_ack_before_its_push_leaves_the_push_owed(self) -> None:
        load = bench._Load(total=1)
        load.sent = 1
        load.ack(0, 1.0)
        assert not load.settled
        load.push(0, 1.1)
        assert load.settled

    def test_a_refused_send_is_answered_and_owes_no_push(self) -> None:
        load = bench._Load(total=2)
        load.sent = 2
        load.refuse("chat_rate_limited")
        assert not load.settled
        load.ack(1, 1.0)
        load.push(1, 1.0)
        assert load.settled
        assert load.refused == {"chat_rate_limited": 1}

    def test_each_arrival_counts_once(self) -> None:
        load = bench._Load(total=1)
        load.sent = 1
        for _ in range(2):
            load.ack(0, 1.0)
            load.push(0, 1.0)
        assert (load.answered, load.acked, load.delivered, load.progress) == (1, 1, 1, 2)
