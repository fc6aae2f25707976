"""Several gateways, each reaching the others' sockets through a shared bus: a real
``nats-server``, or the database's LISTEN/NOTIFY (``chat_fanout=postgres``, what
``rongbank up --workers N`` uses); two API servers (uvicorn, each with its own
platform and bus) over one database, real WebSocket clients over TCP."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from rongbank.api.app import create_app
from rongbank.chat.bus import NatsBus
from rongbank.chat.pg_bus import PostgresBus
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.chat.conftest import Chat

WS = "/api/v1/chat/ws"
RECV_TIMEOUT_S = 30.0  # a guard against hanging, not a measurement
NATS_SERVER = shutil.which("nats-server") or (
    "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
)


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _wait_until(ready: Any, what: str, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.02)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def nats_url() -> Iterator[str]:
    assert NATS_SERVER is not None
    probe = _listening_socket()
    port = probe.getsockname()[1]
    probe.close()
    server = subprocess.Popen(
        [NATS_SERVER, "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until(lambda: server.poll() is not None or _accepts(port), "nats-server")
        assert server.poll() is None, "nats-server exited at start"
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass
class Gateway:
    """One API process's worth: a platform with its own NATS bus, served by uvicorn
    on a port of its own."""

    platform: Platform
    app: FastAPI = field(init=False)
    server: uvicorn.Server = field(init=False)
    port: int = field(init=False)
    thread: threading.Thread = field(init=False)

    def start(self) -> Gateway:
        sock = _listening_socket()
        self.port = sock.getsockname()[1]
        self.app = create_app(self.platform, background=False)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})
        self.thread.start()
        _wait_until(lambda: self.server.started or not self.thread.is_alive(), "gateway")
        assert self.server.started, "the gateway failed to start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)

    def connect(self, who: dict[str, Any], sockets: ExitStack) -> Socket:
        """A WebSocket of ``who``'s to this gateway, closed with ``sockets``."""
        ws = connect(
            f"ws://127.0.0.1:{self.port}{WS}",
            additional_headers=who["headers"],
            open_timeout=RECV_TIMEOUT_S,
        )
        socket = Socket(sockets.enter_context(ws))
        # Frames are read once the connection is subscribed and announced: the
        # answer to this one means events published from now on reach it.
        socket.ask({"type": "sync", "since": ""}, "hello")
        return socket


@dataclass
class Socket:
    ws: ClientConnection
    seen: list[dict[str, Any]] = field(default_factory=list)

    def next(self, kind: str, ref: Any = None) -> dict[str, Any]:
        """The next event of this type (and, for answers, with this id)."""
        while True:
            event: dict[str, Any] = json.loads(self.ws.recv(timeout=RECV_TIMEOUT_S))
            self.seen.append(event)
            if event["type"] == kind and (ref is None or event.get("id") == ref):
                return event

    def message(self, seq: int) -> dict[str, Any]:
        """The pushed message at ``seq`` (senders get their own, for their other
        devices, so a socket may see others first)."""
        while True:
            message: dict[str, Any] = self.next("message")["message"]
            if message["seq"] == seq:
                return message

    def ask(self, frame: dict[str, Any], ref: str) -> dict[str, Any]:
        self.ws.send(json.dumps({**frame, "id": ref}))
        return self.next("ack", ref)


@pytest.fixture(params=[NatsBus, PostgresBus])
def gateways(
    request: pytest.FixtureRequest, fresh_db: str, clock: FrozenClock
) -> Iterator[list[Gateway]]:
    if request.param is NatsBus:
        if NATS_SERVER is None:
            pytest.skip("nats-server is not installed (apt-get install nats-server)")
        settings = Settings(nats_url=request.getfixturevalue("nats_url"))
    else:
        settings = Settings(chat_fanout="postgres")
    started: list[Gateway] = []
    try:
        for _ in range(2):
            platform = Platform.connect(fresh_db, settings, clock=clock, group_commit=False)
            assert isinstance(platform.chat.bus, request.param)
            started.append(Gateway(platform).start())
        yield started
    finally:
        for gateway in started:
            gateway.stop()


@pytest.fixture
def people(gateways: list[Gateway]) -> Chat:
    """Logins and HTTP calls go to the first gateway's app (in-process, without a
    second lifespan); WebSockets go over TCP to either."""
    return Chat(TestClient(gateways[0].app), gateways[0].platform)


def _send(conversation: int, client_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "send",
        "conversation_id": conversation,
        "client_id": client_id,
        "text": text,
    }


def test_a_message_sent_on_one_gateway_reaches_a_client_on_another(
    gateways: list[Gateway], people: Chat
) -> None:
    one, other = gateways
    alice, bob = people.customer(), people.customer("李雷")
    conversation = people.direct(alice, bob)
    with ExitStack() as sockets:
        bob_ws = other.connect(bob, sockets)
        alice_ws = one.connect(alice, sockets)
        # Presence, announced by the first gateway, crosses to the second.
        assert bob_ws.next("presence")["member"]["id"] == alice["customer_id"]

        sent = alice_ws.ask(_send(conversation, "a1", "你好"), "s1")
        pushed = bob_ws.message(1)
        assert pushed["body"] == "你好"
        assert pushed["client_id"] == sent["message"]["client_id"] == "a1"

        bob_ws.ask(_send(conversation, "b1", "在"), "s2")
        assert alice_ws.message(2)["body"] == "在"

        # A send over HTTP is pushed to WebSockets on both gateways.
        assert people.send(alice, conversation, "收到", "a2").status_code == 201
        assert bob_ws.message(3)["body"] == alice_ws.message(3)["body"] == "收到"

        bob_ws.ask({"type": "receipt", "conversation_id": conversation, "read_seq": 3}, "r")
        receipt = alice_ws.next("receipt")
        assert (receipt["member"]["id"], receipt["read_seq"]) == (bob["customer_id"], 3)


def test_a_gateway_that_stops_loses_no_message(gateways: list[Gateway], people: Chat) -> None:
    one, other = gateways
    alice, bob = people.customer(), people.customer("李雷")
    conversation = people.direct(alice, bob)
    with ExitStack() as sockets:
        alice_ws = one.connect(alice, sockets)
        bob_ws = other.connect(bob, sockets)
        alice_ws.ask(_send(conversation, "a1", "第一条"), "s1")
        assert bob_ws.message(1)["body"] == "第一条"
        cursor = bob_ws.ask({"type": "sync", "since": ""}, "sync")["cursor"]

        other.stop()
        with pytest.raises(ConnectionClosed):
            bob_ws.next("message")

        # Sent while bob's gateway is gone: no one can push them to him.
        for n in (2, 3):
            alice_ws.ask(_send(conversation, f"a{n}", f"第{n}条"), f"s{n}")

        # Bob reconnects, to the gateway still up, and catches up from his cursor.
        bob_ws = one.connect(bob, sockets)
        synced = bob_ws.ask({"type": "sync", "since": cursor}, "catch-up")
        caught_up = [m for batch in synced["conversations"] for m in batch["messages"]]
        assert [(m["seq"], m["body"]) for m in caught_up] == [(2, "第2条"), (3, "第3条")]
        again = bob_ws.ask({"type": "sync", "since": synced["cursor"]}, "again")
        assert [m for batch in again["conversations"] for m in batch["messages"]] == []

        alice_ws.ask(_send(conversation, "a4", "第4条"), "s4")
        assert bob_ws.message(4)["body"] == "第4条"
    assert [m["seq"] for m in people.history(alice, conversation)] == [1, 2, 3, 4]
