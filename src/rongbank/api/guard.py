"""The input guard: every HTTP request's path, query string and JSON or form body is
checked by :mod:`rongbank.inputs` before any route sees it.

It sits in front of routing, so no endpoint, page or future route can forget it, and
it answers before authentication: what no endpoint takes is refused the same to
anyone, with a 422 in the error envelope; a page's request gets the error page
instead, in the reader's language (the ``page`` hook, as the error handlers have it:
``rongbank.api.errors.install_error_handlers``). Multipart bodies (uploads) are left to
their routes, whose fields are declared with :data:`rongbank.inputs.Text`;
WebSocket frames are checked by the chat gateway with the same
:func:`rongbank.inputs.loads`.
"""

from __future__ import annotations

from email.message import Message as MediaType
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rongbank.api.errors import ERROR_CODE, PageFor, error_body
from rongbank.inputs import InputRefused, loads, refusal, text_problem


class InputGuard:
    """ASGI middleware refusing input no endpoint takes (see :mod:`rongbank.inputs`)."""

    def __init__(self, app: ASGIApp, page: PageFor | None = None) -> None:
        self.app = app
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = _in_url(scope)
        kind = _body_kind(scope)
        if found is None and kind is not None:
            body = await _read(receive)
            found = _in_body(body, kind)
            receive = _replay(body, receive)
        if found is None:
            await self.app(scope, receive, send)
            return
        scope[ERROR_CODE] = "invalid_request"
        message = "The request is not valid."
        details = {"errors": [{"field": found.field, "problem": found.problem}]}
        response: Response | None = None
        if self.page is not None:
            response = self.page(Request(scope, receive), 422, "invalid_request", message, details)
        if response is None:
            response = JSONResponse(
                error_body("invalid_request", message, details), status_code=422
            )
        await response(scope, receive, send)


def _in_url(scope: Scope) -> InputRefused | None:
    problem = text_problem(scope["path"])
    if problem is not None:
        return InputRefused(problem, "path")
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            return InputRefused(problem, f"query.{name[:40]}")
    return None


def _body_kind(scope: Scope) -> str | None:
    """ "json" or "form" for the bodies the guard reads, else None."""
    header = dict(scope["headers"]).get(b"content-type")
    if header is None:
        return None  # FastAPI does not read it as JSON either (strict content type)
    media = MediaType()
    media["content-type"] = header.decode("latin-1")
    subtype = media.get_content_subtype()
    if media.get_content_maintype() != "application":
        return None
    if subtype == "json" or subtype.endswith("+json"):
        return "json"
    return "form" if subtype == "x-www-form-urlencoded" else None


def _in_body(body: bytes, kind: str) -> InputRefused | None:
    if not body:
        return None
    if kind == "form":
        # A form may repeat a name: a list, such as the grid card's answers.
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            found = refusal(name, "body") or refusal(value, f"body.{name[:40]}")
            if found is not None:
                return found
        return None
    try:
        loads(body)
    except InputRefused as refused:
        refused.field = f"body.{refused.field}" if refused.field else "body"
        return refused
    except (ValueError, RecursionError):
        return None  # not JSON: FastAPI answers that itself (invalid_request, json_invalid)
    return None


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
