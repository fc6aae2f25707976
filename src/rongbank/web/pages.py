"""The web bank and the staff console: server-rendered pages.

Pages work without JavaScript (plain forms); htmx, vendored under /static, only
boosts navigation. Sessions are the same bearer sessions as the API, carried in an
HttpOnly cookie; every form carries a CSRF token bound to that session
(:mod:`rongbank.web.csrf`), so another site cannot post on a customer's behalf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from rongbank import roles
from rongbank.accounts.statements import mask_account_number
from rongbank.api.deps import get_platform, platform_of
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.errors import SessionExpired, SessionInvalid
from rongbank.auth.service import Principal, PrincipalKind
from rongbank.auth.sms import FakeSmsGateway
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError, Forbidden
from rongbank.platform import Platform
from rongbank.web.csrf import (
    bind_csrf,
    check_csrf,
    check_csrf_ending,
    csrf_token,
    set_csrf_cookie,
)
from rongbank.web.formatting import amount
from rongbank.web.i18n import LANGUAGES, error_text, install_gettext, level_name, translate

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)
templates = Jinja2Templates(directory=str(files("rongbank.web") / "templates"))
# A customer's own account in a picker: 6288****0018, as on bank slips (fits a phone).
templates.env.filters["masked"] = mask_account_number
templates.env.filters["amount"] = amount
templates.env.filters["level"] = level_name
install_gettext(templates.env)

CUSTOMER_COOKIE = "rb_session"
STAFF_COOKIE = "rb_staff"
LANG_COOKIE = "rb_lang"
LOGIN_PAGES = {
    PrincipalKind.CUSTOMER: "/login",
    PrincipalKind.STAFF: "/staff/login",
    PrincipalKind.MERCHANT: "/merchant/login",
}

PlatformDep = Annotated[Platform, Depends(get_platform)]


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to a login page."""

    def __init__(self, target: str) -> None:
        self.target = target


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "zh")
    return lang if lang in LANGUAGES else "zh"


@dataclass(frozen=True, slots=True)
class DeviceHints:
    """Which ``rongbank device`` commands a page shows beside a challenge: developer
    text, so only with ``developer_hints`` set, and the SMS one only while the fake
    gateway keeps the texts (a real operator sends them to the phone)."""

    tools: bool
    sms: bool

    @classmethod
    def of(cls, platform: Platform) -> DeviceHints:
        shown = platform.settings.developer_hints
        return cls(tools=shown, sms=shown and isinstance(platform.tools.sms, FakeSmsGateway))


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    lang = lang_of(request)
    hints = DeviceHints.of(request.app.state.platform)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": translate(lang),
            "lang": lang,
            "csrf": csrf_token(request),
            "hints": hints,
            "notices_unread": _notices_unread(request),
            **context,
        },
        status_code=status_code,
    )
    set_csrf_cookie(request, response)
    return response


def _notices_unread(request: Request) -> int:
    """The customer menu's badge: unread notices, read as the page is drawn (one
    query), so that the page that reads them shows them read. 0 off customer pages."""
    customer_id = getattr(request.state, "customer_id", None)
    if customer_id is None:
        return 0
    platform = platform_of(request)
    with platform.transaction() as session:
        box = platform.push.notice_box_state(session, customer_id)
    return box.unread if box else 0


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def refusal_text(request: Request, error: DomainError) -> str:
    return error_text(lang_of(request), error.code, error.detail_message, error.details)


def local_time(at: datetime) -> str:
    return at.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M")


def signed_in(request: Request, platform: Platform, cookie: str, kind: PrincipalKind) -> Principal:
    token = request.cookies.get(cookie)
    login = LOGIN_PAGES[kind]
    if not token:
        raise LoginRequired(login)
    try:
        with platform.transaction() as session:
            principal = platform.auth.authenticate(session, token)
    except (SessionInvalid, SessionExpired):
        raise LoginRequired(login) from None
    if principal.kind is not kind:
        raise LoginRequired(login)
    bind_csrf(request, token)
    return principal


def customer_page(request: Request, platform: PlatformDep) -> Principal:
    principal = signed_in(request, platform, CUSTOMER_COOKIE, PrincipalKind.CUSTOMER)
    request.state.customer_id = principal.id  # for the menu's badge (render)
    return principal


def staff_page(*roles: str) -> Callable[..., tuple[Principal, str]]:
    def check(request: Request, platform: PlatformDep) -> tuple[Principal, str]:
        principal = signed_in(request, platform, STAFF_COOKIE, PrincipalKind.STAFF)
        with platform.transaction() as session:
            role = platform.accounts.staff_role(session, principal.id)
        if role is None or role not in roles:
            raise Forbidden("Your role does not allow this.")
        request.state.staff_role = role  # the console's menu shows the role's pages
        return principal, role

    return check


