"""Structured logs: one JSON object a line, with the request's id.

The request id comes from the load balancer (``X-Request-Id``) or is made by the
API (``rongbank.api.observe``), is returned in the answer, set in
:data:`REQUEST_ID` for the request's work (the endpoint's thread included: Starlette
runs it in a copy of the context) and recorded in every line logged meanwhile and in
the audit rows the request writes (``rongbank.audit.service``): a customer's
complaint, the load balancer's log, ours and the audit trail meet on it.

Personal data never reaches a log line: every message and traceback goes through
the boundary's ``mask`` (``rongbank.audit.service.mask_text``: identity, card and
mobile numbers) before it is written, whatever the code that logged it passed, and
SQL parameters are never part of a database error's text (``rongbank.db``).
Secrets are not logged by the code in the first place; the test that logs in and
pays with a log handler attached checks both.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Callable
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID: ContextVar[str | None] = ContextVar("rongbank.request_id", default=None)

_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""What a request id from outside may look like: what load balancers make (HAProxy's
``%ID``, uuids), and nothing that could forge a log line or a header."""


def request_id_from(header: bytes | None) -> str:
    """The load balancer's id when it is a sane one, else a new one."""
    if header is not None:
        text = header.decode("latin-1")
        if _ACCEPTED_ID.fullmatch(text):
            return text
    return secrets.token_hex(8)


def current_request_id() -> str | None:
    return REQUEST_ID.get()


class _Masked(logging.Filter):
    """Masks personal data in the message and the traceback, and adds the request
    id (each record once: a record passes every handler's filters)."""

    def __init__(self, mask: Callable[[str], str]) -> None:
        super().__init__()
        self.mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "rongbank_masked", False):
            return True
        record.msg, record.args = self.mask(record.getMessage()), None
        if record.exc_info:
            record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        record.request_id = REQUEST_ID.get()
        record.rongbank_masked = True
        return True


FIELDS = ("asctime", "levelname", "name", "message", "request_id")


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        list(FIELDS),
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        json_ensure_ascii=False,
        # uvicorn's colour_message repeats the message with terminal escapes.
        reserved_attrs=[*_RESERVED, "rongbank_masked", "color_message"],
    )


_RESERVED: tuple[str, ...] = (
    *logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys(),
    "message",
    "asctime",
    "taskName",
)


def configure(
    *, mask: Callable[[str], str], level: str | int = "INFO", as_json: bool = True
) -> logging.Handler:
    """Send the process's logs (uvicorn's included) to standard error, masked, one
    JSON object a line (``as_json``) or as plain text; returns the handler."""
    handler = logging.StreamHandler(sys.stderr)
    attach(handler, mask=mask, as_json=as_json)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler


def attach(handler: logging.Handler, *, mask: Callable[[str], str], as_json: bool = True) -> None:
    """Make ``handler`` write what :func:`configure` writes."""
    handler.addFilter(_Masked(mask))
    handler.setFormatter(
        json_formatter()
        if as_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
    )
