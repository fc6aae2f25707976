"""A bank served as ``rongbank up`` serves it, in a process of its own, on an
embedded PostgreSQL in a temporary data directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

UP_WAIT_S = 240.0  # a guard against hanging on a loaded machine, not a measurement


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def served_bank(
    tmp_path: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``rongbank up`` on ``tmp_path / "data"``: its base URL and process, stopped at
    the end if still running (:func:`stop_served`). ``env`` adds ``RONGBANK_*``
    settings to a clean set."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RONGBANK_")}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "rongbank.cli.main", "up", "--workers", str(workers)),
            *("--data-dir", str(tmp_path / "data"), "--port", str(port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**clean, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + UP_WAIT_S
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"rongbank up did not answer in {UP_WAIT_S} s"
            time.sleep(0.2)
        yield base, process
    finally:
        stop_served(process)


STOP_WAIT_S = 120.0  # a guard against hanging, not a measurement


def stop_served(process: subprocess.Popen[str]) -> None:
    """Stop ``rongbank up`` as an operator does (SIGTERM: uvicorn stops its workers,
    then it stops the embedded PostgreSQL it started, being its last user); killed
    only if it does not stop. Killed at once, it left that PostgreSQL running after
    the test, for good: nothing else was left to stop it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.communicate(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=60)
