"""The staff console's settlement shares (``roles.SETTLEMENT_SHARES``): ask that a
merchant's operating loan be repaid by a share of each e-Pay settlement, and approve or
decline another's request (four eyes). The same service calls and audit actions as
``/api/v1/staff/lending/settlement-shares``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.lending import settlement_share_endpoints as shares
from rongbank.lending.settlement_share import BPS, ShareRequest
from rongbank.money import parse_positive_amount
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import PlatformDep, local_time, render, see_other, staff_page
from rongbank.web.staff_pages import Csrf, FormFieldInvalid, StaffMember, refusal

router = APIRouter(
    include_in_schema=False, prefix="/staff/lending/settlement-shares", route_class=OneHopRoute
)

CreditStaff = Annotated[StaffMember, Depends(staff_page(*roles.SETTLEMENT_SHARES))]
Field = Annotated[str, Form(max_length=200)]
NOTICES = {
    "asked": "staff_share_done_asked",
    "approved": "staff_share_done_approved",
    "declined": "staff_share_done_declined",
}


def _view(found: ShareRequest) -> dict[str, Any]:
    return {
        "id": found.id,
        "loan_id": found.loan_id,
        "merchant_id": found.merchant_id,
        "share": f"{found.share_bps / 100:g}%",
        "reason": found.reason,
        "status": found.status,
        "asked_by": found.asked_by,
        "decided_by": found.decided_by,
        "at": local_time(found.asked_at),
    }


def _page(
    request: Request,
    platform: Platform,
    staff: StaffMember,
    status_code: int = 200,
    *,
    notice: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    with platform.transaction() as session:
        found = platform.settlement_shares.requests(session)
    return render(
        request,
        "staff_settlement_shares.html",
        status_code,
        requests=[_view(r) for r in found],
        me=staff[0].id,
        notice=notice,
        error=error,
        form=form or {},
    )


@router.get("")
def share_requests(
    request: Request, platform: PlatformDep, staff: CreditStaff, done: str = ""
) -> Response:
    """The requests waiting for a second approver, then the latest decided; the form
    to ask for one."""
    return _page(request, platform, staff, notice=NOTICES.get(done))


def _id(text: str, field: str) -> int:
    if not text.strip().isdigit() or not 0 < int(text) < 2**63:
        raise FormFieldInvalid(field=field)
    return int(text)


@router.post("")
def ask_for_share(
    request: Request,
    platform: PlatformDep,
    staff: CreditStaff,
    loan_id: Field = "",
    merchant_id: Field = "",
    share_percent: Field = "",
    reason: Field = "",
    csrf: Csrf = "",
) -> Response:
    """Ask: the loan, the merchant, the share in percent of each payout, and why."""
    check_csrf(request, csrf)
    form = {
        "loan_id": loan_id,
        "merchant_id": merchant_id,
        "share_percent": share_percent,
        "reason": reason,
    }
    try:
        bps = parse_positive_amount(share_percent.strip() or "0", scale=2)  # 12.5% = 1250 bp
        if bps > BPS:
            raise FormFieldInvalid(field="share_percent")
        if not reason.strip():
            raise FormFieldInvalid(field="reason")
        body = shares.ShareRequestIn(
            loan_id=_id(loan_id, "loan_id"),
            merchant_id=_id(merchant_id, "merchant_id"),
            share_bps=bps,
            reason=reason.strip(),
        )
        shares.ask(platform, staff[0].id, body)
    except DomainError as error:
        return _page(
            request, platform, staff, error.status, error=refusal(request, error), form=form
        )
    return see_other("/staff/lending/settlement-shares?done=asked")


def _decide(
    request: Request, platform: Platform, staff: StaffMember, request_id: int, approve: bool
) -> Response:
    try:
        decided = shares.decide(platform, staff[0].id, request_id, approve=approve)
    except DomainError as error:
        return _page(request, platform, staff, error.status, error=refusal(request, error))
    return see_other(f"/staff/lending/settlement-shares?done={decided.status}")


@router.post("/{request_id}/approve")
def approve_share(
    request_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: CreditStaff,
    csrf: Csrf = "",
) -> Response:
    """Approve another's request: the share applies from the next settlement run."""
    check_csrf(request, csrf)
    return _decide(request, platform, staff, request_id, True)


@router.post("/{request_id}/decline")
def decline_share(
    request_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: CreditStaff,
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    return _decide(request, platform, staff, request_id, False)
