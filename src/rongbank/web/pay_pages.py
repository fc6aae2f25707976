"""工银e支付 in the web bank: paying a merchant's QR code or web-shop order, the
customer's payment code (付款码), receipts and the list of the customer's payments.

A QR code carries a link to ``/pay/<token>`` (``PaymentsService.qr_content``), so a
phone camera opens the payment page directly; without a camera the customer pastes
the code's content on ``/pay``. Static counter codes (tokens starting ``S``) ask for
the amount; dynamic codes and web-shop orders carry it. Every payment is confirmed as
a transfer is (``pages.confirm_payment``): at once within the password-free
allowance, else with the same challenge form.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError
from rongbank.idempotency import Keyed, keyed
from rongbank.money import format_amount, parse_positive_amount
from rongbank.payments import qr
from rongbank.payments.errors import CodeNotFound, OrderConflict, PaymentNotFound
from rongbank.payments.merchants import Merchant
from rongbank.payments.orders import Payment
from rongbank.platform import Platform
from rongbank.web.account_pages import accounts_view
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import Me, PlatformDep, local_time, refusal_text, render, see_other
from rongbank.web.step_up import (
    ChallengeAnswer,
    ChallengeCarried,
    ChallengeField,
    Responses,
    ToolChoice,
    challenge_view,
    confirm_payment,
)

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
"""What a payment token looks like (``secrets.token_urlsafe`` after a kind letter)."""


def _money(minor: int) -> str:
    return format_amount(minor, scale=2)


def _is_static(token: str) -> bool:
    return token.startswith("S")


def _safe_url(url: str) -> str:
    """A shop's return address, only when it is a web address (never javascript:)."""
    return url if url.startswith(("https://", "http://")) else ""


def _payment_view(payment: Payment, merchant: Merchant) -> dict[str, Any]:
    return {
        "token": payment.token,
        "merchant": merchant.name,
        "merchant_number": merchant.number,
        "order_no": payment.order_no,
        "channel": payment.channel,
        "status": payment.status,
        "amount": _money(payment.amount),
        "refunded": _money(payment.refunded),
        "description": payment.description,
        "paid_at": local_time(payment.paid_at) if payment.paid_at else "",
        "expires_at": local_time(payment.expires_at),
        "return_url": _safe_url(payment.return_url),
    }


def _merchant_names(platform: Platform, session: Session, payments: list[Payment]) -> list[Any]:
    merchants: dict[int, Merchant] = {}
    for p in payments:
        if p.merchant_id not in merchants:
            merchants[p.merchant_id] = platform.payments.merchant(session, p.merchant_id)
    return [_payment_view(p, merchants[p.merchant_id]) for p in payments]


# -- finding what to pay -----------------------------------------------------------------


def _pay_home(
    request: Request, platform: Platform, me: Principal, status_code: int = 200, **context: Any
) -> Response:
    with platform.transaction() as session:
        awaiting = _merchant_names(platform, session, platform.payments.awaiting(session, me.id))
    return render(request, "pay.html", status_code, awaiting=awaiting, **context)


@router.get("/pay")
def pay_home(request: Request, platform: PlatformDep, me: Me) -> Response:
    """Scan (paste) a code; the payments waiting for the customer's confirmation."""
    return _pay_home(request, platform, me)


@router.get("/pay/scan")
def scan(request: Request, platform: PlatformDep, me: Me, content: str = "") -> Response:
    """What a QR code or order link carries, pasted: go to its payment page."""
    token = platform.payments.token_of(content[:500])
    if not _TOKEN.match(token):
        return _pay_home(
            request, platform, me, 422, error=refusal_text(request, CodeNotFound()), content=content
        )
    return see_other(f"/pay/{token}")


def _order(platform: Platform, me: Principal, token: str) -> tuple[Payment | None, Merchant]:
    """The order behind ``token`` (None for a static code) and its merchant."""
    if not _TOKEN.match(token):
        raise CodeNotFound()
    with platform.transaction() as session:
        if _is_static(token):
            return None, platform.payments.static_qr_merchant(session, token)
        order = platform.payments.order_for_customer(session, customer_id=me.id, token=token)
        return order, platform.payments.merchant(session, order.merchant_id)


