"""Machine instructions per request of each customer money path, counted by valgrind's
callgrind in the API process: the same figure on a quiet machine and on a loaded one
(CPU seconds are not: on the shared 2-core machine they move by ±25% from run to run).

The API is served as ``rongbank up --workers 1`` serves it (uvicorn with uvloop and
httptools, no access log), in a process of its own run under ``valgrind
--tool=callgrind`` with counting off; this process makes the scene of
:mod:`tests.support.path_cost` and sends each path's requests one at a time over one
keep-alive connection, counting on only while they run. User-space instructions of
every thread of the API process (the event loop, the endpoint's worker threads); the
kernel's work (system calls, waking threads) is not counted, nor PostgreSQL's.
``healthz`` is ``GET /healthz``: what any request costs. Background jobs are off, as
in ``path_cost``.

    python -m tests.support.path_instructions --requests 30 [--paths transfer ...]

Needs ``valgrind`` (``apt-get install valgrind``); about five minutes for every path
at 30 requests each. Compare two versions with the same command on each checkout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rongbank.db import migrate
from rongbank.embedded import EmbeddedPostgres
from rongbank.payments.bench import free_port
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.support.path_cost import Request, Scene, paths

KEYS = ("payments_key", "tool_key", "card_hash_key", "operator_token")
MODULE = "tests.support.path_instructions"  # run as __main__, this module is imported again


def serve(url: str, raw_settings: str, port: int) -> None:
    """The API process (run under valgrind by :func:`main`)."""
    import uvicorn

    from rongbank.api.app import create_app

    settings = Settings(**json.loads(raw_settings))
    app = create_app(Platform.connect(url, settings), background=False)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError("the API process under valgrind exited")
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            probe.request("GET", "/healthz")
            probe.getresponse().read()
            return
        except OSError:
            time.sleep(1)
    raise RuntimeError("the API process under valgrind did not answer")


def _total(dump: Path) -> int:
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30, help="per path")
    parser.add_argument("--warmup", type=int, default=5, help="per path, not counted")
    parser.add_argument("--paths", nargs="*", help="only these paths")
    args = parser.parse_args()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="path-ins-")))
        server = EmbeddedPostgres(work)
        url = server.start()
        stack.callback(server.stop)
        migrate(url)
        raw: dict[str, Any] = {"database_url": url, "data_dir": str(work)}
        raw |= {k: secrets.token_urlsafe(32) for k in KEYS}
        platform = Platform.connect(url, Settings(**raw), group_commit=False)
        scene = Scene(platform)
        scene.set_up()
        total = args.requests + args.warmup
        chosen = {k: v for k, v in paths(scene, total).items() if not args.paths or k in args.paths}
        port = free_port()
        out = work / "callgrind.out"
        code = f"from {MODULE} import serve; serve({url!r}, {json.dumps(raw)!r}, {port})"
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out}", sys.executable, "-c", code,
        ]  # fmt: skip
        log = stack.enter_context((work / "valgrind.log").open("w"))
        api = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        stack.callback(api.wait)
        stack.callback(api.terminate)
        _wait_ready(port, api)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

        def send(request: Request) -> None:
            headers = {**request.headers, "Content-Type": "application/json"}
            conn.request(
                request.method, request.url, body=json.dumps(request.body), headers=headers
            )
            answer = conn.getresponse()
            text = answer.read()
            if answer.status not in request.ok:
                raise AssertionError(f"{request.url}: {answer.status} {text[:300]!r}")

        def control(*options: str) -> None:
            command = ["callgrind_control", *options, str(api.pid)]
            subprocess.run(command, check=True, capture_output=True)

        def healthz(_: int) -> Request:
            return Request("GET", "/healthz", {}, {}, (200,))

        print(f"{'path':<14}{'M instructions':>15}")
        for part, (name, prepare) in enumerate({"healthz": healthz, **chosen}.items(), 1):
            for i in range(args.warmup):
                send(prepare(i))
            control("--zero")
            control("--instr=on")
            # Each request is prepared just before it is sent (in this process, while
            # the API's counted process waits): a mall checkout's cart is the
            # customer's, emptied by the checkout before it.
            for i in range(args.requests):
                send(prepare(args.warmup + i))
            control("--instr=off")
            control("--dump")
            dump = Path(f"{out}.{part}")
            for _ in range(100):
                if dump.exists() and "totals:" in dump.read_text(errors="replace"):
                    break
                time.sleep(0.2)
            print(f"{name:<14}{_total(dump) / args.requests / 1e6:>15.2f}", flush=True)


if __name__ == "__main__":
    main()
