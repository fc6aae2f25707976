"""The staff console: its home (the day's work of the member of staff's role), the
customer search, a customer's authentication tools, the tools blocked and the top-ups
and withdrawals the card network has not answered, and the staff's own logins.

Every page admits the roles of :mod:`rongbank.roles` that the API admits for the same
work, and its menu (``_staff_nav.html``) lists only the pages of the member's role.
The pages parse and render; the services decide (the same calls the API makes, with
the same audit actions, ``channel`` ``console``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.accounts.identity import mask_mobile, mask_resident_id
from rongbank.accounts.search import MIN_DIGITS
from rongbank.accounts.statements import mask_account_number
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.service import Principal
from rongbank.auth.tools import Tool
from rongbank.errors import DomainError, InvalidRequest
from rongbank.inputs import IdParam
from rongbank.money import format_amount
from rongbank.payments.settlement import open_failure_count
from rongbank.platform import Platform
from rongbank.risk.monitoring.rules import rules_to_approve
from rongbank.web.csrf import check_csrf
from rongbank.web.i18n import translate
from rongbank.web.pages import (
    PlatformDep,
    lang_of,
    local_time,
    refusal_text,
    render,
    see_other,
    staff_page,
    templates,
)

router = APIRouter(include_in_schema=False, prefix="/staff", route_class=OneHopRoute)


StaffMember = tuple[Principal, str]
"""Who opened a console page: the member of staff, and their role."""
AnyStaff = Annotated[StaffMember, Depends(staff_page(*roles.ALL_STAFF))]
ToolViewer = Annotated[StaffMember, Depends(staff_page(*roles.CUSTOMER_TOOLS))]
ToolKeeper = Annotated[StaffMember, Depends(staff_page(*roles.TOOLS))]
FundingWatch = Annotated[StaffMember, Depends(staff_page(*roles.FUNDING))]
StaffAdmin = Annotated[StaffMember, Depends(staff_page(*roles.STAFF_ADMIN))]
Csrf = Annotated[str, Form()]
Reason = Annotated[str, Form(max_length=500)]


class FormFieldInvalid(InvalidRequest):
    code = "form_field_invalid"
    message = "Please check this field."


def refusal(request: Request, error: DomainError) -> str:
    """Why the bank refused, in the page's language; a refusal about one field of a
    form (``details.field``) names the field as the form labels it."""
    field = error.details.get("field")
    if isinstance(field, str):
        words = translate(lang_of(request))
        label = words.get(f"field_{field}", field)
        return words["form_field_refused"].format(field=label, reason=refusal_text(request, error))
    return refusal_text(request, error)


MENU: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/staff", "staff_home", roles.ALL_STAFF),
    ("/staff/chat", "chat_workspace", roles.CHAT_DESK),
    ("/staff/merchants", "staff_merchants", roles.MERCHANTS),
    ("/staff/settlements", "staff_settlements", roles.MERCHANTS),
    ("/staff/wealth", "staff_wealth", roles.WEALTH_CATALOGUE),
    ("/staff/lending", "staff_lending", roles.CREDIT_REVIEW),
    ("/staff/broadcasts", "staff_broadcasts", roles.BROADCASTS),
    ("/staff/moderation", "staff_moderation", roles.MODERATION),
    ("/staff/tools", "staff_tools", roles.TOOLS),
    ("/staff/members", "staff_members", roles.STAFF_ADMIN),
    ("/staff/liquidity", "staff_liquidity", roles.LIQUIDITY),
    ("/staff/invest", "staff_invest", roles.INVEST_MARKET),
    ("/staff/risk/aml", "staff_aml", roles.AML),
    ("/staff/lending/portfolio", "staff_portfolio", roles.PORTFOLIO),
    ("/staff/risk", "staff_risk", roles.RISK_CASES),
    ("/staff/risk/rules", "risk_rules", roles.RISK_RULES),
    ("/staff/risk/performance", "risk_performance", roles.RISK_RULES),
    ("/staff/mall", "staff_mall", roles.MALL),
    ("/staff/ops", "staff_ops", roles.RUNNING),
    ("/staff/lending/settlement-shares", "staff_shares", roles.SETTLEMENT_SHARES),
)
"""The console's pages, each with the roles it admits (its route's own set)."""


def staff_menu(role: object) -> list[tuple[str, str]]:
    """The menu of a role: (address, word) of the pages it may open."""
    return [(href, word) for href, word, allowed in MENU if role in allowed]


templates.env.globals["staff_menu"] = staff_menu


# -- the day's work ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Work:
    """One line of the home page: what waits, for which roles, where it is done."""

    group: str
    """``queues`` (customers waiting), ``alerts`` (something went wrong and stays
    wrong until staff act) or ``approvals`` (a second pair of eyes is needed)."""
    word: str
    href: str
    roles: tuple[str, ...]
    count: Callable[[Platform, Session, int], int]
    """How many, for the member of staff with this id: one indexed count."""


WORK = (
    Work(
        "queues",
        "work_chats_waiting",
        "/staff/chat",
        roles.CHAT_DESK,
        lambda p, s, me: p.chat.desk.waiting(s, staff_id=me)[0],
    ),
    Work(
        "queues",
        "work_chats_queued",
        "/staff/chat",
        roles.CHAT_DESK,
        lambda p, s, me: p.chat.desk.waiting(s, staff_id=me)[1],
    ),
    Work(
        "queues",
        "work_reports",
        "/staff/moderation",
        roles.MODERATION,
        lambda p, s, _: p.chat.open_report_count(s),
    ),
    Work(
        "alerts",
        "work_tools_blocked",
        "/staff/tools",
        roles.TOOLS,
        lambda p, s, _: p.tools.blocked_count(s),
    ),
    Work(
        "alerts",
        "work_settlements_failed",
        "/staff/settlements",
        roles.MERCHANTS,
        lambda p, s, _: open_failure_count(s),
    ),
    Work(
        "alerts",
        "work_funding_unknown",
        "/staff/funding",
        roles.FUNDING,
        lambda p, s, _: p.funding.unanswered_count(s),
    ),
    Work(
        "alerts",
        "work_wealth_payouts_due",
        "/staff/wealth",
        roles.WEALTH_PRODUCTS,
        lambda p, s, _: p.wealth.payouts_due(s),
    ),
    Work(
        "approvals",
        "work_lending_reviews",
        "/staff/lending",
        roles.CREDIT_REVIEW,
        lambda p, s, _: p.credit.reviews.waiting(s),
    ),
    Work(
        "queues",
        "work_risk_cases",
        "/staff/risk",
        roles.RISK_CASES,
        lambda p, s, _: p.risk_desk.cases.open_count(s),
    ),
    Work(
        "approvals",
        "work_merchants_pending",
        "/staff/merchants?status=pending",
        roles.MERCHANTS,
        lambda p, s, _: p.payments.pending_count(s),
    ),
    Work(
        "approvals",
        "work_risk_rules",
        "/staff/risk/rules",
        roles.RISK_RULES,
        lambda _, s, me: rules_to_approve(s, me),
    ),
)


@router.get("")
def home(request: Request, platform: PlatformDep, staff: AnyStaff) -> Response:
    """What waits for the member of staff today, by their role, each with a link to
    where it is done; and the customer search."""
    me, role = staff
    mine = [work for work in WORK if role in work.roles]
    with platform.transaction() as session:
        counted = [(work, work.count(platform, session, me.id)) for work in mine]
    groups = {
        group: [
            {"word": w.word, "href": w.href, "count": n} for w, n in counted if w.group == group
        ]
        for group in ("queues", "alerts", "approvals")
    }
    return render(request, "staff_home.html", role=role, groups=groups, q="")


# -- search --------------------------------------------------------------------------


@router.get("/search")
def search(request: Request, platform: PlatformDep, staff: AnyStaff, q: str = "") -> Response:
    """Customers by part of their name, mobile, resident ID or account number, as far
    as the member of staff may see them (an account manager: those they serve)."""
    me, _ = staff
    q = q[:100]  # no name or number is longer
    with platform.transaction() as session:
        found = platform.chat.desk.find_customers(session, staff_id=me.id, query=q)
    customers = [
        {
            "id": c.id,
            "name": c.name,
            "kind": c.kind,
            "mobile": mask_mobile(c.mobile),
            "resident_id": mask_resident_id(c.resident_id) if c.resident_id else "",
            "accounts": [mask_account_number(n) for n in c.accounts],
        }
        for c in found
    ]
    return render(request, "staff_search.html", q=q, customers=customers, min_digits=MIN_DIGITS)


# -- authentication tools -------------------------------------------------------------


def _tool_view(tool: Tool) -> dict[str, Any]:
    return {
        "id": tool.id,
        "kind": tool.kind.value,
        "serial": "…" + tool.serial[-4:] if tool.kind is not ToolKind.SMS else "",
        "status": tool.status,
        "failures": tool.failures,
        "issued": local_time(tool.created_at),
        "unblockable": tool.status == "blocked",
        "revocable": tool.status in ("active", "blocked") and tool.kind is not ToolKind.SMS,
    }


def _customer_tools(
    request: Request,
    platform: Platform,
    staff: StaffMember,
    customer_id: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    me, role = staff
    with platform.transaction() as session:
        platform.chat.desk.check_customer(session, staff_id=me.id, customer_id=customer_id)
        customer = platform.accounts.customer(session, customer_id)
        tools = platform.tools.tools_of(session, customer_id)
    return render(
        request,
        "staff_tools.html",
        status_code,
        customer={"id": customer.id, "name": customer.name},
        tools=[_tool_view(t) for t in tools],
        can_act=role in roles.TOOLS,
        **context,
    )


@router.get("/customers/{customer_id}/tools")
def customer_tools(
    customer_id: IdParam, request: Request, platform: PlatformDep, staff: ToolViewer, done: str = ""
) -> Response:
    """A customer's tools (an account manager: a customer they serve), with unblock and
    revoke for the roles that may."""
    notice = {"unblock": "tool_unblocked", "revoke": "tool_revoked"}.get(done)
    return _customer_tools(request, platform, staff, customer_id, notice=notice)


def _tool_action(
    request: Request,
    platform: Platform,
    staff: StaffMember,
    tool_id: int,
    action: str,
    reason: str,
) -> Response:
    me, _ = staff
    try:
        with platform.audited(
            actor_kind="staff",
            actor_id=me.id,
            action=f"tool.{action}",
            target=str(tool_id),
            details={"reason": reason, "channel": "console"},
        ) as session:
            tool = platform.tools.tool(session, tool_id, lock=True)
            if action == "unblock":
                platform.tools.unblock(session, tool)
            else:
                platform.tools.end(session, tool)
    except DomainError as error:
        with platform.transaction() as session:
            customer_id = platform.tools.tool(session, tool_id).customer_id
        return _customer_tools(
            request, platform, staff, customer_id, 422, error=refusal(request, error)
        )
    return see_other(f"/staff/customers/{tool.customer_id}/tools?done={action}")


@router.post("/tools/{tool_id}/unblock")
def unblock_tool(
    tool_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: ToolKeeper,
    reason: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """Unblock a tool once the customer has proved who they are (at the counter, or by
    a recorded call: ``reason`` says how)."""
    check_csrf(request, csrf)
    return _tool_action(request, platform, staff, tool_id, "unblock", reason)


@router.post("/tools/{tool_id}/revoke")
def revoke_tool(
    tool_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: ToolKeeper,
    reason: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """Revoke a tool (lost, stolen): it never answers again."""
    check_csrf(request, csrf)
    return _tool_action(request, platform, staff, tool_id, "revoke", reason)


@router.get("/tools")
def blocked_tools(request: Request, platform: PlatformDep, staff: ToolKeeper) -> Response:
    """Tools blocked by wrong answers (the tools issued first come first)."""
    with platform.transaction() as session:
        tools = platform.tools.blocked(session)
        names = platform.accounts.customer_names(session, [t.customer_id for t in tools])
    return render(
        request,
        "staff_blocked_tools.html",
        tools=[
            {**_tool_view(t), "customer_id": t.customer_id, "customer": names[t.customer_id]}
            for t in tools
        ],
    )


# -- top-ups and withdrawals without an answer ----------------------------------------


@router.get("/funding")
def unanswered_funding(request: Request, platform: PlatformDep, staff: FundingWatch) -> Response:
    """Top-ups and withdrawals the card network has not answered, oldest first; the
    server asks again every few seconds, and settles each once it answers."""
    with platform.transaction() as session:
        requests = platform.funding.unanswered(session)
        names = platform.accounts.customer_names(session, [r.customer_id for r in requests])
    return render(
        request,
        "staff_funding.html",
        requests=[
            {
                "customer_id": r.customer_id,
                "customer": names[r.customer_id],
                "kind": r.kind.value,
                "account": mask_account_number(r.account_number),
                "amount": format_amount(r.amount, scale=2),
                "reference": r.network_reference,
                "since": local_time(r.created_at),
            }
            for r in requests
        ],
    )


# -- staff logins (administrators) -----------------------------------------------------


def _members(
    request: Request, platform: Platform, staff: StaffMember, status_code: int = 200, **context: Any
) -> Response:
    with platform.transaction() as session:
        members = platform.accounts.staff_members(session)
    return render(
        request,
        "staff_members.html",
        status_code,
        me=staff[0].id,
        members=[
            {
                "id": m.id,
                "username": m.username,
                "name": m.name,
                "role": m.role,
                "active": m.active,
                "since": local_time(m.created_at),
            }
            for m in members
        ],
        **context,
    )


@router.get("/members")
def members(request: Request, platform: PlatformDep, staff: StaffAdmin, done: str = "") -> Response:
    """Every member of staff, deactivated ones too."""
    notice = {"deactivate": "staff_deactivated", "reactivate": "staff_reactivated"}.get(done)
    return _members(request, platform, staff, notice=notice)


def _member_action(
    request: Request,
    platform: Platform,
    staff: StaffMember,
    staff_id: int,
    action: str,
    reason: str,
) -> Response:
    me, _ = staff
    try:
        with platform.audited(
            actor_kind="staff",
            actor_id=me.id,
            action=f"staff.{action}",
            target=str(staff_id),
            details={"reason": reason, "channel": "console"},
        ) as session:
            if action == "deactivate":
                platform.accounts.deactivate_staff(session, staff_id=staff_id, by=me.id)
            else:
                platform.accounts.reactivate_staff(session, staff_id=staff_id)
    except DomainError as error:
        return _members(request, platform, staff, 422, error=refusal(request, error))
    return see_other(f"/staff/members?done={action}")


@router.post("/members/{staff_id}/deactivate")
def deactivate(
    staff_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: StaffAdmin,
    reason: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """No more logins for them, and every session of theirs ends now."""
    check_csrf(request, csrf)
    return _member_action(request, platform, staff, staff_id, "deactivate", reason)


@router.post("/members/{staff_id}/reactivate")
def reactivate(
    staff_id: IdParam,
    request: Request,
    platform: PlatformDep,
    staff: StaffAdmin,
    reason: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """Let them log in again, with their role and password."""
    check_csrf(request, csrf)
    return _member_action(request, platform, staff, staff_id, "reactivate", reason)
