"""The web bank and the staff console: server-rendered pages.

Pages work without JavaScript (plain forms); htmx, vendored under /static, only
boosts navigation. Sessions are the same bearer sessions as the API, carried in an
HttpOnly cookie; every form carries a CSRF token bound to that session
(:mod:`rongbank.web.csrf`), so another site cannot post on a customer's behalf.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Annotated, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.accounts.identity import mask_mobile
from rongbank.accounts.receipts import transfer_entry
from rongbank.accounts.rules import luhn_valid
from rongbank.accounts.service import EAccount
from rongbank.accounts.statements import (
    HistoryFilter,
    Movement,
    StatementsService,
    mask_account_number,
    render_csv,
    render_pdf,
)
from rongbank.api.deps import get_platform, platform_of
from rongbank.auth import gridcard, otp
from rongbank.auth.errors import SessionExpired, SessionInvalid
from rongbank.auth.limits import PASSWORD_FREE, OwnLimit, ToolKind
from rongbank.auth.service import Principal, PrincipalKind
from rongbank.auth.sms import FakeSmsGateway
from rongbank.auth.stepup import (
    ChallengeExpired,
    ChallengeFailed,
    ChallengeMismatch,
    ChallengeNotFound,
    ChallengeRequired,
    ToolBlocked,
    ToolNotHeld,
)
from rongbank.auth.tools import PaymentRequest, Tool, ToolNotActive, ToolNotFound
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError, Forbidden, InvalidRequest
from rongbank.idempotency import Keyed, keyed
from rongbank.inputs import Day, IdParam
from rongbank.money import format_amount, parse_amount, parse_positive_amount
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

router = APIRouter(include_in_schema=False)
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


def _error(request: Request, error: DomainError) -> str:
    return error_text(lang_of(request), error.code, error.detail_message, error.details)


def _principal(request: Request, platform: Platform, cookie: str, kind: PrincipalKind) -> Principal:
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
    principal = _principal(request, platform, CUSTOMER_COOKIE, PrincipalKind.CUSTOMER)
    request.state.customer_id = principal.id  # for the menu's badge (render)
    return principal


def staff_page(*roles: str) -> Callable[..., tuple[Principal, str]]:
    def check(request: Request, platform: PlatformDep) -> tuple[Principal, str]:
        principal = _principal(request, platform, STAFF_COOKIE, PrincipalKind.STAFF)
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


def _redirect(url: str) -> RedirectResponse:
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
    response = _redirect(back if back.startswith(str(request.base_url)) else "/")
    response.set_cookie(LANG_COOKIE, lang if lang in LANGUAGES else "zh", samesite="lax")
    return response


# -- customers -----------------------------------------------------------------


CUSTOMER_HOME = "/home"
"""Where a customer lands after login: the dashboard (``web/home_pages.py``)."""


@router.get("/")
def home(request: Request) -> Response:
    return _redirect(CUSTOMER_HOME if request.cookies.get(CUSTOMER_COOKIE) else "/login")


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
        return render(
            request,
            template,
            401,
            error=_error(request, result.error),
            login_name=name,
            next=target,
        )
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
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_csrf(request, csrf)
    return _log_in(
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
        login = platform.auth.login_history(session, me)
    return render(
        request,
        "accounts.html",
        customer=customer,
        accounts=_accounts(platform, me.id),
        previous_login=login.previous_login_at and _local_time(login.previous_login_at),
        failed_logins=login.failures_before_login,
    )


@router.get("/transfer")
def transfer_page(request: Request, platform: PlatformDep, me: Me, to: str = "") -> Response:
    """The transfer form; ``to`` fills in the payee picked (a saved or recent one)."""
    with platform.transaction() as session:
        saved = platform.payees.saved(session, me.id)
        recent = [r for r in platform.payees.recent(session, me.id, limit=5) if not r.saved]
    return render(
        request,
        "transfer.html",
        accounts=_accounts(platform, me.id),
        form={"destination": to[:40]},
        saved_payees=saved,
        recent_payees=recent,
    )


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
            # Refused here, not after the customer has confirmed: the same account,
            # more than is available, the limits.
            _, payee = platform.accounts.review_transfer(
                session,
                customer_id=me.id,
                source=source,
                destination=form["destination"],
                amount=minor,
            )
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


def _confirm_again(
    request: Request,
    platform: Platform,
    me: Principal,
    form: dict[str, str],
    client_id: str,
    *,
    challenge: Mapping[str, Any] | None,
    error: DomainError | None = None,
) -> Response:
    """The confirmation page once more: with the challenge to answer, or with why the
    last answer did not count (and then, without a challenge, a button to ask anew)."""
    with platform.transaction() as session:
        payee = platform.accounts.account(session, form["destination"])
        payee_name = platform.accounts.customer(session, payee.customer_id).name
        mobile = platform.accounts.customer(session, me.id).mobile
    return render(
        request,
        "confirm.html",
        200 if error is None else 422,
        form=form,
        payee_name=_masked_name(payee_name),
        client_id=client_id,
        challenge=None if challenge is None else _challenge_view(challenge, mobile=mobile),
        error=None if error is None else _error(request, error),
    )


def _challenge_view(challenge: Mapping[str, Any], *, mobile: str) -> dict[str, Any]:
    """What the confirmation page shows of a challenge (``Platform.authorised``'s
    details), and the same details packed to come back with the answer: a wrong answer
    shows the same challenge again without asking the engine for it."""
    question = str(challenge["question"])
    expires_at = datetime.fromisoformat(str(challenge["expires_at"]))
    return {
        "id": challenge["id"],
        "tool": challenge["tool"],
        "question": question,
        "alternatives": list(challenge["alternatives"]),
        "until": expires_at.astimezone(BUSINESS_TIME_ZONE).strftime("%H:%M"),
        "carried": base64.urlsafe_b64encode(json.dumps(dict(challenge)).encode()).decode(),
        "mobile": mask_mobile(mobile),
        "positions": question.split(",") if challenge["tool"] == ToolKind.GRID_CARD else [],
        "challenges_left": challenge.get("challenges_left"),
        "token_payee": question[: otp.PAYEE_DIGITS],
        "token_amount": question[otp.PAYEE_DIGITS :],
        "text_href": _data_url(question.encode(), "text/plain;charset=utf-8"),
    }


def _carried_challenge(carried: str, challenge_id: str) -> dict[str, Any] | None:
    """The challenge the page showed, as it came back in the form; None when it does
    not describe ``challenge_id``. Only shown again: the engine checks the answer."""
    try:
        challenge = json.loads(base64.urlsafe_b64decode(carried.encode()))
        ToolKind(challenge["tool"])
        datetime.fromisoformat(challenge["expires_at"])
        fits = (
            challenge["id"] == challenge_id
            and isinstance(challenge["question"], str)
            and isinstance(challenge["alternatives"], list)
        )
    except (ValueError, TypeError, KeyError):
        return None
    return challenge if fits else None


def _data_url(content: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode()}"


class ResponseMissing(InvalidRequest):
    code = "response_missing"
    message = "Please enter the code."


ChallengeField = Annotated[str, Form(max_length=64)]
ResponseField = Annotated[str, Form(max_length=64)]
ChallengeCarried = Annotated[str, Form(max_length=8000)]
Responses = Annotated[list[str] | None, Form()]
ToolChoice = Annotated[str, Form(max_length=20)]


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """What a payment's confirmation form sends back: the challenge it showed (None:
    it showed none, or the customer asked for another tool), the answer (one field, or
    one per grid card position, joined), and the tool the customer asked for instead."""

    shown: dict[str, Any] | None
    answer: str
    prefer: ToolKind | None

    @classmethod
    def of(
        cls, *, challenge_id: str, challenge: str, response: list[str] | None, tool: str
    ) -> ChallengeAnswer:
        try:
            prefer = ToolKind(tool) if tool else None
        except ValueError:
            prefer = None
        return cls(
            shown=None if tool else _carried_challenge(challenge, challenge_id),
            answer=" ".join(part.strip() for part in response or []).strip(),
            prefer=prefer,
        )


def confirm_payment(
    platform: Platform,
    customer_id: int,
    payment: PaymentRequest,
    answered: ChallengeAnswer,
    work: Callable[[Session], Response],
    *,
    already_done: Callable[[Session], bool],
    again: Callable[[Mapping[str, Any] | None, DomainError | None], Response],
    refused: Callable[[DomainError], Response],
    done_before: Callable[[], Response],
    idempotency: Keyed | None = None,
) -> Response:
    """Run ``work`` (which moves the money and renders the receipt) as a payment the
    customer confirms on a page: within the password-free allowance at once, else
    ``again`` shows the confirmation page with the challenge to answer, or with why
    the answer did not count (no challenge: a button to ask anew). Other refusals go
    to ``refused``; ``done_before`` shows a payment already made by this very form."""

    def pay(step_up: StepUpAnswer) -> Response:
        with platform.authorised(
            payment,
            customer_id=customer_id,
            challenge_id=step_up.challenge_id,
            response=step_up.response,
            prefer=step_up.prefer,
            already_done=already_done,
            idempotency=idempotency,
        ) as session:
            return work(session)

    return confirm_step_up(
        platform,
        answered,
        pay,
        already_done=already_done,
        again=again,
        refused=refused,
        done_before=done_before,
    )


@dataclass(frozen=True, slots=True)
class StepUpAnswer:
    """What a confirmation form answers the step-up with (``Platform.authorised``)."""

    challenge_id: str | None
    response: str | None
    prefer: ToolKind | None


def confirm_step_up(
    platform: Platform,
    answered: ChallengeAnswer,
    pay: Callable[[StepUpAnswer], Response],
    *,
    already_done: Callable[[Session], bool],
    again: Callable[[Mapping[str, Any] | None, DomainError | None], Response],
    refused: Callable[[DomainError], Response],
    done_before: Callable[[], Response],
) -> Response:
    """:func:`confirm_payment` for a payment that opens its own authorised transaction
    (a withdrawal, which commits before it calls the other bank): ``pay`` runs it with
    the form's answer, and the step-up's answers are shown as there."""
    try:
        if answered.shown is not None and not answered.answer:
            raise ResponseMissing()
        page = pay(
            StepUpAnswer(
                challenge_id=answered.shown["id"] if answered.shown else None,
                response=answered.answer if answered.shown else None,
                prefer=answered.prefer,
            )
        )
    except ChallengeRequired as required:
        return again(required.details["challenge"], None)
    except (ChallengeFailed, ResponseMissing) as error:
        return again(answered.shown, error)
    except (
        ToolBlocked,
        ToolNotActive,
        ToolNotHeld,
        ChallengeExpired,
        ChallengeMismatch,
        ChallengeNotFound,
    ) as error:
        if isinstance(error, ChallengeExpired):
            with platform.transaction() as session:
                paid = already_done(session)
            if paid:
                # The answered form sent twice (a double click): the first one paid
                # and spent the challenge. The customer sees the payment, not "expired".
                return done_before()
        return again(None, error)
    except DomainError as error:
        return refused(error)
    return page


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
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Second step: the customer confirms, and answers the challenge when the bank
    asks for one (``response``: one field, or one per grid card position). ``tool``
    asks for a new challenge on another of the customer's tools instead."""
    check_csrf(request, csrf)
    form = {"source": source, "destination": destination, "amount": amount, "note": note}
    ledger_client_id = f"web:{client_id}"

    def made(session: Session) -> bool:
        return platform.accounts.transfer_made(
            session, customer_id=me.id, client_id=ledger_client_id
        )

    def refused(error: DomainError) -> Response:
        return render(
            request,
            "transfer.html",
            422,
            accounts=_accounts(platform, me.id),
            form=form,
            error=_error(request, error),
        )

    def entry() -> int | None:
        with platform.transaction() as session:
            return transfer_entry(
                session, platform.ledger, customer_id=me.id, client_id=ledger_client_id
            )

    try:
        minor = parse_positive_amount(amount, scale=2, currency="CNY")
    except DomainError as error:
        return refused(error)

    def pay(session: Session) -> Response:
        done = platform.accounts.transfer(
            session,
            customer_id=me.id,
            source=source,
            destination=destination,
            amount=minor,
            client_id=ledger_client_id,
            description=note,
        )
        saved = platform.payees.by_account(session, me.id, destination)
        return render(
            request,
            "done.html",
            form=form,
            entry_id=done.entry_id,
            saved_payee=saved,
            held=done.status == "held",  # the fraud engine's review holds the money
        )

    return confirm_payment(
        platform,
        me.id,
        PaymentRequest(
            purpose="transfer",
            payer=source,
            payee=destination,
            amount=minor,
            currency="CNY",
            client_id=ledger_client_id,
        ),
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        pay,
        already_done=made,
        again=lambda shown, error: _confirm_again(
            request, platform, me, form, client_id, challenge=shown, error=error
        ),
        refused=refused,
        done_before=lambda: render(request, "done.html", form=form, entry_id=entry()),
        # The API's scope: a refused form is answered the same if sent again (its
        # page then starts a new transfer, with a new id).
        idempotency=keyed(
            f"customer:{me.id}:transfer",
            ledger_client_id,
            {"source": source, "destination": destination, "amount": minor, "description": note},
        ),
    )


