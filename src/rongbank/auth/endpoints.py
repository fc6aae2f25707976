"""The authentication tools over HTTP: a customer's own tools and limits, the
staff actions on them (unblock, revoke), and the bank CA's certificate for anyone.
Every change is audited."""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.api.deps import CustomerPrincipal, PlatformDep, require_staff
from rongbank.api.docs import file_answer
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth import gridcard
from rongbank.auth.limits import PASSWORD_FREE, OwnLimit, ToolKind
from rongbank.auth.service import Principal
from rongbank.auth.tools import Tool, ToolNotFound
from rongbank.inputs import IdParam, Input
from rongbank.money import format_amount, parse_amount
from rongbank.platform import Platform

customer = APIRouter(tags=["authentication tools"], prefix="/me", route_class=OneHopRoute)
staff = APIRouter(tags=["staff"], prefix="/staff", route_class=OneHopRoute)
public = APIRouter(tags=["authentication tools"], prefix="/ca", route_class=OneHopRoute)

CNY_SCALE = 2
LimitKind = Literal["password_free", "sms", "grid_card", "token", "ukey"]


class ToolOut(BaseModel):
    id: int
    kind: str
    serial: str
    status: str
    failures: int
    uses: int
    max_uses: int | None
    issued_at: datetime


def tool_out(tool: Tool) -> ToolOut:
    return ToolOut(
        id=tool.id,
        kind=tool.kind.value,
        serial=tool.serial,
        status=tool.status,
        failures=tool.failures,
        uses=tool.uses,
        max_uses=tool.max_uses,
        issued_at=tool.created_at,
    )


ChallengeId = Annotated[str, Field(min_length=1, max_length=64)] | None
Response_ = Annotated[str, Field(min_length=1, max_length=2000)] | None


class ConfirmIn(Input):
    """Getting a tool or raising a limit of one's own is confirmed with a code sent
    to the registered mobile: send the request without these first, then again with
    the challenge's id and the code (as for a transfer)."""

    challenge_id: ChallengeId = None
    response: Response_ = None


class GridCardOut(BaseModel):
    tool: ToolOut
    card_file: str
    """The codes, once, as the ``rongbank device grid`` card file. Print or keep it."""


class TokenOut(BaseModel):
    tool: ToolOut
    key_file: str
    """The token's key, once, as the ``rongbank device token`` key file."""


class UKeyIn(ConfirmIn):
    csr: Annotated[str, Field(min_length=1, max_length=20_000)]
    """A PEM certificate request signed by the U盾's key (P-256 or Ed25519)."""


class UKeyOut(BaseModel):
    tool: ToolOut
    certificate: str


class LimitIn(ConfirmIn):
    per_payment: Annotated[str, Field(max_length=20)] | None = None
    daily: Annotated[str, Field(max_length=20)] | None = None


class LimitOut(BaseModel):
    kind: str
    bank_per_payment: str
    bank_daily: str
    own_per_payment: str | None
    own_daily: str | None


def _money(minor: int | None) -> str | None:
    return None if minor is None else format_amount(minor, scale=CNY_SCALE)


def new_tool(
    platform: Platform, me: Principal, kind: ToolKind, body: ConfirmIn, binding: str = ""
) -> AbstractContextManager[Session]:
    """The confirmed, audited transaction that issues a tool of ``kind``."""
    return platform.confirmed(
        platform.stepup.tool_change(me.id, kind, binding),
        customer_id=me.id,
        challenge_id=body.challenge_id,
        response=body.response,
        action="tool.issue",
        target=kind.value,
    )


@customer.get("/tools")
def my_tools(platform: PlatformDep, me: CustomerPrincipal) -> list[ToolOut]:
    with platform.transaction() as session:
        platform.tools.held(session, me.id)  # the SMS tool exists from first look
        return [tool_out(t) for t in platform.tools.tools_of(session, me.id)]


_PRINTABLE = file_answer(
    "application/pdf",
    status=201,
    description="The new card: JSON, or the printable card with ``Accept: application/pdf``.",
)


