"""The load generator of the HTTP benchmarks (``rongbank bench paths``, its floors,
``rongbank bench lending``): what a client sends, the clients sending it to a served
port for some seconds, and the embedded server's postmaster whose processes' CPU
they count."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import psutil
import psycopg

from rongbank.ledger.bench import START_TIMEOUT_S, BenchServer, WorkerResult
from rongbank.payments.bench import Scene
from rongbank.platform import Platform


@dataclass(frozen=True, slots=True)
class Call:
    """One request a client sends: a payment of ``fen`` by a customer."""

    url: str
    body: bytes
    token: str
    fen: int
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Payer:
    token: str
    account: str
    customer_id: int
    ledger_account_id: int


@dataclass(frozen=True, slots=True)
class Stage:
    """What a path's setup gives its clients."""

    calls: list[Call]
    ok: int
    """The status of a payment made (201 or 200 as the endpoint answers it)."""


Prepare = Callable[["World", list[Payer], int, str], Stage]
"""Makes what a path's ``count`` calls need (orders, codes, cards) for ``payers``."""


@dataclass(frozen=True, slots=True)
class PathSpec:
    name: str
    label: str
    prepare: Prepare


@dataclass(frozen=True, slots=True)
class World:
    platform: Platform
    scene: Scene
    cashier_tokens: list[str]
    product_code: str
    rnd: random.Random


# ---------------------------------------------------------------------------
# The clients


@dataclass(kw_only=True)
class Client:
    result: WorkerResult = field(default_factory=WorkerResult)
    answered_fen: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    exhausted: bool = False
    sent: int = 0
    """Calls of its share sent (the rest are left for the next pass)."""


def send(
    client: Client, *, port: int, calls: list[Call], ok: int, seconds: float, barrier: Any
) -> None:
    result = client.result
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.connect()  # before the clock starts
        barrier.wait()
        result.start = time.monotonic()
        deadline = result.start + seconds
        while time.monotonic() < deadline:
            if client.sent == len(calls):
                client.exhausted = True
                break
            call = calls[client.sent]
            client.sent += 1
            headers = {
                "Authorization": f"Bearer {call.token}",
                "Content-Type": "application/json",
            }
            t0 = time.perf_counter()
            conn.request(call.method, call.url, call.body, headers)
            response = conn.getresponse()
            answer = response.read()
            result.latencies.append(time.perf_counter() - t0)
            result.operations += 1
            if response.status == ok:
                result.transfers += 1
                client.answered_fen += call.fen
            else:
                result.failed += 1
                code = json.loads(answer).get("error", {}).get("code", "") if answer else ""
                client.refusals[f"{response.status} {code}".strip()] += 1
        result.end = time.monotonic()
    except BaseException:
        barrier.abort()
        result.error = traceback.format_exc()
    finally:
        conn.close()


def load(
    calls: list[Call], ok: int, *, port: int, clients: int, seconds: float
) -> tuple[list[Client], list[Call]]:
    """``clients`` clients sending ``calls`` for ``seconds``; their states, and the
    calls they did not send (any order will do: no payer has more calls than its
    allowance)."""
    barrier = threading.Barrier(clients + 1)
    states = [Client() for _ in range(clients)]
    shares = [calls[i::clients] for i in range(clients)]
    threads = [
        threading.Thread(
            target=send,
            args=(states[i],),
            kwargs={
                "port": port,
                "calls": shares[i],
                "ok": ok,
                "seconds": seconds,
                "barrier": barrier,
            },
            name=f"bench-paths-{i}",
        )
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    # A client that failed to connect breaks the barrier; its result carries the error.
    with suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=START_TIMEOUT_S)
    for thread in threads:
        thread.join()
    left = [
        call for share, state in zip(shares, states, strict=True) for call in share[state.sent :]
    ]
    return states, left


def postmaster(db: BenchServer) -> int | None:
    """The process id of the embedded server (None for another server: its processes
    need not be on this machine)."""
    if db.machine.server != "embedded":
        return None
    with psycopg.connect(db.admin_url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(psutil.Process(int(row[0])).ppid())
