"""The staff console's 融e购 page (``roles.MALL``): shops waiting for approval, opened
or refused with a reason; open shops suspended and suspended ones reinstated, with a
reason; and the commission table, each change audited. The same
service calls and audit actions as ``/api/v1/staff/mall``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.mall.catalogue.endpoints import shop_status_change
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.mall_pages import category_name
from rongbank.web.pages import PlatformDep, lang_of, local_time, render, see_other, staff_page
from rongbank.web.staff_pages import Csrf, FormFieldInvalid, Reason, StaffMember, refusal

router = APIRouter(include_in_schema=False, prefix="/staff/mall", route_class=OneHopRoute)
MallDesk = Annotated[StaffMember, Depends(staff_page(*roles.MALL))]


def _desk(request: Request, platform: Platform, status_code: int = 200, **context: Any) -> Response:
    lang = lang_of(request)
    with platform.transaction() as session:
        waiting = platform.mall.shops(session, status="pending")
        selling = platform.mall.shops(session, status="open")
        suspended = platform.mall.shops(session, status="suspended")
        merchants = platform.payments.merchant_names(
            session, [s.merchant_id for s in [*waiting, *selling, *suspended]]
        )
        categories = platform.mall.categories(session)
    names = {c.id: category_name(c, lang) for c in categories}
    return render(
        request,
        "staff_mall.html",
        status_code,
        shops=[
            {
                "id": s.id,
                "name": s.name,
                "description": s.description,
                "merchant": merchants.get(s.merchant_id, ""),
                "at": local_time(s.created_at),
            }
            for s in waiting
        ],
        selling=[
            {"id": s.id, "name": s.name, "merchant": merchants.get(s.merchant_id, "")}
            for s in selling
        ],
        suspended=[
            {
                "id": s.id,
                "name": s.name,
                "merchant": merchants.get(s.merchant_id, ""),
                "reason": s.decided_reason,
            }
            for s in suspended
        ],
        categories=[
            {
                "id": c.id,
                "code": c.code,
                "name": names[c.id],
                "parent": names.get(c.parent_id) if c.parent_id else None,
                "commission_bp": c.commission_bp,
                "percent": f"{c.commission_bp / 100:.2f}%",
            }
            for c in categories
        ],
        **context,
    )


@router.get("")
def mall_desk(request: Request, platform: PlatformDep, staff: MallDesk) -> Response:
    return _desk(request, platform)


@router.post("/shops/{shop_id}/status/{action}")
def change_shop_status(
    request: Request,
    platform: PlatformDep,
    staff: MallDesk,
    shop_id: IdParam,
    action: str,
    reason: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """``suspend`` or ``reinstate`` a shop, with the reason (kept, and the seller reads
    a suspension's)."""
    check_csrf(request, csrf)
    me, _ = staff
    try:
        if action not in ("suspend", "reinstate"):
            raise FormFieldInvalid(field="action")
        if not reason.strip():
            raise FormFieldInvalid(field="reason")
        shop_status_change(platform, me, shop_id, action, reason, "console")
    except DomainError as error:
        return _desk(request, platform, error.status, error=refusal(request, error))
    return see_other("/staff/mall")


@router.post("/shops/{shop_id}/{decision}")
def decide_shop(
    request: Request,
    platform: PlatformDep,
    staff: MallDesk,
    shop_id: IdParam,
    decision: str,
    reason: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """``approve`` or ``refuse`` (with the reason its owner will read)."""
    check_csrf(request, csrf)
    me, _ = staff
    try:
        if decision not in ("approve", "refuse"):
            raise FormFieldInvalid(field="decision")
        if decision == "refuse" and not reason.strip():
            raise FormFieldInvalid(field="reason")
        with platform.audited(
            actor_kind="staff",
            actor_id=me.id,
            action=f"mall.shop.{decision}",
            target=str(shop_id),
            details={"reason": reason, "channel": "console"} if reason else {"channel": "console"},
        ) as session:
            platform.mall.decide_shop(
                session,
                shop_id=shop_id,
                staff_id=me.id,
                approve=decision == "approve",
                reason=reason,
            )
    except DomainError as error:
        return _desk(request, platform, error.status, error=refusal(request, error))
    return see_other("/staff/mall")


@router.post("/categories/{category_id}/commission")
def set_commission(
    request: Request,
    platform: PlatformDep,
    staff: MallDesk,
    category_id: IdParam,
    commission_bp: Annotated[str, Form(max_length=5)] = "",
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    me, _ = staff
    try:
        value = commission_bp.strip()
        if not (value.isascii() and value.isdigit() and int(value) <= 5000):
            raise FormFieldInvalid(field="commission_bp")
        with platform.audited(
            actor_kind="staff",
            actor_id=me.id,
            action="mall.commission.set",
            target=str(category_id),
            details={"commission_bp": int(value), "channel": "console"},
        ) as session:
            platform.mall.set_commission(
                session, category_id=category_id, commission_bp=int(value), staff_id=me.id
            )
    except DomainError as error:
        return _desk(request, platform, error.status, error=refusal(request, error))
    return see_other("/staff/mall")
