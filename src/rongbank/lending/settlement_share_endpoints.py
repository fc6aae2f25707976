"""Settlement shares over HTTP (``/staff/lending/settlement-shares``, roles
``SETTLEMENT_SHARES``): a member of the credit staff asks that a merchant's operating
loan be repaid by a share of each e-Pay settlement; another approves it (the share is
attached then) or declines it. Each step audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, StrictInt

from rongbank import roles
from rongbank.api.deps import PlatformDep, require_staff
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.inputs import Id, IdParam
from rongbank.inputs import Input as Strict
from rongbank.lending.settlement_share import BPS, ShareRequest
from rongbank.platform import Platform

staff = APIRouter(
    tags=["staff"], prefix="/staff/lending/settlement-shares", route_class=OneHopRoute
)

CreditStaff = Annotated[Principal, Depends(require_staff(*roles.SETTLEMENT_SHARES))]


class ShareRequestIn(Strict):
    loan_id: Id
    merchant_id: Id
    share_bps: Annotated[StrictInt, Field(ge=1, le=BPS, examples=[2000])] = Field(
        description="The share of each settlement payout, in basis points (2000 = 20%)."
    )
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class ShareRequestOut(BaseModel):
    id: int
    loan_id: int
    merchant_id: int
    share_bps: int
    reason: str
    status: str = Field(description="``pending``, ``approved`` (attached) or ``declined``.")
    asked_by: int
    decided_by: int | None
    asked_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, found: ShareRequest) -> ShareRequestOut:
        return cls.model_validate(found, from_attributes=True)


def ask(platform: Platform, staff_id: int, body: ShareRequestIn) -> ShareRequest:
    """Ask for a share, audited (the console's form does the same)."""
    with platform.audited(
        actor_kind="staff",
        actor_id=staff_id,
        action="lending.settlement_share.ask",
        target=f"loan {body.loan_id}",
        details={"merchant_id": body.merchant_id, "share_bps": body.share_bps},
    ) as session:
        return platform.settlement_shares.ask(
            session,
            staff_id=staff_id,
            loan_id=body.loan_id,
            merchant_id=body.merchant_id,
            share_bps=body.share_bps,
            reason=body.reason,
        )


def decide(platform: Platform, staff_id: int, request_id: int, *, approve: bool) -> ShareRequest:
    """Approve or decline another's request, audited."""
    with platform.audited(
        actor_kind="staff",
        actor_id=staff_id,
        action=f"lending.settlement_share.{'approve' if approve else 'decline'}",
        target=f"settlement share request {request_id}",
    ) as session:
        return platform.settlement_shares.decide(
            session, staff_id=staff_id, request_id=request_id, approve=approve
        )


@staff.get("")
def share_requests(platform: PlatformDep, _: CreditStaff) -> list[ShareRequestOut]:
    """The requests waiting for a second approver, oldest first, then the latest
    decided."""
    with platform.transaction() as session:
        return [ShareRequestOut.of(r) for r in platform.settlement_shares.requests(session)]


@staff.post("", status_code=201)
def ask_for_share(body: ShareRequestIn, platform: PlatformDep, me: CreditStaff) -> ShareRequestOut:
    """Ask that the loan be repaid by a share of each of the merchant's settlements:
    an active operating loan of the merchant's owner, paid into its settlement
    account. Another member of the credit staff approves it."""
    return ShareRequestOut.of(ask(platform, me.id, body))


@staff.post("/{request_id}/approve")
def approve_share(request_id: IdParam, platform: PlatformDep, me: CreditStaff) -> ShareRequestOut:
    """Approve another's request: the share applies from the next settlement run."""
    return ShareRequestOut.of(decide(platform, me.id, request_id, approve=True))


@staff.post("/{request_id}/decline")
def decline_share(request_id: IdParam, platform: PlatformDep, me: CreditStaff) -> ShareRequestOut:
    """Decline another's request: nothing is attached."""
    return ShareRequestOut.of(decide(platform, me.id, request_id, approve=False))
