"""OpenTelemetry traces, when a setting asks for them (``RONGBANK_OTEL_TRACES``).

Off by default, and then nothing of OpenTelemetry is imported, no tracer provider
exists and no middleware is added: a request costs what it cost before. On
(``console`` or ``otlp``, with the ``otel`` extra installed), each HTTP request
gets a server span named by its method and route template (``GET
/api/v1/me/accounts/{number}``, never the raw path), with a child span per SQL
statement (``RONGBANK_OTEL_SQL``), each carrying the request id of
:mod:`rongbank.api.observe` (``rongbank.request_id``), which the logs and the audit
rows carry too.

Personal data never leaves in a span. The instrumentations record the raw path, the
query string, the client's address and user agent, and exception messages (which
may quote what a customer typed); so what is exported is an allow-list
(:data:`rongbank.api.otel.KEPT`): methods, route templates, status codes, the SQL text (bound
parameters are never recorded: the bank's statements carry values as parameters),
the database's name and the request id. Exceptions keep their type only.

The tracer provider is this app's own (``app.state.tracer_provider``), not the
process's global one, so that several apps in one process (the tests) do not share
it; the SDK flushes it when the process exits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongbank.settings import Settings

if TYPE_CHECKING:  # imported only when traces are on
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.engine import Engine


def install(
    app: FastAPI, settings: Settings, engine: Engine | None, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Trace ``app`` (and the SQL of ``engine``) as ``settings`` say; ``exporter``
    replaces the one the settings name (a test's in-memory one). None when off."""
    app.state.tracer_provider = None
    if settings.otel_traces == "off" and exporter is None:
        return None
    try:
        from rongbank.api import otel
    except ImportError as missing:
        raise RuntimeError(
            "RONGBANK_OTEL_TRACES needs the otel extra: pip install 'rongbank[otel]'"
        ) from missing
    provider = otel.instrument(app, settings, engine, exporter)
    app.state.tracer_provider = provider
    return provider
