"""The OpenTelemetry SDK's side of :mod:`rongbank.api.tracing`, imported only when
traces are on (the ``otel`` extra)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sqlalchemy_version
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Status
from sqlalchemy.engine import Engine
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rongbank.api.observe import route_template
from rongbank.logs import REQUEST_ID
from rongbank.settings import Settings

REQUEST_ID_ATTRIBUTE = "rongbank.request_id"
KEPT = frozenset(
    {
        REQUEST_ID_ATTRIBUTE,
        # HTTP, in the old and the stable semantic conventions
        "http.method",
        "http.request.method",
        "http.route",
        "http.status_code",
        "http.response.status_code",
        "http.scheme",
        "url.scheme",
        "http.flavor",
        "network.protocol.version",
        "net.host.port",
        "server.port",
        # SQL: the statement's text (placeholders, never the values) and the database
        "db.system",
        "db.system.name",
        "db.name",
        "db.namespace",
        "db.statement",
        "db.query.text",
        "db.operation",
        "db.operation.name",
        "net.peer.name",
        "net.peer.port",
        "server.address",
        # an exception event's kind, not its message or stack
        "exception.type",
    }
)
"""The span attributes exported; every other one is dropped."""


def instrument(
    app: FastAPI, settings: Settings, engine: Engine | None, exporter: SpanExporter | None
) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service}))
    if exporter is not None:
        inner: SpanProcessor = SimpleSpanProcessor(exporter)
    else:
        inner = BatchSpanProcessor(_exporter(settings))
    provider.add_span_processor(Redacting(inner))
    # Outermost (the app's other middleware were added before). Not FastAPIInstrumentor:
    # to name a span it tries every route of the app in turn at each request, the cost
    # rongbank.api.dispatch removed, and finds no template behind SegmentDispatch.
    app.add_middleware(
        OpenTelemetryMiddleware,
        tracer_provider=provider,
        default_span_details=_named_later,
        exclude_spans=["receive", "send"],
    )
    # Innermost, inside Observe (which sets the request id) and around the routing.
    app.user_middleware.append(Middleware(RouteOnSpan))
    if engine is not None and settings.otel_sql:
        # The engine's own tracer: SQLAlchemyInstrumentor().instrument() would also
        # patch create_engine for the whole process, and only once.
        tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", sqlalchemy_version)
        usage = get_meter(__name__).create_up_down_counter("db.client.connections.usage")
        EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]
    return provider


def _exporter(settings: Settings) -> SpanExporter:
    if settings.otel_traces == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.otel_endpoint)


def _named_later(scope: Scope) -> tuple[str, dict[str, str]]:
    # The route is known once routed: RouteOnSpan names the span then.
    return scope.get("method", "websocket"), {}


class RouteOnSpan:
    """Names the request's server span by its method and route template once the
    request is routed (as its answer starts: the span may end before the app
    returns), and puts the request id on it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        span = trace.get_current_span()
        request_id = REQUEST_ID.get()
        if request_id is not None:
            span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)

        async def send_named(message: Message) -> None:
            if message["type"] in _STARTS:
                template = route_template(scope)
                span.update_name(f"{scope.get('method', 'websocket')} {template}")
                span.set_attribute("http.route", template)
            await send(message)

        await self.app(scope, receive, send_named)


_STARTS = frozenset({"http.response.start", "websocket.accept", "websocket.close"})


def _kept(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (attributes or {}).items() if k in KEPT}


class Redacting(SpanProcessor):
    """Names the request id on each span as it starts, and hands ``inner`` each
    ended span with only the :data:`KEPT` attributes."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        request_id = REQUEST_ID.get()
        if request_id is not None:
            span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self.inner.on_end(
            ReadableSpan(
                name=span.name,
                context=span.context,
                parent=span.parent,
                resource=span.resource,
                attributes=_kept(span.attributes),
                events=[Event(e.name, _kept(e.attributes), e.timestamp) for e in span.events],
                links=span.links,
                kind=span.kind,
                status=Status(span.status.status_code),  # its description quotes the error
                start_time=span.start_time,
                end_time=span.end_time,
                instrumentation_scope=span.instrumentation_scope,
            )
        )

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
