"""One of two API processes killed (``kill -9``) under payment and chat load.

``rongbank up --workers 2`` with its chat fan-out over a real ``nats-server``. Payers
send transfers with idempotency keys, each retried with its key after a lost
connection; a sender sends chat messages with client ids, resending what was not
acknowledged after a reconnection; a reader takes pushes and, once reconnected,
syncs from its cursor. The worker holding the reader's socket is killed while both
loads run. Afterwards every acknowledged transfer is in the ledger exactly once and
the ledger verifies, every acknowledged message is stored once and reached the
reader, and uvicorn's supervisor has replaced the dead worker.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psutil
import pytest
from sqlalchemy import text
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from rongbank.chat.bench import nats_server, nats_server_binary
from rongbank.cli.platform import open_platform
from rongbank.platform import Platform
from tests.factories.people import People
from tests.support.served import served_bank

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(nats_server_binary() is None, reason="needs nats-server (.ci/run)"),
]

WAIT_S = 120.0  # a guard against hanging, not a measurement
WS = "/api/v1/chat/ws"
PAYERS = 3
TRANSFERS = 10  # each payer's, within the password-free allowance of a day
MESSAGES = 20
AMOUNT = 100  # minor units
SETTINGS = {
    "RONGBANK_CHAT_SEND_BURST": str(2 * MESSAGES),  # one sender sends them all
    # A dead worker must be found dead, not by a health check that went unanswered.
    "RONGBANK_WORKER_HEALTHCHECK_SECONDS": "3600",
}


@dataclass
class Load:
    """What the clients were told, shared by their threads."""

    killed: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    transfers: dict[str, int] = field(default_factory=dict)
    """Acknowledged transfers: client id -> ledger entry id."""
    retries: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    """Acknowledged messages: client id -> seq."""
    read: dict[int, str] = field(default_factory=dict)
    """Messages the reader got (pushed or synced): seq -> client id."""
    reconnects: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        with self.lock:
            self.reconnects[what] = self.reconnects.get(what, 0) + 1


def _until_killed_halfway(load: Load, n: int, total: int) -> None:
    # Half the load before the kill and half after, whatever the machine's speed.
    if n == total // 2:
        load.killed.wait(WAIT_S)


def pay(base: str, payer: dict[str, Any], payee: str, load: Load, tag: str) -> None:
    for n in range(TRANSFERS):
        _until_killed_halfway(load, n, TRANSFERS)
        key = f"{tag}-{n}"
        body = {
            "client_id": key,
            "source": payer["account"]["number"],
            "destination": payee,
            "amount": f"{AMOUNT / 100:.2f}",
        }
        deadline = time.monotonic() + WAIT_S
        retried = False
        while True:
            try:
                # A connection of its own: the kernel hands each to either worker.
                answer = httpx.post(
                    f"{base}/api/v1/me/transfers",
                    json=body,
                    headers=payer["headers"],
                    timeout=WAIT_S,
                )
            except httpx.TransportError:
                # The outcome is unknown (the worker may have died after the commit):
                # the same key again, which is what it is for.
                assert time.monotonic() < deadline, f"transfer {key} never answered"
                with load.lock:
                    load.retries += 1
                retried = True
                time.sleep(0.05)
                continue
            # A retry whose first try was made before its answer was lost (the worker
            # killed between the commit and the reply) answers the original: 200.
            made = {(201, "created"), (200, "exists")} if retried else {(201, "created")}
            assert (answer.status_code, answer.json().get("status")) in made, answer.text
            with load.lock:
                load.transfers[key] = answer.json()["entry_id"]
            break


def open_socket(base: str, who: dict[str, Any], sockets: ExitStack) -> ClientConnection:
    """A socket to whichever worker takes it, retried while one is dying."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            return sockets.enter_context(
                connect(
                    base.replace("http", "ws") + WS,
                    additional_headers=who["headers"],
                    open_timeout=WAIT_S,
                )
            )
        except (OSError, InvalidHandshake, TimeoutError):  # refused, reset, or cut short
            assert time.monotonic() < deadline, "no worker took the socket"
            time.sleep(0.05)


