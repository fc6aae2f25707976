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
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from rongbank import logs, metrics
from rongbank.api.app import create_app, tune_gc_for_serving
from rongbank.audit.service import mask_text
from rongbank.platform import Platform
from rongbank.settings import Settings

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
    }
    configure_logging(settings, log_level.upper(), access_log=access_log)
    if workers == 1:
        app = create_app(Platform.connect(url, settings))
        tune_gc_for_serving()
        uvicorn.run(app, **options)
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
    uvicorn.run(WORKER_APP, factory=True, workers=workers, **options)


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
    app = create_app(Platform.connect(settings.database_url, settings))
    tune_gc_for_serving()
    return app


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
