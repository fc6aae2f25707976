"""What operators see of each request: its id, its metrics, its access log line, and
the recent errors of this process; and the operations endpoints ``/metrics``,
``/healthz`` and ``/readyz``.

:class:`Observe` is plain ASGI middleware, outermost, so that it times everything
the app does and sees every answer, the other middleware's refusals included (see
``rongbank.api.headers`` for why not ``BaseHTTPMiddleware``). It labels a request by
its route's template (``/api/v1/me/accounts/{account_id}``), never its raw path, and
keeps the labelled children of each metric in dictionaries of its own, so that a
request costs two dictionary look-ups and two observations (measured: see the
README's figures, ``python -m tests.support.path_cost``).

``/metrics`` is not for the public: it answers only a bearer token equal to the
``metrics_token`` setting (what Prometheus' ``authorization`` scrape setting sends),
and is not there at all (404) while none is set. ``/healthz`` and ``/readyz`` are
for the load balancer: unauthenticated, and cheap (``/readyz`` is one statement).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from psycopg.errors import UndefinedTable
from pydantic import BaseModel
from sqlalchemy import TextClause, text
from sqlalchemy.exc import ProgrammingError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rongbank import metrics
from rongbank.api.errors import ERROR_CODE
from rongbank.api.one_hop import OneHopRoute
from rongbank.db import SessionFactory, alembic_config, autocommit
from rongbank.jobs import job_lags
from rongbank.logs import REQUEST_ID, request_id_from
from rongbank.platform import Platform

access_log = logging.getLogger("rongbank.access")
logger = logging.getLogger(__name__)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods labelled as themselves; any other a client sends is ``other`` (labels are
not for the public to make up)."""
_STATUS_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 500: "internal_error"}


@dataclass(frozen=True, slots=True)
class RecentError:
    at: datetime
    request_id: str
    method: str
    route: str
    status: int
    code: str


RECENT_ERRORS: deque[RecentError] = deque(maxlen=50)
"""This process's latest answers with a status of 500 or more, newest last (the
staff operations page shows them; the counts of every code are in the metrics)."""


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/api/v1/me/accounts/{number}``),
    never the raw path, which holds account numbers and ids."""
    route = scope.get("route")
    if route is not None:
        # The route's path within its router; FastAPI keeps the path it was
        # included at (prefix and all) in the context it matched.
        included = scope.get("fastapi", {}).get("effective_route_context")
        path: str = included.path if included is not None else route.path
        return path
    if scope["path"].startswith("/static/"):
        return "/static"
    return metrics.UNMATCHED


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._timers: dict[tuple[str, str], Any] = {}
        self._answers: dict[tuple[str, str, int], Any] = {}
        self._errors: dict[tuple[str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value
                break
        request_id = request_id_from(given)
        header = (b"x-request-id", request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = REQUEST_ID.set(request_id)
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status = 500  # ServerErrorMiddleware, outside, answers it
            raise
        finally:
            self._record(scope, status, time.perf_counter() - start, request_id)
            REQUEST_ID.reset(token)

    def _record(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "other"
        template = route_template(scope)
        key = (method, template)
        timer = self._timers.get(key)
        if timer is None:
            timer = self._timers[key] = metrics.HTTP_SECONDS.labels(method, template)
        timer.observe(seconds)
        answered = self._answers.get((method, template, status))
        if answered is None:
            answered = self._answers[(method, template, status)] = metrics.HTTP_RESPONSES.labels(
                method, template, str(status)
            )
        answered.inc()
        if status >= 400:
            code = scope.get(ERROR_CODE) or _STATUS_CODES.get(status, f"http_{status}")
            failed = self._errors.get((code, status))
            if failed is None:
                failed = self._errors[(code, status)] = metrics.ERRORS.labels(code, str(status))
            failed.inc()
            if status >= 500:
                platform = getattr(scope["app"].state, "platform", None) if "app" in scope else None
                at = platform.clock.now() if platform is not None else datetime.now(UTC)
                RECENT_ERRORS.append(RecentError(at, request_id, method, template, status, code))
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %d",
                method,
                template,
                status,
                # Nothing here to mask: a route template, never the raw path.
                extra={
                    "duration_ms": round(seconds * 1000, 2),
                    "status": status,
                    "request_id": request_id,
                    "rongbank_masked": True,
                },
            )


router = APIRouter(tags=["operations"], route_class=OneHopRoute)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Alive: the process answers (for a load balancer's liveness check; touches
    nothing else)."""
    return {"status": "ok"}