def ask(ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
    """Send a frame and return its answer, keeping the pushes met on the way."""
    ws.send(json.dumps(frame))
    while True:
        event: dict[str, Any] = json.loads(ws.recv(timeout=WAIT_S))
        if event.get("id") == frame["id"]:
            return event


def send_messages(base: str, sender: dict[str, Any], conversation: int, load: Load) -> None:
    with ExitStack() as sockets:
        _send_messages(base, sender, conversation, load, sockets)


def _send_messages(
    base: str, sender: dict[str, Any], conversation: int, load: Load, sockets: ExitStack
) -> None:
    unacked: dict[str, str] = {}
    ws = open_socket(base, sender, sockets)
    for n in range(MESSAGES):
        _until_killed_halfway(load, n, MESSAGES)
        unacked[f"m{n}"] = f"第{n}条"
        while unacked:
            try:
                for client_id, body in unacked.items():  # resent with the same client id
                    frame = {"type": "send", "conversation_id": conversation, "text": body}
                    answer = ask(ws, {**frame, "client_id": client_id, "id": client_id})
                    assert answer["type"] == "ack", answer
                    with load.lock:
                        load.sent[client_id] = answer["message"]["seq"]
                    del unacked[client_id]
                    break
            except (ConnectionClosed, OSError):
                load.note("sender")
                ws = open_socket(base, sender, sockets)


def read_messages(base: str, reader: dict[str, Any], load: Load, ready: threading.Event) -> None:
    with ExitStack() as sockets:
        _read_messages(base, reader, load, ready, sockets)


def _read_messages(
    base: str, reader: dict[str, Any], load: Load, ready: threading.Event, sockets: ExitStack
) -> None:
    def take(message: dict[str, Any]) -> None:
        with load.lock:
            seen = load.read.setdefault(message["seq"], message["client_id"])
        assert seen == message["client_id"], (seen, message)

    cursor = ""

    def sync(ws: ClientConnection) -> None:
        nonlocal cursor
        more = True
        while more:
            answer = ask(ws, {"type": "sync", "since": cursor, "id": f"sync-{cursor}"})
            assert answer["type"] == "ack", answer
            for batch in answer["conversations"]:
                for message in batch["messages"]:
                    take(message)
            more = any(batch["more"] for batch in answer["conversations"])
            cursor = answer["cursor"]

    ws = open_socket(base, reader, sockets)
    sync(ws)  # answered once the socket is subscribed
    ready.set()
    while not load.done.is_set():
        try:
            event = json.loads(ws.recv(timeout=0.2))
        except TimeoutError:
            continue
        except (ConnectionClosed, OSError):
            load.note("reader")
            ws = open_socket(base, reader, sockets)
            sync(ws)  # what was pushed while it was away
            continue
        if event["type"] == "message":
            take(event["message"])


def run_thread(load: Load, target: Callable[..., None], *args: Any) -> threading.Thread:
    def guarded() -> None:
        try:
            target(*args)
        except BaseException as error:  # reported by the test, not lost in the thread
            with load.lock:
                load.errors.append(f"{target.__name__}: {error!r}")
            load.killed.set()

    thread = threading.Thread(target=guarded, daemon=True)
    thread.start()
    return thread


def gateway_pids(platform: Platform, customer_id: int) -> set[int]:
    with platform.transaction() as session:
        names = session.execute(
            text(
                "SELECT g.name FROM chat_presence p JOIN chat_gateway g ON g.id = p.gateway_id "
                "WHERE p.member_kind = 'customer' AND p.member_id = :c"
            ),
            {"c": customer_id},
        ).scalars()
        return {int(name.rpartition(":")[2]) for name in names}


def workers(parent: int) -> set[int]:
    """uvicorn's worker processes (spawned: ``multiprocessing.spawn``'s entry point)."""
    found = set()
    for child in psutil.Process(parent).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def wait_for(what: str, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not ready():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.fixture
def nats_url() -> Iterator[str]:
    with nats_server() as url:
        yield url


def test_a_worker_killed_under_load_loses_nothing_acknowledged(
    tmp_path: Path, nats_url: str
) -> None:
    with (
        served_bank(tmp_path, workers=2, env=SETTINGS | {"RONGBANK_NATS_URL": nats_url}) as (
            base,
            process,
        ),
        open_platform(tmp_path / "data") as platform,
    ):
        people = People(httpx.Client(base_url=base, timeout=WAIT_S), platform)
        payee, reader = people.register("李四"), people.register("王五")
        payers = [people.register(f"张{n}") for n in range(PAYERS)]
        for payer in payers:
            people.fund(payer, 100_000)
        with platform.transaction() as session:
            conversation = platform.chat.contacts.open_direct(
                session, customer_id=payers[0]["customer_id"], other_id=reader["customer_id"]
            ).conversation.id

        load = Load()
        ready = threading.Event()
        threads = [run_thread(load, read_messages, base, reader, load, ready)]
        assert ready.wait(WAIT_S), load.errors
        (victim,) = gateway_pids(platform, reader["customer_id"])
        assert victim in workers(process.pid)
        threads += [
            run_thread(load, send_messages, base, payers[0], conversation, load),
            *(
                run_thread(load, pay, base, payer, payee["account"]["number"], load, f"p{n}")
                for n, payer in enumerate(payers)
            ),
        ]

        def under_way() -> bool:
            with load.lock:
                return bool(load.errors) or (len(load.transfers) >= 2 and len(load.read) >= 2)

        wait_for("the load did not start", under_way)
        os.kill(victim, signal.SIGKILL)
        load.killed.set()

        for thread in threads[1:]:
            thread.join(WAIT_S)
        assert not load.errors, load.errors
        wait_for("the reader never got every message", lambda: len(load.read) >= MESSAGES)
        load.done.set()
        threads[0].join(WAIT_S)
        assert not load.errors, load.errors
        # The reader's worker died under it: it reconnected and synced.
        assert load.reconnects.get("reader", 0) >= 1, load.reconnects

        # Every acknowledged transfer once, nothing else, and the ledger whole.
        assert len(load.transfers) == PAYERS * TRANSFERS
        with platform.transaction() as session:
            entries = session.execute(
                text(
                    "SELECT e.client_id, e.id FROM ledger_entry e "
                    "JOIN ledger_posting p ON p.entry_id = e.id "
                    "JOIN e_account a ON a.ledger_account_id = p.account_id WHERE a.number = :n"
                ),
                {"n": payee["account"]["number"]},
            ).all()
            assert sorted(e.id for e in entries) == sorted(load.transfers.values())
            assert platform.ledger.verify(session) == {}
        balance = httpx.get(f"{base}/api/v1/me/accounts", headers=payee["headers"]).json()
        assert [a["available"] for a in balance] == [f"{PAYERS * TRANSFERS * AMOUNT / 100:.2f}"]

        # Every acknowledged message stored once, at the seq acknowledged, and read.
        with platform.transaction() as session:
            rows = session.execute(
                text(
                    "SELECT client_id, seq FROM chat_message "
                    "WHERE conversation_id = :c AND kind = 'text'"
                ),
                {"c": conversation},
            ).all()
        stored = {row.client_id: row.seq for row in rows}
        assert len(rows) == len(stored) == MESSAGES
        assert stored == load.sent
        assert {seq: client_id for client_id, seq in load.sent.items()} == {
            seq: client_id for seq, client_id in load.read.items() if client_id in stored
        }

        # uvicorn's supervisor replaced the dead worker, and both serve.
        wait_for("the dead worker was not replaced", lambda: len(workers(process.pid)) == 2)
        assert victim not in workers(process.pid)

    # Stopped, the bank leaves nothing running: PostgreSQL removes this file as it stops.
    assert process.returncode == 0
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists()
