"""The security centre of the web bank: the customer's authentication tools
(getting a grid card, a token or a U-key; revoking one) and their own limits, each
change confirmed by a code sent to their mobile."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Annotated, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.accounts.identity import mask_mobile
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth import gridcard
from rongbank.auth.limits import PASSWORD_FREE, OwnLimit, ToolKind
from rongbank.auth.service import Principal
from rongbank.auth.stepup import ChallengeFailed, ChallengeRequired
from rongbank.auth.tools import PaymentRequest, Tool, ToolNotFound
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.money import format_amount, parse_amount
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import Me, PlatformDep, local_time, refusal_text, render, see_other
from rongbank.web.step_up import ChallengeField, ResponseField, data_url

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)


def _security(
    request: Request,
    platform: Platform,
    me: Principal,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """The security centre: the customer's tools, getting new ones, and limits."""
    limits = platform.stepup.limits
    with platform.transaction() as session:
        platform.tools.held(session, me.id)  # the SMS tool exists from first sight
        tools = platform.tools.tools_of(session, me.id)
        own = platform.stepup.own_limits(session, me.id)
        usage = platform.stepup.usage(session, me.id)
        mobile = platform.accounts.customer(session, me.id).mobile
        ca = x509.load_pem_x509_certificate(platform.tools.bank_ca_certificate(session))
    bank = {PASSWORD_FREE: (limits.password_free.per_payment, limits.password_free.daily)} | {
        tool.kind.value: (tool.per_payment, tool.daily)
        for tool in sorted(limits.tools.values(), key=lambda t: (t.strength, t.per_payment))
    }

    return render(
        request,
        "security.html",
        status_code,
        tools=[_tool_view(tool, mobile=mobile) for tool in tools],
        mobile=mask_mobile(mobile),
        ca_fingerprint=_fingerprint(ca),
        limits=[
            {
                "kind": kind,
                "bank_per_payment": _yuan(per_payment),
                "bank_daily": _yuan(daily),
                "own_per_payment": _yuan(own[kind].per_payment) if kind in own else "",
                "own_daily": _yuan(own[kind].daily) if kind in own else "",
                "used_today": _yuan(usage[kind].day_amount if kind in usage else 0),
            }
            for kind, (per_payment, daily) in bank.items()
        ],
        **context,
    )


def _fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def _yuan(minor: int | None) -> str:
    """A limit as shown in a form: empty for none."""
    return "" if minor is None else format_amount(minor, scale=2)


def _tool_view(tool: Tool, *, mobile: str) -> dict[str, Any]:
    return {
        "id": tool.id,
        "kind": tool.kind.value,
        # An SMS tool's serial is made from the customer id: the mobile says more.
        "serial": mask_mobile(mobile) if tool.kind is ToolKind.SMS else "…" + tool.serial[-4:],
        "status": tool.status,
        "issued": tool.created_at.astimezone(BUSINESS_TIME_ZONE).date().isoformat(),
        # Every customer keeps an SMS tool: one revoked could never be had again.
        "revocable": tool.status in ("active", "blocked") and tool.kind is not ToolKind.SMS,
    }


def _record(
    platform: Platform, session: Session, me: Principal, action: str, target: str, **details: Any
) -> None:
    platform.audit.record(
        session,
        actor_kind="customer",
        actor_id=me.id,
        action=action,
        target=target,
        details={**details, "channel": "web"},
    )


@router.get("/security")
def security(request: Request, platform: PlatformDep, me: Me, done: str = "") -> Response:
    notice = {"revoked": "revoked", "limit": "limit_saved"}.get(done)
    return _security(request, platform, me, notice=notice)


def _confirmed(
    request: Request,
    platform: Platform,
    me: Principal,
    change: PaymentRequest | None,
    work: Callable[[Session], Response],
    *,
    action: str,
    target: str,
    fields: Mapping[str, str],
    challenge_id: str,
    response: str,
) -> Response:
    """Run ``work`` as a security change confirmed by a code sent to the mobile
    (``Platform.confirmed``; ``change`` None: no confirmation needed), on the security
    centre (see :func:`confirm_change`)."""
    context = (
        platform.audited(actor_kind="customer", actor_id=me.id, action=action, target=target)
        if change is None
        else platform.confirmed(
            change,
            customer_id=me.id,
            challenge_id=challenge_id or None,
            response=response or None,
            action=action,
            target=target,
        )
    )
    return confirm_change(
        request, platform, me, context, work, fields=fields, challenge_id=challenge_id
    )


def confirm_change(
    request: Request,
    platform: Platform,
    me: Principal,
    context: AbstractContextManager[Session],
    work: Callable[[Session], Response],
    *,
    fields: Mapping[str, str],
    challenge_id: str,
    page: Callable[..., Response] | None = None,
) -> Response:
    """Run ``work`` in ``context``, a security change's confirmed transaction. Asking
    for the code, and a wrong code, show ``page`` (the security centre by default)
    with the code box (``_confirm_change.html``), keeping the form's ``fields`` so that
    the same change is sent again; other refusals show it with the error."""
    show = page or _security

    def ask(challenge: str, status_code: int = 200, error: str | None = None) -> Response:
        with platform.transaction() as session:
            mobile = platform.accounts.customer(session, me.id).mobile
        confirm = {
            "path": request.url.path,
            "challenge_id": challenge,
            "fields": fields,
            "mobile": mask_mobile(mobile),
        }
        return show(request, platform, me, status_code, confirm=confirm, error=error)

    try:
        with context as session:
            return work(session)
    except ChallengeRequired as required:
        return ask(str(required.details["challenge"]["id"]))
    except ChallengeFailed as error:
        return ask(challenge_id, 422, refusal_text(request, error))
    except DomainError as error:
        return show(request, platform, me, 422, error=refusal_text(request, error), **fields)


