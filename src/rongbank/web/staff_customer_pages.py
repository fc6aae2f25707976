"""The staff console's page of one customer: their accounts with the last month's
movements, freezing and unfreezing an account, and their account manager."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.accounts.identity import mask_mobile
from rongbank.accounts.rules import luhn_valid
from rongbank.accounts.statements import HistoryFilter
from rongbank.api.one_hop import OneHopRoute
from rongbank.errors import DomainError, Forbidden
from rongbank.inputs import IdParam
from rongbank.web.account_pages import accounts_view, movement_view, statements_service
from rongbank.web.csrf import check_csrf
from rongbank.web.i18n import error_text
from rongbank.web.pages import Operations, PlatformDep, Staff, lang_of, render, see_other

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)


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
                movement_view(m, lang_of(request))
                for m in statements_service(platform)
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
        accounts=accounts_view(platform, customer_id),
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
        return see_other(f"/staff/customers/{customer_id}?error={error.code}")
    return see_other(f"/staff/customers/{customer_id}")


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
    return see_other(f"/staff/customers/{customer_id}")
