"""e-Pay's HTTP API: the customer's payments (``/me``), the merchant's (``/merchant``,
by a merchant user's session or the merchant's API key) and staff's (``/staff``).

Every payment a customer makes goes through ``Platform.authorised`` (step-up: the
password-free allowance, or a challenge answered by sending the same request again
with ``challenge_id`` and ``response``), exactly as transfers do.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.api.deps import CustomerPrincipal, PlatformDep, keyed_request, require_staff
from rongbank.api.docs import file_answer
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.service import Principal, PrincipalKind
from rongbank.auth.tools import PaymentRequest
from rongbank.db import autocommit
from rongbank.errors import Forbidden, Unauthenticated
from rongbank.inputs import Day, IdParam
from rongbank.money import format_amount, parse_positive_amount
from rongbank.payments import qr
from rongbank.payments import schemas as s
from rongbank.payments.counter import audited_as_merchant, collect_payment_code
from rongbank.payments.errors import MerchantRoleForbidden, OrderConflict
from rongbank.payments.merchants import (
    API_KEY_PREFIX,
    ApiKey,
    Merchant,
    MerchantActor,
    MerchantUser,
)
from rongbank.payments.orders import OrderRequest, Payment
from rongbank.payments.settlement import (
    Settlement,
    settle_all,
    settlement_of,
    settlement_report,
    transaction_file,
)
from rongbank.platform import Platform

customer = APIRouter(tags=["e-Pay"], prefix="/me", route_class=OneHopRoute)
merchant = APIRouter(tags=["e-Pay merchants"], prefix="/merchant", route_class=OneHopRoute)
staff = APIRouter(tags=["staff"], prefix="/staff", route_class=OneHopRoute)
_CSV = file_answer("text/csv", description="The file, as CSV.")

CNY_SCALE = 2
_bearer = HTTPBearer(auto_error=False)


def _amount(text: str) -> int:
    return parse_positive_amount(text, scale=CNY_SCALE, currency="CNY")


def _money(minor: int) -> str:
    return format_amount(minor, scale=CNY_SCALE)


# -- who acts for a merchant -----------------------------------------------------------


def merchant_actor(
    platform: PlatformDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> MerchantActor:
    """A merchant user's session token, or the merchant's API key, as a bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Log in or send the API key as 'Authorization: Bearer <token>'.")
    token = credentials.credentials
    # Reads (and a login's touch), each a statement in autocommit: no transaction.
    with autocommit(platform.session_factory) as session:
        if token.startswith(API_KEY_PREFIX):
            actor = platform.payments.api_key_actor(session, token)
            if actor is None:
                raise Unauthenticated("The API key is not valid.")
            return actor
        principal = platform.auth.authenticate(session, token)
        if principal.kind is not PrincipalKind.MERCHANT:
            raise Forbidden("This is for merchants.")
        found = platform.payments.user_actor(session, principal.id)
    if found is None:
        raise Forbidden("This merchant login is no longer active.")
    return found


def require_merchant(*roles: str) -> Callable[..., MerchantActor]:
    def check(actor: Annotated[MerchantActor, Depends(merchant_actor)]) -> MerchantActor:
        if actor.role not in roles:
            raise MerchantRoleForbidden(required_roles=list(roles))
        return actor

    return check


AnyMerchant = Annotated[MerchantActor, Depends(require_merchant("owner", "cashier", "api"))]
Collector = AnyMerchant
"""Takes payments and sees them: the owner, cashiers, the merchant's systems."""
Refunder = Annotated[MerchantActor, Depends(require_merchant("owner", "api"))]
"""Gives money back, captures and voids: never a cashier."""
Owner = Annotated[MerchantActor, Depends(require_merchant("owner"))]
Operations = Annotated[Principal, Depends(require_staff(*roles.MERCHANTS))]


def _audited_by(
    platform: Platform, actor: MerchantActor, action: str, target: str, **details: Any
) -> AbstractContextManager[Session]:
    return audited_as_merchant(platform, actor, action, target, channel="api", **details)


