"""What each part of a one-machine cluster is told: where everything listens, and
the configuration files of Patroni, HAProxy and NATS. Plain text in, no processes:
``supervisor`` starts them; ``deploy/`` shows the same settings for separate hosts."""

from __future__ import annotations

import json
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

SCOPE = "rongbank"
"""Patroni's name for the cluster: its keys in etcd are under ``/service/rongbank``."""
DATABASE = "rongbank"
APP_USER = "rongbank"

TTL_S = 20
"""The leader key's lifetime (Patroni's minimum): a primary whose Patroni is gone
is replaced at the latest this long after its last renewal."""
LOOP_WAIT_S = 1
RETRY_TIMEOUT_S = 5


@dataclass(frozen=True, slots=True)
class Layout:
    """The ports of a cluster, all on 127.0.0.1, counted from ``base`` (the load
    balancer's): the next ``apis`` for the API processes, then blocks of ten."""

    base: int
    nodes: int
    apis: int
    nats: int

    @property
    def balancer(self) -> int:
        return self.base

    def api(self, i: int) -> int:
        return self.base + 1 + i

    @property
    def etcd_client(self) -> int:
        return self.base + 10

    @property
    def etcd_peer(self) -> int:
        return self.base + 11

    @property
    def balancer_stats(self) -> int:
        return self.base + 12

    def postgres(self, i: int) -> int:
        return self.base + 20 + i

    def patroni(self, i: int) -> int:
        return self.base + 30 + i

    def nats_client(self, i: int) -> int:
        return self.base + 40 + i

    def nats_route(self, i: int) -> int:
        return self.base + 50 + i

    def ports(self) -> list[int]:
        return [
            self.balancer,
            self.etcd_client,
            self.etcd_peer,
            self.balancer_stats,
            *(self.api(i) for i in range(self.apis)),
            *(self.postgres(i) for i in range(self.nodes)),
            *(self.patroni(i) for i in range(self.nodes)),
            *(self.nats_client(i) for i in range(self.nats)),
            *(self.nats_route(i) for i in range(self.nats)),
        ]

    def database_url(self, password: str, *, reads: bool = False) -> str:
        """The application's libpq multi-host URL: it connects to whichever member
        is the primary now, and a new connection finds the next one. With ``reads``:
        to a standby if one answers (statements), else the primary."""
        hosts = ",".join(f"127.0.0.1:{self.postgres(i)}" for i in range(self.nodes))
        attrs = "prefer-standby" if reads else "read-write"
        return (
            f"postgresql://{APP_USER}:{quote(password, safe='')}@{hosts}/{DATABASE}"
            f"?target_session_attrs={attrs}&connect_timeout=2"
        )


def validate(nodes: int, apis: int, nats: int) -> None:
    """The limits of the port layout (and of a sensible cluster)."""
    if not 1 <= nodes <= 9 or not 1 <= apis <= 9 or not 1 <= nats <= 9:
        raise ValueError("between 1 and 9 members, API processes and NATS servers")


