"""Transfers at load through the load balancer while the primary is killed: the
failover test (small) and ``rongbank cluster failover-bench`` (larger) both run
:func:`run`.

Clients pay each other in a ring through HAProxy, each request with its own
idempotency key. An answer that says the request's outcome is unknown (a 503, a
502/504 from the balancer, a connection cut) is sent again with the same key until
it is answered: that is what the key is for. Meanwhile the primary's PostgreSQL is
killed with SIGKILL (with ``node``, its Patroni too) and Patroni promotes the
synchronous standby. Afterwards the ledger is read on the new primary: every
acknowledged transfer is there exactly once, under its entry id, and nothing else
of ours; the customers' money adds up to what they were given; ``ledger verify``
finds nothing. The write gap is the longest time between two acknowledged
transfers across the kill.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

from rongbank.cli.platform import with_secrets
from rongbank.cluster.supervisor import Cluster
from rongbank.embedded import binaries
from rongbank.ledger import repository
from rongbank.ledger.client_ids import Namespace, request_id
from rongbank.payments.bench import FUNDING, set_up
from rongbank.platform import Platform
from rongbank.settings import Settings

RETRYABLE = frozenset({502, 503, 504})
"""Answers whose request may or may not have been carried out: sent again, same key."""
REQUEST_TIMEOUT_S = 15.0
FAILOVER_TIMEOUT_S = 90.0
GAP_GOAL_S = 15.0


@dataclass(frozen=True, slots=True)
class _Payer:
    token: str
    account: str
    customer_id: int
    ledger_account_id: int


@dataclass
class _Client:
    payer: _Payer
    payee: _Payer
    tag: str
    acknowledged: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Key -> (entry id, when answered)."""
    sent: list[str] = field(default_factory=list)
    retries: int = 0
    refused: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class FailoverReport:
    clients: int
    killed: str
    promoted: str | None
    node_lost: bool
    acknowledged: int
    after_promotion: int
    """Of those, answered after the new primary was promoted: the load went on."""
    after_kill: int
    """Of those, answered after the kill (whoever was primary then)."""
    sent: int
    retries: int
    in_ledger: int
    write_gap_s: float
    promotion_s: float | None
    lost: list[str]
    wrong_entry: list[str]
    refused: list[str]
    errors: list[str]
    money_conserved: bool
    ledger_problems: dict[str, list[str]]
    seconds: float
    """How long the load ran, the failover included."""

    @property
    def sound(self) -> bool:
        return (
            not self.lost
            and not self.wrong_entry
            and not self.refused
            and not self.errors
            and self.money_conserved
            and not any(self.ledger_problems.values())
            and self.in_ledger <= self.sent
            and self.promoted is not None
            and self.after_promotion > 0
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "killed": self.killed,
            "promoted": self.promoted,
            "node_lost": self.node_lost,
            "transfers_acknowledged": self.acknowledged,
            "acknowledged_after_promotion": self.after_promotion,
            "transfers_sent": self.sent,
            "transfers_in_ledger": self.in_ledger,
            "retries": self.retries,
            "transfers_per_s": round(self.acknowledged / self.seconds, 1),
            "write_gap_s": round(self.write_gap_s, 3),
            "write_gap_goal_s": GAP_GOAL_S,
            "promotion_s": None if self.promotion_s is None else round(self.promotion_s, 3),
            "lost": self.lost,
            "wrong_entry": self.wrong_entry,
            "refused": self.refused,
            "errors": self.errors,
            "money_conserved": self.money_conserved,
            "ledger_problems": {k: v for k, v in self.ledger_problems.items() if v},
            "sound": self.sound,
        }

    def render(self) -> str:
        goal = "met" if self.write_gap_s < GAP_GOAL_S else "missed"
        lines = [
            f"Killed the primary {self.killed} with SIGKILL"
            + (" (its Patroni too: the host lost)" if self.node_lost else "")
            + f"; Patroni promoted {self.promoted or 'nothing'}"
            + (f" after {self.promotion_s:.1f} s." if self.promotion_s is not None else "."),
            f"Write gap: {self.write_gap_s:.2f} s (goal < {GAP_GOAL_S:.0f} s: {goal}).",
            f"{self.clients} clients: {self.acknowledged} transfers acknowledged of "
            f"{self.sent} sent, {self.retries} retries with the same key; "
            f"{self.in_ledger} in the ledger; {self.acknowledged / self.seconds:.1f} "
            "transfers/s over the run, the failover included.",
            f"Lost: {len(self.lost)}; wrong entry: {len(self.wrong_entry)}; "
            f"refused: {len(self.refused)}; money conserved: {self.money_conserved}; "
            f"ledger verify: {'clean' if not any(self.ledger_problems.values()) else 'PROBLEMS'}.",
        ]
        return "\n".join(lines)