class Ready(BaseModel):
    status: Literal["ready"]


class NotReady(BaseModel):
    status: Literal["not_ready"]
    problems: list[Literal["database_unreachable", "database_read_only", "migrations_not_current"]]


@router.get(
    "/readyz",
    response_model=Ready,
    responses={
        503: {
            "model": NotReady,
            "description": "Not ready: the database is unreachable or read-only, or its "
            "schema is neither this version's nor a newer one that still serves it.",
        }
    },
)
def readyz(request: Request) -> Any:
    """Ready to serve: the database answers, is writable (a primary, not a replica in
    recovery nor read-only) and its schema serves this code. One statement."""
    platform: Platform = request.app.state.platform
    problems = readiness_problems(platform.session_factory)
    if problems:
        return JSONResponse({"status": "not_ready", "problems": problems}, status_code=503)
    return Ready(status="ready")


def readiness_problems(factory: SessionFactory) -> list[str]:
    """What keeps this process from serving, in ``NotReady``'s words.

    The schema serves this code when it is at this code's migration head, or when that
    head is applied and every revision applied since (one this code does not know,
    read from ``schema_history``) serves older code: a rolling upgrade's expand
    migrations leave the old processes ready; a contract step, or code newer than the
    schema, does not."""
    problems: list[str] = []
    heads = migration_heads()
    try:
        try:
            row = _ask(factory, _READY, {"heads": list(heads), "known": known_revisions()})
        except ProgrammingError as error:
            if not isinstance(error.orig, UndefinedTable):
                raise
            # No schema_history: a schema older than this code's migration 0054.
            row = _ask(factory, _READY_BEFORE_HISTORY, {})
    except Exception:
        logger.warning("readiness: the database did not answer", exc_info=True)
        return ["database_unreachable"]
    in_recovery, read_only, versions, applied, contract_since = row
    if in_recovery or read_only == "on":
        problems.append("database_read_only")
    at_head = set(versions or ()) == heads
    if not at_head and (set(applied or ()) != heads or contract_since):
        problems.append("migrations_not_current")
    return problems


def _ask(factory: SessionFactory, statement: TextClause, params: dict[str, Any]) -> tuple[Any, ...]:
    with autocommit(factory) as session:
        return tuple(session.execute(statement, params).one())


_READY = text(
    "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
    "(SELECT array_agg(version_num) FROM alembic_version), "
    "(SELECT array_agg(revision) FROM schema_history WHERE revision = ANY(:heads)), "
    "EXISTS (SELECT FROM schema_history "
    "WHERE NOT serves_older_code AND revision <> ALL(:known))"
)
_READY_BEFORE_HISTORY = text(
    "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
    "NULL::text[], NULL::text[], true"
)


@cache
def migration_heads() -> set[str]:
    """The head revisions of the migrations this code ships (read from their files
    once)."""
    return set(_scripts().get_heads())


@cache
def known_revisions() -> list[str]:
    """Every revision this code ships."""
    return [script.revision for script in _scripts().walk_revisions()]


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("postgresql://"))


@router.get("/metrics", include_in_schema=False)
def metrics_endpoint(request: Request) -> Response:
    platform: Platform = request.app.state.platform
    token = platform.settings.metrics_token
    if token is None:
        raise HTTPException(404, "Not Found")
    given = request.headers.get("authorization", "")
    expected = f"Bearer {token.get_secret_value()}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            401, "A metrics token is needed.", headers={"WWW-Authenticate": "Bearer"}
        )
    body = metrics.exposition([JobLag(platform)])
    return Response(body, media_type=metrics.CONTENT_TYPE)


class JobLag(Collector):
    """How late each periodic job is, from the database's record of their runs
    (the same whichever process ran them or answers the scrape)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def collect(self) -> Any:
        family = GaugeMetricFamily(
            "rongbank_job_lag_seconds",
            "How long past its interval since the job's last successful run (0: on time).",
            labels=["job"],
        )
        with self.platform.transaction() as session:
            for job, lag in job_lags(session, self.platform.clock.now()).items():
                family.add_metric([job], lag)
        yield family