def _payment_out(platform: Platform, session: Session, payment: Payment) -> s.PaymentOut:
    return s.PaymentOut(
        merchant_id=payment.merchant_id,
        order_no=payment.order_no,
        channel=payment.channel,
        status=payment.status,
        amount=_money(payment.amount),
        captured=_money(payment.captured),
        refunded=_money(payment.refunded),
        fee=_money(payment.fee),
        currency=payment.currency,
        description=payment.description,
        pay_url=platform.payments.qr_content(payment.token),
        qr=platform.payments.qr_content(payment.token),
        return_url=payment.return_url,
        created_at=payment.created_at,
        expires_at=payment.expires_at,
        paid_at=payment.paid_at,
        refunds=[
            s.RefundOut(refund_no=r.refund_no, amount=_money(r.amount), created_at=r.created_at)
            for r in platform.payments.refunds(session, payment.id)
        ],
    )


def _customer_out(payment: Payment, merchant: Merchant) -> s.CustomerPaymentOut:
    return s.CustomerPaymentOut(
        token=payment.token,
        merchant=merchant.number,
        merchant_name=merchant.name,
        order_no=payment.order_no,
        channel=payment.channel,
        status=payment.status,
        amount=_money(payment.amount),
        refunded=_money(payment.refunded),
        description=payment.description,
        return_url=payment.return_url,
        expires_at=payment.expires_at,
        paid_at=payment.paid_at,
    )


# -- customers ---------------------------------------------------------------------------


