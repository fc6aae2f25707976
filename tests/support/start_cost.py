"""CPU that ``rongbank up --workers N`` spends from launch until every worker has
started (then stopped; the embedded PostgreSQL's own CPU is not counted), and how
many workers uvicorn killed and replaced meanwhile. CPU, so that it means something
on a loaded machine; run it twice on one data dir (the first run makes and migrates
the database).

    python -m tests.support.start_cost DATA_DIR [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RONGBANK_")}
    began = time.monotonic()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "rongbank.cli.main", "up", "--workers", str(args.workers)),
            *("--data-dir", args.data_dir, "--port", str(port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if sum("Application startup complete" in seen for seen in lines) >= args.workers:
                started.set()

    threading.Thread(target=read, daemon=True).start()
    started.wait(600)
    wall = time.monotonic() - began
    process.send_signal(signal.SIGTERM)
    process.wait(300)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"{args.workers} workers started after {wall:.1f} s (wall); CPU {used.ru_utime:.2f} s "
        f"user, {used.ru_stime:.2f} s system; workers replaced: "
        f"{''.join(lines).count('died')}; exit status {process.returncode}"
    )


if __name__ == "__main__":
    main()
