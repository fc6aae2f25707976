"""CPU time by whom during a benchmark window: a process and its children are
counted, whatever the wall clock did."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rongbank.api.bench_cpu import CpuMeter, CpuUse

# Told to go (a line on its stdin), burns 0.3 s of CPU in a child of the process
# started, then waits to be told (another line) to end them both.
BURN = (
    "import subprocess, sys; "
    "input(); "
    "child = subprocess.Popen([sys.executable, '-c', "
    "'import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.3: pass\\n"
    "print(1, flush=True)\\ninput()'], stdin=subprocess.PIPE, stdout=subprocess.PIPE); "
    "print(child.stdout.readline().decode().strip(), flush=True); "
    "input(); "
    "child.communicate(b'\\n')"
)


def test_the_cpu_of_a_process_tree_in_a_window_is_counted() -> None:
    tree = subprocess.Popen(
        [sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    meter = CpuMeter(api_pid=tree.pid, postmaster_pid=None)
    try:
        meter.start()
        # Only now the grandchild is started: all of its CPU falls in the window.
        assert tree.stdin is not None
        assert tree.stdout is not None
        tree.stdin.write(b"go\n")
        tree.stdin.flush()
        assert tree.stdout.readline().strip() == b"1"  # the grandchild has burnt its CPU
        use = meter.stop()
    finally:
        tree.communicate(b"end\n", timeout=60)
    # The grandchild started after the window began: all its CPU time is counted, as
    # the kernel counts it, in clock ticks (user and system each rounded down: 20 ms).
    assert use.api_s >= 0.28
    assert use.database_s is None
    assert use.clients_s >= 0.0
    spent = use.per_payment_ms(10)
    assert spent["api"] == pytest.approx(use.api_s * 100)
    assert spent["database"] is None
    assert use.per_payment_ms(0)["api"] is None


def test_a_process_gone_counts_nothing() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    meter = CpuMeter(api_pid=gone.pid, postmaster_pid=gone.pid)
    meter.start()
    use = meter.stop()
    assert (use.api_s, use.database_s) == (0.0, 0.0)


def test_what_the_readers_spent_after_a_window_is_shown_per_payment_beside_it() -> None:
    after = CpuUse(api_s=0.5, database_s=0.25, clients_s=0.0)
    use = CpuUse(api_s=2.0, database_s=1.0, clients_s=0.1, after=after)
    assert use.per_payment_ms(10) == pytest.approx(
        {"api": 200, "database": 100, "clients": 10, "api after": 50, "database after": 25}
    )
    assert "api after" not in after.per_payment_ms(10)
