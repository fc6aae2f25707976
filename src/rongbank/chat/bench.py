"""The chat benchmark behind ``rongbank bench chat``: ``clients`` WebSocket clients
connected to the gateway, ``rate`` messages a second between them, and how long a
message takes from the sender's socket to its recipient's.

1. A PostgreSQL server is made ready as for the ledger benchmark
   (:func:`rongbank.ledger.bench.bench_server`: a fresh embedded one, or
   ``database_url``). ``clients`` customers are registered, paired off in direct
   conversations, and given a logged-in session each (through the services: an
   argon2 login each would dominate the setup).
2. ``servers`` API processes (uvicorn, the app of ``rongbank up``) are started. With
   more than one they share a NATS server (``nats_url``, or a ``nats-server`` started
   for the run) and clients are spread over them, so that most messages cross from
   one process to another.
3. The clients connect (``connect_concurrency`` handshakes at a time), each proves it
   is subscribed with a ``sync`` frame, and then, open-loop for ``seconds``, a random
   client sends a ``send`` frame to its partner every ``1/rate`` seconds, whether or
   not earlier ones were answered. A message's delivery latency runs from just before
   its frame is written to when the partner's client reads the ``message`` push.
   The send rate limit is lifted on the servers: this measures the pipeline, not the
   limiter.
4. After the sending window the run waits until nothing is owed (every send answered,
   acknowledged or refused, and every acknowledged message pushed to its recipient),
   or until nothing has arrived for ``drain_idle_s``; then it counts the messages
   stored: every acknowledged send must be in the database. A message's ack and its
   push travel on two sockets in no fixed order (the gateway hands the push over
   first), so waiting for the pushes alone could end the run with the last ack still
   on its way: on a busy machine that once counted 39 acks of 40 sends.

The clients run in this process, on the same machine, so they take CPU from the
servers and PostgreSQL, and their own lag is in the latency figures. To keep both
small they are picows sockets (frames handled in C, no task per frame), and their
garbage collector is off while the load runs. What the set-up wrote is analysed and
checkpointed before the servers start.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http.client
import multiprocessing
import os
import random
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import psutil
import psycopg
import uvloop
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from pydantic import SecretStr
from sqlalchemy import text

from rongbank.accounts.identity import resident_id_check_character
from rongbank.auth.service import PrincipalKind
from rongbank.chat.gateway import TOO_SLOW
from rongbank.ledger.bench import (
    START_TIMEOUT_S,
    Machine,
    bench_server,
    checkpoint,
    percentile,
    render_header,
)
from rongbank.platform import Platform
from rongbank.serving import PER_MESSAGE_DEFLATE, raise_open_files
from rongbank.settings import Settings, throwaway_secrets

WS_PATH = "/api/v1/chat/ws"
SETUP_CHUNK = 500  # customers made per transaction
DRAIN_IDLE_S = 5.0  # stop waiting for what is owed after this long without any of it
TICK_S = 0.002  # how often the sender wakes to send what is due
CONNECT_TIMEOUT_S = 120.0
GOAL_CLIENTS = 5_000
GOAL_RATE = 1_000.0
GOAL_P99_MS = 50.0
GOALS_SEVERAL = (20_000, 3_000.0)
"""Issue 22's goals for two API processes over NATS: clients and messages/s."""