def _statements(platform: Platform) -> StatementsService:
    return StatementsService(platform.accounts, platform.ledger, platform.clock)


def _local_time(at: datetime) -> str:
    return at.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M")


def _movement_view(m: Movement, lang: str) -> dict[str, Any]:
    return {
        "entry_id": m.entry_id,
        # A transfer between e-accounts has a receipt (``/receipts/{entry_id}``).
        "receipt": m.kind == "transfer" and bool(m.counterparty),
        "at": _local_time(m.at),
        # The bank's own names in the reader's language; a payer's note as written.
        "description": translate(lang)[f"memo_{m.memo}"] if m.memo else m.description,
        "counterparty": m.counterparty,
        "amount": format_amount(m.amount, scale=2),
        "balance": format_amount(m.balance, scale=2),
        "direction": m.direction,
    }


@router.get("/statement.{fmt}")
def statement_download(
    fmt: str, request: Request, platform: PlatformDep, me: Me, account: str, start: Day, end: Day
) -> Response:
    renderers = {
        "csv": (render_csv, "text/csv; charset=utf-8"),
        "pdf": (render_pdf, "application/pdf"),
    }
    if fmt not in renderers:
        raise Forbidden("Statements come as CSV or PDF here.")
    render_statement, media_type = renderers[fmt]
    with platform.standby_reads() as session:
        statement = _statements(platform).statement(
            session, customer_id=me.id, number=account, start=start, end=end
        )
    filename = f"statement-{account[-4:]}-{start}-{end}.{fmt}"
    return Response(
        render_statement(statement),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


# -- security: authentication tools and own limits ------------------------------


def _security(
    request: Request,
    platform: Platform,
    me: Principal,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """The security centre: the customer's tools, getting new ones, and limits."""
    limits = platform.stepup.limits
    with platform.transaction() as session:
        platform.tools.held(session, me.id)  # the SMS tool exists from first sight
        tools = platform.tools.tools_of(session, me.id)
        own = platform.stepup.own_limits(session, me.id)
        usage = platform.stepup.usage(session, me.id)
        mobile = platform.accounts.customer(session, me.id).mobile
        ca = x509.load_pem_x509_certificate(platform.tools.bank_ca_certificate(session))
    bank = {PASSWORD_FREE: (limits.password_free.per_payment, limits.password_free.daily)} | {
        tool.kind.value: (tool.per_payment, tool.daily)
        for tool in sorted(limits.tools.values(), key=lambda t: (t.strength, t.per_payment))
    }

    return render(
        request,
        "security.html",
        status_code,
        tools=[_tool_view(tool, mobile=mobile) for tool in tools],
        mobile=mask_mobile(mobile),
        ca_fingerprint=_fingerprint(ca),
        limits=[
            {
                "kind": kind,
                "bank_per_payment": _yuan(per_payment),
                "bank_daily": _yuan(daily),
                "own_per_payment": _yuan(own[kind].per_payment) if kind in own else "",
                "own_daily": _yuan(own[kind].daily) if kind in own else "",
                "used_today": _yuan(usage[kind].day_amount if kind in usage else 0),
            }
            for kind, (per_payment, daily) in bank.items()
        ],
        **context,
    )


def _fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def _yuan(minor: int | None) -> str:
    """A limit as shown in a form: empty for none."""
    return "" if minor is None else format_amount(minor, scale=2)


def _tool_view(tool: Tool, *, mobile: str) -> dict[str, Any]:
    return {
        "id": tool.id,
        "kind": tool.kind.value,
        # An SMS tool's serial is made from the customer id: the mobile says more.
        "serial": mask_mobile(mobile) if tool.kind is ToolKind.SMS else "…" + tool.serial[-4:],
        "status": tool.status,
        "issued": tool.created_at.astimezone(BUSINESS_TIME_ZONE).date().isoformat(),
        # Every customer keeps an SMS tool: one revoked could never be had again.
        "revocable": tool.status in ("active", "blocked") and tool.kind is not ToolKind.SMS,
    }


def _record(
    platform: Platform, session: Session, me: Principal, action: str, target: str, **details: Any
) -> None:
    platform.audit.record(
        session,
        actor_kind="customer",
        actor_id=me.id,
        action=action,
        target=target,
        details={**details, "channel": "web"},
    )


@router.get("/security")
def security(request: Request, platform: PlatformDep, me: Me, done: str = "") -> Response:
    notice = {"revoked": "revoked", "limit": "limit_saved"}.get(done)
    return _security(request, platform, me, notice=notice)


def _confirmed(
    request: Request,
    platform: Platform,
    me: Principal,
    change: PaymentRequest | None,
    work: Callable[[Session], Response],
    *,
    action: str,
    target: str,
    fields: Mapping[str, str],
    challenge_id: str,
    response: str,
) -> Response:
    """Run ``work`` as a security change confirmed by a code sent to the mobile
    (``Platform.confirmed``; ``change`` None: no confirmation needed), on the security
    centre (see :func:`confirm_change`)."""
    context = (
        platform.audited(actor_kind="customer", actor_id=me.id, action=action, target=target)
        if change is None
        else platform.confirmed(
            change,
            customer_id=me.id,
            challenge_id=challenge_id or None,
            response=response or None,
            action=action,
            target=target,
        )
    )
    return confirm_change(
        request, platform, me, context, work, fields=fields, challenge_id=challenge_id
    )


def confirm_change(
    request: Request,
    platform: Platform,
    me: Principal,
    context: AbstractContextManager[Session],
    work: Callable[[Session], Response],
    *,
    fields: Mapping[str, str],
    challenge_id: str,
    page: Callable[..., Response] | None = None,
) -> Response:
    """Run ``work`` in ``context``, a security change's confirmed transaction. Asking
    for the code, and a wrong code, show ``page`` (the security centre by default)
    with the code box (``_confirm_change.html``), keeping the form's ``fields`` so that
    the same change is sent again; other refusals show it with the error."""
    show = page or _security

    def ask(challenge: str, status_code: int = 200, error: str | None = None) -> Response:
        with platform.transaction() as session:
            mobile = platform.accounts.customer(session, me.id).mobile
        confirm = {
            "path": request.url.path,
            "challenge_id": challenge,
            "fields": fields,
            "mobile": mask_mobile(mobile),
        }
        return show(request, platform, me, status_code, confirm=confirm, error=error)

    try:
        with context as session:
            return work(session)
    except ChallengeRequired as required:
        return ask(str(required.details["challenge"]["id"]))
    except ChallengeFailed as error:
        return ask(challenge_id, 422, _error(request, error))
    except DomainError as error:
        return show(request, platform, me, 422, error=_error(request, error), **fields)


@router.post("/security/grid-card")
def get_grid_card(
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    response: ResponseField = "",
) -> Response:
    """Issue a new grid card. Its codes leave the bank in this one answer, as a
    printable PDF and as the software stand-in's card file: the same card twice."""
    check_csrf(request, csrf)

    def issue(session: Session) -> Response:
        tool, card = platform.tools.issue_grid_card(session, me.id)
        # Printed before the card is committed: a card whose codes never reached
        # the customer must not replace the one they hold.
        pdf = gridcard.render_pdf(
            card,
            holder=platform.accounts.customer(session, me.id).name,
            issued=platform.accounts.business_day(),
            expires_after_uses=gridcard.card_uses(tool.max_uses),
        )
        return render(
            request,
            "grid_card.html",
            serial=tool.serial,
            pdf_href=_data_url(pdf, "application/pdf"),
            json_href=_data_url(gridcard.card_to_json(card).encode(), "application/json"),
        )

    return _confirmed(
        request,
        platform,
        me,
        platform.stepup.tool_change(me.id, ToolKind.GRID_CARD),
        issue,
        action="tool.issue",
        target=ToolKind.GRID_CARD.value,
        fields={},
        challenge_id=challenge_id,
        response=response,
    )


@router.post("/security/token")
def get_token(
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    response: ResponseField = "",
) -> Response:
    """Provision a token; its key is shown once, to load into the token."""
    check_csrf(request, csrf)

    def issue(session: Session) -> Response:
        tool, token = platform.tools.provision_token(session, me.id)
        key_file = token.key_file()
        return render(
            request,
            "token.html",
            serial=tool.serial,
            key_file=key_file,
            key_href=_data_url(key_file.encode(), "application/json"),
        )

    return _confirmed(
        request,
        platform,
        me,
        platform.stepup.tool_change(me.id, ToolKind.TOKEN),
        issue,
        action="tool.issue",
        target=ToolKind.TOKEN.value,
        fields={},
        challenge_id=challenge_id,
        response=response,
    )


@router.post("/security/ukey")
def register_ukey(
    request: Request,
    platform: PlatformDep,
    me: Me,
    csr: Annotated[str, Form(max_length=8000)],
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    response: ResponseField = "",
) -> Response:
    """Certify the customer's U盾 key from its certificate request."""
    check_csrf(request, csrf)

    def enrol(session: Session) -> Response:
        tool, certificate = platform.tools.enroll_ukey(session, me.id, csr)
        parsed = x509.load_pem_x509_certificate(certificate.encode())
        return render(
            request,
            "ukey.html",
            serial=tool.serial,
            subject=parsed.subject.rfc4514_string(),
            valid_from=_local_time(parsed.not_valid_before_utc),
            valid_until=_local_time(parsed.not_valid_after_utc),
            fingerprint=_fingerprint(parsed),
            certificate=certificate,
            certificate_href=_data_url(certificate.encode(), "application/x-pem-file"),
        )

    return _confirmed(
        request,
        platform,
        me,
        platform.stepup.tool_change(me.id, ToolKind.UKEY, hashlib.sha256(csr.encode()).hexdigest()),
        enrol,
        action="tool.issue",
        target=ToolKind.UKEY.value,
        fields={"csr": csr},
        challenge_id=challenge_id,
        response=response,
    )


@router.post("/security/tools/{tool_id}/revoke")
def revoke_tool(
    tool_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            tool = platform.tools.tool(session, tool_id, lock=True)
            if tool.customer_id != me.id or tool.kind is ToolKind.SMS:
                raise ToolNotFound()
            platform.tools.end(session, tool)
            _record(platform, session, me, "tool.revoke", f"{tool.kind.value}:{tool.serial}")
    except DomainError as error:
        return _security(request, platform, me, 422, error=_error(request, error))
    return _redirect("/security?done=revoked")


@router.post("/security/limits")
def set_own_limit(
    request: Request,
    platform: PlatformDep,
    me: Me,
    kind: Annotated[str, Form(max_length=20)],
    per_payment: Annotated[str, Form(max_length=40)] = "",
    daily: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    response: ResponseField = "",
) -> Response:
    """Lower (or restore) one of the customer's own limits; empty keeps the bank's.
    Raising one is confirmed by a code sent to the mobile."""
    check_csrf(request, csrf)

    def parsed(text: str) -> int | None:
        text = text.strip()
        return parse_amount(text, scale=2, currency="CNY") if text else None

    try:
        own = OwnLimit(per_payment=parsed(per_payment), daily=parsed(daily))
        with platform.transaction() as session:
            change = platform.stepup.limit_change(session, me.id, kind, own)
    except DomainError as error:
        return _security(request, platform, me, 422, error=_error(request, error))

    def save(session: Session) -> Response:
        platform.stepup.set_own_limit(session, me.id, kind, own)
        return _redirect("/security?done=limit")

    return _confirmed(
        request,
        platform,
        me,
        change,
        save,
        action="limit.set",
        target=kind,
        fields={"kind": kind, "per_payment": per_payment, "daily": daily},
        challenge_id=challenge_id,
        response=response,
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


@router.get("/staff/customers/{customer_id}")
def staff_customer(
    customer_id: IdParam, request: Request, platform: PlatformDep, staff: Staff, error: str = ""
) -> Response:
    principal, role = staff
    with platform.transaction() as session:
        customer = platform.accounts.customer(session, customer_id)
        managers = platform.accounts.managers(session)
        platform.chat.desk.check_customer(session, staff_id=principal.id, customer_id=customer_id)
        since = platform.accounts.business_day() - timedelta(days=30)
        movements = {
            account.number: [
                _movement_view(m, lang_of(request))
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
        merchants = (
            platform.payments.merchants(session, customer_id=customer_id)
            if role in roles.MERCHANTS
            else None
        )
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
        can_act=role in roles.ACCOUNTS,
        sees_tools=role in roles.CUSTOMER_TOOLS,
        # the customer's e-Pay merchants, for the roles that onboard them
        merchants=None
        if merchants is None
        else [{"id": m.id, "name": m.name, "status": m.status} for m in merchants],
        error=error_text(lang_of(request), error, "The action was refused.") if error else None,
    )


@router.post("/staff/accounts/{number}/{action}")
def staff_account_action(
    number: str,
    action: str,
    request: Request,
    platform: PlatformDep,
    staff: Operations,
    customer_id: Annotated[IdParam, Form()],
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
    customer_id: IdParam,
    request: Request,
    platform: PlatformDep,
    _: Operations,
    manager_id: Annotated[IdParam, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    with platform.transaction() as session:
        platform.accounts.reassign_manager(session, customer_id=customer_id, manager_id=manager_id)
    return _redirect(f"/staff/customers/{customer_id}")