def free_layout(nodes: int, apis: int, nats: int) -> Layout:
    """A layout whose ports are all free now (for tests and benchmarks, which must
    not meet another run's cluster on the same machine)."""
    for _ in range(200):
        # Below Linux's ephemeral ports (32768 up), which the kernel hands to every
        # connection and bind(port 0) meanwhile: a port free now stays free then.
        base = 10000 + secrets.randbelow(225) * 100
        layout = Layout(base, nodes, apis, nats)
        if all(_free(port) for port in layout.ports()):
            return layout
    raise RuntimeError("no free block of ports for a cluster")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Secrets:
    """The cluster's database passwords, made once and kept (mode 0600) in its dir."""

    superuser: str
    replication: str
    app: str

    @classmethod
    def load(cls, path: Path) -> Secrets:
        if path.exists():
            values = json.loads(path.read_text())
            return cls(**values)
        made = cls(*(secrets.token_urlsafe(24) for _ in range(3)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(
            json.dumps(
                {"superuser": made.superuser, "replication": made.replication, "app": made.app}
            )
        )
        return made


def patroni(layout: Layout, i: int, *, root: Path, bin_dir: Path, keys: Secrets) -> dict[str, Any]:
    """Member ``i``'s Patroni configuration (JSON, which is YAML)."""
    member = root / f"pg{i}"
    return {
        "scope": SCOPE,
        "name": f"pg{i}",
        "log": {"level": "WARNING"},
        "restapi": {
            "listen": f"127.0.0.1:{layout.patroni(i)}",
            "connect_address": f"127.0.0.1:{layout.patroni(i)}",
        },
        "etcd3": {"hosts": [f"127.0.0.1:{layout.etcd_client}"]},
        "bootstrap": {
            "dcs": {
                "ttl": TTL_S,
                "loop_wait": LOOP_WAIT_S,
                "retry_timeout": RETRY_TIMEOUT_S,
                "maximum_lag_on_failover": 1024 * 1024,
                # A commit is acknowledged once a standby has it, and only such a
                # standby is promoted: what the API acknowledged survives the
                # primary's loss.
                "synchronous_mode": True,
                # A primary whose PostgreSQL dies is replaced at once rather than
                # restarted in place (which may take as long as its crash recovery).
                "primary_start_timeout": 0,
                "postgresql": {
                    "use_pg_rewind": True,
                    "use_slots": True,
                    "parameters": {
                        "wal_level": "replica",
                        "hot_standby": "on",
                        "wal_log_hints": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "max_connections": 100,
                        "shared_buffers": "32MB",
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
            "pg_hba": [
                "local all all scram-sha-256",
                "host replication replicator 127.0.0.1/32 scram-sha-256",
                "host all all 127.0.0.1/32 scram-sha-256",
            ],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{layout.postgres(i)}",
            "connect_address": f"127.0.0.1:{layout.postgres(i)}",
            "data_dir": str(member / "data"),
            "bin_dir": str(bin_dir),
            "pgpass": str(member / "pgpass"),
            "authentication": {
                "superuser": {"username": "postgres", "password": keys.superuser},
                "replication": {"username": "replicator", "password": keys.replication},
                "rewind": {"username": "postgres", "password": keys.superuser},
            },
            "parameters": {"unix_socket_directories": str(member)},
        },
    }


def haproxy(layout: Layout) -> str:
    """HAProxy in front of the API processes: a process counts once ``/readyz``
    answers 200 (its database writable, its schema current), and a request whose
    process fails to connect goes to another one."""
    servers = "\n".join(
        f"    server api{i} 127.0.0.1:{layout.api(i)} check" for i in range(layout.apis)
    )
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
    option http-server-close

frontend bank
    bind 127.0.0.1:{layout.balancer}
    # The request id of the logs and audit rows starts here (rongbank.api.observe).
    http-request set-header X-Request-Id %[uuid()] unless {{ req.hdr(x-request-id) -m found }}
    default_backend api

backend api
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
{servers}

listen stats
    bind 127.0.0.1:{layout.balancer_stats}
    stats enable
    stats uri /
"""


def nats(layout: Layout, i: int) -> list[str]:
    """``nats-server`` arguments of server ``i``: a route to each of the others, so
    that a chat event published on one reaches the subscribers of all."""
    routes = ",".join(
        f"nats://127.0.0.1:{layout.nats_route(j)}" for j in range(layout.nats) if j != i
    )
    arguments = [
        "--addr",
        "127.0.0.1",
        "--port",
        str(layout.nats_client(i)),
        "--name",
        f"rongbank-nats{i}",
        "--cluster_name",
        SCOPE,
        "--cluster",
        f"nats://127.0.0.1:{layout.nats_route(i)}",
    ]
    return [*arguments, "--routes", routes] if routes else arguments