def api_env(folder: Path) -> dict[str, str]:
    """The API settings of a cluster for this load: the shipped payment limits but
    for the count of small payments a day without a second factor (each client pays
    hundreds; answering challenges is not what is measured)."""
    shipped = (files("rongbank.auth") / "tool_limits.toml").read_text()
    if "daily_count = 10\n" not in shipped:
        raise RuntimeError("the shipped tool limits changed; update rongbank.cluster.failover")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tool_limits.toml"
    path.write_text(shipped.replace("daily_count = 10\n", "daily_count = 1000000\n", 1))
    return {"RONGBANK_TOOL_LIMITS_FILE": str(path)}


def run(
    cluster: Cluster,
    *,
    clients: int = 4,
    before_s: float = 2.0,
    after_s: float = 3.0,
    node: bool = False,
    tag: str = "fo",
) -> FailoverReport:
    """Load, kill the primary, keep the load ``after_s`` past the promotion, check."""
    payers = _payers(cluster, 2 * clients, tag)
    states = [_Client(payers[2 * k], payers[2 * k + 1], f"{tag}{k}-") for k in range(clients)] + [
        _Client(payers[2 * k + 1], payers[2 * k], f"{tag}{k}r-") for k in range(clients)
    ]
    stop = threading.Event()
    threads = [
        threading.Thread(target=_pay, args=(cluster.layout.balancer, s, stop), daemon=True)
        for s in states
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(before_s)
    killed_at = time.monotonic()
    killed = cluster.kill_primary(node=node)
    promoted, promotion_s = _wait_promotion(cluster, killed, killed_at)
    time.sleep(after_s)
    stop.set()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT_S * 2)
    seconds = time.monotonic() - started
    report = _check(cluster, states, payers, killed, promoted, promotion_s, killed_at, node)
    report.seconds = seconds
    return report


def app_secrets(app_dir: Path, database_url: str) -> Settings:
    """The API processes' settings with their secrets, made in ``app_dir`` once, as
    ``rongbank up`` makes them (:attr:`Cluster.make_secrets`)."""
    settings, _ = with_secrets(Settings(data_dir=app_dir, database_url=database_url))
    return settings


def pgbench(cluster: Cluster, *, seconds: int, work_dir: Path, clients: int = 4) -> float:
    """pgbench's TPC-B transactions a second on the same cluster (synchronously
    replicated like the bank's transfers): the reference for the transfer rate."""
    from rongbank.ledger.bench import pgbench_binary, run_pgbench

    # In the bank's own database: the cluster is the benchmark's, thrown away after.
    url = cluster.database_url
    try:
        found = run_pgbench(
            pgbench_binary(binaries()),
            url,
            scale=1,
            clients=clients,
            seconds=seconds,
            work_dir=work_dir,
        )
    except subprocess.CalledProcessError as error:  # say why, not only that it failed
        raise RuntimeError(f"pgbench failed: {error.stdout}\n{error.stderr}") from error
    return found.rate