@customer.post(
    "/tools/grid-card",
    status_code=201,
    response_model=None,
    responses={201: {"model": GridCardOut, **_PRINTABLE[201]}},
)
def issue_grid_card(
    platform: PlatformDep,
    me: CustomerPrincipal,
    body: ConfirmIn | None = None,
    accept: Annotated[str, Header()] = "application/json",
) -> GridCardOut | Response:
    """A new grid card (replacing any previous one). With ``Accept: application/pdf``
    the answer is the printable card; otherwise JSON with the card file."""
    with new_tool(platform, me, ToolKind.GRID_CARD, body or ConfirmIn()) as session:
        tool, card = platform.tools.issue_grid_card(session, me.id)
        holder = platform.accounts.customer(session, me.id).name
    if "application/pdf" in accept:
        pdf = gridcard.render_pdf(
            card,
            holder=holder,
            issued=platform.accounts.business_day(),
            expires_after_uses=gridcard.card_uses(tool.max_uses),
        )
        return Response(
            pdf,
            media_type="application/pdf",
            status_code=201,
            headers={"Content-Disposition": f'attachment; filename="grid-card-{card.serial}.pdf"'},
        )
    return GridCardOut(tool=tool_out(tool), card_file=gridcard.card_to_json(card))


@customer.post("/tools/token", status_code=201)
def provision_token(
    platform: PlatformDep, me: CustomerPrincipal, body: ConfirmIn | None = None
) -> TokenOut:
    with new_tool(platform, me, ToolKind.TOKEN, body or ConfirmIn()) as session:
        tool, token = platform.tools.provision_token(session, me.id)
    return TokenOut(tool=tool_out(tool), key_file=token.key_file())


@customer.post("/tools/ukey", status_code=201)
def enroll_ukey(body: UKeyIn, platform: PlatformDep, me: CustomerPrincipal) -> UKeyOut:
    binding = hashlib.sha256(body.csr.encode()).hexdigest()
    with new_tool(platform, me, ToolKind.UKEY, body, binding=binding) as session:
        tool, certificate = platform.tools.enroll_ukey(session, me.id, body.csr)
    return UKeyOut(tool=tool_out(tool), certificate=certificate)


@customer.delete("/tools/{tool_id}")
def revoke_my_tool(tool_id: IdParam, platform: PlatformDep, me: CustomerPrincipal) -> ToolOut:
    """Revoke a lost or unwanted tool; it can never answer again."""
    with platform.audited(
        actor_kind="customer", actor_id=me.id, action="tool.revoke", target=str(tool_id)
    ) as session:
        tool = platform.tools.tool(session, tool_id, lock=True)
        if tool.customer_id != me.id:
            raise ToolNotFound()  # the same answer as for a tool that does not exist
        return tool_out(platform.tools.end(session, tool))


@customer.get("/limits")
def my_limits(platform: PlatformDep, me: CustomerPrincipal) -> list[LimitOut]:
    """The bank's limit for each way of authorising a payment, and your own."""
    limits = platform.stepup.limits
    bank: dict[str, tuple[int, int]] = {
        PASSWORD_FREE: (limits.password_free.per_payment, limits.password_free.daily)
    } | {kind.value: (t.per_payment, t.daily) for kind, t in limits.tools.items()}
    with platform.transaction() as session:
        own = platform.stepup.own_limits(session, me.id)
    return [
        LimitOut(
            kind=kind,
            bank_per_payment=format_amount(per, scale=CNY_SCALE),
            bank_daily=format_amount(daily, scale=CNY_SCALE),
            own_per_payment=_money(own.get(kind, OwnLimit()).per_payment),
            own_daily=_money(own.get(kind, OwnLimit()).daily),
        )
        for kind, (per, daily) in bank.items()
    ]


