"""Scheduled and recurring transfers over HTTP (see ``rongbank.accounts.scheduled``).

Setting one up is authorised like a transfer of one occurrence's amount: beyond the
password-free allowance it is answered ``403 challenge_required``, then sent again
with the answer. Customers only, their own schedules only (another's is 404). The
openers are shared with the web bank.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy.orm import Session

from rongbank.accounts.endpoints import MissingClientId
from rongbank.accounts.scheduled import Run, RunStatus, ScheduledTransfer, ScheduleStatus
from rongbank.accounts.schedules import Frequency, Schedule
from rongbank.accounts.schemas import AccountNumber, Amount
from rongbank.api.deps import CustomerPrincipal, PlatformDep, keyed_request
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.tools import PaymentRequest
from rongbank.idempotency import Keyed
from rongbank.inputs import Day, IdParam
from rongbank.inputs import Input as Strict
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform

router = APIRouter(tags=["direct bank"], prefix="/me", route_class=OneHopRoute)

CNY_SCALE = 2


class ScheduledTransferIn(Strict):
    client_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    source: AccountNumber
    destination: AccountNumber
    amount: Amount
    """Each occurrence's amount."""
    description: Annotated[str, Field(max_length=200)] = ""
    frequency: Literal["once", "weekly", "monthly"]
    start_on: Day
    """A one-off's date; for the others the first day one may fall on. After today
    (Beijing time), at most a year ahead."""
    day_of_month: Annotated[StrictInt, Field(ge=1, le=31)] | None = None
    """Monthly only: 29, 30 or 31 pays on the last day of a month that has fewer."""
    weekday: Annotated[StrictInt, Field(ge=1, le=7)] | None = None
    """Weekly only: 1 Monday ... 7 Sunday."""
    end_on: Day | None = None
    """The last day one may fall on (weekly and monthly); none: until cancelled."""
    challenge_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    response: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    tool: Literal["sms", "grid_card", "token", "ukey"] | None = None


class RunOut(BaseModel):
    occurrence: date
    status: RunStatus
    entry_id: int | None = Field(description="The transfer's ledger entry when paid.")
    error_code: str = Field(description="Why it was refused, when failed.")
    ran_at: datetime


class ScheduledTransferOut(BaseModel):
    id: int
    client_id: str
    source: str
    destination: str
    amount: str
    description: str
    frequency: Frequency
    start_on: date
    day_of_month: int | None
    weekday: int | None
    end_on: date | None
    next_on: date | None = Field(description="The next date it pays; none once over.")
    status: ScheduleStatus
    created_at: datetime
    last_run: RunOut | None


def run_out(run: Run) -> RunOut:
    return RunOut(
        occurrence=run.occurrence,
        status=run.status,
        entry_id=run.entry_id,
        error_code=run.error_code,
        ran_at=run.ran_at,
    )


def scheduled_out(found: ScheduledTransfer) -> ScheduledTransferOut:
    return ScheduledTransferOut(
        id=found.id,
        client_id=found.client_id,
        source=found.source,
        destination=found.destination,
        amount=format_amount(found.amount, scale=CNY_SCALE),
        description=found.description,
        frequency=found.schedule.frequency,
        start_on=found.schedule.start_on,
        day_of_month=found.schedule.day_of_month,
        weekday=found.schedule.weekday,
        end_on=found.schedule.end_on,
        next_on=found.next_on,
        status=found.status,
        created_at=found.created_at,
        last_run=None if found.last_run is None else run_out(found.last_run),
    )


def schedule_authorised(
    platform: Platform,
    customer_id: int,
    payment: PaymentRequest,
    *,
    challenge_id: str | None,
    response: str | None,
    prefer: ToolKind | None,
    idempotency: Keyed,
) -> AbstractContextManager[Session]:
    """The transaction that sets a schedule up, authorised as one occurrence's payment
    made later (``Platform.authorised`` with ``standing``); a retry of one set up
    before needs no new code."""
    return platform.authorised(
        payment,
        customer_id=customer_id,
        challenge_id=challenge_id,
        response=response,
        prefer=prefer,
        already_done=lambda session: platform.scheduled.made(
            session, customer_id=customer_id, client_id=payment.client_id
        ),
        idempotency=idempotency,
        standing=True,
    )


