"""Dependencies shared by every router."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from rongbank.auth.service import Principal, PrincipalKind
from rongbank.db import autocommit
from rongbank.errors import DomainError, Forbidden, Unauthenticated
from rongbank.idempotency import IdempotencyConflict, Keyed, keyed
from rongbank.platform import Platform

_bearer = HTTPBearer(auto_error=False)


# Dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` one in its
# thread pool, a hand-over between threads each (about 0.1 ms of CPU on a money path
# of 6 ms, measured with ``tests/support/path_cost``). Those with I/O (the login
# check) are plain ``def``s: under ``rongbank.api.one_hop.OneHopRoute`` they run on
# the endpoint's worker thread, in the request's one hand-over.


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def get_platform(request: Request) -> Platform:
    return platform_of(request)


PlatformDep = Annotated[Platform, Depends(get_platform)]


class OperatorTokenRetired(Forbidden):
    code = "operator_token_retired"
    message = (
        "Staff logins exist, so the operator token no longer opens this API: log in as "
        "a member of staff (POST /api/v1/sessions) and send that session's token."
    )


@dataclass(frozen=True, slots=True)
class StaffActor:
    """Who acts on a staff API: a member of staff (``kind`` ``staff``, their id and
    role), or the operator token of a new install (``operator``, no id)."""

    kind: str
    id: int | None
    role: str | None


OPERATOR = StaffActor("operator", None, None)


def require_staff_or_operator(*roles: str) -> Callable[..., StaffActor]:
    """A dependency admitting staff whose role is one of ``roles`` and, until any
    member of staff has a login, the operator token from the settings (compared in
    constant time, never logged): it bootstraps a new install (``rongbank up``
    prints where it is) and is refused once ``rongbank staff create`` has run, so
    that no bearer of a shared secret moves money past the staff's roles and audit.
    A refusal of a known caller (a retired token, a role without the right, a
    customer) is audited."""

    def check(
        request: Request,
        platform: PlatformDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> StaffActor:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthenticated("Log in and send the token as 'Authorization: Bearer <token>'.")
        token = credentials.credentials
        expected = platform.settings.operator_token
        try:
            if expected is not None and hmac.compare_digest(
                token.encode(), expected.get_secret_value().encode()
            ):
                with platform.transaction() as session:
                    if platform.auth.staff_logins_exist(session):
                        raise _Refused(OPERATOR, OperatorTokenRetired())
                return OPERATOR
            with platform.transaction() as session:
                principal = platform.auth.authenticate(session, token)
                role = (
                    platform.accounts.staff_role(session, principal.id)
                    if principal.kind is PrincipalKind.STAFF
                    else None
                )
            actor = StaffActor(principal.kind.value, principal.id, role)
            if principal.kind is not PrincipalKind.STAFF:
                raise _Refused(actor, Forbidden("This is for bank staff."))
            if role not in roles:
                raise _Refused(
                    actor, Forbidden("Your role does not allow this.", required_roles=list(roles))
                )
            return actor
        except _Refused as refused:
            with platform.transaction() as session:
                platform.audit.record(
                    session,
                    actor_kind=refused.actor.kind,
                    actor_id=refused.actor.id,
                    action="staff_api.access",
                    target=f"{request.method} {request.url.path}",
                    result="refused",
                    details={"error": refused.error.code, "role": refused.actor.role},
                )
            raise refused.error from None

    return check


class _Refused(Exception):
    def __init__(self, actor: StaffActor, error: DomainError) -> None:
        self.actor, self.error = actor, error


async def bearer_token(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Log in and send the token as 'Authorization: Bearer <token>'.")
    return credentials.credentials


def current_principal(
    platform: PlatformDep, token: Annotated[str, Depends(bearer_token)]
) -> Principal:
    # One statement in autocommit: the check costs the request no transaction of
    # its own (a BEGIN and a COMMIT round trip fewer on every API request).
    with autocommit(platform.session_factory) as session:
        return platform.auth.authenticate(session, token)


async def require_customer(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
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


HOW_AUTHORISED = frozenset({"client_id", "challenge_id", "response", "tool"})
"""Body fields that are not part of what a request asks: its key, and the answer to
a challenge (sent again with the same request)."""


def keyed_request(
    scope: str,
    key: str,
    body: BaseModel,
    *,
    conflict: type[DomainError] = IdempotencyConflict,
    **parsed: object,
) -> Keyed:
    """The idempotency key of a request with this body in ``scope`` (e.g.
    ``customer:42:transfer``); ``parsed`` replaces fields by their parsed values, so
    that "12.3" and "12.30" ask the same."""
    return keyed(
        scope, key, body.model_dump(exclude=set(HOW_AUTHORISED)) | parsed, conflict=conflict
    )
