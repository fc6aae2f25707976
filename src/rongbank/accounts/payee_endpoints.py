"""A customer's payees over HTTP: saved ones (add, rename, delete) and recent ones;
and a transfer's receipt (回单), for either party.

Customers only, their own payees only: another customer's id is answered 404 as one
that does not exist. A transfer to a payee is an ordinary ``POST /me/transfers`` to
its account number. The openers are shared with the web bank.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from rongbank.accounts.payees import NAME_LENGTH, Payee, RecentPayee
from rongbank.accounts.receipts import transfer_receipt
from rongbank.accounts.schemas import AccountNumber
from rongbank.api.deps import CustomerPrincipal, PlatformDep
from rongbank.api.one_hop import OneHopRoute
from rongbank.inputs import IdParam, Name
from rongbank.inputs import Input as Strict
from rongbank.money import format_amount
from rongbank.platform import Platform

router = APIRouter(tags=["direct bank"], prefix="/me", route_class=OneHopRoute)

PayeeName = Annotated[Name, Field(max_length=NAME_LENGTH, examples=["房东"])]


class PayeeIn(Strict):
    name: PayeeName
    """Your own name for the payee."""
    account: AccountNumber
    """An account of this bank."""


class PayeeRenameIn(Strict):
    name: PayeeName


class PayeeOut(BaseModel):
    id: int
    name: str
    account: str
    holder: str = Field(description="The account holder's name as the bank shows it: masked.")
    created_at: datetime


class RecentPayeeOut(BaseModel):
    account: str
    holder: str = Field(description="Masked, as on a saved payee.")
    last_paid_at: datetime
    payee_id: int | None = Field(description="The saved payee with this account, if any.")
    name: str | None = Field(description="Your name for it, when saved.")


def payee_out(payee: Payee) -> PayeeOut:
    return PayeeOut(
        id=payee.id,
        name=payee.name,
        account=payee.account_number,
        holder=payee.holder,
        created_at=payee.created_at,
    )


def recent_out(recent: RecentPayee) -> RecentPayeeOut:
    return RecentPayeeOut(
        account=recent.account_number,
        holder=recent.holder,
        last_paid_at=recent.last_paid_at,
        payee_id=recent.saved.id if recent.saved else None,
        name=recent.saved.name if recent.saved else None,
    )


def payee_audited(
    platform: Platform, customer_id: int, action: str, target: str
) -> AbstractContextManager[Session]:
    """The audited transaction of a change to the customer's payees (``payee.add``,
    ``payee.rename``, ``payee.delete``)."""
    return platform.audited(
        actor_kind="customer", actor_id=customer_id, action=action, target=target
    )


@router.get("/payees")
def my_payees(platform: PlatformDep, me: CustomerPrincipal) -> list[PayeeOut]:
    """Your saved payees, by name."""
    with platform.transaction() as session:
        return [payee_out(p) for p in platform.payees.saved(session, me.id)]


@router.get("/payees/recent")
def recent_payees(platform: PlatformDep, me: CustomerPrincipal) -> list[RecentPayeeOut]:
    """The other customers your accounts paid by transfer lately, the latest first."""
    with platform.transaction() as session:
        return [recent_out(r) for r in platform.payees.recent(session, me.id)]


@router.post("/payees", status_code=201)
def add_payee(body: PayeeIn, platform: PlatformDep, me: CustomerPrincipal) -> PayeeOut:
    """Save an account of this bank as a payee; the answer names its holder, masked,
    so you can check it is whom you mean."""
    with payee_audited(platform, me.id, "payee.add", body.account) as session:
        payee = platform.payees.add(session, me.id, name=body.name, account_number=body.account)
        return payee_out(payee)


@router.get("/payees/{payee_id}")
def my_payee(payee_id: IdParam, platform: PlatformDep, me: CustomerPrincipal) -> PayeeOut:
    with platform.transaction() as session:
        return payee_out(platform.payees.payee(session, me.id, payee_id))


@router.patch("/payees/{payee_id}")
def rename_payee(
    payee_id: IdParam, body: PayeeRenameIn, platform: PlatformDep, me: CustomerPrincipal
) -> PayeeOut:
    with payee_audited(platform, me.id, "payee.rename", str(payee_id)) as session:
        return payee_out(platform.payees.rename(session, me.id, payee_id, name=body.name))


@router.delete("/payees/{payee_id}", status_code=204)
def delete_payee(payee_id: IdParam, platform: PlatformDep, me: CustomerPrincipal) -> Response:
    with payee_audited(platform, me.id, "payee.delete", str(payee_id)) as session:
        platform.payees.delete(session, me.id, payee_id)
    return Response(status_code=204)


class PartyOut(BaseModel):
    account: str = Field(description="Masked: the first and last four digits.")
    holder: str = Field(description="Masked, as on a saved payee.")


class ReceiptOut(BaseModel):
    entry_id: int
    at: datetime
    amount: str
    currency: str
    description: str
    payer: PartyOut
    payee: PartyOut
    direction: Literal["in", "out"] = Field(description="From your side.")
    scheduled: bool = Field(description="Paid by the bank on a date you scheduled.")


@router.get("/receipts/{entry_id}")
def my_transfer_receipt(
    entry_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> ReceiptOut:
    """The receipt of a transfer between e-accounts (``entry_id`` as the transfer's
    answer and your history give it), for its payer or payee: both sides masked, as on
    a printed slip. Anyone else's is 404, as one that does not exist."""
    with platform.transaction() as session:
        receipt = transfer_receipt(
            session, platform.accounts, platform.ledger, customer_id=me.id, entry_id=entry_id
        )
    return ReceiptOut(
        entry_id=receipt.entry_id,
        at=receipt.at,
        amount=format_amount(receipt.amount, scale=2),
        currency=receipt.currency,
        description=receipt.description,
        payer=PartyOut(account=receipt.payer.account, holder=receipt.payer.holder),
        payee=PartyOut(account=receipt.payee.account, holder=receipt.payee.holder),
        direction=receipt.direction,
        scheduled=receipt.scheduled,
    )
