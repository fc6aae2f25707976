"""How ``rongbank up --workers N`` has uvicorn start its workers, without starting
them (``tests/test_workers.py`` serves with two for real): a worker starting on a
loaded machine is given the time the settings say to answer its first health check,
and is not made to import the whole command line before it can answer."""

from __future__ import annotations

import importlib.util
import multiprocessing
import multiprocessing.spawn
import os
import resource
import signal
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from rongbank.api import serve
from rongbank.settings import Settings

GUARD_S = 120.0


@pytest.fixture
def launched_by_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's main module is the command line's, as under ``rongbank up``
    (``python -m rongbank.cli.main``)."""
    main = types.ModuleType("__main__")
    main.__spec__ = importlib.util.find_spec("rongbank.cli.main")
    monkeypatch.setitem(sys.modules, "__main__", main)


def imported_first_by_a_spawned_process() -> set[str]:
    """What ``multiprocessing`` has a process it spawns now import before anything else."""
    data = multiprocessing.spawn.get_preparation_data("worker")
    return {data[key] for key in ("init_main_from_name", "init_main_from_path") if key in data}


@pytest.mark.usefixtures("launched_by_the_cli")
def test_workers_start_without_importing_the_command_line() -> None:
    assert imported_first_by_a_spawned_process() == {"rongbank.cli.main"}
    with serve._workers_skip_main():
        assert imported_first_by_a_spawned_process() == set()
    assert imported_first_by_a_spawned_process() == {"rongbank.cli.main"}


@pytest.mark.usefixtures("launched_by_the_cli")
@pytest.mark.parametrize(
    ("environment", "seconds"), [({}, 60), ({"RONGBANK_WORKER_HEALTHCHECK_SECONDS": "90"}, 90)]
)
def test_uvicorn_gives_each_worker_the_health_check_time_of_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, environment: dict[str, str], seconds: int
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings(data_dir=tmp_path)
    monkeypatch.setattr(serve.os, "environ", dict(serve.os.environ))  # serve() sets the workers'
    monkeypatch.setattr(serve, "configure_logging", lambda *a, **k: None)
    ran: dict[str, Any] = {}

    def uvicorn_run(app: str, **options: Any) -> None:
        ran.update(options, app=app, imported_first=imported_first_by_a_spawned_process())
        ran["worker_class"] = serve.supervisor.Process

    monkeypatch.setattr(serve.uvicorn, "run", uvicorn_run)
    serve.serve(settings, "postgresql+psycopg://db/x", host="127.0.0.1", port=1, workers=2)

    assert ran["app"] == serve.WORKER_APP
    assert ran["workers"] == 2
    # uvicorn's default (5 s) also bounds a worker's start: on a loaded machine it
    # was killed before it could answer, and replaced, again and again.
    assert ran["timeout_worker_healthcheck"] == seconds
    assert ran["imported_first"] == set()
    assert ran["worker_class"] is serve._Worker
    assert ran["ws_per_message_deflate"] is False  # a chat socket's zlib state: ~50 KB
    assert serve.supervisor.Process is not serve._Worker  # only while it serves


def test_the_health_check_of_a_worker_that_dies_ends_with_it() -> None:
    """A worker killed while the supervisor waits for its answer (``kill -9``) is
    found dead at once, not after the health check's whole timeout, during which no
    other worker was watched and the dead one was not replaced."""
    config = uvicorn.Config("rongbank.api.serve:worker_app", factory=True)
    worker = serve._Worker(config, sockets=[])
    # A process that never answers a ping, in place of uvicorn's server.
    worker.process = multiprocessing.get_context("spawn").Process(
        target=time.sleep, args=(3600,), daemon=True
    )
    worker.start()
    answers: list[bool | None] = []
    checking = threading.Thread(
        target=lambda: answers.append(worker._healthcheck(3600)), daemon=True
    )
    checking.start()
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)  # from outside: uvicorn's kill() also shuts the pipe
    checking.join(GUARD_S)  # a guard against hanging: uvicorn's own would wait an hour
    assert answers == [None]
    worker.process.join(GUARD_S)
    assert worker.process.exitcode == -signal.SIGKILL


def test_serving_allows_as_many_open_files_as_the_hard_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A chat socket is an open file: at the usual soft limit (1,024) a process held
    fewer than a thousand connected clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        pytest.skip("the hard limit leaves nothing to raise")
    monkeypatch.setattr(serve.os, "environ", dict(serve.os.environ))
    monkeypatch.setattr(serve, "configure_logging", lambda *a, **k: None)
    allowed: list[int] = []
    monkeypatch.setattr(
        serve.uvicorn,
        "run",
        lambda *a, **k: allowed.append(resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
    )
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        serve.serve(
            Settings(data_dir=tmp_path), "postgresql+psycopg://db/x", host="h", port=1, workers=2
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    (limit,) = allowed
    assert limit > 1024
