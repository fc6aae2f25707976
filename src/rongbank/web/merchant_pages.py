"""The e-Pay merchant console: a merchant's owner or cashier logs in, sees today's
takings, shows the counter's QR codes, collects customers' payment codes, refunds
(owner only), downloads settlement files (owner only) and revokes logins and API
keys (owner only).

Merchant users log in with the logins ``rongbank.payments`` gives them (principals of
kind ``merchant``); their session travels in its own HttpOnly cookie, with a CSRF token
bound to it as in the web bank. Every page acts for the one merchant the
user belongs to (``PaymentsService.user_actor``), so a user never names a merchant.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import PrincipalKind
from rongbank.errors import DomainError
from rongbank.inputs import Day, IdParam
from rongbank.money import format_amount, parse_positive_amount
from rongbank.payments import qr
from rongbank.payments.counter import audited_as_merchant, collect_payment_code
from rongbank.payments.errors import CodeNotFound, MerchantRoleForbidden, PaymentNotFound
from rongbank.payments.merchants import Merchant, MerchantActor
from rongbank.payments.orders import OrderRequest, Payment
from rongbank.payments.settlement import day_lines, settlement_of, settlement_report
from rongbank.payments.settlement import transaction_file as day_file
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf, check_csrf_ending
from rongbank.web.pages import (
    LoginRequired,
    PlatformDep,
    local_time,
    log_in,
    refusal_text,
    render,
    see_other,
    signed_in,
)

router = APIRouter(include_in_schema=False, prefix="/merchant", route_class=OneHopRoute)

MERCHANT_COOKIE = "rb_merchant"
_ORDER_NO = re.compile(r"^[A-Za-z0-9_\-.:]{1,64}$")
_PAYMENT_CODE = re.compile(r"^[0-9]{18}$")


@dataclass(frozen=True, slots=True)
class Console:
    """Who is at the console, and for which merchant."""

    actor: MerchantActor
    merchant: Merchant

    @property
    def is_owner(self) -> bool:
        return self.actor.role == "owner"


def merchant_page(request: Request, platform: PlatformDep) -> Console:
    principal = signed_in(request, platform, MERCHANT_COOKIE, PrincipalKind.MERCHANT)
    with platform.transaction() as session:
        actor = platform.payments.user_actor(session, principal.id)
        if actor is None:  # the login was deactivated
            raise LoginRequired("/merchant/login")
        merchant = platform.payments.merchant(session, actor.merchant_id)
    return Console(actor, merchant)


Me = Annotated[Console, Depends(merchant_page)]


def _money(minor: int) -> str:
    return format_amount(minor, scale=2)


def _new_number(prefix: str) -> str:
    """An order or refund number for one form shown: a double submit acts once."""
    return f"{prefix}{uuid.uuid4().hex[:20].upper()}"


def console_page(
    request: Request, me: Console, template: str, status_code: int = 200, **context: Any
) -> Response:
    return render(
        request,
        template,
        status_code,
        merchant=me.merchant,
        role=me.actor.role,
        is_owner=me.is_owner,
        **context,
    )


def console_audited(
    platform: Platform, me: Console, action: str, target: str, **details: Any
) -> AbstractContextManager[Session]:
    return audited_as_merchant(platform, me.actor, action, target, channel="console", **details)


def _payment_view(payment: Payment) -> dict[str, Any]:
    return {
        "order_no": payment.order_no,
        "channel": payment.channel,
        "status": payment.status,
        "amount": _money(payment.amount),
        "captured": _money(payment.captured),
        "refunded": _money(payment.refunded),
        "refundable": _money(max(payment.refundable, 0)),
        "description": payment.description,
        "at": local_time(payment.paid_at or payment.created_at),
        "expires_at": local_time(payment.expires_at),
    }


# -- logging in ----------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    return render(request, "merchant_login.html")


@router.post("/login")
def login(
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
        template="merchant_login.html",
        cookie=MERCHANT_COOKIE,
        target="/merchant",
    )


@router.post("/logout")
def logout(request: Request, platform: PlatformDep, csrf: Annotated[str, Form()] = "") -> Response:
    token = request.cookies.get(MERCHANT_COOKIE)
    check_csrf_ending(request, csrf, [token])
    if token:
        with platform.transaction() as session:
            platform.auth.logout(session, token)
    response = see_other("/merchant/login")
    response.delete_cookie(MERCHANT_COOKIE)
    return response


# -- today's takings -----------------------------------------------------------------


@router.get("")
def takings(request: Request, platform: PlatformDep, me: Me) -> Response:
    return _takings(request, platform, me)


def _takings(
    request: Request, platform: Platform, me: Console, status_code: int = 200, **context: Any
) -> Response:
    """Today's takings as the ledger has them (what settlement will net), and the
    latest payments."""
    today = platform.accounts.business_day()
    with platform.transaction() as session:
        lines = day_lines(session, today, merchant_id=me.merchant.id)
        recent = platform.payments.payments_of_merchant(session, me.merchant.id, limit=30)
    paid = [line for line in lines if line.kind == "payment"]
    total = sum(line.amount for line in paid)
    refunds = sum(line.amount for line in lines if line.kind == "refund")
    fees = sum(line.fee for line in paid)
    return console_page(
        request,
        me,
        "merchant_home.html",
        status_code,
        today=today.isoformat(),
        figures={
            "count": len(paid),
            "total": _money(total),
            "refunds": _money(refunds),
            "fees": _money(fees),
            "net": _money(total - refunds - fees),
        },
        payments=[_payment_view(p) for p in recent if p.status != "created"],
        **context,
    )


# -- QR codes ------------------------------------------------------------------------


def _static_codes(platform: Platform, merchant_id: int) -> list[dict[str, str]]:
    """The merchant's counter codes in use (no service query lists them yet)."""
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT token, label FROM merchant_qr WHERE merchant_id = :m "
                "AND revoked_at IS NULL ORDER BY created_at, token"
            ),
            {"m": merchant_id},
        ).all()
    return [
        {
            "label": str(label),
            "content": (content := platform.payments.qr_content(str(token))),
            "svg": qr.svg(content),
        }
        for token, label in rows
    ]


