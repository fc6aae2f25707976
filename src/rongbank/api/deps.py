"""Dependencies shared by every router."""

from __future__ import annotations

import hmac

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rongbank.errors import Unauthenticated
from rongbank.platform import Platform

_bearer = HTTPBearer(auto_error=False)


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def require_operator(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    platform: Platform = Depends(get_platform),
) -> None:
    """Staff-only endpoints, until staff logins exist: one operator token from the
    settings. Compared in constant time; never logged."""
    expected = platform.settings.operator_token
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Send the operator token as 'Authorization: Bearer <token>'.")
    if expected is None or not hmac.compare_digest(
        credentials.credentials.encode(), expected.get_secret_value().encode()
    ):
        raise Unauthenticated("The operator token is not valid.")
