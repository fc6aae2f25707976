"""The failover test (issue 22): transfers at load through HAProxy, the primary's
PostgreSQL killed with SIGKILL, Patroni promotes the synchronous standby, the load
goes on; every acknowledged transfer is in the ledger once, the money adds up, the
ledger verifies, and the time without writes is printed (the goal of under 15 s is
reported by ``rongbank cluster failover-bench``, not asserted: the machine is
shared). One small cluster for the module; nothing of it is left running."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from rongbank.cluster import bench
from rongbank.cluster.config import free_layout
from rongbank.cluster.supervisor import Cluster, missing_tools

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(missing_tools()),
        reason=f"a cluster needs {', '.join(missing_tools())} (.ci/run installs them)",
    ),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    layout = free_layout(nodes=3, apis=2, nats=2)
    with Cluster(root, layout, bench.app_secrets, api_env=bench.api_env(root / "load")) as c:
        yield c


def test_acknowledged_transfers_survive_the_primary_killed(cluster: Cluster) -> None:
    first = cluster.leader()
    report = bench.run(cluster, clients=2, before_s=1.5, after_s=1.5)
    print(report.render())  # the write gap, for the log (-s)
    assert report.killed == f"pg{first}"
    if report.promoted is None:
        # Seen once at a load average of 20: no standby was in sync when the primary
        # died, and Patroni (rightly) promotes none that may lack acknowledged commits;
        # it restarted the primary in place. What the customers were told still holds.
        assert cluster.leader() == first
        assert report.after_kill > 0, "the load did not go on after the restart"
    else:
        assert report.promoted != report.killed
        assert report.after_promotion > 0, "the load did not go on after the promotion"
    assert report.lost == []
    assert report.wrong_entry == []
    assert report.refused == []
    assert report.errors == []
    assert report.in_ledger == report.acknowledged == report.sent  # each answered, once
    assert report.money_conserved
    assert not any(report.ledger_problems.values())


def test_a_chat_event_published_on_one_nats_server_reaches_the_other(cluster: Cluster) -> None:
    """The API processes each talk to their own NATS server; the routes carry the
    chat fan-out between them."""

    async def across() -> bytes:
        ports = [cluster.layout.nats_client(i) for i in range(cluster.layout.nats)]
        hearing = await nats.connect(f"nats://127.0.0.1:{ports[0]}")
        telling = await nats.connect(f"nats://127.0.0.1:{ports[1]}")
        try:
            heard = await hearing.subscribe("rongbank.test.route")
            await hearing.flush()
            for _ in range(50):  # until the route has carried the subscription over
                await telling.publish("rongbank.test.route", b"hello")
                await telling.flush()
                with contextlib.suppress(TimeoutError):
                    message = await heard.next_msg(timeout=0.2)
                    return bytes(message.data)
            return b""
        finally:
            await hearing.close()
            await telling.close()

    assert asyncio.run(across()) == b"hello"


def test_stopping_leaves_no_process(cluster: Cluster) -> None:
    pids = cluster.processes()
    # etcd, 3 Patroni, 2 NATS, 2 API, HAProxy, and PostgreSQL on the members running
    # now (at least the primary: the others may be rewinding or restarting)
    assert len(pids) >= 1 + 3 + 2 + 2 + 1 + 1
    cluster.stop()
    assert [pid for pid in pids if _alive(pid)] == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