def _qr_page(
    request: Request, platform: Platform, me: Console, status_code: int = 200, **context: Any
) -> Response:
    return console_page(
        request,
        me,
        "merchant_qr.html",
        status_code,
        codes=_static_codes(platform, me.merchant.id),
        order_no=_new_number("Q"),
        **context,
    )


@router.get("/qr")
def qr_page(request: Request, platform: PlatformDep, me: Me) -> Response:
    return _qr_page(request, platform, me)


@router.post("/qr/static")
def new_static_qr(
    request: Request,
    platform: PlatformDep,
    me: Me,
    label: Annotated[str, Form(max_length=100)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """A new counter code to print (the owner's: it is where the money goes)."""
    check_csrf(request, csrf)
    try:
        if not me.is_owner:
            raise MerchantRoleForbidden(required_roles=["owner"])
        with console_audited(platform, me, "merchant.static_qr.create", label) as session:
            platform.payments.static_qr(session, merchant_id=me.merchant.id, label=label)
    except DomainError as error:
        return _qr_page(request, platform, me, error.status, error=refusal_text(request, error))
    return see_other("/merchant/qr")


@router.post("/qr/dynamic")
def new_dynamic_qr(
    request: Request,
    platform: PlatformDep,
    me: Me,
    amount: Annotated[str, Form(max_length=40)],
    order_no: Annotated[str, Form(max_length=64)],
    description: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """A code carrying an amount, for the customer to scan (valid a minute)."""
    check_csrf(request, csrf)
    form = {"amount": amount, "description": description}
    try:
        if not _ORDER_NO.match(order_no):
            raise PaymentNotFound()
        order = OrderRequest(
            order_no=order_no,
            amount=parse_positive_amount(amount.strip(), scale=2, currency="CNY"),
            channel="dynamic_qr",
            description=description,
        )
        with platform.transaction() as session:
            payment, _ = platform.payments.create_order(
                session, merchant_id=me.merchant.id, order=order
            )
    except DomainError as error:
        return _qr_page(request, platform, me, 422, error=refusal_text(request, error), form=form)
    content = platform.payments.qr_content(payment.token)
    return _qr_page(
        request,
        platform,
        me,
        dynamic=_payment_view(payment),
        dynamic_svg=qr.svg(content),
        dynamic_content=content,
    )


# -- collecting a payment code -------------------------------------------------------


def _collect_page(
    request: Request, me: Console, status_code: int = 200, **context: Any
) -> Response:
    return console_page(
        request, me, "merchant_collect.html", status_code, order_no=_new_number("C"), **context
    )


@router.get("/collect")
def collect_page(request: Request, me: Me) -> Response:
    return _collect_page(request, me)


@router.post("/collect")
def collect(
    request: Request,
    platform: PlatformDep,
    me: Me,
    code: Annotated[str, Form(max_length=40)],
    amount: Annotated[str, Form(max_length=40)],
    order_no: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Take a payment by the customer's payment code. Over the password-free
    allowance the customer confirms it in their web bank first (the order waits)."""
    check_csrf(request, csrf)
    code = re.sub(r"\s", "", code)
    form = {"amount": amount}
    try:
        if not _PAYMENT_CODE.match(code) or not _ORDER_NO.match(order_no):
            raise CodeNotFound()
        minor = parse_positive_amount(amount.strip(), scale=2, currency="CNY")
        payment = collect_payment_code(
            platform, me.actor, code=code, order_no=order_no, amount=minor, channel="console"
        )
    except DomainError as error:
        return _collect_page(request, me, 422, error=refusal_text(request, error), form=form)
    return _collect_page(
        request, me, 200 if payment.status == "paid" else 202, done=_payment_view(payment)
    )


# -- one payment, and refunds ---------------------------------------------------------


def _order_page(
    request: Request,
    platform: Platform,
    me: Console,
    order_no: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with platform.transaction() as session:
        payment = platform.payments.find(session, merchant_id=me.merchant.id, order_no=order_no)
        refunds = [] if payment is None else platform.payments.refunds(session, payment.id)
    if payment is None:
        return _takings(request, platform, me, 404, error=refusal_text(request, PaymentNotFound()))
    return console_page(
        request,
        me,
        "merchant_order.html",
        status_code,
        payment=_payment_view(payment),
        refunds=[
            {"refund_no": r.refund_no, "amount": _money(r.amount), "at": local_time(r.created_at)}
            for r in refunds
        ],
        refund_no=_new_number("R"),
        **context,
    )


@router.get("/orders/{order_no}")
def order_page(order_no: str, request: Request, platform: PlatformDep, me: Me) -> Response:
    return _order_page(request, platform, me, order_no)


@router.post("/orders/{order_no}/refund")
def refund(
    order_no: str,
    request: Request,
    platform: PlatformDep,
    me: Me,
    amount: Annotated[str, Form(max_length=40)],
    refund_no: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Give back (part of) a payment: the owner only; never more than is left."""
    check_csrf(request, csrf)
    try:
        if not me.actor.may_refund():
            raise MerchantRoleForbidden(required_roles=["owner"])
        if not _ORDER_NO.match(refund_no):
            raise PaymentNotFound()
        minor = parse_positive_amount(amount.strip(), scale=2, currency="CNY")
        with console_audited(
            platform, me, "epay.refund", order_no, amount=minor, refund_no=refund_no
        ) as session:
            platform.payments.refund(
                session,
                merchant_id=me.merchant.id,
                order_no=order_no,
                refund_no=refund_no,
                amount=minor,
                reason=reason,
            )
    except DomainError as error:
        status = 403 if isinstance(error, MerchantRoleForbidden) else 422
        return _order_page(
            request,
            platform,
            me,
            order_no,
            status,
            error=refusal_text(request, error),
            form={"amount": amount, "reason": reason},
        )
    return _order_page(request, platform, me, order_no, refunded=_money(minor))


# -- logins and API keys ---------------------------------------------------------------


@router.get("/team")
def team(request: Request, platform: PlatformDep, me: Me) -> Response:
    return _team(request, platform, me)


def _team(
    request: Request, platform: Platform, me: Console, status_code: int = 200, **context: Any
) -> Response:
    """The merchant's logins and API keys, each revocable at once (the owner's)."""
    if not me.is_owner:
        error = MerchantRoleForbidden(required_roles=["owner"])
        return console_page(
            request,
            me,
            "merchant_team.html",
            error.status,
            users=[],
            keys=[],
            error=refusal_text(request, error),
        )
    with platform.transaction() as session:
        users = platform.payments.users(session, me.merchant.id)
        keys = platform.payments.api_keys(session, me.merchant.id)
    return console_page(
        request,
        me,
        "merchant_team.html",
        status_code,
        users=[
            {
                "id": u.id,
                "name": u.name,
                "role": u.role,
                "active": u.active,
                "me": u.id == me.actor.user_id,
                "revoked_at": local_time(u.revoked_at) if u.revoked_at else "",
            }
            for u in users
        ],
        keys=[
            {
                "id": k.id,
                "label": k.label,
                "active": k.revoked_at is None,
                "created_at": local_time(k.created_at),
                "revoked_at": local_time(k.revoked_at) if k.revoked_at else "",
            }
            for k in keys
        ],
        **context,
    )


@router.post("/team/users/{user_id}/revoke")
def revoke_user(
    user_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """End a login now (a cashier who left, a password someone else knows)."""
    check_csrf(request, csrf)
    return _revoke(
        request,
        platform,
        me,
        "merchant.user.revoke",
        str(user_id),
        lambda session: platform.payments.revoke_user(
            session, merchant_id=me.merchant.id, user_id=user_id, by_user=me.actor.user_id
        ),
    )


@router.post("/team/api-keys/{key_id}/revoke")
def revoke_api_key(
    key_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Stop an API key now (a leaked key, a retired server)."""
    check_csrf(request, csrf)
    return _revoke(
        request,
        platform,
        me,
        "merchant.api_key.revoke",
        str(key_id),
        lambda session: platform.payments.revoke_api_key(
            session, merchant_id=me.merchant.id, key_id=key_id
        ),
    )


def _revoke(
    request: Request,
    platform: Platform,
    me: Console,
    action: str,
    target: str,
    revoke: Callable[[Session], object],
) -> Response:
    try:
        if not me.is_owner:
            raise MerchantRoleForbidden(required_roles=["owner"])
        with console_audited(platform, me, action, target) as session:
            revoke(session)
    except DomainError as error:
        return _team(request, platform, me, error.status, error=refusal_text(request, error))
    return _team(request, platform, me, revoked=True)


# -- settlements ---------------------------------------------------------------------


@router.get("/settlements")
def settlements(request: Request, platform: PlatformDep, me: Me) -> Response:
    return _settlements(request, platform, me)


def _settlements(
    request: Request,
    platform: Platform,
    me: Console,
    status_code: int = 200,
    error: DomainError | None = None,
) -> Response:
    """Settled days (no service query lists them yet) and the files to download: the
    owner's (as the API's), a cashier is told so."""
    if error is None and not me.is_owner:
        error = MerchantRoleForbidden(required_roles=["owner"])
        status_code = error.status
    rows: list[Any] = []
    if me.is_owner:
        with platform.transaction() as session:
            rows = list(
                session.execute(
                    text(
                        "SELECT business_day, payments, refunds, fees, net, paid, "
                        "carried_forward FROM merchant_settlement WHERE merchant_id = :m "
                        "ORDER BY business_day DESC LIMIT 60"
                    ),
                    {"m": me.merchant.id},
                ).all()
            )
    columns = ("payments", "refunds", "fees", "net", "paid", "carried_forward")
    return console_page(
        request,
        me,
        "merchant_settlements.html",
        status_code,
        settled=[
            {
                "day": row[0].isoformat(),
                **{k: _money(int(v)) for k, v in zip(columns, row[1:], strict=True)},
            }
            for row in rows
        ],
        today=platform.accounts.business_day().isoformat(),
        error=None if error is None else refusal_text(request, error),
    )


def _csv(body: str, name: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@router.get("/transactions.csv")
def transaction_file(request: Request, platform: PlatformDep, me: Me, day: Day) -> Response:
    """The day's payments and refunds, each with its ledger entry."""
    if not me.is_owner:
        return _settlements(request, platform, me)
    with platform.transaction() as session:
        body = day_file(session, day, merchant_id=me.merchant.id)
    return _csv(body, f"transactions-{me.merchant.number}-{day}.csv")


@router.get("/settlement.csv")
def settlement_file(request: Request, platform: PlatformDep, me: Me, day: Day) -> Response:
    """A settled day's report: its transactions, totals, fees and carried amounts."""
    if not me.is_owner:
        return _settlements(request, platform, me)
    try:
        with platform.transaction() as session:
            body = settlement_report(session, settlement_of(session, me.merchant.id, day))
    except DomainError as error:
        return _settlements(request, platform, me, error.status, error)
    return _csv(body, f"settlement-{me.merchant.number}-{day}.csv")
