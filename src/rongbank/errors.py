"""The base of every business error.

Each business fact gets its own subclass with a stable ``code`` (clients match on
it) and an HTTP status in the 4xx range; one handler in ``rongbank.api`` turns any of
them into ``{"error": {"code", "message", "details"}}``. An expected refusal is
therefore never a 500.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 400
    message: ClassVar[str] = "The request cannot be carried out."
    final: ClassVar[bool] = True
    """Whether this refusal is the request's outcome, answered again to a retry with
    the same idempotency key (``rongbank.idempotency``); False for answers that the
    same request, sent again, may get past: a challenge to answer, credentials."""

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.detail_message = message or self.message
        self.details = details
        super().__init__(self.detail_message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.detail_message, "details": self.details}


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = "The requested resource does not exist."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    message = "The request conflicts with the current state."


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401
    message = "Authentication is required."
    final = False


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    message = "You are not allowed to do this."


class InvalidRequest(DomainError):
    code = "invalid_request"
    status = 422
    message = "The request is not valid."
