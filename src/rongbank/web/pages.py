"""The web bank and the staff console: server-rendered pages.

Pages work without JavaScript (plain forms); htmx, vendored under /static, only
boosts navigation. Sessions are the same bearer sessions as the API, carried in an
HttpOnly cookie; every form carries a CSRF token that must match a second cookie
(double submit), so another site cannot post on a customer's behalf.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from rongbank.accounts.identity import mask_mobile
from rongbank.accounts.rules import luhn_valid
from rongbank.accounts.service import BUSINESS_TIME_ZONE, EAccount
from rongbank.accounts.statements import (
    HistoryFilter,
    Movement,
    StatementsService,
    render_csv,
    render_pdf,
)
from rongbank.api.deps import get_platform
from rongbank.auth.errors import SessionExpired, SessionInvalid
from rongbank.auth.service import Principal, PrincipalKind
from rongbank.errors import DomainError, Forbidden
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform
from rongbank.web.i18n import LANGUAGES, error_text, translate

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(files("rongbank.web") / "templates"))

CUSTOMER_COOKIE = "rb_session"
STAFF_COOKIE = "rb_staff"
CSRF_COOKIE = "rb_csrf"
LANG_COOKIE = "rb_lang"

PlatformDep = Annotated[Platform, Depends(get_platform)]


class CsrfFailed(DomainError):
    code = "csrf_failed"
    status = 403
    message = "The page has expired; please try again."


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to a login page."""

    def __init__(self, target: str) -> None:
        self.target = target


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "zh")
    return lang if lang in LANGUAGES else "zh"


def csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE)
    if not token:
        token = request.state.new_csrf = secrets.token_urlsafe(24)
    return token


def check_csrf(request: Request, csrf: str) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
        raise CsrfFailed()


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    lang = lang_of(request)
    response = templates.TemplateResponse(
        request,
        template,
        {"t": translate(lang), "lang": lang, "csrf": csrf_token(request), **context},
        status_code=status_code,
    )
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(
            CSRF_COOKIE, new, httponly=True, samesite="strict", secure=_secure(request)
        )
    return response


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _error(request: Request, error: DomainError) -> str:
    return error_text(lang_of(request), error.code, error.detail_message)


def _principal(request: Request, platform: Platform, cookie: str, kind: PrincipalKind) -> Principal:
    token = request.cookies.get(cookie)
    login = "/staff/login" if kind is PrincipalKind.STAFF else "/login"
    if not token:
        raise LoginRequired(login)
    try:
        with platform.transaction() as session:
            principal = platform.auth.authenticate(session, token)
    except (SessionInvalid, SessionExpired):
        raise LoginRequired(login) from None
    if principal.kind is not kind:
        raise LoginRequired(login)
    return principal


def customer_page(request: Request, platform: PlatformDep) -> Principal:
    return _principal(request, platform, CUSTOMER_COOKIE, PrincipalKind.CUSTOMER)


def staff_page(*roles: str) -> Callable[..., tuple[Principal, str]]:
    def check(request: Request, platform: PlatformDep) -> tuple[Principal, str]:
        principal = _principal(request, platform, STAFF_COOKIE, PrincipalKind.STAFF)
        with platform.transaction() as session:
            role = platform.accounts.staff_role(session, principal.id)
        if role is None or role not in roles:
            raise Forbidden("Your role does not allow this.")
        return principal, role

    return check


Me = Annotated[Principal, Depends(customer_page)]
ANY_STAFF = ("account_manager", "operations", "credit_officer", "risk_analyst", "administrator")
Staff = Annotated[tuple[Principal, str], Depends(staff_page(*ANY_STAFF))]
Operations = Annotated[tuple[Principal, str], Depends(staff_page("operations", "administrator"))]


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- language --------------------------------------------------------------------


