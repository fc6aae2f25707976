"""One place turns every error into ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from rongbank.errors import DomainError

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


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


_MEANINGS = {
    400: "Refused: the request cannot be carried out.",
    401: "Not logged in, or the token is not valid or has ended.",
    403: "Not allowed for you, or a step-up challenge is required first.",
    404: "What it names does not exist, or is not yours.",
    409: "Conflicts with the current state, or reuses a key for another request.",
    413: "Too large.",
    415: "Of a type not taken.",
    422: "The request is not valid: a field is missing, malformed or out of range.",
    429: "Too many requests: wait and try again.",
    503: "A system the bank depends on did not answer: nothing was changed.",
}


def _kinds(cls: type[DomainError]) -> list[type[DomainError]]:
    return [cls] + [kind for sub in cls.__subclasses__() for kind in _kinds(sub)]


def document_errors(app: FastAPI) -> None:
    """Every operation under ``/api`` documents the refusals it may answer, with the
    error envelope as their body (FastAPI's default documents only a ``{detail}``
    422): the statuses of every :class:`DomainError` the domains declare, and 401,
    403 and 422 that the shared dependencies and the input checks send. Any
    operation may meet most of them (a missing account, a frozen one, a rate limit).

    Done on the generated document rather than with ``responses=`` on the routers:
    that would make FastAPI build every route's response models again for each app."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_refusals(generate())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _add_refusals(document: dict[str, Any]) -> None:
    statuses = {kind.status for kind in _kinds(DomainError)} | {401, 403, 404, 422}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(envelope.pop("$defs", {}), ErrorEnvelope=envelope)
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            responses = operation["responses"]
            for status in sorted(statuses):
                meaning = _MEANINGS.get(status, "Refused.")
                responses[str(status)] = {"description": meaning, "content": body}
    for default in ("HTTPValidationError", "ValidationError"):  # no longer referred to
        schemas.pop(default, None)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            {"error": jsonable_encoder(exc.to_dict())}, status_code=exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The input values themselves are left out: they may hold personal data.
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        return JSONResponse(
            error_body("invalid_request", "The request is not valid.", {"errors": errors}),
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side; nothing was changed."),
            status_code=500,
        )
