"""The customer's login and password pages: changing the password, the devices
logged in and the login history (signing one or all others out), resetting a
forgotten password through the registered mobile, and ``/resume``, where a form
posted after the session expired is sent again (``rongbank.web.error_pages``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from rongbank.accounts.identity import mask_mobile
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.session_endpoints import login_out, session_out
from rongbank.auth.stepup import ChallengeFailed, ChallengeRequired
from rongbank.errors import DomainError
from rongbank.inputs import CountParam, IdParam
from rongbank.web.csrf import check_csrf
from rongbank.web.error_pages import KEPT_COOKIE, KEPT_PATH, kept_fields
from rongbank.web.pages import (
    CUSTOMER_COOKIE,
    Me,
    PlatformDep,
    local_time,
    refusal_text,
    render,
    see_other,
)
from rongbank.web.step_up import carried_challenge, challenge_view

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

Secret = Annotated[str, Form(max_length=200)]
ResetId = Annotated[str, Path(min_length=1, max_length=64)]


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# -- changing the password -----------------------------------------------------------


@router.get("/security/password")
def password_page(request: Request, me: Me) -> Response:
    return render(request, "password.html")


@router.post("/security/password")
def change_password(
    request: Request,
    platform: PlatformDep,
    me: Me,
    current_password: Secret,
    new_password: Secret,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        ended = platform.change_password(
            me, current=current_password, new=new_password, ip=_ip(request)
        )
    except DomainError as error:
        return render(request, "password.html", 422, error=refusal_text(request, error))
    return see_other(f"/security/sessions?changed={ended}")


# -- sessions, devices and login history ---------------------------------------------


@router.get("/security/sessions")
def sessions_page(
    request: Request,
    platform: PlatformDep,
    me: Me,
    changed: CountParam | None = None,
    ended: CountParam | None = None,
) -> Response:
    with platform.transaction() as session:
        live = platform.auth.sessions_of(session, me)
        logins = platform.audit.logins_of(session, kind=me.kind.value, principal_id=me.id)
    t_notice = (
        ("password_changed", changed)
        if changed is not None
        else ("others_signed_out", ended)
        if ended is not None
        else None
    )
    return render(
        request,
        "sessions.html",
        notice=t_notice,
        sessions=[_shown(session_out(info).model_dump()) for info in live],
        logins=[_shown(login_out(row).model_dump()) for row in logins],
    )


def _shown(view: dict[str, Any]) -> dict[str, Any]:
    """Times in Beijing time, as every page shows them."""
    return {k: local_time(v) if isinstance(v, datetime) else v for k, v in view.items()}


@router.post("/security/sessions/{session_id}/end")
def end_session(
    request: Request,
    platform: PlatformDep,
    me: Me,
    session_id: IdParam,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    with platform.audited(
        actor_kind="customer", actor_id=me.id, action="session.end", target=str(session_id)
    ) as session:
        platform.auth.logout_session(session, me, session_id)
    if session_id == me.session_id:
        return see_other("/login")
    return see_other("/security/sessions?ended=1")


@router.post("/security/sessions/end-others")
def end_other_sessions(
    request: Request, platform: PlatformDep, me: Me, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf)
    with platform.audited(
        actor_kind="customer", actor_id=me.id, action="session.end_others", target="sessions"
    ) as session:
        ended = platform.auth.logout_others(session, request.cookies.get(CUSTOMER_COOKIE, ""))
    return see_other(f"/security/sessions?ended={ended}")


# -- a forgotten password ------------------------------------------------------------


@router.get("/password-reset")
def reset_page(request: Request) -> Response:
    return render(request, "reset_start.html", form={})


@router.post("/password-reset")
def start_reset(
    request: Request,
    platform: PlatformDep,
    mobile: Annotated[str, Form(max_length=30)],
    resident_id: Annotated[str, Form(max_length=30)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        started = platform.start_password_reset(
            mobile=mobile, identity_number=resident_id, ip=_ip(request)
        )
    except DomainError as error:
        form = {"mobile": mobile}  # never the identity number back into a page
        return render(
            request, "reset_start.html", 422, error=refusal_text(request, error), form=form
        )
    return render(
        request,
        "reset_finish.html",
        reset_id=started.id,
        mobile=mask_mobile(mobile.strip()),
        until=local_time(started.expires_at)[-5:],
    )


@router.post("/password-reset/{reset_id}")
def finish_reset(
    request: Request,
    platform: PlatformDep,
    reset_id: ResetId,
    code: Annotated[str, Form(max_length=12)] = "",
    new_password: Secret = "",
    challenge_id: Annotated[str, Form(max_length=64)] = "",
    challenge: Annotated[str, Form(max_length=8000)] = "",
    response: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)

    def again(status: int, error: DomainError | None, shown: dict[str, Any] | None) -> Response:
        return render(
            request,
            "reset_finish.html",
            status,
            reset_id=reset_id,
            error=None if error is None else refusal_text(request, error),
            challenge=None if shown is None else _strong_challenge(shown),
        )

    try:
        platform.finish_password_reset(
            reset_id,
            code=code or None,
            password=new_password or None,
            challenge_id=challenge_id or None,
            response=response or None,
            ip=_ip(request),
        )
    except ChallengeRequired as required:
        return again(200, None, required.details["challenge"])
    except ChallengeFailed as error:
        return again(422, error, carried_challenge(challenge, challenge_id))
    except DomainError as error:
        if error.code == "password_reset_expired":
            return render(
                request, "reset_start.html", 422, error=refusal_text(request, error), form={}
            )
        return again(422, error, None)
    return see_other("/login?reset=true")


def _strong_challenge(challenge: dict[str, Any]) -> dict[str, Any]:
    """The token's or U盾's challenge in the payment pages' form, worded as a change
    (no payee, no amount); a reset is confirmed with the strongest tool held, so no
    other is offered."""
    return challenge_view(challenge, mobile="") | {"alternatives": [], "change": True}


# -- a form kept when the session expired --------------------------------------------


@router.get(KEPT_PATH)
def resume(request: Request, me: Me) -> Response:
    """The form posted when the session had expired, to check and send again."""
    kept = kept_fields(request)
    if kept is None:
        return see_other("/accounts")
    path, fields = kept
    page = render(request, "continue.html", path=path, fields=fields)
    page.delete_cookie(KEPT_COOKIE, path=KEPT_PATH)
    return page
