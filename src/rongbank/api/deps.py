"""Dependencies shared by every router."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rongbank.auth.service import Principal, PrincipalKind
from rongbank.errors import Forbidden, Unauthenticated
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


PlatformDep = Annotated[Platform, Depends(get_platform)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Log in and send the token as 'Authorization: Bearer <token>'.")
    return credentials.credentials


def current_principal(
    platform: PlatformDep, token: Annotated[str, Depends(bearer_token)]
) -> Principal:
    with platform.transaction() as session:
        return platform.auth.authenticate(session, token)


def require_customer(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.kind is not PrincipalKind.CUSTOMER:
        raise Forbidden("This is for customers.")
    return principal


CustomerPrincipal = Annotated[Principal, Depends(require_customer)]


def require_staff(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting staff whose role is one of ``roles``."""

    def check(
        platform: PlatformDep, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if principal.kind is not PrincipalKind.STAFF:
            raise Forbidden("This is for bank staff.")
        with platform.transaction() as session:
            role = platform.accounts.staff_role(session, principal.id)
        if role not in roles:
            raise Forbidden("Your role does not allow this.", required_roles=list(roles))
        return principal

    return check