def _pay_page(
    request: Request,
    platform: Platform,
    me: Principal,
    token: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    try:
        order, merchant = _order(platform, me, token)
    except DomainError as error:
        return _pay_home(request, platform, me, 404, error=refusal_text(request, error))
    if order is not None and order.status != "created":
        if order.customer_id == me.id:
            return see_other(f"/pay/receipts/{order.token}")
        return _pay_home(request, platform, me, 409, error=refusal_text(request, PaymentNotFound()))
    return render(
        request,
        "pay_order.html",
        status_code,
        token=token,
        merchant=merchant.name,
        merchant_number=merchant.number,
        order=None
        if order is None
        else _payment_view(order, merchant)
        | {
            # 逸贷 beside e-Pay, for an order within its amounts (rongbank.lending.checkout).
            "instalments": platform.yidai.offered_for(order.amount),
        },
        accounts=accounts_view(platform, me.id),
        client_id=uuid.uuid4().hex,  # a static code's order number: a double submit pays once
        **context,
    )


# -- paying ----------------------------------------------------------------------------


@router.post("/pay/{token}/confirm")
def pay_confirm(
    token: str,
    request: Request,
    platform: PlatformDep,
    me: Me,
    account: Annotated[str, Form(max_length=40)],
    client_id: Annotated[str, Form(max_length=64)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Pay: at once within the password-free allowance, else answering the challenge
    the bank asks for (as a transfer's confirmation)."""
    check_csrf(request, csrf)
    form = {"account": account, "amount": amount, "client_id": client_id}
    try:
        order, merchant = _order(platform, me, token)
        if order is None:
            if not re.fullmatch(r"[0-9a-f]{32}", client_id):
                raise CodeNotFound()
            minor = parse_positive_amount(amount.strip(), scale=2, currency="CNY")
            order_no = platform.payments.static_order_no(me.id, client_id)
        else:
            minor, order_no = order.amount, order.order_no
    except DomainError as error:
        return _pay_page(
            request, platform, me, token, 422, error=refusal_text(request, error), form=form
        )
    form["amount"] = _money(minor)

    def paid(session: Session) -> Payment | None:
        found = platform.payments.find(session, merchant_id=merchant.id, order_no=order_no)
        return found if found is not None and found.status != "created" else None

    def pay(session: Session) -> Response:
        if order is None:
            done = platform.payments.pay_static(
                session,
                customer_id=me.id,
                qr=token,
                account_number=account,
                amount=minor,
                client_id=client_id,
            )
        else:
            done = platform.payments.pay_order(
                session, customer_id=me.id, payment=order, account_number=account
            )
        return see_other(f"/pay/receipts/{done.token}")

    def done_before() -> Response:
        with platform.transaction() as session:
            found = paid(session)
        assert found is not None
        return see_other(f"/pay/receipts/{found.token}")

    def again(shown: Mapping[str, Any] | None, error: DomainError | None) -> Response:
        with platform.transaction() as session:
            mobile = platform.accounts.customer(session, me.id).mobile
        return render(
            request,
            "pay_confirm.html",
            200 if error is None else 422,
            token=token,
            merchant=merchant.name,
            merchant_number=merchant.number,
            order=None if order is None else _payment_view(order, merchant),
            form=form,
            challenge=None if shown is None else challenge_view(shown, mobile=mobile),
            error=None if error is None else refusal_text(request, error),
        )

    return confirm_payment(
        platform,
        me.id,
        platform.payments.payment_request(merchant, order_no, minor, account),
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        pay,
        already_done=lambda session: paid(session) is not None,
        again=again,
        # The page that shows a refusal is a new request: it carries a new id.
        refused=lambda error: _pay_page(
            request, platform, me, token, 422, error=refusal_text(request, error), form=form
        ),
        done_before=done_before,
        # The API's scopes and requests: a refused form sent again (back, then resend)
        # is answered the same; a double submit pays once.
        idempotency=_keyed(me.id, token, order, client_id, account=account, amount=minor),
    )


def _keyed(
    customer_id: int,
    token: str,
    order: Payment | None,
    client_id: str,
    *,
    account: str,
    amount: int,
) -> Keyed | None:
    """The key of the pay form: a static code's payment is its client id's (the order
    number is made of it); an order's, one per form shown (the order itself keeps a
    second payment out). None for an order's form without one."""
    if order is None:
        request = {"qr": token, "account": account, "amount": amount}
        return keyed(
            f"customer:{customer_id}:epay_static", client_id, request, conflict=OrderConflict
        )
    if not client_id:
        return None
    return keyed(
        f"customer:{customer_id}:epay_order", client_id, {"account": account, "token": token}
    )


# -- after paying ----------------------------------------------------------------------


@router.get("/pay/receipts/{token}")
def receipt(token: str, request: Request, platform: PlatformDep, me: Me) -> Response:
    """A payment's receipt, with its refunds; only the customer who paid sees it."""
    try:
        if not _TOKEN.match(token):
            raise PaymentNotFound()
        with platform.transaction() as session:
            payment = platform.payments.by_token(session, token)
            if payment.customer_id != me.id or payment.status == "created":
                raise PaymentNotFound()  # another customer's: as if there were none
            merchant = platform.payments.merchant(session, payment.merchant_id)
            refunds = platform.payments.refunds(session, payment.id)
    except DomainError as error:
        return _pay_home(request, platform, me, 404, error=refusal_text(request, error))
    return render(
        request,
        "pay_receipt.html",
        payment=_payment_view(payment, merchant),
        refunds=[
            {"amount": _money(r.amount), "at": local_time(r.created_at), "refund_no": r.refund_no}
            for r in refunds
        ],
    )


@router.get("/pay/payments")
def my_payments(request: Request, platform: PlatformDep, me: Me) -> Response:
    """The customer's merchant payments, newest first, with what was refunded."""
    with platform.transaction() as session:
        payments = _merchant_names(
            platform, session, platform.payments.payments_of_customer(session, me.id)
        )
    return render(request, "pay_payments.html", payments=payments)


# -- the payment code ------------------------------------------------------------------


@router.get("/pay/code")
def code_page(request: Request, platform: PlatformDep, me: Me) -> Response:
    return render(request, "pay_code.html", accounts=accounts_view(platform, me.id))


@router.post("/pay/code")
def new_code(
    request: Request,
    platform: PlatformDep,
    me: Me,
    account: Annotated[str, Form(max_length=40)],
    csrf: Annotated[str, Form()] = "",
    instalments: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """A new payment code for the cashier to scan: single use, valid a minute. Shown
    as a QR code and as digits (grouped as on a phone), never cached. A 逸贷 code
    (``instalments``): what the cashier scans waits here, to pay by instalments."""
    check_csrf(request, csrf)
    accounts = accounts_view(platform, me.id)
    try:
        with platform.transaction() as session:
            code, expires = platform.payments.issue_code(
                session, customer_id=me.id, account_number=account, instalments=bool(instalments)
            )
    except DomainError as error:
        return render(
            request, "pay_code.html", 422, accounts=accounts, error=refusal_text(request, error)
        )
    return render(
        request,
        "pay_code.html",
        accounts=accounts,
        account=account,
        instalments=bool(instalments),
        code=code,
        groups=[code[i : i + 4] for i in range(0, len(code), 4)],
        svg=qr.svg(code, scale=5),
        until=expires.astimezone(BUSINESS_TIME_ZONE).strftime("%H:%M:%S"),
    )


# Last: its path would take /pay/code, /pay/payments and /pay/scan otherwise.
@router.get("/pay/{token}")
def pay_page(token: str, request: Request, platform: PlatformDep, me: Me) -> Response:
    """The payment page a QR code links to: the merchant, and the amount to pay (a
    static counter code: typed by the customer)."""
    return _pay_page(request, platform, me, token)
