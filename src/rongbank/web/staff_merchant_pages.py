"""The staff console's e-Pay pages (``roles.MERCHANTS``): merchants onboarded,
approved by a second member of staff, suspended and reinstated; their logins and API
keys, revoked when stolen or leaked; settlement runs, the failures they leave until a
later run settles them, and the bank's transaction file of a day.

The same service calls and audit actions as ``/api/v1/staff/merchants`` and
``/api/v1/staff/payments``."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.accounts.statements import mask_account_number
from rongbank.api.one_hop import OneHopRoute
from rongbank.errors import DomainError
from rongbank.inputs import Day, IdParam, parse_id
from rongbank.money import format_amount
from rongbank.payments.merchants import Merchant
from rongbank.payments.settlement import (
    SettlementRun,
    days_settled,
    open_failures,
    settle_all,
    transaction_file,
)
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import PlatformDep, local_time, render, see_other, staff_page
from rongbank.web.staff_pages import Csrf, FormFieldInvalid, Reason, StaffMember, refusal

router = APIRouter(include_in_schema=False, prefix="/staff", route_class=OneHopRoute)

MerchantDesk = Annotated[StaffMember, Depends(staff_page(*roles.MERCHANTS))]
STATUSES = ("pending", "active", "suspended")
SHOWN = 100
"""Merchants listed at most: those waiting for approval oldest first (in the order
they came), the others newest first."""


def _money(minor: int) -> str:
    return format_amount(minor, scale=2)


def _merchant_view(merchant: Merchant) -> dict[str, Any]:
    return {
        "id": merchant.id,
        "number": merchant.number,
        "customer_id": merchant.customer_id,
        "name": merchant.name,
        "mcc": merchant.mcc,
        "fee_bps": merchant.fee_bps,
        "status": merchant.status,
        "reason": merchant.status_reason,
    }


def _merchants(
    request: Request,
    platform: Platform,
    status: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with platform.transaction() as session:
        found = platform.payments.merchants(
            session, status=status or None, newest_first=status != "pending", limit=SHOWN
        )
        names = platform.accounts.customer_names(session, [m.customer_id for m in found])
    return render(
        request,
        "staff_merchants.html",
        status_code,
        status=status,
        statuses=STATUSES,
        more=len(found) == SHOWN,
        merchants=[_merchant_view(m) | {"customer": names[m.customer_id]} for m in found],
        form=context.pop("form", {}),
        **context,
    )


@router.get("/merchants")
def merchants(
    request: Request,
    platform: PlatformDep,
    staff: MerchantDesk,
    status: str = "",
    customer_id: str = "",
) -> Response:
    """Merchants (all, or of one status: ``pending`` waits for approval), and the
    onboarding form (``customer_id`` fills it in from the customer's page)."""
    return _merchants(
        request,
        platform,
        status if status in STATUSES else "",
        form={"customer_id": customer_id if parse_id(customer_id) else ""},
    )


@router.post("/merchants")
def onboard(
    request: Request,
    platform: PlatformDep,
    staff: MerchantDesk,
    customer_id: Annotated[str, Form(max_length=20)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    mcc: Annotated[str, Form(max_length=10)] = "",
    settlement_account: Annotated[str, Form(max_length=40)] = "",
    fee_bps: Annotated[str, Form(max_length=10)] = "",
    csrf: Csrf = "",
) -> Response:
    """Onboard a customer as a merchant; another member of staff approves it."""
    check_csrf(request, csrf)
    form = {
        "customer_id": customer_id,
        "name": name,
        "mcc": mcc,
        "settlement_account": settlement_account,
        "fee_bps": fee_bps,
    }
    me, _ = staff
    try:
        customer = parse_id(customer_id.strip())
        fee = fee_bps.strip()
        if customer is None:
            raise FormFieldInvalid(field="customer_id")
        if not (fee.isascii() and fee.isdigit() and int(fee) <= 1000):
            raise FormFieldInvalid(field="fee_bps")
        if not (mcc.isascii() and mcc.isdigit() and len(mcc) == 4):
            raise FormFieldInvalid(field="mcc")
        if not name.strip():
            raise FormFieldInvalid(field="name")
        with platform.audited(
            actor_kind="staff",
            actor_id=me.id,
            action="merchant.onboard",
            target=f"customer {customer}",
            details={"mcc": mcc, "fee_bps": int(fee), "channel": "console"},
        ) as session:
            merchant = platform.payments.onboard(
                session,
                staff_id=me.id,
                customer_id=customer,
                name=name.strip(),
                mcc=mcc,
                settlement_account="".join(settlement_account.split()),
                fee_bps=int(fee),
            )
    except DomainError as error:
        return _merchants(request, platform, "", 422, form=form, error=refusal(request, error))
    return see_other(f"/staff/merchants/{merchant.id}?done=onboard")


def _merchant(
    request: Request,
    platform: Platform,
    merchant_id: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with platform.transaction() as session:
        merchant = platform.payments.merchant(session, merchant_id)
        customer = platform.accounts.customer(session, merchant.customer_id)
        account = platform.payments.e_account(session, merchant.settlement_account_id)
        users = platform.payments.users(session, merchant_id)
        keys = platform.payments.api_keys(session, merchant_id)
    return render(
        request,
        "staff_merchant.html",
        status_code,
        merchant=_merchant_view(merchant)
        | {"customer": customer.name, "account": mask_account_number(account.number)},
        users=[
            {
                "id": u.id,
                "name": u.name,
                "role": u.role,
                "active": u.active,
                "since": local_time(u.created_at),
                "revoked": local_time(u.revoked_at) if u.revoked_at else "",
            }
            for u in users
        ],
        keys=[
            {
                "id": k.id,
                "label": k.label,
                "since": local_time(k.created_at),
                "revoked": local_time(k.revoked_at) if k.revoked_at else "",
            }
            for k in keys
        ],
        **context,
    )


NOTICES = {
    "onboard": "merchant_onboarded",
    "approve": "merchant_approved",
    "suspend": "merchant_suspended",
    "reinstate": "merchant_reinstated",
    "user": "merchant_user_revoked",
    "key": "merchant_key_revoked",
}


@router.get("/merchants/{merchant_id}")
def merchant(
    merchant_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: MerchantDesk,
    done: str = "",
) -> Response:
    """A merchant: its status and the actions it allows, its logins and API keys."""
    return _merchant(request, platform, merchant_id, notice=NOTICES.get(done))


def _act(
    request: Request,
    platform: Platform,
    staff: StaffMember,
    merchant_id: int,
    *,
    action: str,
    target: str,
    reason: str,
    done: str,
    work: Any,
) -> Response:
    """Run ``work(session)`` audited as the API's ``action``, then show the merchant
    (with the refusal, if any)."""
    me, _ = staff
    try:
        with platform.audited(
            actor_kind="staff",
            actor_id=me.id,
            action=action,
            target=target,
            details={"reason": reason, "channel": "console"},
        ) as session:
            work(session)
    except DomainError as error:
        return _merchant(request, platform, merchant_id, 422, error=refusal(request, error))
    return see_other(f"/staff/merchants/{merchant_id}?done={done}")


@router.post("/merchants/{merchant_id}/approve")
def approve(
    merchant_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: MerchantDesk,
    csrf: Csrf = "",
) -> Response:
    """Approve a merchant another member of staff onboarded (four eyes)."""
    check_csrf(request, csrf)
    return _act(
        request,
        platform,
        staff,
        merchant_id,
        action="merchant.approve",
        target=str(merchant_id),
        reason="",
        done="approve",
        work=lambda s: platform.payments.approve(s, merchant_id=merchant_id, staff_id=staff[0].id),
    )


@router.post("/merchants/{merchant_id}/suspend")
def suspend(
    merchant_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: MerchantDesk,
    reason: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """Stop a merchant taking payments and giving refunds; settlement goes on."""
    check_csrf(request, csrf)
    return _act(
        request,
        platform,
        staff,
        merchant_id,
        action="merchant.suspend",
        target=str(merchant_id),
        reason=reason,
        done="suspend",
        work=lambda s: platform.payments.set_status(
            s, merchant_id=merchant_id, status="suspended", reason=reason
        ),
    )


@router.post("/merchants/{merchant_id}/reinstate")
def reinstate(
    merchant_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: MerchantDesk,
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    return _act(
        request,
        platform,
        staff,
        merchant_id,
        action="merchant.reinstate",
        target=str(merchant_id),
        reason="",
        done="reinstate",
        work=lambda s: platform.payments.set_status(
            s, merchant_id=merchant_id, status="active", reason=""
        ),
    )


@router.post("/merchants/{merchant_id}/users/{user_id}/revoke")
def revoke_user(
    merchant_id: IdParam,
    user_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: MerchantDesk,
    reason: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """End a merchant's login now (a stolen password, the merchant asks)."""
    check_csrf(request, csrf)
    return _act(
        request,
        platform,
        staff,
        merchant_id,
        action="merchant.user.revoke",
        target=f"merchant {merchant_id} user {user_id}",
        reason=reason,
        done="user",
        work=lambda s: platform.payments.revoke_user(s, merchant_id=merchant_id, user_id=user_id),
    )


@router.post("/merchants/{merchant_id}/api-keys/{key_id}/revoke")
def revoke_api_key(
    merchant_id: IdParam,
    key_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: MerchantDesk,
    reason: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """Stop a merchant's API key now (leaked, or the merchant asks)."""
    check_csrf(request, csrf)
    return _act(
        request,
        platform,
        staff,
        merchant_id,
        action="merchant.api_key.revoke",
        target=f"merchant {merchant_id} key {key_id}",
        reason=reason,
        done="key",
        work=lambda s: platform.payments.revoke_api_key(s, merchant_id=merchant_id, key_id=key_id),
    )


# -- settlement ------------------------------------------------------------------------


def _settlements(
    request: Request,
    platform: Platform,
    status_code: int = 200,
    *,
    run: SettlementRun | None = None,
    day: str = "",
    error: str | None = None,
) -> Response:
    yesterday = platform.accounts.business_day() - timedelta(days=1)
    with platform.transaction() as session:
        failures = open_failures(session)
        days = days_settled(session)
        ids = [f.merchant_id for f in failures] + (
            [f.merchant_id for f in run.failed] if run else []
        )
        names = platform.payments.merchant_names(session, ids)
    return render(
        request,
        "staff_settlements.html",
        status_code,
        day=day or yesterday.isoformat(),
        latest=yesterday.isoformat(),
        run=None
        if run is None
        else {
            "day": run.business_day.isoformat(),
            "settled": len(run.settled),
            "paid": _money(sum(x.paid for x in run.settled)),
            "failed": [
                {"merchant_id": f.merchant_id, "merchant": names[f.merchant_id], "error": f.error}
                for f in run.failed
            ],
        },
        failures=[
            {
                "merchant_id": f.merchant_id,
                "merchant": names[f.merchant_id],
                "day": f.business_day.isoformat(),
                "error": f.error,
                "message": f.message,
                "at": local_time(f.failed_at),
            }
            for f in failures
        ],
        days=[
            {
                "day": d.business_day.isoformat(),
                "merchants": d.merchants,
                "paid": _money(d.paid),
                "fees": _money(d.fees_charged),
                "carried": _money(-d.carried_forward),
            }
            for d in days
        ],
        error=error,
    )


@router.get("/settlements")
def settlements(request: Request, platform: PlatformDep, staff: MerchantDesk) -> Response:
    """Run a day's settlement; the failures no run has settled since; the days run."""
    return _settlements(request, platform)


@router.post("/settlements")
def settle(
    request: Request,
    platform: PlatformDep,
    staff: MerchantDesk,
    business_day: Annotated[str, Form(max_length=10)] = "",
    csrf: Csrf = "",
) -> Response:
    """Settle (or re-read) a business day for every merchant, as the API's
    ``POST /staff/payments/settlements``: one merchant's failure stops no other's."""
    check_csrf(request, csrf)
    try:
        day = _day(business_day)
        run = settle_all(platform.session_factory, platform.payments, day)
    except DomainError as error:
        return _settlements(request, platform, 422, day=business_day, error=refusal(request, error))
    with platform.transaction() as session:
        platform.audit.record(
            session,
            actor_kind="staff",
            actor_id=staff[0].id,
            action="epay.settle",
            target=day.isoformat(),
            details={**run.summary(), "channel": "console"},
        )
    return _settlements(request, platform, run=run, day=day.isoformat())


def _day(text: str) -> date:
    """A date as a date field sends it (``YYYY-MM-DD``)."""
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text.strip()):
            return date.fromisoformat(text.strip())
    except ValueError:
        pass
    raise FormFieldInvalid(field="business_day")


@router.get("/settlements/{day}/transactions.csv")
def transactions(day: Day, platform: PlatformDep, staff: MerchantDesk) -> Response:
    """The bank's transaction file of a business day, all merchants (as the API's)."""
    with platform.transaction() as session:
        body = transaction_file(session, day)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="transactions-{day}.csv"'},
    )