def wait_healed(cluster: Cluster, timeout: float = FAILOVER_TIMEOUT_S) -> None:
    """Until every member runs again, one of them the synchronous standby (the old
    primary rewound and following the new one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        members = cluster.members()
        up = [m for m in members if m.get("state") in ("running", "streaming")]
        synced = any(m.get("role") == "sync_standby" for m in up)
        if len(up) == cluster.layout.nodes and synced:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the cluster did not heal in {timeout:.0f} s: {cluster.members()}")


def _payers(cluster: Cluster, count: int, tag: str) -> list[_Payer]:
    settings = app_secrets(cluster.app_dir, cluster.database_url)
    platform = Platform.connect(cluster.database_url, settings, group_commit=False)
    try:
        prefix = f"{tag}{time.time_ns() % 10**9}"
        scene = set_up(platform, prefix=prefix, merchants=0, customers=count)
        with platform.transaction() as session:
            rows = session.execute(
                text(
                    "SELECT number, customer_id, ledger_account_id FROM e_account "
                    "WHERE number = ANY(:n)"
                ),
                {"n": [c.account for c in scene.customers]},
            ).all()
    finally:
        platform.close()
    found = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    return [_Payer(c.token, c.account, *found[c.account]) for c in scene.customers]


def _pay(port: int, client: _Client, stop: threading.Event) -> None:
    """Transfers of 0.01 yuan until ``stop``; each sent again until it is answered."""
    conn: http.client.HTTPConnection | None = None
    n = 0
    try:
        while not stop.is_set():
            key = f"{client.tag}{n}"
            n += 1
            client.sent.append(key)
            body = json.dumps(
                {
                    "source": client.payer.account,
                    "destination": client.payee.account,
                    "amount": "0.01",
                    "client_id": key,
                }
            ).encode()
            while True:  # until answered; a stop does not abandon a key sent
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
                try:
                    conn.request(
                        "POST",
                        "/api/v1/me/transfers",
                        body,
                        {
                            "Authorization": f"Bearer {client.payer.token}",
                            "Content-Type": "application/json",
                        },
                    )
                    response = conn.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = None
                    client.retries += 1
                    time.sleep(0.1)
                    continue
                if response.status in RETRYABLE:
                    client.retries += 1
                    time.sleep(0.1)
                    continue
                if response.status in (200, 201):
                    entry = int(json.loads(answer)["entry_id"])
                    client.acknowledged[key] = (entry, time.monotonic())
                else:
                    client.refused.append(f"{key}: {response.status} {answer[:200]!r}")
                break
    except Exception as error:  # reported, never swallowed: the check fails on it
        client.error = repr(error)
    finally:
        if conn is not None:
            conn.close()


def _wait_promotion(cluster: Cluster, killed: int, since: float) -> tuple[int | None, float | None]:
    deadline = since + FAILOVER_TIMEOUT_S
    while time.monotonic() < deadline:
        leader = cluster.leader()
        if leader is not None and leader != killed:
            return leader, time.monotonic() - since
        time.sleep(0.1)
    return None, None


def _check(
    cluster: Cluster,
    states: list[_Client],
    payers: list[_Payer],
    killed: int,
    promoted: int | None,
    promotion_s: float | None,
    killed_at: float,
    node: bool,
) -> FailoverReport:
    ids: dict[str, tuple[str, int | None]] = {}
    for state in states:
        for key in state.sent:
            ledger_id = request_id(Namespace.TRANSFER, state.payer.customer_id, key)
            ids[ledger_id] = (key, state.acknowledged.get(key, (None, 0.0))[0])
    with psycopg.connect(cluster.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT client_id, id FROM ledger_entry WHERE client_id = ANY(%s)", [list(ids)]
        ).fetchall()
        held = conn.execute(
            "SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM ledger_account "
            "WHERE id = ANY(%s)",
            [[p.ledger_account_id for p in payers]],
        ).fetchone()
    in_ledger = {str(r[0]): int(r[1]) for r in rows}
    lost, wrong = [], []
    for ledger_id, (key, entry) in ids.items():
        if entry is None:
            continue
        if ledger_id not in in_ledger:
            lost.append(key)
        elif in_ledger[ledger_id] != entry:
            wrong.append(f"{key}: answered {entry}, ledger {in_ledger[ledger_id]}")
    times = sorted(t for s in states for _, t in s.acknowledged.values())
    gap = max((b - a for a, b in pairwise(times) if b >= killed_at), default=0.0)
    return FailoverReport(
        clients=len(states),
        killed=f"pg{killed}",
        promoted=None if promoted is None else f"pg{promoted}",
        node_lost=node,
        acknowledged=len(times),
        after_promotion=sum(
            1 for t in times if promotion_s is not None and t > killed_at + promotion_s
        ),
        after_kill=sum(1 for t in times if t > killed_at),
        sent=len(ids),
        retries=sum(s.retries for s in states),
        in_ledger=len(in_ledger),
        write_gap_s=gap,
        promotion_s=promotion_s,
        lost=lost,
        wrong_entry=wrong,
        refused=[r for s in states for r in s.refused],
        errors=[s.error for s in states if s.error],
        money_conserved=held is not None and int(held[0]) == FUNDING * len(payers),
        ledger_problems=_verify(cluster),
        seconds=0.0,
    )


def _verify(cluster: Cluster) -> dict[str, list[str]]:
    """``rongbank ledger verify`` on the new primary."""
    with psycopg.connect(cluster.database_url) as conn:
        return repository.verify(conn)
