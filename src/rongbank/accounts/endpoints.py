"""The direct bank's HTTP API: registration and login (public), the customer's own
accounts and transfers, the staff actions on customers and accounts, and the
administrators' on staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import SecretStr
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.accounts import schemas as s
from rongbank.accounts.service import Customer, EAccount
from rongbank.accounts.staff import StaffMember
from rongbank.api.deps import (
    CustomerPrincipal,
    PlatformDep,
    bearer_token,
    keyed_request,
    require_staff,
)
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.service import Principal, PrincipalKind
from rongbank.auth.tools import PaymentRequest
from rongbank.errors import InvalidRequest
from rongbank.inputs import IdParam
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform

public = APIRouter(tags=["direct bank"], route_class=OneHopRoute)
customer = APIRouter(tags=["direct bank"], prefix="/me", route_class=OneHopRoute)
staff = APIRouter(tags=["staff"], prefix="/staff", route_class=OneHopRoute)

CNY_SCALE = 2


def _account_out(account: EAccount, available: int) -> s.AccountOut:
    return s.AccountOut(
        number=account.number,
        account_class=account.account_class,
        currency=account.currency,
        status=account.status,
        available=format_amount(available, scale=CNY_SCALE),
    )


def _registered(
    platform: Platform,
    session: Session,
    customer: Customer,
    account: EAccount,
    password: SecretStr,
    identity_number: str,
) -> s.RegisteredOut:
    """Give a new customer their login (the mobile number) and answer the registration."""
    platform.auth.set_password(
        session,
        kind=PrincipalKind.CUSTOMER,
        principal_id=customer.id,
        username=customer.mobile,
        password=password.get_secret_value(),
        personal=[customer.mobile, identity_number],
    )
    return s.RegisteredOut(
        customer_id=customer.id, login_name=customer.mobile, account=_account_out(account, 0)
    )


@public.post("/customers", status_code=201)
def register_person(body: s.PersonIn, platform: PlatformDep) -> s.RegisteredOut:
    """Open a person's e-account online: identity checked, a class II account opened,
    an account manager assigned; the login name is the mobile number."""
    with platform.transaction() as session:
        person, account = platform.accounts.register_person(
            session, name=body.name, mobile=body.mobile, resident_id=body.resident_id
        )
        return _registered(platform, session, person, account, body.password, body.resident_id)


@public.post("/enterprises", status_code=201)
def register_enterprise(body: s.EnterpriseIn, platform: PlatformDep) -> s.RegisteredOut:
    with platform.transaction() as session:
        company, account = platform.accounts.register_enterprise(
            session,
            name=body.name,
            mobile=body.mobile,
            credit_code=body.credit_code,
            legal_rep_name=body.legal_rep_name,
            legal_rep_id=body.legal_rep_id,
        )
        return _registered(platform, session, company, account, body.password, body.legal_rep_id)


@public.post("/sessions", status_code=201)
def login(body: s.LoginIn, request: Request, platform: PlatformDep) -> s.SessionOut:
    """Log in; answers the same whether the login name or the password was wrong."""
    ip = request.client.host if request.client else None
    with platform.transaction() as session:
        result = platform.auth.login(
            session,
            username=body.login_name,
            password=body.password.get_secret_value(),
            client=request.headers.get("user-agent", "")[:200],
            ip=ip,
        )
        platform.audit_login(session, result, login_name=body.login_name, ip=ip)
    # Committed first: a failed attempt must count towards the lockout.
    new = result.unwrap()
    return s.SessionOut(
        token=new.token,
        expires_at=new.expires_at,
        previous_login_at=new.history.previous_login_at,
        failed_attempts_since_previous_login=new.history.failures_before_login,
    )


@customer.delete("/session", status_code=204)
def logout(
    platform: PlatformDep, token: Annotated[str, Depends(bearer_token)], _: CustomerPrincipal
) -> Response:
    with platform.transaction() as session:
        platform.auth.logout(session, token)
    return Response(status_code=204)


@customer.post("/session/logout-others")
def logout_others(
    platform: PlatformDep, token: Annotated[str, Depends(bearer_token)], _: CustomerPrincipal
) -> dict[str, int]:
    with platform.transaction() as session:
        return {"revoked": platform.auth.logout_others(session, token)}


@customer.get("/accounts")
def my_accounts(platform: PlatformDep, me: CustomerPrincipal) -> list[s.AccountOut]:
    with platform.transaction() as session:
        return [_account_out(a, b) for a, b in platform.accounts.accounts_of(session, me.id)]


class MissingClientId(InvalidRequest):
    code = "client_id_required"
    message = "Send a client_id or an Idempotency-Key header so that a retry cannot pay twice."


@customer.post("/transfers", status_code=201)
def transfer(
    body: s.TransferIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)] = None,
) -> s.TransferOut:
    """Pay from one of your accounts to any account number; 201 when paid now, 200
    when this is a retry of a payment already made."""
    client_id = body.client_id or idempotency_key
    if not client_id:
        raise MissingClientId()
    amount = parse_positive_amount(body.amount, scale=CNY_SCALE, currency="CNY")
    payment = PaymentRequest(
        purpose="transfer",
        payer=body.source,
        payee=body.destination,
        amount=amount,
        currency="CNY",
        client_id=client_id,
    )
    made = platform.accounts.made_check(customer_id=me.id, client_id=client_id)
    with platform.authorised(
        payment,
        customer_id=me.id,
        challenge_id=body.challenge_id,
        response=body.response,
        prefer=ToolKind(body.tool) if body.tool else None,
        already_done=made,
        idempotency=keyed_request(f"customer:{me.id}:transfer", client_id, body, amount=amount),
    ) as session:
        done = platform.accounts.transfer(
            session,
            customer_id=me.id,
            source=body.source,
            destination=body.destination,
            amount=amount,
            client_id=client_id,
            description=body.description,
            made=made.answer(session),  # asked after the idempotency key was claimed
        )
    response.status_code = 200 if done.status == "exists" else 201
    return s.TransferOut(
        entry_id=done.entry_id,
        status=done.status,
        source=body.source,
        destination=body.destination,
        amount=format_amount(amount, scale=CNY_SCALE),
    )


Operations = Annotated[Principal, Depends(require_staff(*roles.ACCOUNTS))]


@staff.post("/accounts/{number}/freeze")
def freeze(number: str, body: s.FreezeIn, platform: PlatformDep, me: Operations) -> s.AccountOut:
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="freeze",
        target=number,
        details={"reason": body.reason},
    ) as session:
        account = platform.accounts.set_status(
            session, number=number, status="frozen", reason=body.reason
        )
        return _account_out(account, platform.accounts.available(session, account))


@staff.post("/accounts/{number}/unfreeze")
def unfreeze(number: str, platform: PlatformDep, me: Operations) -> s.AccountOut:
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="unfreeze", target=number
    ) as session:
        account = platform.accounts.set_status(session, number=number, status="active", reason="")
        return _account_out(account, platform.accounts.available(session, account))


@staff.post("/accounts/{number}/close")
def close(number: str, platform: PlatformDep, me: Operations) -> s.AccountOut:
    """Close an account at zero balance (the customer has moved their money out)."""
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="close", target=number
    ) as session:
        account = platform.accounts.close(session, number=number)
        return _account_out(account, 0)


@staff.post("/customers/{customer_id}/manager", status_code=204)
def reassign_manager(
    customer_id: IdParam, body: s.ManagerIn, platform: PlatformDep, _: Operations
) -> Response:
    with platform.transaction() as session:
        platform.accounts.reassign_manager(
            session, customer_id=customer_id, manager_id=body.manager_id
        )
    return Response(status_code=204)


Administrator = Annotated[Principal, Depends(require_staff(*roles.STAFF_ADMIN))]


def _member_out(member: StaffMember) -> s.StaffMemberOut:
    return s.StaffMemberOut(
        id=member.id,
        username=member.username,
        name=member.name,
        role=member.role,
        active=member.active,
        created_at=member.created_at,
    )


@staff.get("/members")
def list_staff(platform: PlatformDep, _: Administrator) -> list[s.StaffMemberOut]:
    """Every member of staff, deactivated ones too."""
    with platform.transaction() as session:
        return [_member_out(m) for m in platform.accounts.staff_members(session)]


@staff.post("/members/{staff_id}/deactivate")
def deactivate_staff(
    staff_id: IdParam, platform: PlatformDep, me: Administrator, body: s.StaffChangeIn | None = None
) -> s.StaffMemberOut:
    """Deactivate a member of staff now (they left, or their password may be known):
    they cannot log in, and every session of theirs ends (their next request is 401).
    Not yourself, nor the last active administrator. A repeat answers the same."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="staff.deactivate",
        target=str(staff_id),
        details={"reason": (body or s.StaffChangeIn()).reason},
    ) as session:
        return _member_out(platform.accounts.deactivate_staff(session, staff_id=staff_id, by=me.id))


@staff.post("/members/{staff_id}/reactivate")
def reactivate_staff(
    staff_id: IdParam, platform: PlatformDep, me: Administrator, body: s.StaffChangeIn | None = None
) -> s.StaffMemberOut:
    """Let a deactivated member of staff log in again, with their role and password."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="staff.reactivate",
        target=str(staff_id),
        details={"reason": (body or s.StaffChangeIn()).reason},
    ) as session:
        return _member_out(platform.accounts.reactivate_staff(session, staff_id=staff_id))