@dataclass(frozen=True, kw_only=True)
class ChatBenchReport:
    clients: int
    rate: float
    """Messages a second offered."""
    seconds: float
    servers: int
    bus: str
    """``in-process`` (one server) or ``nats``."""
    machine: Machine
    connected: int
    """Clients connected and subscribed before sending began."""
    connect_s: float
    sent: int
    acked: int
    refused: dict[str, int]
    """Sends answered with an error, by error code."""
    delivered: int
    """Acknowledged messages whose push reached the recipient."""
    stored: int
    """Messages of the run found in the database afterwards."""
    dropped: dict[str, int]
    """Connections closed by the server during the run, by close code."""
    elapsed_s: float
    """From the first send to the last push received."""
    p50_ms: float
    p99_ms: float
    max_ms: float
    ack_p50_ms: float
    ack_p99_ms: float
    cpu_s: dict[str, float]
    """CPU seconds used from the first send to the last push, by ``servers``,
    ``postgres`` (only where its processes are visible here) and ``clients``."""
    server_rss_mb: float
    """The servers' resident memory, all together, with every client connected."""
    server_kb_per_socket: float
    """What the servers' resident memory grew by, a connected socket."""

    @property
    def cpu_ms_per_message(self) -> dict[str, float]:
        """What one delivered message costs each part: with the machine's other
        load in the wall-clock figures, this is the steadier measure."""
        if not self.delivered:
            return {}
        return {k: v * 1000 / self.delivered for k, v in self.cpu_s.items()}

    @property
    def achieved_rate(self) -> float:
        """Messages delivered a second, over ``elapsed_s``."""
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def sound(self) -> bool:
        """Nothing acknowledged went missing from the log, and every acknowledged
        message reached its recipient's open connection."""
        return self.stored == self.acked and self.delivered == self.acked

    @property
    def goals(self) -> list[tuple[str, bool]]:
        clients, rate = GOALS_SEVERAL if self.servers > 1 else (GOAL_CLIENTS, GOAL_RATE)
        return [
            (f"{clients:,} clients connected", self.connected >= clients),
            (f"{rate:,.0f} messages/s delivered", self.achieved_rate >= rate * 0.99),
            (f"p99 delivery < {GOAL_P99_MS:g} ms", self.p99_ms < GOAL_P99_MS),
        ]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["machine"] = asdict(self.machine)
        data["achieved_rate"] = self.achieved_rate
        data["cpu_ms_per_message"] = self.cpu_ms_per_message
        data["sound"] = self.sound
        data["goals"] = [{"goal": g, "met": met} for g, met in self.goals]
        return data


def render(report: ChatBenchReport) -> str:
    r = report
    lines = render_header(
        f"Chat benchmark: {r.clients:,} clients, {r.rate:,.0f} messages/s offered for "
        f"{r.seconds:g} s, {r.servers} server process(es), {r.bus} bus",
        r.machine,
    )
    refused = ", ".join(f"{k} {v}" for k, v in sorted(r.refused.items())) or "none"
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(r.dropped.items())) or "none"
    lines += [
        f"Connected: {r.connected:,} of {r.clients:,} in {r.connect_s:.1f} s",
        f"Messages: {r.sent:,} sent, {r.acked:,} acknowledged, {r.delivered:,} delivered, "
        f"{r.stored:,} stored; refused: {refused}; connections dropped: {dropped}",
        f"Rate achieved: {r.achieved_rate:,.0f} messages/s delivered "
        f"({r.delivered:,} in {r.elapsed_s:.2f} s)",
        f"Delivery latency: p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, max {r.max_ms:.1f} ms",
        f"Send to ack: p50 {r.ack_p50_ms:.1f} ms, p99 {r.ack_p99_ms:.1f} ms",
        "CPU per message delivered: "
        + (", ".join(f"{k} {v:.2f} ms" for k, v in r.cpu_ms_per_message.items()) or "not measured")
        + f" (machine load average at the end: {os.getloadavg()[0]:.1f})",
        f"Server memory: {r.server_rss_mb:,.0f} MB resident with {r.connected:,} sockets "
        f"({r.server_kb_per_socket:.1f} KB a socket)",
        f"Check: {'OK' if r.sound else 'FAILED'} (every acknowledged message stored and pushed)",
        "",
        "Goals (one 2-core machine):",
    ]
    lines += [f"  {goal:<32} {'PASS' if met else 'MISS'}" for goal, met in r.goals]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Setup: customers in pairs, each pair with a direct conversation


@dataclass(frozen=True, slots=True)
class _Client:
    customer_id: int
    token: str
    conversation_id: int


