"""``rongbank up --workers 2``: two API processes behind one port on one embedded
PostgreSQL. Money moves through whichever takes a connection, a chat message sent
to a socket of one reaches a socket of the other, the periodic jobs run in one of
them, and stopping the parent stops both and the database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import text
from websockets.sync.client import ClientConnection, connect

from rongbank.cli.platform import open_platform
from rongbank.platform import Platform
from tests.factories.people import People
from tests.support.served import stop_served
from tests.test_cli import free_port, postgres_running, wait_until_up

pytestmark = pytest.mark.slow

WAIT_S = 60.0  # a guard against hanging, not a measurement
WS = "/api/v1/chat/ws"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RONGBANK_")}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "rongbank.cli.main", "up", "--workers", "2"),
            *("--data-dir", str(data_dir), "--port", str(port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "RONGBANK_AUDIT_SEAL_INTERVAL_SECONDS": "0.2"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base, data_dir, process
    finally:
        stop_served(process)  # a test that failed before its own stop leaves nothing running


def gateway_of(platform: Platform, customer_id: int) -> set[str]:
    """The gateways (API processes) where the customer has a socket open."""
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT g.name FROM chat_presence p JOIN chat_gateway g ON g.id = p.gateway_id "
                "WHERE p.member_kind = 'customer' AND p.member_id = :c"
            ),
            {"c": customer_id},
        ).scalars()
        return set(rows)


def socket(base: str, who: dict[str, Any], sockets: ExitStack) -> ClientConnection:
    ws = sockets.enter_context(
        connect(
            base.replace("http", "ws") + WS,
            additional_headers=who["headers"],
            open_timeout=WAIT_S,
        )
    )
    # Answered once the socket is subscribed and counted.
    ws.send(json.dumps({"type": "sync", "since": "", "id": "hello"}))
    while json.loads(ws.recv(timeout=WAIT_S)).get("id") != "hello":
        pass
    return ws


def pushed_message(ws: ClientConnection, conversation: int) -> dict[str, Any]:
    """The next message pushed in ``conversation`` (the bank's own notices, such as
    money received, come in conversations of their own, at any time)."""
    while True:
        event = json.loads(ws.recv(timeout=WAIT_S))
        if event["type"] == "message" and event["message"]["conversation_id"] == conversation:
            message: dict[str, Any] = event["message"]
            return message


def test_two_workers_serve_one_bank(
    served: tuple[str, Path, subprocess.Popen[str]],
) -> None:
    base, data_dir, process = served
    with open_platform(data_dir) as platform:
        people = People(httpx.Client(base_url=base, timeout=WAIT_S), platform)
        alice, bob = people.register("张三"), people.register("李四")
        people.fund(alice, 100_000)

        # Each request on a connection of its own: the kernel hands each to a worker.
        # Ten: the password-free allowance of a day.
        for n in range(10):
            paid = httpx.post(
                f"{base}/api/v1/me/transfers",
                json={
                    "client_id": f"t{n}",
                    "source": alice["account"]["number"],
                    "destination": bob["account"]["number"],
                    "amount": "1.00",
                },
                headers=alice["headers"],
                timeout=WAIT_S,
            )
            assert paid.status_code == 201, paid.text
        accounts = httpx.get(f"{base}/api/v1/me/accounts", headers=bob["headers"]).json()
        assert [a["available"] for a in accounts] == ["10.00"]
        with platform.transaction() as session:
            assert platform.ledger.verify(session) == {}

        with platform.transaction() as session:
            conversation = platform.chat.contacts.open_direct(
                session, customer_id=alice["customer_id"], other_id=bob["customer_id"]
            ).conversation.id
        with ExitStack() as sockets:
            alice_ws = socket(base, alice, sockets)
            (alices,) = gateway_of(platform, alice["customer_id"])
            bob_ws = socket(base, bob, sockets)
            for _ in range(30):  # until one of bob's lands on the other worker
                if gateway_of(platform, bob["customer_id"]) - {alices}:
                    break
                bob_ws = socket(base, bob, sockets)
            (bobs,) = gateway_of(platform, bob["customer_id"]) - {alices}
            assert bobs != alices
            send = {"type": "send", "conversation_id": conversation, "client_id": "hi"}
            alice_ws.send(json.dumps({**send, "text": "你好", "id": "s1"}))
            assert pushed_message(bob_ws, conversation)["body"] == "你好"

        # The audit sealer (every 0.2 s) sealed every row, run by one worker.
        deadline = time.monotonic() + WAIT_S
        while True:
            with platform.transaction() as session:
                unsealed = session.execute(
                    text("SELECT count(*) FROM audit_log WHERE seal_seq IS NULL")
                ).scalar_one()
                assert platform.audit.verify(session) == []
            if unsealed == 0:
                break
            assert time.monotonic() < deadline, "the audit rows were not sealed"
            time.sleep(0.2)

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=WAIT_S)
    assert process.returncode == 0, output
    assert "Serving:   2 API processes" in output
    # One leader while both served; at the stop the leader lets go at once, and the
    # other worker, not yet told to stop, may take the lead for its last moments.
    serving, stopping, _ = output.partition("Stopping parent process")
    assert stopping, output
    assert serving.count("runs the periodic jobs") == 1, output
    assert output.count("Application shutdown complete") == 2, output
    assert not postgres_running(data_dir), output
