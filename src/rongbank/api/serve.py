"""Serving the API as ``rongbank up`` does (the benchmarks start it the same way):
uvicorn on one port, in one process or in ``workers`` processes.

Python runs one thread at a time in a process, so one API process uses one core;
``workers`` processes use as many. They are uvicorn's own: its supervisor binds the
port once, hands the socket to each worker, replaces a worker that dies, and stops
them all on SIGTERM or Ctrl-C. Each worker builds its own platform: its own pool of
connections and group committers, the periodic jobs (run by one worker at a time:
:mod:`rongbank.jobs`), and its chat gateway, whose sockets hear the other workers'
through the database (:class:`rongbank.chat.pg_bus.PostgresBus`) unless a NATS server
is configured.

The workers read the settings from the environment, where :func:`serve` puts the
parent's (secrets included, as ``RONGBANK_*`` variables, which only the same user
can read), with the URL of the database the parent started and migrated: the
parent is the embedded server's one user (``rongbank.embedded``), and a worker ends
with its parent (:func:`_end_with_parent`), so none is left serving when the parent
is killed.

uvicorn's supervisor pings each worker and replaces one that does not answer within
``worker_healthcheck_seconds`` (a setting; uvicorn's own default is 5 s). A worker
answers from a thread it starts once Python has started and unpickled what it was
given; a worker starts as a ``spawn`` process, which first imports the parent's
``__main__`` module (the whole command line: a second or more of CPU, and several
seconds on a loaded machine, where it was killed before it could answer, again and
again). :func:`_workers_skip_main` spares it that import: it loads only the app, and
only once it answers. uvicorn waited for that answer on the pipe alone, so a worker
killed while a ping was on its way (``kill -9``, the kernel's OOM killer) left the
supervisor blind for the whole timeout, the port served by one worker fewer:
:class:`_Worker` also wakes when the process ends, and it is replaced at once.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing.connection
import os
import pickle
import shutil
import signal
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import uvicorn
import uvicorn.supervisors.multiprocess as supervisor
from pydantic import SecretStr

from rongbank import logs, metrics
from rongbank.audit.service import mask_text
from rongbank.serving import PER_MESSAGE_DEFLATE, raise_open_files
from rongbank.settings import Settings

if TYPE_CHECKING:  # the app is imported where it is built: the workers' parent never is
    from fastapi import FastAPI

WORKER_APP = "rongbank.api.serve:worker_app"
PARENT = "RONGBANK_WORKERS_PARENT"
"""The environment variable with the process id of the workers' parent."""
LOG_LEVEL = "RONGBANK_WORKERS_LOG_LEVEL"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_LOG = "RONGBANK_WORKERS_ACCESS_LOG"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def default_workers() -> int:
    """One API process per core this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def serve(
    settings: Settings,
    url: str,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Serve the API until SIGTERM or Ctrl-C; the database at ``url`` is migrated."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        # uvicorn's access lines name the raw path (query string included, which may
        # hold personal data); ours (rongbank.api.observe) name the route template.
        "access_log": False,
        "log_config": None,  # the logging configured here stays
        "ws_per_message_deflate": PER_MESSAGE_DEFLATE,
    }
    configure_logging(settings, log_level.upper(), access_log=access_log)
    raise_open_files()  # the workers inherit it
    if workers == 1:
        uvicorn.run(_app(url, settings), **options)
        return
    if not settings.nats_url:
        settings = settings.model_copy(update={"chat_fanout": "postgres"})
    os.environ.update(worker_environment(settings, url), **{LOG_LEVEL: log_level.upper()})
    os.environ[ACCESS_LOG] = "1" if access_log else ""
    # The workers' metrics, added up by whichever answers a scrape (rongbank.metrics);
    # emptied at each start: the counts of a previous run are not this one's.
    shared = settings.data_dir / "metrics"
    shutil.rmtree(shared, ignore_errors=True)
    shared.mkdir(parents=True)
    os.environ[metrics.MULTIPROC_DIR] = str(shared)
    with _workers_skip_main(), _workers_watched():
        uvicorn.run(
            WORKER_APP,
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=settings.worker_healthcheck_seconds,
            **options,
        )


@contextmanager
def _workers_skip_main() -> Iterator[None]:
    """Processes spawned meanwhile do not import this one's ``__main__`` module.

    ``multiprocessing``'s spawn start method has a new process import the parent's
    main module (by its ``__spec__`` or ``__file__``) before it runs anything, so that
    functions defined there can be unpickled; a worker needs none of it (uvicorn
    hands it its target and the app's import string). A main module with neither
    is not imported."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class _Worker(supervisor.Process):
    """uvicorn's worker whose health check also ends when the worker does."""

    def _healthcheck(self, timeout: float) -> bool | None:
        try:
            self.parent_conn.send(b"ping")
            # The pipe alone never wakes for a dead worker: the supervisor holds its
            # other end too. The process's sentinel is ready once it has ended.
            ready = multiprocessing.connection.wait(
                [self.parent_conn, self.process.sentinel], timeout
            )
            if self.parent_conn not in ready:
                return None
            started: bool = self.parent_conn.recv()
            return started
        except (OSError, EOFError, pickle.UnpicklingError):
            return None


@contextmanager
def _workers_watched() -> Iterator[None]:
    """uvicorn's supervisor starts :class:`_Worker` processes meanwhile."""
    original = supervisor.Process
    supervisor.Process = _Worker  # type: ignore[misc]
    try:
        yield
    finally:
        supervisor.Process = original  # type: ignore[misc]


def _app(url: str, settings: Settings) -> FastAPI:
    from rongbank.api.app import create_app, tune_gc_for_serving
    from rongbank.platform import Platform

    app = create_app(Platform.connect(url, settings))
    tune_gc_for_serving()
    return app


def configure_logging(settings: Settings, level: str, *, access_log: bool = True) -> None:
    """The server's logs: JSON lines (or text), personal data masked, with the
    request id; a line a request unless ``access_log`` is off."""
    logs.configure(mask=mask_text, level=level, as_json=settings.log_json)
    logging.getLogger("rongbank.access").setLevel(logging.INFO if access_log else logging.WARNING)


def worker_environment(settings: Settings, url: str) -> dict[str, str]:
    """``settings`` as the ``RONGBANK_*`` variables a worker's ``Settings()`` reads, with
    the database it connects to."""
    env = {PARENT: str(os.getpid())}
    for name, value in settings:
        if value is not None:
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            env[f"RONGBANK_{name.upper()}"] = str(text)
    env["RONGBANK_DATABASE_URL"] = url
    return env


def worker_app() -> FastAPI:
    """The app of one worker (uvicorn calls it in each worker process)."""
    _end_with_parent()
    settings = Settings()
    configure_logging(
        settings, os.environ.get(LOG_LEVEL, "INFO"), access_log=bool(os.environ.get(ACCESS_LOG))
    )
    if settings.database_url is None:
        raise RuntimeError(f"{WORKER_APP} serves the workers of rongbank.api.serve.serve")
    return _app(settings.database_url, settings)


def _end_with_parent() -> None:
    """Have the kernel send this worker SIGTERM (a graceful stop) when its parent
    ends, however it ends: a worker outliving a parent killed with ``kill -9``
    would keep the port, and the next ``rongbank up`` could not start."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    parent = os.environ.get(PARENT)
    if parent is not None and os.getppid() != int(parent):
        raise RuntimeError("the process that started this worker has ended")
