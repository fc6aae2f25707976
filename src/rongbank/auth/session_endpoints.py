"""A customer's password and sessions over HTTP: changing the password, resetting a
forgotten one through the registered mobile (public), the sessions logged in with
their devices, signing one or all others out, and the login history. Every change is
audited, and the customer gets a 融e联 security notice of each new password."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field, SecretStr

from rongbank.api.deps import CustomerPrincipal, PlatformDep
from rongbank.api.one_hop import OneHopRoute
from rongbank.audit.service import AuditRow
from rongbank.auth import throttle
from rongbank.auth.devices import describe
from rongbank.auth.service import SessionInfo
from rongbank.inputs import IdParam, Input

customer = APIRouter(tags=["sessions and password"], prefix="/me", route_class=OneHopRoute)
public = APIRouter(tags=["sessions and password"], route_class=OneHopRoute)

Secret = Annotated[SecretStr, Field(max_length=200)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class PasswordChangeIn(Input):
    current_password: Secret
    new_password: Secret


class PasswordChangedOut(BaseModel):
    sessions_ended: int
    """The other sessions that were ended (this one stays)."""


@customer.put("/password")
def change_my_password(
    body: PasswordChangeIn, request: Request, platform: PlatformDep, me: CustomerPrincipal
) -> PasswordChangedOut:
    """Change your login password, typing the current one again. Every other session
    of yours ends, and you get a 融e联 security notice. A wrong current password
    counts towards the lockout of your network as a wrong password at login does
    (``current_password_wrong`` says how many tries are left)."""
    ended = platform.change_password(
        me,
        current=body.current_password.get_secret_value(),
        new=body.new_password.get_secret_value(),
        ip=client_ip(request),
    )
    return PasswordChangedOut(sessions_ended=ended)


class LiveSessionOut(BaseModel):
    id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    device: str
    """The browser and system its login said it was (from the User-Agent), or the
    client's own words when they say no more; no fingerprint is taken."""
    network: str
    """Where it logged in from, masked (``198.51.*.*``)."""
    current: bool
    """The session this request is sent in."""


def session_out(info: SessionInfo) -> LiveSessionOut:
    return LiveSessionOut(
        id=info.id,
        created_at=info.created_at,
        last_seen_at=info.last_seen_at,
        expires_at=info.expires_at,
        device=describe(info.client) or info.client[:60],
        network=throttle.masked(throttle.source_of(info.ip)),
        current=info.current,
    )


@customer.get("/sessions")
def my_sessions(platform: PlatformDep, me: CustomerPrincipal) -> list[LiveSessionOut]:
    """Where you are logged in now, the most recently used first."""
    with platform.transaction() as session:
        return [session_out(info) for info in platform.auth.sessions_of(session, me)]


@customer.delete("/sessions/{session_id}", status_code=204)
def end_my_session(session_id: IdParam, platform: PlatformDep, me: CustomerPrincipal) -> Response:
    """Sign one of your sessions out (a device you no longer use, or one that is not
    yours: then change your password too)."""
    with platform.audited(
        actor_kind="customer", actor_id=me.id, action="session.end", target=str(session_id)
    ) as session:
        platform.auth.logout_session(session, me, session_id)
    return Response(status_code=204)


class LoginOut(BaseModel):
    at: datetime
    network: str
    """Where the login came from, masked (``198.51.*.*``)."""
    result: Literal["ok", "wrong_password", "locked"]
    """``wrong_password`` for any refused password (a disabled login too);
    ``locked`` when the network was locked out at the time."""


def login_out(row: AuditRow) -> LoginOut:
    error = row.details.get("error")
    return LoginOut(
        at=row.at,
        network=throttle.masked(throttle.source_of(row.ip)),
        result="ok"
        if row.result == "ok"
        else "locked"
        if error == "login_locked"
        else "wrong_password",
    )


@customer.get("/logins")
def my_logins(platform: PlatformDep, me: CustomerPrincipal) -> list[LoginOut]:
    """The latest 20 logins to your login name, refused ones too, newest first: if
    one is not yours, change your password."""
    with platform.transaction() as session:
        rows = platform.audit.logins_of(session, kind=me.kind.value, principal_id=me.id)
    return [login_out(row) for row in rows]


class ResetIn(Input):
    mobile: Annotated[str, Field(max_length=30)]
    resident_id: Annotated[str, Field(max_length=30)]
    """Yours; for an enterprise, its legal representative's."""


class ResetOut(BaseModel):
    reset_id: str
    expires_at: datetime


@public.post("/password-resets", status_code=202)
def start_password_reset(body: ResetIn, request: Request, platform: PlatformDep) -> ResetOut:
    """Forgot your password? Send your registered mobile and identity number: when they
    are a customer's, a code goes to that mobile. The answer is the same either way.
    Then send the code and a new password to ``/password-resets/{reset_id}`` within
    10 minutes. At most 3 resets an hour per mobile number and 10 per network
    (``429 password_reset_too_frequent``)."""
    started = platform.start_password_reset(
        mobile=body.mobile, identity_number=body.resident_id, ip=client_ip(request)
    )
    return ResetOut(reset_id=started.id, expires_at=started.expires_at)


class ResetFinishIn(Input):
    """The code and the new password. A customer who holds a token or a U盾 is then
    asked its challenge (``403 challenge_required``): send ``challenge_id`` and
    ``response`` (the code and password may be left out then: the reset keeps them)."""

    code: Annotated[str, Field(min_length=1, max_length=12)] | None = None
    new_password: Secret | None = None
    challenge_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    response: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


class ResetDoneOut(BaseModel):
    sessions_ended: int
    """Every session of yours ended: log in with the new password."""


@public.post("/password-resets/{reset_id}")
def finish_password_reset(
    reset_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: ResetFinishIn,
    request: Request,
    platform: PlatformDep,
) -> ResetDoneOut:
    """Set a new password with the code sent to your mobile. Five wrong codes end the
    reset. Every session of yours ends, and you get a 融e联 security notice."""
    ended = platform.finish_password_reset(
        reset_id,
        code=body.code,
        password=None if body.new_password is None else body.new_password.get_secret_value(),
        challenge_id=body.challenge_id,
        response=body.response,
        ip=client_ip(request),
    )
    return ResetDoneOut(sessions_ended=ended)