@router.post("/security/grid-card")
def get_grid_card(
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    response: ResponseField = "",
) -> Response:
    """Issue a new grid card. Its codes leave the bank in this one answer, as a
    printable PDF and as the software stand-in's card file: the same card twice."""
    check_csrf(request, csrf)

    def issue(session: Session) -> Response:
        tool, card = platform.tools.issue_grid_card(session, me.id)
        # Printed before the card is committed: a card whose codes never reached
        # the customer must not replace the one they hold.
        pdf = gridcard.render_pdf(
            card,
            holder=platform.accounts.customer(session, me.id).name,
            issued=platform.accounts.business_day(),
            expires_after_uses=gridcard.card_uses(tool.max_uses),
        )
        return render(
            request,
            "grid_card.html",
            serial=tool.serial,
            pdf_href=data_url(pdf, "application/pdf"),
            json_href=data_url(gridcard.card_to_json(card).encode(), "application/json"),
        )

    return _confirmed(
        request,
        platform,
        me,
        platform.stepup.tool_change(me.id, ToolKind.GRID_CARD),
        issue,
        action="tool.issue",
        target=ToolKind.GRID_CARD.value,
        fields={},
        challenge_id=challenge_id,
        response=response,
    )


@router.post("/security/token")
def get_token(
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    response: ResponseField = "",
) -> Response:
    """Provision a token; its key is shown once, to load into the token."""
    check_csrf(request, csrf)

    def issue(session: Session) -> Response:
        tool, token = platform.tools.provision_token(session, me.id)
        key_file = token.key_file()
        return render(
            request,
            "token.html",
            serial=tool.serial,
            key_file=key_file,
            key_href=data_url(key_file.encode(), "application/json"),
        )

    return _confirmed(
        request,
        platform,
        me,
        platform.stepup.tool_change(me.id, ToolKind.TOKEN),
        issue,
        action="tool.issue",
        target=ToolKind.TOKEN.value,
        fields={},
        challenge_id=challenge_id,
        response=response,
    )


@router.post("/security/ukey")
def register_ukey(
    request: Request,
    platform: PlatformDep,
    me: Me,
    csr: Annotated[str, Form(max_length=8000)],
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    response: ResponseField = "",
) -> Response:
    """Certify the customer's U盾 key from its certificate request."""
    check_csrf(request, csrf)

    def enrol(session: Session) -> Response:
        tool, certificate = platform.tools.enroll_ukey(session, me.id, csr)
        parsed = x509.load_pem_x509_certificate(certificate.encode())
        return render(
            request,
            "ukey.html",
            serial=tool.serial,
            subject=parsed.subject.rfc4514_string(),
            valid_from=local_time(parsed.not_valid_before_utc),
            valid_until=local_time(parsed.not_valid_after_utc),
            fingerprint=_fingerprint(parsed),
            certificate=certificate,
            certificate_href=data_url(certificate.encode(), "application/x-pem-file"),
        )

    return _confirmed(
        request,
        platform,
        me,
        platform.stepup.tool_change(me.id, ToolKind.UKEY, hashlib.sha256(csr.encode()).hexdigest()),
        enrol,
        action="tool.issue",
        target=ToolKind.UKEY.value,
        fields={"csr": csr},
        challenge_id=challenge_id,
        response=response,
    )


@router.post("/security/tools/{tool_id}/revoke")
def revoke_tool(
    tool_id: IdParam,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        with platform.transaction() as session:
            tool = platform.tools.tool(session, tool_id, lock=True)
            if tool.customer_id != me.id or tool.kind is ToolKind.SMS:
                raise ToolNotFound()
            platform.tools.end(session, tool)
            _record(platform, session, me, "tool.revoke", f"{tool.kind.value}:{tool.serial}")
    except DomainError as error:
        return _security(request, platform, me, 422, error=refusal_text(request, error))
    return see_other("/security?done=revoked")


@router.post("/security/limits")
def set_own_limit(
    request: Request,
    platform: PlatformDep,
    me: Me,
    kind: Annotated[str, Form(max_length=20)],
    per_payment: Annotated[str, Form(max_length=40)] = "",
    daily: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    response: ResponseField = "",
) -> Response:
    """Lower (or restore) one of the customer's own limits; empty keeps the bank's.
    Raising one is confirmed by a code sent to the mobile."""
    check_csrf(request, csrf)

    def parsed(text: str) -> int | None:
        text = text.strip()
        return parse_amount(text, scale=2, currency="CNY") if text else None

    try:
        own = OwnLimit(per_payment=parsed(per_payment), daily=parsed(daily))
        with platform.transaction() as session:
            change = platform.stepup.limit_change(session, me.id, kind, own)
    except DomainError as error:
        return _security(request, platform, me, 422, error=refusal_text(request, error))

    def save(session: Session) -> Response:
        platform.stepup.set_own_limit(session, me.id, kind, own)
        return see_other("/security?done=limit")

    return _confirmed(
        request,
        platform,
        me,
        change,
        save,
        action="limit.set",
        target=kind,
        fields={"kind": kind, "per_payment": per_payment, "daily": daily},
        challenge_id=challenge_id,
        response=response,
    )