def _resident_id(n: int) -> str:
    born = date(1950, 1, 1) + timedelta(days=n // 1000)
    body = f"110105{born:%Y%m%d}{n % 1000:03d}"
    return body + resident_id_check_character(body)


def _set_up(platform: Platform, clients: int) -> list[_Client]:
    # From a random first person, so that a second run on the same database meets no
    # identity number or mobile already taken.
    first = secrets.randbelow(14_000 - clients // 1000 - 1) * 1000
    made: list[_Client] = []
    for start in range(0, clients, SETUP_CHUNK):
        with platform.transaction() as session:
            for n in range(start, min(start + SETUP_CHUNK, clients), 2):
                pair = []
                for k in (n, n + 1):
                    customer, _ = platform.accounts.register_person(
                        session,
                        name=f"基准客户{k}",
                        mobile=f"138{(first + k) % 10**8:08d}",
                        resident_id=_resident_id(first + k),
                    )
                    login = platform.auth.open_session(
                        session,
                        kind=PrincipalKind.CUSTOMER,
                        principal_id=customer.id,
                        client="bench",
                    )
                    pair.append((customer.id, login.token))
                conversation = platform.chat.contacts.open_direct(
                    session, customer_id=pair[0][0], other_id=pair[1][0]
                )
                made += [_Client(c, t, conversation.conversation.id) for c, t in pair]
    return made


def _settle(url: str, admin_url: str) -> None:
    """What the set-up wrote is analysed and flushed before the run, so that the
    plans see the tables' real sizes and neither autovacuum nor a checkpoint has the
    set-up's work to do during it (a burst ~3 s into the run, seen twice in a row,
    went away with this; which of the two it was is not known)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    checkpoint(admin_url)


# ---------------------------------------------------------------------------
# The servers


def _serve(url: str, values: dict[str, Any], port: int) -> None:
    """One API process, as ``rongbank up`` runs it (uvicorn stops on SIGTERM)."""
    import uvicorn

    from rongbank.api.app import create_app, tune_gc_for_serving

    raise_open_files()
    platform = Platform.connect(url, Settings(**values))
    app = create_app(platform)
    tune_gc_for_serving()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        backlog=4096,
        ws_per_message_deflate=PER_MESSAGE_DEFLATE,  # as rongbank up serves
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, process: multiprocessing.process.BaseProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process.is_alive():
            raise RuntimeError(f"the API process on port {port} exited ({process.exitcode})")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        time.sleep(0.2)
    raise RuntimeError(f"the API process on port {port} did not start")


def nats_server_binary() -> str | None:
    """Debian's ``nats-server`` (``/usr/sbin`` is not on every user's PATH)."""
    found = shutil.which("nats-server")
    if found is None and Path("/usr/sbin/nats-server").exists():
        found = "/usr/sbin/nats-server"
    return found


@contextlib.contextmanager
def nats_server() -> Iterator[str]:
    binary = nats_server_binary()
    if binary is None:
        raise RuntimeError("several servers need NATS: give nats_url or install nats-server")
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        [binary, "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError("nats-server exited at start")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nats-server did not start") from None
                time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def _servers(url: str, values: dict[str, Any], count: int) -> Iterator[tuple[list[int], list[int]]]:
    """Start ``count`` API processes; their ports and process ids."""
    ctx = multiprocessing.get_context("spawn")
    plain = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()}
    ports = [_free_port() for _ in range(count)]
    processes = [
        ctx.Process(target=_serve, args=(url, plain, port), name=f"bench-chat-{port}", daemon=True)
        for port in ports
    ]
    for process in processes:
        process.start()
    try:
        for port, process in zip(ports, processes, strict=True):
            _wait_ready(port, process)
        yield ports, [p.pid for p in processes if p.pid is not None]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=60)


# ---------------------------------------------------------------------------
# CPU accounting


def _process_cpu(pid: int) -> float | None:
    """User plus system CPU seconds of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class _CpuMeter:
    """CPU used over the measured window by the servers, the PostgreSQL processes
    (when they run on this machine) and this process (the clients)."""

    server_pids: list[int]
    admin_url: str
    used: dict[str, float] = field(default_factory=dict)
    _start: dict[int, float] = field(default_factory=dict)
    _pg_pids: list[int] = field(default_factory=list)
    _self: float = 0.0
    rss_before: int = 0
    """The servers' resident memory (bytes) before the clients connected."""
    rss_connected: int = 0
    """... and with every client connected, before the first send."""

    def resident(self) -> int:
        total = 0
        for pid in self.server_pids:
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_info().rss
        return total

    def _postgres_pids(self) -> list[int]:
        with contextlib.suppress(psycopg.Error), psycopg.connect(self.admin_url) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity").fetchall()
            return [int(r[0]) for r in rows if r[0] != conn.info.backend_pid]
        return []

    def start(self) -> None:
        self.rss_connected = self.resident()
        self._pg_pids = self._postgres_pids()
        for pid in [*self.server_pids, *self._pg_pids]:
            cpu = _process_cpu(pid)
            if cpu is not None:
                self._start[pid] = cpu
        self._self = time.process_time()

    def stop(self) -> None:
        def spent(pids: list[int]) -> float | None:
            ends = [(pid, _process_cpu(pid)) for pid in pids if pid in self._start]
            seen = [(pid, end) for pid, end in ends if end is not None]
            return sum(end - self._start[pid] for pid, end in seen) if seen else None

        self.used["clients"] = round(time.process_time() - self._self, 3)
        for name, pids in (("servers", self.server_pids), ("postgres", self._pg_pids)):
            cpu = spent(pids)
            if cpu is not None:
                self.used[name] = round(cpu, 3)


# ---------------------------------------------------------------------------
# The clients


@dataclass
class _Load:
    """What the clients measure, shared by their tasks (one event loop)."""

    total: int
    sent_at: list[float] = field(default_factory=list)
    acked_at: list[float] = field(default_factory=list)
    delivered_at: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    answered: int = 0
    """Sends answered: acknowledged or refused."""
    acked: int = 0
    delivered: int = 0
    """Messages whose push reached their recipient."""
    last_push: float = 0.0
    closing: bool = False
    """Set when the run closes its sockets: close frames from then on are no drop."""

    def __post_init__(self) -> None:
        self.sent_at = [0.0] * self.total
        self.acked_at = [0.0] * self.total
        self.delivered_at = [0.0] * self.total

    def ack(self, n: int, at: float) -> None:
        if not self.acked_at[n]:
            self.acked_at[n] = at
            self.acked += 1
            self.answered += 1

    def refuse(self, code: str) -> None:
        self.refused[code] += 1
        self.answered += 1

    def push(self, n: int, at: float) -> None:
        if not self.delivered_at[n]:
            self.delivered_at[n] = at
            self.delivered += 1
            self.last_push = at

    @property
    def settled(self) -> bool:
        """Nothing more is owed: every send answered, and every acknowledged message
        pushed to its recipient. Both are waited for: a message's ack and its push
        come on different sockets, in either order."""
        return self.answered >= self.sent and self.delivered >= self.acked

    @property
    def progress(self) -> int:
        """Grows with every answer and push that arrives."""
        return self.answered + self.delivered


class _Socket(WSListener):
    """One client's socket (picows: its frames are handled in a callback, without a
    task or a future per frame; the clients' CPU counts against what they measure).
    Everything the server pushes: answers to its sends, and the pushed messages of
    its partner (its own come back too, for other devices)."""

    def __init__(self, me: int, load: _Load, prefix: str) -> None:
        super().__init__()
        self.me, self.load, self.prefix = me, load, prefix
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def send(self, frame: dict[str, Any]) -> None:
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.send(WSMsgType.TEXT, orjson.dumps(frame))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        load = self.load
        if frame.msg_type == WSMsgType.CLOSE:
            if not load.closing:
                load.dropped[str(frame.get_close_code())] += 1
            return
        if frame.msg_type != WSMsgType.TEXT:
            return
        now = time.perf_counter()
        event = orjson.loads(frame.get_payload_as_bytes())
        kind = event["type"]
        if kind == "message":
            message = event["message"]
            if message["sender"]["id"] != self.me and message["client_id"].startswith(self.prefix):
                load.push(int(message["client_id"][len(self.prefix) :]), now)
        elif kind == "ack":
            if isinstance(event.get("id"), int):
                load.ack(event["id"], now)
            elif event.get("id") == "ready" and not self.ready.done():
                self.ready.set_result(None)
        elif kind == "error":
            if isinstance(event.get("id"), int):
                load.refuse(event["error"]["code"])
            elif not self.ready.done():
                self.ready.set_exception(
                    RuntimeError(f"the bench client was refused: {event['error']['code']}")
                )


async def _connect(
    uri: str, client: _Client, gate: asyncio.Semaphore, load: _Load, prefix: str
) -> _Socket:
    async with gate:
        _, sock = await ws_connect(
            lambda: _Socket(client.customer_id, load, prefix),
            uri,
            extra_headers={"Authorization": f"Bearer {client.token}"},
            websocket_handshake_timeout=CONNECT_TIMEOUT_S,
        )
        assert isinstance(sock, _Socket)
        # The answer comes once the gateway has subscribed the connection.
        sock.send({"type": "sync", "id": "ready", "since": ""})
        await asyncio.wait_for(sock.ready, CONNECT_TIMEOUT_S)
        return sock


async def _drive(
    ports: list[int],
    clients: list[_Client],
    *,
    rate: float,
    seconds: float,
    connect_concurrency: int,
    prefix: str,
    meter: _CpuMeter,
    drain_idle_s: float,
) -> tuple[_Load, int, float, float]:
    """Connect, send open-loop for ``seconds``, wait for the pushes; returns the
    load, the clients connected, the connect time and the first send's time."""
    load = _Load(total=max(1, int(rate * seconds)))
    gate = asyncio.Semaphore(connect_concurrency)
    meter.rss_before = meter.resident()
    started = time.perf_counter()
    sockets = await asyncio.gather(
        *(
            _connect(f"ws://127.0.0.1:{ports[i % len(ports)]}{WS_PATH}", c, gate, load, prefix)
            for i, c in enumerate(clients)
        ),
        return_exceptions=True,
    )
    connect_s = time.perf_counter() - started
    live = [
        (client, sock)
        for client, sock in zip(clients, sockets, strict=True)
        if isinstance(sock, _Socket)
    ]
    rnd = random.Random(7)  # noqa: S311 - load generation, not security
    # The clients stand in for 5,000 phones: a collection here would stall every
    # reader at once and be counted as delivery latency (up to 0.27 s measured).
    # The connections are made; what they built is frozen and the collector is off
    # while the load runs (it only finds cycles; reference counting frees the rest).
    gc.collect()
    gc.freeze()
    gc.disable()
    meter.start()
    first = time.perf_counter()
    try:
        while load.sent < load.total:
            due = min(load.total, int((time.perf_counter() - first) * rate) + 1)
            while load.sent < due:
                n = load.sent
                client, sock = live[rnd.randrange(len(live))]
                frame = {
                    "type": "send",
                    "id": n,
                    "conversation_id": client.conversation_id,
                    "client_id": f"{prefix}{n}",
                    "text": f"基准消息 {n}",
                }
                load.sent_at[n] = time.perf_counter()
                load.sent += 1
                sock.send(frame)
            next_due = first + load.sent / rate
            await asyncio.sleep(max(0.0, min(TICK_S, next_due - time.perf_counter())))
        # Wait for the answers and pushes still owed, as long as they keep coming.
        progress, count = time.perf_counter(), load.progress
        while not load.settled:
            if load.progress != count:
                progress, count = time.perf_counter(), load.progress
            elif time.perf_counter() - progress > drain_idle_s:
                break
            await asyncio.sleep(0.05)
        meter.stop()
    finally:
        gc.enable()
        gc.unfreeze()
        load.closing = True
        for _, sock in live:
            if sock.transport is not None:
                sock.transport.send_close(WSCloseCode.OK)
                sock.transport.disconnect()
    return load, len(live), connect_s, first


# ---------------------------------------------------------------------------
# The run


def run(
    *,
    clients: int = GOAL_CLIENTS,
    rate: float = GOAL_RATE,
    seconds: float = 10.0,
    servers: int = 1,
    connect_concurrency: int = 100,
    data_dir: Path | None = None,
    database_url: str | None = None,
    nats_url: str | None = None,
    drain_idle_s: float = DRAIN_IDLE_S,
) -> ChatBenchReport:
    """One run; ``drain_idle_s``: how long to go on waiting, after the sending window,
    for answers and pushes still owed while none arrives (only a run that lost some
    waits that long)."""
    if clients < 2 or clients % 2 or rate <= 0 or seconds <= 0 or servers < 1:
        raise ValueError("an even number of clients >= 2, rate and seconds > 0, servers >= 1")
    open_files = raise_open_files()
    if open_files < clients + 100:
        raise RuntimeError(f"{clients} clients need more open files than allowed ({open_files})")
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(bench_server(data_dir=data_dir, database_url=database_url))
        if servers > 1 and nats_url is None:
            nats_url = stack.enter_context(nats_server())
        prefix = f"b{uuid.uuid4().hex[:6]}-"
        values: dict[str, Any] = {
            "database_url": db.url,
            "data_dir": str(db.work_dir),
            "nats_url": nats_url if servers > 1 else None,
            # Enough connections for the thread pool (40 threads) of each server.
            "db_pool_size": 45,
            "chat_send_per_minute": 1e9,
            "chat_send_burst": 10**6,
            **throwaway_secrets(),
        }
        platform = Platform.connect(db.url, Settings(**{**values, "nats_url": None}))
        stack.callback(platform.close)
        made = _set_up(platform, clients)
        _settle(db.url, db.admin_url)
        ports, pids = stack.enter_context(_servers(db.url, values, servers))
        meter = _CpuMeter(server_pids=pids, admin_url=db.admin_url)
        # The clients take CPU from what they measure: they run on the loop the
        # servers run on (uvloop, through uvicorn), the cheapest there is.
        load, connected, connect_s, first = uvloop.run(
            _drive(
                ports,
                made,
                rate=rate,
                seconds=seconds,
                connect_concurrency=connect_concurrency,
                prefix=prefix,
                meter=meter,
                drain_idle_s=drain_idle_s,
            )
        )
        with platform.transaction() as session:
            stored = session.execute(
                text("SELECT count(*) FROM chat_message WHERE client_id LIKE :p"),
                {"p": prefix + "%"},
            ).scalar_one()
    sent = load.sent
    acked = [i for i in range(sent) if load.acked_at[i]]
    latencies = sorted(
        load.delivered_at[i] - load.sent_at[i] for i in range(sent) if load.delivered_at[i]
    )
    acks = sorted(load.acked_at[i] - load.sent_at[i] for i in acked)
    last = max([load.last_push, *(load.acked_at[i] for i in acked)], default=first)
    return ChatBenchReport(
        clients=clients,
        rate=rate,
        seconds=seconds,
        servers=servers,
        bus="nats" if servers > 1 else "in-process",
        machine=db.machine,
        connected=connected,
        connect_s=round(connect_s, 3),
        sent=sent,
        acked=len(acked),
        refused=dict(load.refused),
        delivered=len(latencies),
        stored=int(stored),
        dropped={
            ("too slow" if code == str(TOO_SLOW) else code): count
            for code, count in load.dropped.items()
        },
        elapsed_s=round(max(0.0, last - first), 3),
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] * 1000) if latencies else 0.0,
        ack_p50_ms=percentile(acks, 0.50) * 1000,
        ack_p99_ms=percentile(acks, 0.99) * 1000,
        cpu_s=meter.used,
        server_rss_mb=round(meter.rss_connected / 2**20, 1),
        server_kb_per_socket=round(
            (meter.rss_connected - meter.rss_before) / 1024 / max(1, connected), 1
        ),
    )