@customer.post("/payment-codes", status_code=201)
def issue_payment_code(
    body: s.PaymentCodeIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.PaymentCodeOut:
    """A payment code (付款码) for the cashier to scan: single use, valid a minute."""
    with platform.transaction() as session:
        code, expires = platform.payments.issue_code(
            session, customer_id=me.id, account_number=body.account, instalments=body.instalments
        )
    return s.PaymentCodeOut(code=code, expires_at=expires, svg=qr.svg(code))


@customer.get("/payments")
def my_payments(platform: PlatformDep, me: CustomerPrincipal) -> list[s.CustomerPaymentOut]:
    """Your merchant payments, newest first, then those waiting for your confirmation."""
    with platform.transaction() as session:
        found = platform.payments.payments_of_customer(session, me.id)
        found += platform.payments.awaiting(session, me.id)
        merchants = {
            m: platform.payments.merchant(session, m) for m in {p.merchant_id for p in found}
        }
    return [_customer_out(p, merchants[p.merchant_id]) for p in found]


@customer.get("/orders/{token}")
def see_order(token: str, platform: PlatformDep, me: CustomerPrincipal) -> s.CustomerPaymentOut:
    """An order to pay (a web shop's link, a dynamic QR's content, or a payment-code
    payment waiting for you)."""
    with platform.transaction() as session:
        payment = platform.payments.order_for_customer(session, customer_id=me.id, token=token)
        return _customer_out(payment, platform.payments.merchant(session, payment.merchant_id))


@customer.post("/orders/{token}/pay")
def pay_order(
    token: str, body: s.PayOrderIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.CustomerPaymentOut:
    """Pay an order from one of your accounts; a repeat answers the payment made."""
    # Read first (reads alone, no transaction): the order's waiting challenge, if
    # any, says how the payment is authorised.
    with autocommit(platform.session_factory) as session:
        order = platform.payments.order_for_customer(session, customer_id=me.id, token=token)
        seller = platform.payments.merchant(session, order.merchant_id)
    request = platform.payments.payment_request(seller, order.order_no, order.amount, body.account)
    with platform.authorised(
        request,
        customer_id=me.id,
        challenge_id=body.challenge_id or order.challenge_id,
        response=body.response,
        prefer=ToolKind(body.tool) if body.tool else None,
        already_done=lambda session: platform.payments.paid_by(
            session, customer_id=me.id, token=token
        ),
        idempotency=None
        if body.client_id is None
        else keyed_request(f"customer:{me.id}:epay_order", body.client_id, body, token=token),
    ) as session:
        paid = platform.payments.pay_order(
            session, customer_id=me.id, payment=order, account_number=body.account
        )
    return _customer_out(paid, seller)


@customer.post("/payments/static-qr", status_code=201)
def pay_static_qr(
    body: s.StaticPayIn, platform: PlatformDep, me: CustomerPrincipal, response: Response
) -> s.CustomerPaymentOut:
    """Pay a merchant's counter code, entering the amount; ``client_id`` makes a
    retry safe (201 paid now, 200 a retry)."""
    amount = _amount(body.amount)
    order_no = platform.payments.static_order_no(me.id, body.client_id)
    seller: Merchant | None = None
    retry = False

    def request(session: Session) -> PaymentRequest:
        # The code's merchant, read in the payment's own transaction (one less).
        nonlocal seller
        seller = platform.payments.static_qr_merchant(session, body.qr)
        return platform.payments.payment_request(seller, order_no, amount, body.account)

    def already_done(session: Session) -> bool:
        nonlocal retry
        assert seller is not None
        found = platform.payments.find(session, merchant_id=seller.id, order_no=order_no)
        retry = found is not None and found.status != "created"
        return retry

    with platform.authorised(
        request,
        customer_id=me.id,
        challenge_id=body.challenge_id,
        response=body.response,
        prefer=ToolKind(body.tool) if body.tool else None,
        already_done=already_done,
        idempotency=keyed_request(
            f"customer:{me.id}:epay_static",
            body.client_id,
            body,
            conflict=OrderConflict,
            amount=amount,
        ),
    ) as session:
        paid = platform.payments.pay_static(
            session,
            customer_id=me.id,
            qr=body.qr,
            account_number=body.account,
            amount=amount,
            client_id=body.client_id,
            merchant=seller,
        )
    assert seller is not None
    response.status_code = 200 if retry else 201
    return _customer_out(paid, seller)


@customer.post("/merchants/{merchant_id}/users", status_code=201)
def first_merchant_login(
    merchant_id: IdParam, body: s.MerchantUserIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.MerchantUserOut:
    """The customer behind a merchant gives it logins (its owner, first); the owner
    then adds cashiers from the merchant side."""
    with platform.audited(
        actor_kind="customer",
        actor_id=me.id,
        action="merchant.user.add",
        target=f"merchant {merchant_id}",
        details={"role": body.role},
    ) as session:
        found = platform.payments.merchant(session, merchant_id)
        if found.customer_id != me.id:
            raise Forbidden("This is not your merchant.")
        return _add_user(platform, session, merchant_id, body)


def _add_user(
    platform: Platform, session: Session, merchant_id: int, body: s.MerchantUserIn
) -> s.MerchantUserOut:
    user_id = platform.payments.add_user(
        session, merchant_id=merchant_id, role=body.role, name=body.name
    )
    platform.auth.set_password(
        session,
        kind=PrincipalKind.MERCHANT,
        principal_id=user_id,
        username=body.login_name,
        password=body.password.get_secret_value(),
    )
    return s.MerchantUserOut(user_id=user_id, login_name=body.login_name, role=body.role)


# -- merchants -------------------------------------------------------------------------


@merchant.post("/orders", status_code=201)
def create_order(
    body: s.OrderIn, platform: PlatformDep, actor: Collector, response: Response
) -> s.PaymentOut:
    """An order for the customer to pay: ``online`` (a web shop: send the customer to
    ``pay_url``) or ``dynamic_qr`` (show ``qr`` at the counter; valid a minute). 201
    created, 200 the same order again; a different one with this number is 409."""
    order = OrderRequest(
        order_no=body.order_no,
        amount=_amount(body.amount),
        channel=body.channel,
        description=body.description,
        return_url=body.return_url,
        notify_url=body.notify_url,
        capture=body.capture,
    )
    with platform.transaction() as session:
        payment, created = platform.payments.create_order(
            session, merchant_id=actor.merchant_id, order=order
        )
        response.status_code = 201 if created else 200
        return _payment_out(platform, session, payment)


@merchant.get("/orders/{order_no}")
def query_order(order_no: str, platform: PlatformDep, actor: Collector) -> s.PaymentOut:
    with platform.transaction() as session:
        payment = platform.payments.get(session, merchant_id=actor.merchant_id, order_no=order_no)
        return _payment_out(platform, session, payment)


@merchant.get(
    "/orders/{order_no}/qr.svg",
    response_class=Response,
    responses=file_answer("image/svg+xml", description="The QR code."),
)
def order_qr(order_no: str, platform: PlatformDep, actor: Collector) -> Response:
    """The order's QR code to show the customer."""
    with platform.transaction() as session:
        payment = platform.payments.get(session, merchant_id=actor.merchant_id, order_no=order_no)
    content = platform.payments.qr_content(payment.token)
    return Response(qr.svg(content), media_type="image/svg+xml")


@merchant.get("/payments")
def merchant_payments(platform: PlatformDep, actor: Collector) -> list[s.PaymentOut]:
    with platform.transaction() as session:
        return [
            _payment_out(platform, session, p)
            for p in platform.payments.payments_of_merchant(session, actor.merchant_id)
        ]


@merchant.post("/payment-codes", status_code=201)
def collect_by_code(
    body: s.CollectIn, platform: PlatformDep, actor: Collector, response: Response
) -> s.PaymentOut:
    """Take a payment by scanning the customer's payment code. 201 paid; 202 when the
    customer must confirm it on their phone first (query the order or wait for the
    notification); a repeat of a paid order number answers it."""
    done = collect_payment_code(
        platform,
        actor,
        code=body.code,
        order_no=body.order_no,
        amount=_amount(body.amount),
        description=body.description,
        notify_url=body.notify_url,
        channel="api",
    )
    response.status_code = 202 if done.status == "created" else 201
    with autocommit(platform.session_factory) as session:  # the answer's reads alone
        return _payment_out(platform, session, done)


@merchant.post("/orders/{order_no}/capture")
def capture(
    order_no: str, body: s.CaptureIn, platform: PlatformDep, actor: Refunder
) -> s.PaymentOut:
    """Take an authorised payment (in full, or part of it: the rest is released)."""
    amount = None if body.amount is None else _amount(body.amount)
    with _audited_by(platform, actor, "epay.capture", order_no, amount=amount) as session:
        done = platform.payments.capture(
            session, merchant_id=actor.merchant_id, order_no=order_no, amount=amount
        )
        return _payment_out(platform, session, done)


@merchant.post("/orders/{order_no}/void")
def void(order_no: str, platform: PlatformDep, actor: Refunder) -> s.PaymentOut:
    with _audited_by(platform, actor, "epay.void", order_no) as session:
        done = platform.payments.void(session, merchant_id=actor.merchant_id, order_no=order_no)
        return _payment_out(platform, session, done)


@merchant.post("/orders/{order_no}/refunds", status_code=201)
def refund(order_no: str, body: s.RefundIn, platform: PlatformDep, actor: Refunder) -> s.PaymentOut:
    """Refund (part of) a payment; a repeat of a refund number answers it, and all
    refunds together never exceed what was paid."""
    amount = _amount(body.amount)
    with _audited_by(
        platform, actor, "epay.refund", order_no, amount=amount, refund_no=body.refund_no
    ) as session:
        platform.payments.refund(
            session,
            merchant_id=actor.merchant_id,
            order_no=order_no,
            refund_no=body.refund_no,
            amount=amount,
            reason=body.reason,
        )
        payment = platform.payments.get(session, merchant_id=actor.merchant_id, order_no=order_no)
        return _payment_out(platform, session, payment)


@merchant.post("/users", status_code=201)
def add_cashier(body: s.MerchantUserIn, platform: PlatformDep, actor: Owner) -> s.MerchantUserOut:
    with _audited_by(platform, actor, "merchant.user.add", body.role) as session:
        return _add_user(platform, session, actor.merchant_id, body)


@merchant.get("/users")
def merchant_users(platform: PlatformDep, actor: Owner) -> list[s.MerchantUserListed]:
    """The merchant's logins, revoked ones too."""
    with platform.transaction() as session:
        return [_user_out(u) for u in platform.payments.users(session, actor.merchant_id)]


@merchant.post("/users/{user_id}/revoke")
def revoke_user(user_id: IdParam, platform: PlatformDep, actor: Owner) -> s.MerchantUserListed:
    """End a login of the merchant's now (not your own): its sessions are refused from
    the next request on. A repeat answers the same."""
    with _audited_by(platform, actor, "merchant.user.revoke", str(user_id)) as session:
        return _user_out(
            platform.payments.revoke_user(
                session, merchant_id=actor.merchant_id, user_id=user_id, by_user=actor.user_id
            )
        )


@merchant.post("/api-keys", status_code=201)
def new_api_key(body: s.ApiKeyIn, platform: PlatformDep, actor: Owner) -> s.ApiKeyMade:
    """A key for the merchant's servers; the key is shown only in this answer."""
    with _audited_by(platform, actor, "merchant.api_key.create", body.label) as session:
        made, secret = platform.payments.create_api_key(
            session, merchant_id=actor.merchant_id, label=body.label
        )
    return s.ApiKeyMade(**_key_out(made).model_dump(), secret=secret)


@merchant.get("/api-keys")
def api_keys(platform: PlatformDep, actor: Owner) -> list[s.ApiKeyOut]:
    """The merchant's API keys (never the keys themselves), revoked ones too."""
    with platform.transaction() as session:
        return [_key_out(k) for k in platform.payments.api_keys(session, actor.merchant_id)]


@merchant.post("/api-keys/{key_id}/revoke")
def revoke_api_key(key_id: IdParam, platform: PlatformDep, actor: Owner) -> s.ApiKeyOut:
    """Stop a key now: the next request with it is refused. A repeat answers the same."""
    with _audited_by(platform, actor, "merchant.api_key.revoke", str(key_id)) as session:
        return _key_out(
            platform.payments.revoke_api_key(session, merchant_id=actor.merchant_id, key_id=key_id)
        )


def _user_out(user: MerchantUser) -> s.MerchantUserListed:
    return s.MerchantUserListed(
        user_id=user.id,
        role=user.role,
        name=user.name,
        active=user.active,
        created_at=user.created_at,
        revoked_at=user.revoked_at,
    )


def _key_out(key: ApiKey) -> s.ApiKeyOut:
    return s.ApiKeyOut(
        key_id=key.id, label=key.label, created_at=key.created_at, revoked_at=key.revoked_at
    )


@merchant.post("/notify-key")
def rotate_notify_key(platform: PlatformDep, actor: Owner) -> s.SecretOut:
    """A new key for checking notifications' signatures (hex); the old one stops."""
    with _audited_by(platform, actor, "merchant.notify_key.rotate", "") as session:
        key = platform.payments.rotate_notify_key(session, merchant_id=actor.merchant_id)
    return s.SecretOut(secret=key.hex())


@merchant.post("/static-qr", status_code=201)
def new_static_qr(body: s.QrIn, platform: PlatformDep, actor: Owner) -> s.QrOut:
    """A counter code (no amount: the customer enters it); print the SVG."""
    with _audited_by(platform, actor, "merchant.static_qr.create", body.label) as session:
        content = platform.payments.static_qr(
            session, merchant_id=actor.merchant_id, label=body.label
        )
    return s.QrOut(content=content, svg=qr.svg(content))


@merchant.get("/transactions/{day}", response_class=Response, responses=_CSV)
def merchant_transactions(day: Day, platform: PlatformDep, actor: Refunder) -> Response:
    """The day's payments and refunds as CSV, each with its ledger entry."""
    with platform.transaction() as session:
        body = transaction_file(session, day, merchant_id=actor.merchant_id)
    return _csv(body, f"transactions-{actor.merchant_id}-{day}.csv")


@merchant.get("/settlements/{day}", response_class=Response, responses=_CSV)
def merchant_settlement(day: Day, platform: PlatformDep, actor: Refunder) -> Response:
    """The settlement report of a settled day as CSV."""
    with platform.transaction() as session:
        body = settlement_report(session, settlement_of(session, actor.merchant_id, day))
    return _csv(body, f"settlement-{actor.merchant_id}-{day}.csv")


def _csv(body: str, name: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- staff -------------------------------------------------------------------------------


def _merchant_out(found: Merchant) -> s.MerchantOut:
    return s.MerchantOut(
        id=found.id,
        number=found.number,
        customer_id=found.customer_id,
        name=found.name,
        mcc=found.mcc,
        fee_bps=found.fee_bps,
        status=found.status,
    )


@staff.post("/merchants", status_code=201)
def onboard(body: s.MerchantIn, platform: PlatformDep, me: Operations) -> s.MerchantOut:
    """Onboard a customer as a merchant; another member of staff approves it."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="merchant.onboard",
        target=f"customer {body.customer_id}",
        details={"mcc": body.mcc, "fee_bps": body.fee_bps},
    ) as session:
        return _merchant_out(
            platform.payments.onboard(
                session,
                staff_id=me.id,
                customer_id=body.customer_id,
                name=body.name,
                mcc=body.mcc,
                settlement_account=body.settlement_account,
                fee_bps=body.fee_bps,
            )
        )


@staff.get("/merchants")
def list_merchants(platform: PlatformDep, _: Operations) -> list[s.MerchantOut]:
    with platform.transaction() as session:
        return [_merchant_out(m) for m in platform.payments.merchants(session)]


@staff.post("/merchants/{merchant_id}/approve")
def approve(merchant_id: IdParam, platform: PlatformDep, me: Operations) -> s.MerchantOut:
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="merchant.approve", target=str(merchant_id)
    ) as session:
        return _merchant_out(
            platform.payments.approve(session, merchant_id=merchant_id, staff_id=me.id)
        )


@staff.post("/merchants/{merchant_id}/suspend")
def suspend(
    merchant_id: IdParam, body: s.StatusIn, platform: PlatformDep, me: Operations
) -> s.MerchantOut:
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="merchant.suspend",
        target=str(merchant_id),
        details={"reason": body.reason},
    ) as session:
        return _merchant_out(
            platform.payments.set_status(
                session, merchant_id=merchant_id, status="suspended", reason=body.reason
            )
        )


@staff.post("/merchants/{merchant_id}/reinstate")
def reinstate(merchant_id: IdParam, platform: PlatformDep, me: Operations) -> s.MerchantOut:
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="merchant.reinstate", target=str(merchant_id)
    ) as session:
        return _merchant_out(
            platform.payments.set_status(
                session, merchant_id=merchant_id, status="active", reason=""
            )
        )


@staff.get("/merchants/{merchant_id}/users")
def staff_merchant_users(
    merchant_id: IdParam, platform: PlatformDep, _: Operations
) -> list[s.MerchantUserListed]:
    with platform.transaction() as session:
        platform.payments.merchant(session, merchant_id)
        return [_user_out(u) for u in platform.payments.users(session, merchant_id)]


@staff.post("/merchants/{merchant_id}/users/{user_id}/revoke")
def staff_revoke_user(
    merchant_id: IdParam, user_id: IdParam, body: s.StatusIn, platform: PlatformDep, me: Operations
) -> s.MerchantUserListed:
    """End a merchant's login now (a stolen password, a merchant's request)."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="merchant.user.revoke",
        target=f"merchant {merchant_id} user {user_id}",
        details={"reason": body.reason},
    ) as session:
        return _user_out(
            platform.payments.revoke_user(session, merchant_id=merchant_id, user_id=user_id)
        )


@staff.get("/merchants/{merchant_id}/api-keys")
def staff_api_keys(merchant_id: IdParam, platform: PlatformDep, _: Operations) -> list[s.ApiKeyOut]:
    with platform.transaction() as session:
        platform.payments.merchant(session, merchant_id)
        return [_key_out(k) for k in platform.payments.api_keys(session, merchant_id)]


@staff.post("/merchants/{merchant_id}/api-keys/{key_id}/revoke")
def staff_revoke_api_key(
    merchant_id: IdParam, key_id: IdParam, body: s.StatusIn, platform: PlatformDep, me: Operations
) -> s.ApiKeyOut:
    """Stop a merchant's API key now (leaked, or the merchant asks)."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="merchant.api_key.revoke",
        target=f"merchant {merchant_id} key {key_id}",
        details={"reason": body.reason},
    ) as session:
        return _key_out(
            platform.payments.revoke_api_key(session, merchant_id=merchant_id, key_id=key_id)
        )


@staff.post("/payments/settlements")
def settle(body: s.SettleIn, platform: PlatformDep, me: Operations) -> s.SettlementRunOut:
    """Run (or re-read) the settlement of a business day for every merchant. One
    merchant's failure stops no other's: it is listed in ``failed``, and running the
    day again settles it (and re-reads the others)."""
    run = settle_all(platform.session_factory, platform.payments, body.business_day)
    with platform.transaction() as session:
        platform.audit.record(
            session,
            actor_kind="staff",
            actor_id=me.id,
            action="epay.settle",
            target=body.business_day.isoformat(),
            details=run.summary(),
        )
    return s.SettlementRunOut(
        business_day=run.business_day,
        settled=[settlement_out(x) for x in run.settled],
        failed=[
            s.SettlementFailureOut(merchant_id=f.merchant_id, error=f.error, message=f.message)
            for f in run.failed
        ],
    )


def settlement_out(done: Settlement) -> s.SettlementOut:
    return s.SettlementOut(
        merchant_id=done.merchant_id,
        business_day=done.business_day,
        payments=_money(done.payments),
        refunds=_money(done.refunds),
        fees=_money(done.fees),
        brought_forward=_money(done.brought_forward),
        net=_money(done.net),
        fees_charged=_money(done.fees_charged),
        paid=_money(done.paid),
        carried_forward=_money(done.carried_forward),
        entry_id=done.entry_id,
    )


@staff.get("/payments/transactions/{day}", response_class=Response, responses=_CSV)
def bank_transactions(day: Day, platform: PlatformDep, _: Operations) -> Response:
    """The bank's transaction file of a business day, all merchants."""
    with platform.transaction() as session:
        body = transaction_file(session, day)
    return _csv(body, f"transactions-{day}.csv")