@router.get("/lang/{lang}")
def switch_language(lang: str, request: Request) -> Response:
    back = request.headers.get("referer") or "/"
    response = _redirect(back if back.startswith(str(request.base_url)) else "/")
    response.set_cookie(LANG_COOKIE, lang if lang in LANGUAGES else "zh", samesite="lax")
    return response


# -- customers -----------------------------------------------------------------


@router.get("/")
def home(request: Request) -> Response:
    return _redirect("/accounts" if request.cookies.get(CUSTOMER_COOKIE) else "/login")


@router.get("/login")
def login_page(request: Request, registered: bool = False) -> Response:
    return render(request, "login.html", registered=registered)


def _log_in(
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
        return render(request, template, 401, error=_error(request, result.error), login_name=name)
    response = _redirect(target)
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
) -> Response:
    check_csrf(request, csrf)
    return _log_in(
        request,
        platform,
        name=login_name,
        password=password,
        template="login.html",
        cookie=CUSTOMER_COOKIE,
        target="/accounts",
    )


@router.post("/logout")
def logout(request: Request, platform: PlatformDep, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    for cookie in (CUSTOMER_COOKIE, STAFF_COOKIE):
        token = request.cookies.get(cookie)
        if token:
            with platform.transaction() as session:
                platform.auth.logout(session, token)
    response = _redirect("/login")
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
        return render(request, "register.html", 422, error=_error(request, error), form=form)
    return _redirect("/login?registered=true")


def _accounts(platform: Platform, customer_id: int) -> list[dict[str, Any]]:
    with platform.transaction() as session:
        return [
            _account_view(account, available)
            for account, available in platform.accounts.accounts_of(session, customer_id)
        ]


def _account_view(account: EAccount, available: int) -> dict[str, Any]:
    return {
        "number": account.number,
        "class": account.account_class,
        "status": account.status,
        "reason": account.status_reason,
        "available": format_amount(available, scale=2),
    }


@router.get("/accounts")
def accounts(request: Request, platform: PlatformDep, me: Me) -> Response:
    with platform.transaction() as session:
        customer = platform.accounts.customer(session, me.id)
    return render(request, "accounts.html", customer=customer, accounts=_accounts(platform, me.id))


@router.get("/transfer")
def transfer_page(request: Request, platform: PlatformDep, me: Me) -> Response:
    return render(request, "transfer.html", accounts=_accounts(platform, me.id), form={})


@router.post("/transfer")
def transfer_review(
    request: Request,
    platform: PlatformDep,
    me: Me,
    source: Annotated[str, Form(max_length=40)],
    destination: Annotated[str, Form(max_length=40)],
    amount: Annotated[str, Form(max_length=40)],
    note: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """First step: check what can be checked and show it back for confirmation."""
    check_csrf(request, csrf)
    form = {
        "source": source,
        "destination": destination.replace(" ", ""),
        "amount": amount,
        "note": note,
    }
    try:
        minor = parse_positive_amount(amount.strip(), scale=2, currency="CNY")
        with platform.transaction() as session:
            payee = platform.accounts.account(session, form["destination"])
            payee_name = platform.accounts.customer(session, payee.customer_id).name
    except DomainError as error:
        return render(
            request,
            "transfer.html",
            422,
            accounts=_accounts(platform, me.id),
            form=form,
            error=_error(request, error),
        )
    return render(
        request,
        "confirm.html",
        form={**form, "amount": format_amount(minor, scale=2)},
        payee_name=_masked_name(payee_name),
        client_id=uuid.uuid4().hex,
    )


def _masked_name(name: str) -> str:
    """Show the payee as banks do (*小明) so the payer can recognise, not learn, it."""
    return "*" + name[1:] if len(name) > 1 else name


@router.post("/transfer/confirm")
def transfer_confirm(
    request: Request,
    platform: PlatformDep,
    me: Me,
    source: Annotated[str, Form(max_length=40)],
    destination: Annotated[str, Form(max_length=40)],
    amount: Annotated[str, Form(max_length=40)],
    client_id: Annotated[str, Form(max_length=64)],
    note: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    form = {"source": source, "destination": destination, "amount": amount, "note": note}
    try:
        minor = parse_positive_amount(amount, scale=2, currency="CNY")
        with platform.audited(
            actor_kind="customer",
            actor_id=me.id,
            action="transfer",
            target=f"{source} -> {destination}",
            details={"amount": format_amount(minor, scale=2), "channel": "web"},
        ) as session:
            done = platform.accounts.transfer(
                session,
                customer_id=me.id,
                source=source,
                destination=destination,
                amount=minor,
                client_id=f"web:{client_id}",
                description=note,
            )
    except DomainError as error:
        return render(
            request,
            "transfer.html",
            422,
            accounts=_accounts(platform, me.id),
            form=form,
            error=_error(request, error),
        )
    return render(request, "done.html", form=form, entry_id=done.entry_id)


def _statements(platform: Platform) -> StatementsService:
    return StatementsService(platform.accounts, platform.ledger, platform.clock)


@router.get("/history")
def history(
    request: Request, platform: PlatformDep, me: Me, account: str = "", after: int = 0
) -> Response:
    """The movements of one account, oldest first, with statement downloads."""
    accounts = _accounts(platform, me.id)
    number = account or (accounts[0]["number"] if accounts else "")
    with platform.transaction() as session:
        page = _statements(platform).history(
            session, customer_id=me.id, number=number, filters=HistoryFilter(), after=after
        )
    today = platform.accounts.business_day()
    return render(
        request,
        "history.html",
        accounts=accounts,
        number=number,
        movements=[_movement_view(m) for m in page.movements],
        next_after=page.next_after,
        start=today.replace(day=1).isoformat(),
        end=today.isoformat(),
    )


def _movement_view(m: Movement) -> dict[str, str]:
    return {
        "at": m.at.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M"),
        "description": m.description,
        "counterparty": m.counterparty,
        "amount": format_amount(m.amount, scale=2),
        "balance": format_amount(m.balance, scale=2),
        "direction": m.direction,
    }


@router.get("/statement.{fmt}")
def statement_download(
    fmt: str, request: Request, platform: PlatformDep, me: Me, account: str, start: date, end: date
) -> Response:
    renderers = {
        "csv": (render_csv, "text/csv; charset=utf-8"),
        "pdf": (render_pdf, "application/pdf"),
    }
    if fmt not in renderers:
        raise Forbidden("Statements come as CSV or PDF here.")
    render_statement, media_type = renderers[fmt]
    with platform.transaction() as session:
        statement = _statements(platform).statement(
            session, customer_id=me.id, number=account, start=start, end=end
        )
    filename = f"statement-{account[-4:]}-{start}-{end}.{fmt}"
    return Response(
        render_statement(statement),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/topup")
def topup_page(request: Request, platform: PlatformDep, me: Me) -> Response:
    return _topup(request, platform, me)


def _topup(
    request: Request,
    platform: Platform,
    me: Principal,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with platform.transaction() as session:
        cards = platform.funding.cards(session, me.id)
    return render(
        request,
        "topup.html",
        status_code,
        accounts=_accounts(platform, me.id),
        cards=cards,
        client_id=uuid.uuid4().hex,  # one per form shown: a double submit tops up once
        **context,
    )


@router.post("/cards")
def bind_card(
    request: Request,
    platform: PlatformDep,
    me: Me,
    card_number: Annotated[str, Form(max_length=40)],
    holder_name: Annotated[str, Form(max_length=100)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            platform.funding.bind_card(
                session, customer_id=me.id, card_number=card_number, holder_name=holder_name
            )
    except DomainError as error:
        return _topup(request, platform, me, 422, error=_error(request, error))
    return _redirect("/topup")


@router.post("/topup")
def topup(
    request: Request,
    platform: PlatformDep,
    me: Me,
    account: Annotated[str, Form(max_length=40)],
    card_id: Annotated[int, Form()],
    amount: Annotated[str, Form(max_length=40)],
    client_id: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Pull money from a bound card at another bank into an e-account."""
    check_csrf(request, csrf)
    try:
        minor = parse_positive_amount(amount.strip(), scale=2, currency="CNY")
        done = platform.funding.top_up(
            platform.session_factory,
            customer_id=me.id,
            account_number=account,
            card_id=card_id,
            amount=minor,
            client_id=f"web:{client_id}",
        )
    except DomainError as error:
        return _topup(request, platform, me, 422, error=_error(request, error))
    return _topup(
        request, platform, me, outcome=done.request.state, amount=format_amount(minor, scale=2)
    )


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
    return _log_in(
        request,
        platform,
        name=username,
        password=password,
        template="staff_login.html",
        cookie=STAFF_COOKIE,
        target="/staff",
    )


@router.get("/staff")
def staff_home(request: Request, platform: PlatformDep, staff: Staff, q: str = "") -> Response:
    principal, role = staff
    with platform.transaction() as session:
        found = platform.accounts.find_customers(session, q) if q else []
    if role == "account_manager":
        found = [c for c in found if c.manager_id == principal.id]
    return render(
        request,
        "staff_home.html",
        q=q,
        customers=[{"id": c.id, "name": c.name, "mobile": mask_mobile(c.mobile)} for c in found],
        role=role,
    )


@router.get("/staff/customers/{customer_id}")
def staff_customer(
    customer_id: int, request: Request, platform: PlatformDep, staff: Staff, error: str = ""
) -> Response:
    principal, role = staff
    with platform.transaction() as session:
        customer = platform.accounts.customer(session, customer_id)
        managers = platform.accounts.managers(session)
        if role == "account_manager" and customer.manager_id != principal.id:
            raise Forbidden("Account managers see their own customers.")
        since = platform.accounts.business_day() - timedelta(days=30)
        movements = {
            account.number: [
                _movement_view(m)
                for m in _statements(platform)
                .history(
                    session,
                    customer_id=customer_id,
                    number=account.number,
                    filters=HistoryFilter(start=since),
                )
                .movements
            ]
            for account, _ in platform.accounts.accounts_of(session, customer_id)
        }
    return render(
        request,
        "staff_customer.html",
        customer={
            "id": customer.id,
            "name": customer.name,
            "mobile": mask_mobile(customer.mobile),
            "manager_id": customer.manager_id,
        },
        accounts=_accounts(platform, customer_id),
        movements=movements,
        managers=managers,
        can_act=role in ("operations", "administrator"),
        error=error_text(lang_of(request), error, "The action was refused.") if error else None,
    )


@router.post("/staff/accounts/{number}/{action}")
def staff_account_action(
    number: str,
    action: str,
    request: Request,
    platform: PlatformDep,
    staff: Operations,
    customer_id: Annotated[int, Form()],
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    if action not in ("freeze", "unfreeze") or not luhn_valid(number):
        raise Forbidden("Unknown action.")
    try:
        with platform.audited(
            actor_kind="staff",
            actor_id=staff[0].id,
            action=action,
            target=number,
            details={"reason": reason, "channel": "console"},
        ) as session:
            platform.accounts.set_status(
                session,
                number=number,
                status="frozen" if action == "freeze" else "active",
                reason=reason if action == "freeze" else "",
            )
    except DomainError as error:
        return _redirect(f"/staff/customers/{customer_id}?error={error.code}")
    return _redirect(f"/staff/customers/{customer_id}")


@router.post("/staff/customers/{customer_id}/manager")
def staff_reassign(
    customer_id: int,
    request: Request,
    platform: PlatformDep,
    _: Operations,
    manager_id: Annotated[int, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    with platform.transaction() as session:
        platform.accounts.reassign_manager(session, customer_id=customer_id, manager_id=manager_id)
    return _redirect(f"/staff/customers/{customer_id}")