def scheduled_change(
    platform: Platform, customer_id: int, action: str, schedule_id: int
) -> AbstractContextManager[Session]:
    """The audited transaction of pausing, resuming or cancelling a schedule."""
    return platform.audited(
        actor_kind="customer",
        actor_id=customer_id,
        action=f"scheduled_transfer.{action}",
        target=str(schedule_id),
    )


@router.post("/scheduled-transfers", status_code=201)
def schedule_transfer(
    body: ScheduledTransferIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)] = None,
) -> ScheduledTransferOut:
    """Have the bank pay a transfer on a later date, or weekly or monthly: 201 when set
    up now, 200 for a retry. Each date is paid as a transfer you make that day would be
    (funds, account and daily limits); one refused is recorded and you get a 融e联
    notice."""
    client_id = body.client_id or idempotency_key
    if not client_id:
        raise MissingClientId()
    amount = parse_positive_amount(body.amount, scale=CNY_SCALE, currency="CNY")
    schedule = Schedule(
        Frequency(body.frequency), body.start_on, body.day_of_month, body.weekday, body.end_on
    )
    payment = platform.scheduled.request(
        source=body.source,
        destination=body.destination,
        amount=amount,
        client_id=client_id,
        schedule=schedule,
    )
    with schedule_authorised(
        platform,
        me.id,
        payment,
        challenge_id=body.challenge_id,
        response=body.response,
        prefer=ToolKind(body.tool) if body.tool else None,
        idempotency=keyed_request(
            f"customer:{me.id}:scheduled_transfer", client_id, body, amount=amount
        ),
    ) as session:
        found, created = platform.scheduled.create(
            session,
            customer_id=me.id,
            client_id=client_id,
            source=body.source,
            destination=body.destination,
            amount=amount,
            description=body.description,
            schedule=schedule,
        )
    response.status_code = 201 if created else 200
    return scheduled_out(found)


@router.get("/scheduled-transfers")
def my_scheduled_transfers(
    platform: PlatformDep, me: CustomerPrincipal
) -> list[ScheduledTransferOut]:
    """Your scheduled transfers, newest first, each with its latest run."""
    with platform.transaction() as session:
        return [scheduled_out(s) for s in platform.scheduled.schedules(session, me.id)]


@router.get("/scheduled-transfers/{schedule_id}")
def my_scheduled_transfer(
    schedule_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> ScheduledTransferOut:
    with platform.transaction() as session:
        return scheduled_out(platform.scheduled.get(session, me.id, schedule_id))


@router.get("/scheduled-transfers/{schedule_id}/runs")
def scheduled_transfer_runs(
    schedule_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> list[RunOut]:
    """Every date carried out, paid or failed, the latest first."""
    with platform.transaction() as session:
        return [run_out(r) for r in platform.scheduled.runs(session, me.id, schedule_id)]


@router.post("/scheduled-transfers/{schedule_id}/pause")
def pause_scheduled_transfer(
    schedule_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> ScheduledTransferOut:
    """Stop paying until resumed: dates falling due meanwhile are not paid."""
    with scheduled_change(platform, me.id, "pause", schedule_id) as session:
        return scheduled_out(platform.scheduled.pause(session, me.id, schedule_id))


@router.post("/scheduled-transfers/{schedule_id}/resume")
def resume_scheduled_transfer(
    schedule_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> ScheduledTransferOut:
    """Pay again from the next date not paid yet (today's included)."""
    with scheduled_change(platform, me.id, "resume", schedule_id) as session:
        return scheduled_out(platform.scheduled.resume(session, me.id, schedule_id))


@router.post("/scheduled-transfers/{schedule_id}/cancel")
def cancel_scheduled_transfer(
    schedule_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> ScheduledTransferOut:
    with scheduled_change(platform, me.id, "cancel", schedule_id) as session:
        return scheduled_out(platform.scheduled.cancel(session, me.id, schedule_id))
