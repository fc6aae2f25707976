"""OpenTelemetry traces (issue 22), optional by setting: off, the app has no tracer
provider and no tracing middleware; on, a request gives its HTTP span, named by
the route template, and a child span per SQL statement, each with the request id,
and no span holds the path's values, the query string or a statement's parameters."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import Connection

from rongbank.api import tracing
from rongbank.api.app import create_app
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories.people import V1, People

ROUTE = "/api/v1/me/accounts/{number}/history"


def middleware_names(app: FastAPI) -> list[str]:
    names, layer = [], app.middleware_stack
    while layer is not None:
        names.append(type(layer).__name__)
        layer = getattr(layer, "app", None)
    return names


def test_traces_are_off_unless_a_setting_turns_them_on(platform: Platform) -> None:
    app = create_app(platform, background=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
    assert app.state.tracer_provider is None
    assert "OpenTelemetryMiddleware" not in middleware_names(app)
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def test_a_request_is_traced_with_its_route_its_request_id_and_its_sql(
    platform: Platform, connection: Connection
) -> None:
    app = create_app(platform, background=False)
    exporter = InMemorySpanExporter()
    provider = tracing.install(app, Settings(), connection.engine, exporter=exporter)
    assert provider is app.state.tracer_provider is not None
    with TestClient(app) as client:
        people = People(client, platform)
        alice = people.register("张三")
        number = alice["account"]["number"]
        exporter.clear()
        answer = client.get(
            f"{V1}/me/accounts/{number}/history",
            params={"min_amount": "12345.67"},
            headers=alice["headers"],
        )
        assert answer.status_code == 200, answer.text
    request_id = answer.headers["x-request-id"]
    spans = exporter.get_finished_spans()

    (http,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert http.name == f"GET {ROUTE}"
    assert http.attributes is not None
    assert http.attributes["http.route"] == ROUTE
    assert http.attributes["rongbank.request_id"] == request_id
    sql = [s for s in spans if s.attributes and "db.statement" in s.attributes]
    assert sql, [s.name for s in spans]
    for span in sql:
        assert span.parent is not None
        assert span.parent.span_id == http.context.span_id
        assert span.attributes is not None
        assert span.attributes["rongbank.request_id"] == request_id

    # Nothing of the path's values, the query or the statements' parameters.
    exported: list[Any] = [s.name for s in spans]
    for span in spans:
        exported += [*(span.attributes or {}).values(), *(span.attributes or {})]
        for event in span.events:
            exported += [*(event.attributes or {}).values()]
    for secret in (number, "12345.67", "min_amount"):
        assert not [value for value in exported if secret in str(value)], secret
    # The app's own provider: the process's stays the API's no-op one.
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def test_the_settings_pick_the_exporter(platform: Platform) -> None:
    app = create_app(platform, background=False)
    provider = tracing.install(app, Settings(otel_traces="console"), None)
    assert provider is not None
    provider.shutdown()
