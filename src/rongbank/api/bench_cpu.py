"""CPU time by whom during a benchmark window: the API processes, the PostgreSQL
server, the load generator.

Wall-clock rates only mean something on a quiet machine; CPU seconds per payment
mean something on a busy one too, and say what limits a path: at N cores, a path
whose API processes spend ``c`` CPU seconds per payment cannot pass ``N / c``
payments/s, whatever the database does.
"""

from __future__ import annotations

import time
from contextlib import suppress
from dataclasses import dataclass

import psutil


@dataclass(frozen=True, kw_only=True)
class CpuUse:
    """CPU seconds (user + system) spent during one window."""

    api_s: float
    """By the API processes (uvicorn's supervisor and its workers)."""
    database_s: float | None
    """By the PostgreSQL server's processes (None: not a server on this machine)."""
    clients_s: float
    """By the benchmark's own process, the HTTP clients."""
    after: CpuUse | None = None
    """Spent after the window while the outbox's readers caught up with it: the
    background work its payments left (notices, screening...), owed by them too."""

    def per_payment_ms(self, payments: int) -> dict[str, float | None]:
        def ms(seconds: float | None) -> float | None:
            return None if seconds is None or payments == 0 else seconds * 1000 / payments

        spent = {
            "api": ms(self.api_s),
            "database": ms(self.database_s),
            "clients": ms(self.clients_s),
        }
        if self.after is not None:
            spent["api after"] = ms(self.after.api_s)
            spent["database after"] = ms(self.after.database_s)
        return spent


def _tree(pid: int | None) -> dict[int, float]:
    """CPU seconds so far of ``pid`` and its descendants, by process id."""
    if pid is None:
        return {}
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    spent = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:  # ended in between
            continue
        spent[process.pid] = times.user + times.system
    # What the root's children that ended took (pgbench's backends, which end within
    # the window) is the root's once it has waited for them.
    with suppress(psutil.Error):
        times = root.cpu_times()
        spent[pid] = spent.get(pid, 0.0) + times.children_user + times.children_system
    return spent


def _since(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that ended during the window took its time with it; one that started
    # during it counts from zero.
    return sum(spent - before.get(pid, 0.0) for pid, spent in after.items())


class CpuMeter:
    """Measures :class:`CpuUse` between :meth:`start` and :meth:`stop`."""

    def __init__(self, *, api_pid: int, postmaster_pid: int | None) -> None:
        self.api_pid = api_pid
        self.postmaster_pid = postmaster_pid
        self._api: dict[int, float] = {}
        self._database: dict[int, float] = {}
        self._clients = 0.0

    def start(self) -> None:
        self._api = _tree(self.api_pid)
        self._database = _tree(self.postmaster_pid)
        self._clients = time.process_time()

    def stop(self) -> CpuUse:
        return CpuUse(
            api_s=_since(self._api, _tree(self.api_pid)),
            database_s=None
            if self.postmaster_pid is None
            else _since(self._database, _tree(self.postmaster_pid)),
            clients_s=time.process_time() - self._clients,
        )
