"""Payees and transfer receipts in the web bank: the customer's saved payees (add,
rename, delete; the transfer form picks one), the ones paid lately, and the receipt
(回单) of a transfer between e-accounts, printable.

The same services and audited openers as the API (``rongbank.accounts.payee_endpoints``),
so a payee is saved under the same checks and audit whichever way the customer comes.
Saving a payee grants nothing: a transfer to it is authorised as any other.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from rongbank.accounts.payee_endpoints import payee_audited
from rongbank.accounts.receipts import transfer_receipt
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.money import format_amount
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import Me, PlatformDep, local_time, refusal_text, render, see_other

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

PAYEE_NOTICES = {"added": "payee_added", "renamed": "payee_renamed", "deleted": "payee_deleted"}
PayeeNameField = Annotated[str, Form(max_length=200)]


@router.get("/payees")
def payees_page(request: Request, platform: PlatformDep, me: Me, done: str = "") -> Response:
    return _payees(request, platform, me, notice=PAYEE_NOTICES.get(done))


def _payees(
    request: Request, platform: Platform, me: Principal, status_code: int = 200, **context: Any
) -> Response:
    with platform.transaction() as session:
        saved = platform.payees.saved(session, me.id)
        recent = platform.payees.recent(session, me.id)
    return render(
        request,
        "payees.html",
        status_code,
        saved=saved,
        recent=[{"payee": r, "last_paid": local_time(r.last_paid_at)} for r in recent],
        **context,
    )


@router.post("/payees")
def add_payee(
    request: Request,
    platform: PlatformDep,
    me: Me,
    name: PayeeNameField,
    account: Annotated[str, Form(max_length=40)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    number = account.replace(" ", "")
    try:
        with payee_audited(platform, me.id, "payee.add", number) as session:
            platform.payees.add(session, me.id, name=name, account_number=number)
    except DomainError as error:
        return _payees(
            request,
            platform,
            me,
            422,
            error=refusal_text(request, error),
            form={"name": name, "account": number},
        )
    return see_other("/payees?done=added")


@router.post("/payees/{payee_id}/rename")
def rename_payee(
    payee_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    name: PayeeNameField,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        with payee_audited(platform, me.id, "payee.rename", str(payee_id)) as session:
            platform.payees.rename(session, me.id, payee_id, name=name)
    except DomainError as error:
        return _payees(request, platform, me, 422, error=refusal_text(request, error))
    return see_other("/payees?done=renamed")


@router.post("/payees/{payee_id}/delete")
def delete_payee(
    payee_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        with payee_audited(platform, me.id, "payee.delete", str(payee_id)) as session:
            platform.payees.delete(session, me.id, payee_id)
    except DomainError as error:
        return _payees(request, platform, me, 422, error=refusal_text(request, error))
    return see_other("/payees?done=deleted")


@router.get("/receipts/{entry_id}")
def receipt_page(entry_id: IdParam, request: Request, platform: PlatformDep, me: Me) -> Response:
    """A transfer's receipt, for either party; anyone else's is "not found" (a 404
    page), exactly as a number that does not exist."""
    try:
        with platform.transaction() as session:
            receipt = transfer_receipt(
                session, platform.accounts, platform.ledger, customer_id=me.id, entry_id=entry_id
            )
    except DomainError as error:
        return render(request, "receipt.html", 404, error=refusal_text(request, error))
    return render(
        request,
        "receipt.html",
        receipt=receipt,
        at=local_time(receipt.at),
        amount=format_amount(receipt.amount, scale=2),
    )
