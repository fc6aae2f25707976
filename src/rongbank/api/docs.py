"""The OpenAPI document: what FastAPI generates, completed with what it cannot see.

- Every operation under ``/api`` documents the refusals it may answer, with the error
  envelope as their body (FastAPI documents only a ``{detail}`` 422, which the API
  never sends): the statuses of every :class:`~rongbank.errors.DomainError` the
  domains declare, and 401, 403 and 422 that the shared dependencies and the input
  checks send. Any operation may meet most of them (a missing account, a frozen one,
  a rate limit).
- An operation without a security requirement says it is public (``security: []``).

It is done on the generated document rather than with ``responses=`` on the routers:
that makes FastAPI build every route's response models again for each app (0.5 s a
``create_app``, which every test pays). Answers that are not JSON models are
documented with :func:`file_answer`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from rongbank.api.errors import ErrorEnvelope
from rongbank.errors import DomainError

Answers = dict[int | str, dict[str, Any]]

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
_BYTES = {"type": "string", "format": "binary"}
_ENVELOPE = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}


def file_answer(*media_types: str, description: str, status: int = 200) -> Answers:
    """An answer that is a file: text for text formats, bytes for the others."""
    content = {
        media: {"schema": {"type": "string"} if _text(media) else _BYTES} for media in media_types
    }
    return {status: {"content": content, "description": description}}


def _text(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type.endswith(("xml", "json"))


def complete_openapi(app: FastAPI) -> None:
    """Have ``app`` serve the completed document (see the module's docstring)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _complete(generate())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _kinds(cls: type[DomainError]) -> list[type[DomainError]]:
    return [cls] + [kind for sub in cls.__subclasses__() for kind in _kinds(sub)]


def _complete(document: dict[str, Any]) -> None:
    statuses = sorted({kind.status for kind in _kinds(DomainError)} | {401, 403, 404, 422})
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(envelope.pop("$defs", {}), ErrorEnvelope=envelope)
    for path, operations in document["paths"].items():
        for operation in operations.values():
            operation.setdefault("security", [])
            if path.startswith("/api/"):
                for status in statuses:
                    meaning = _MEANINGS.get(status, "Refused.")
                    operation["responses"][str(status)] = {
                        "description": meaning,
                        "content": _ENVELOPE,
                    }
    for default in ("HTTPValidationError", "ValidationError"):  # no longer referred to
        schemas.pop(default, None)