Me = Annotated[Principal, Depends(customer_page)]
Staff = Annotated[tuple[Principal, str], Depends(staff_page(*roles.ALL_STAFF))]
Operations = Annotated[tuple[Principal, str], Depends(staff_page(*roles.ACCOUNTS))]


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(path: str) -> str | None:
    """``path`` when it is a page of this site to go back to after a login; never
    another site (``//evil``, ``/\\evil``, ``https://``)."""
    if not path.startswith("/") or path.startswith(("//", "/\\")) or len(path) > 500:
        return None
    return path if all(c.isprintable() and not c.isspace() for c in path) else None


# -- language --------------------------------------------------------------------


@router.get("/lang/{lang}")
def switch_language(lang: str, request: Request) -> Response:
    back = request.headers.get("referer") or "/"
    response = see_other(back if back.startswith(str(request.base_url)) else "/")
    response.set_cookie(LANG_COOKIE, lang if lang in LANGUAGES else "zh", samesite="lax")
    return response


# -- customers -----------------------------------------------------------------


CUSTOMER_HOME = "/home"
"""Where a customer lands after login: the dashboard (``web/home_pages.py``)."""


@router.get("/")
def home(request: Request) -> Response:
    return see_other(CUSTOMER_HOME if request.cookies.get(CUSTOMER_COOKIE) else "/login")


@router.get("/login")
def login_page(
    request: Request,
    registered: bool = False,
    reset: bool = False,
    expired: bool = False,
    next: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    notice = "registered" if registered else "reset_done" if reset else None
    return render(
        request,
        "login.html",
        notice=notice,
        expired=expired,
        next=safe_next(next) or "",
    )


def log_in(
    request: Request,
    platform: Platform,
    *,
    name: str,
    password: str,
    template: str,
    cookie: str,
    target: str,
) -> Response:
    """Open a session and set its cookie, or show the form again with the refusal.
    The failure count is committed before the refusal is shown."""
    ip = request.client.host if request.client else None
    with platform.transaction() as session:
        result = platform.auth.login(
            session,
            username=name,
            password=password,
            client=request.headers.get("user-agent", "")[:200],
            ip=ip,
        )
        platform.audit_login(session, result, login_name=name, ip=ip)
    if result.new_session is None:
        assert result.error is not None
        return render(
            request,
            template,
            401,
            error=refusal_text(request, result.error),
            login_name=name,
            next=target,
        )
    response = see_other(target)
    response.set_cookie(
        cookie, result.new_session.token, httponly=True, samesite="lax", secure=_secure(request)
    )
    return response


@router.post("/login")
def login(
    request: Request,
    platform: PlatformDep,
    login_name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_csrf(request, csrf)
    return log_in(
        request,
        platform,
        name=login_name,
        password=password,
        template="login.html",
        cookie=CUSTOMER_COOKIE,
        target=safe_next(next) or CUSTOMER_HOME,
    )


@router.post("/logout")
def logout(request: Request, platform: PlatformDep, csrf: Annotated[str, Form()] = "") -> Response:
    tokens = [request.cookies.get(cookie) for cookie in (CUSTOMER_COOKIE, STAFF_COOKIE)]
    check_csrf_ending(request, csrf, tokens)
    for token in tokens:
        if token:
            with platform.transaction() as session:
                platform.auth.logout(session, token)
    response = see_other("/login")
    response.delete_cookie(CUSTOMER_COOKIE)
    response.delete_cookie(STAFF_COOKIE)
    return response


@router.get("/register")
def register_page(request: Request) -> Response:
    return render(request, "register.html", form={})


@router.post("/register")
def register(
    request: Request,
    platform: PlatformDep,
    name: Annotated[str, Form(max_length=100)],
    mobile: Annotated[str, Form(max_length=30)],
    resident_id: Annotated[str, Form(max_length=30)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    form = {"name": name, "mobile": mobile, "resident_id": resident_id}
    try:
        with platform.transaction() as session:
            person, _ = platform.accounts.register_person(
                session, name=name, mobile=mobile, resident_id=resident_id
            )
            platform.auth.set_password(
                session,
                kind=PrincipalKind.CUSTOMER,
                principal_id=person.id,
                username=person.mobile,
                password=password,
                personal=[person.mobile, resident_id],
            )
    except DomainError as error:
        return render(request, "register.html", 422, error=refusal_text(request, error), form=form)
    return see_other("/login?registered=true")


# -- staff ---------------------------------------------------------------------


@router.get("/staff/login")
def staff_login_page(request: Request) -> Response:
    return render(request, "staff_login.html")


@router.post("/staff/login")
def staff_login(
    request: Request,
    platform: PlatformDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    return log_in(
        request,
        platform,
        name=username,
        password=password,
        template="staff_login.html",
        cookie=STAFF_COOKIE,
        target="/staff",
    )
