"""CPU the operations middleware (``rongbank.api.observe.Observe``: request id,
metrics, access log) adds to a request: the same trivial ASGI answer sent many times
through it and without it, in this thread, by ``time.thread_time`` (CPU, so that it
means something on a loaded machine).

    python -m tests.support.observe_cost [--requests 50000] [--multiprocess]

``--multiprocess``: in prometheus-client's multiprocess mode (``up --workers N``),
where each update writes to a memory-mapped file.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class _Route:
    path: str = "/api/v1/me/transfers"


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["route"] = _Route()
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _send(message: dict[str, Any]) -> None:
    return None


def _cpu_per_request(app: Any, requests: int) -> float:
    headers = [(b"host", b"bank"), (b"x-request-id", b"haproxy-1"), (b"content-type", b"json")]

    async def many() -> float:
        start = time.thread_time()
        for _ in range(requests):
            scope = {"type": "http", "method": "POST", "path": "/api/v1/me/transfers"}
            scope["headers"] = headers
            await app(scope, _receive, _send)
        return time.thread_time() - start

    return asyncio.run(many()) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--multiprocess", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="observe-cost-") as folder:
        if args.multiprocess:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        _measure(args.requests, "multiprocess" if args.multiprocess else "one process")


def _measure(requests: int, mode: str) -> None:
    from rongbank import logs
    from rongbank.api.observe import Observe
    from rongbank.audit.service import mask_text

    logs.configure(mask=mask_text, level="INFO")
    logging.getLogger().handlers[0].stream = open(os.devnull, "w")  # noqa: SIM115
    bare, observed = _app, Observe(_app)
    _cpu_per_request(observed, 1000)  # warm the labelled children
    rounds = [
        (_cpu_per_request(bare, requests), _cpu_per_request(observed, requests)) for _ in range(2)
    ]
    without = min(r[0] for r in rounds) * 1e6
    with_it = min(r[1] for r in rounds) * 1e6
    print(
        f"{mode}: {without:.1f} us a request without, {with_it:.1f} us with: "
        f"+{with_it - without:.1f} us of CPU (access log line included)"
    )
    logging.getLogger("rongbank.access").setLevel(logging.WARNING)
    quiet = min(_cpu_per_request(observed, requests) for _ in range(2)) * 1e6
    print(f"{mode}: +{quiet - without:.1f} us of CPU without the access log line")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
