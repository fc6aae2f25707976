"""One place turns every error into ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from rongbank.db import connection_lost
from rongbank.errors import DomainError

logger = logging.getLogger(__name__)

ERROR_CODE = "rongbank.error_code"
"""The scope key where the handlers below leave the code they answered, for the
metrics of errors by code (``rongbank.api.observe``)."""

_HTTP_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


DATABASE_UNAVAILABLE = "database_unavailable"
"""503: the database went away under the request (a failover: ``rongbank.db.
connection_lost``). Retryable: its outcome is unknown, so the client sends it again
with the same idempotency key, which answers the first outcome if it had one."""
_RETRY_MESSAGE = (
    "The bank's database is changing over; send the same request again, with the same "
    "idempotency key, in a moment."
)


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable: clients match on it.", examples=["insufficient_funds"])
    message: str = Field(description="For a person to read; may change.")
    details: dict[str, Any] = Field(
        description="Facts about this refusal, by code; for ``invalid_request``, "
        "``errors``: the fields and their problems."
    )


class ErrorEnvelope(BaseModel):
    """Every refusal, whatever its status."""

    error: ErrorDetail


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


PageFor = Callable[[Request, int, str, str, dict[str, Any]], Response | None]
"""The refusal as a page for a browser (status, code, message, details), or None for
an API request: ``rongbank.web.error_pages.error_page``."""


def install_error_handlers(app: FastAPI, page: PageFor | None = None) -> None:
    def page_for(
        request: Request, status: int, code: str, message: str, details: dict[str, Any]
    ) -> Response | None:
        return None if page is None else page(request, status, code, message, details)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        request.scope[ERROR_CODE] = exc.code
        shown = page_for(request, exc.status, exc.code, exc.detail_message, exc.details)
        if shown is not None:
            return shown
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            {"error": jsonable_encoder(exc.to_dict())}, status_code=exc.status, headers=headers
        )

    @app.exception_handler(DBAPIError)
    async def database_lost(request: Request, exc: DBAPIError) -> Response:
        if not connection_lost(exc):
            raise exc  # a defect: the 500 it always was
        request.scope[ERROR_CODE] = DATABASE_UNAVAILABLE
        shown = page_for(request, 503, DATABASE_UNAVAILABLE, _RETRY_MESSAGE, {})
        if shown is not None:
            return shown
        return JSONResponse(
            error_body(DATABASE_UNAVAILABLE, _RETRY_MESSAGE),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # The input values themselves are left out: they may hold personal data.
        request.scope[ERROR_CODE] = "invalid_request"
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        shown = page_for(request, 422, "invalid_request", "The request is not valid.", {})
        if shown is not None:
            return shown
        return JSONResponse(
            error_body("invalid_request", "The request is not valid.", {"errors": errors}),
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        request.scope[ERROR_CODE] = code
        shown = page_for(request, exc.status_code, code, str(exc.detail), {})
        if shown is not None:
            return shown
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        shown = page_for(request, 500, "internal_error", "", {})
        if shown is not None:
            return shown
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side; nothing was changed."),
            status_code=500,
        )