@customer.put("/limits/{kind}", status_code=204)
def set_my_limit(
    kind: LimitKind, body: LimitIn, platform: PlatformDep, me: CustomerPrincipal
) -> Response:
    """Lower your own limit (None: the bank's); raising above the bank's is refused."""
    own = OwnLimit(
        per_payment=None
        if body.per_payment is None
        else parse_amount(body.per_payment, scale=CNY_SCALE, currency="CNY"),
        daily=None
        if body.daily is None
        else parse_amount(body.daily, scale=CNY_SCALE, currency="CNY"),
    )
    with platform.transaction() as session:
        change = platform.stepup.limit_change(session, me.id, kind, own)
    context = (
        platform.audited(actor_kind="customer", actor_id=me.id, action="limit.set", target=kind)
        if change is None
        else platform.confirmed(
            change,
            customer_id=me.id,
            challenge_id=body.challenge_id,
            response=body.response,
            action="limit.set",
            target=kind,
        )
    )
    with context as session:
        platform.stepup.set_own_limit(session, me.id, kind, own)
    return Response(status_code=204)


CA_CACHE = "public, max-age=86400"
"""The same certificate for everyone for years: any cache may keep it for a day."""


def _ca_certificate(platform: Platform) -> x509.Certificate:
    with platform.transaction() as session:
        return x509.load_pem_x509_certificate(platform.tools.bank_ca_certificate(session))


@public.get(
    "/ukey.pem",
    response_class=Response,
    responses=file_answer("application/x-pem-file", description="The certificate, PEM."),
)
def ukey_ca_pem(platform: PlatformDep) -> Response:
    """The certificate of the bank's CA that issues every U盾 certificate, in PEM: a
    customer checks their own against it (``openssl verify -CAfile ukey.pem
    my-ukey.pem``). Public, no login: a certificate holds no secret."""
    pem = _ca_certificate(platform).public_bytes(serialization.Encoding.PEM)
    return Response(
        pem,
        media_type="application/x-pem-file",
        headers={
            "Content-Disposition": 'inline; filename="rongbank-ukey-ca.pem"',
            "Cache-Control": CA_CACHE,
        },
    )


@public.get(
    "/ukey.der",
    response_class=Response,
    responses=file_answer("application/pkix-cert", description="The certificate, DER."),
)
def ukey_ca_der(platform: PlatformDep) -> Response:
    """The same certificate in DER (``application/pkix-cert``, RFC 2585), as Windows
    and phones open a ``.cer`` file."""
    der = _ca_certificate(platform).public_bytes(serialization.Encoding.DER)
    return Response(
        der,
        media_type="application/pkix-cert",
        headers={
            "Content-Disposition": 'inline; filename="rongbank-ukey-ca.cer"',
            "Cache-Control": CA_CACHE,
        },
    )


Operations = Annotated[Principal, Depends(require_staff(*roles.TOOLS))]
Serving = Annotated[Principal, Depends(require_staff(*roles.CUSTOMER_TOOLS))]


@staff.get("/customers/{customer_id}/tools")
def customer_tools(customer_id: IdParam, platform: PlatformDep, me: Serving) -> list[ToolOut]:
    """A customer's tools, for staff who may see the customer (an account manager: one
    they serve; the console's rule, ``Desk.check_customer``)."""
    with platform.transaction() as session:
        platform.chat.desk.check_customer(session, staff_id=me.id, customer_id=customer_id)
        return [tool_out(t) for t in platform.tools.tools_of(session, customer_id)]


@staff.post("/tools/{tool_id}/unblock")
def unblock_tool(tool_id: IdParam, platform: PlatformDep, me: Operations) -> ToolOut:
    """Unblock a tool after checking the customer's identity (at the counter or by
    a recorded call)."""
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="tool.unblock", target=str(tool_id)
    ) as session:
        tool = platform.tools.tool(session, tool_id, lock=True)
        return tool_out(platform.tools.unblock(session, tool))


@staff.post("/tools/{tool_id}/revoke")
def revoke_tool(tool_id: IdParam, platform: PlatformDep, me: Operations) -> ToolOut:
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="tool.revoke", target=str(tool_id)
    ) as session:
        tool = platform.tools.tool(session, tool_id, lock=True)
        return tool_out(platform.tools.end(session, tool))
