"""The bank's Prometheus metrics (prometheus-client), kept in one place.

Every metric is declared here, so that the names an operator's dashboards and alerts
depend on are seen together and cannot be declared twice. The code that measures
imports the metric it updates; :func:`exposition` renders them for ``/metrics``
(``rongbank.api.observe``).

Several API processes (``rongbank up --workers N``): prometheus-client's
multiprocess mode. ``rongbank.api.serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at an
empty folder before it starts the workers; each worker then keeps its values in
memory-mapped files there, and whichever worker answers a scrape adds up every
worker's files (``MultiProcessCollector``). Chosen over asking each worker for its
figures because uvicorn's workers share one port: a scrape reaches one of them at
random and could not reach the others, and a worker that died or was replaced
would take its counts with it (its files stay, so counters never go back). Gauges
say how they combine (``multiprocess_mode``): sockets and pool connections are summed
over the live processes. One process (no such variable): the values are plain
in-memory numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

from rongbank.errors import DomainError

P = ParamSpec("P")
T = TypeVar("T")

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

UNMATCHED = "unmatched"
"""The route of a request no route matched (a 404): raw paths are never labels, or
each scanner's guesses would be a new series."""

HTTP_SECONDS = Histogram(
    "rongbank_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template (its count is the request rate).",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_RESPONSES = Counter(
    "rongbank_http_responses_total",
    "HTTP answers by route template and status.",
    ["method", "route", "status"],
)
ERRORS = Counter(
    "rongbank_errors_total",
    "Refusals and failures answered, by the error code clients see (internal_error: a 500).",
    ["code", "status"],
)
GROUP_COMMIT_BATCH = Histogram(
    "rongbank_group_commit_batch_size",
    "Items committed together in one group-commit transaction.",
    ["committer"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
DB_POOL_IN_USE = Gauge(
    "rongbank_db_pool_connections_in_use",
    "Database connections checked out of the pools now.",
    multiprocess_mode="livesum",
)
DB_POOL_OPEN = Gauge(
    "rongbank_db_pool_connections_open",
    "Database connections the pools hold open now (in use or idle).",
    multiprocess_mode="livesum",
)
JOB_RUNS = Counter(
    "rongbank_job_runs_total", "Runs of the periodic jobs, by result.", ["job", "result"]
)
JOB_SECONDS = Histogram(
    "rongbank_job_duration_seconds",
    "How long a periodic job's run took.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0),
)
CHAT_SOCKETS = Gauge(
    "rongbank_chat_sockets", "e-Link WebSockets open now.", multiprocess_mode="livesum"
)
PAYMENTS = Counter(
    "rongbank_payments_total",
    "Customer payments through Platform.authorised, by outcome (completed, challenged, "
    "refused) and the refusal's code.",
    ["outcome", "code"],
)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR) or None


def exposition(collectors: Iterable[Collector] = ()) -> bytes:
    """The metrics in Prometheus' text format: this process's (or, in multiprocess
    mode, every process's added up) and what ``collectors`` read at the moment (the
    job lag, from the database)."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in collectors:
        registry.register(collector)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY) + generate_latest(registry)


def process_ended() -> None:
    """A worker that stops takes its live gauges (sockets, connections) out of the
    sums; its counters stay."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


@contextmanager
def counted_payment() -> Iterator[None]:
    """Count the payment made inside by its outcome: completed, challenged (a step-up
    asked for) or refused, with the refusal's code."""
    try:
        yield
    except DomainError as error:
        if error.code == "challenge_required":
            PAYMENTS.labels("challenged", "").inc()
        else:
            PAYMENTS.labels("refused", error.code).inc()
        raise
    PAYMENTS.labels("completed", "").inc()


def counted_payments(
    make: Callable[P, AbstractContextManager[T]],
) -> Callable[P, AbstractContextManager[T]]:
    """``make``'s context, each one counted by :func:`counted_payment`
    (``Platform.authorised``, through which every customer payment goes)."""

    @wraps(make)
    @contextmanager
    def counted(*args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        with counted_payment(), make(*args, **kwargs) as value:
            yield value

    return counted
