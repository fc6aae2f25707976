"""Scheduled and recurring transfers in the web bank: the customer's schedules with
their next date and last outcome (pause, resume, cancel), and a new one set up as a
transfer is: the form, a review in the customer's words, then confirmed with the
challenge the bank asks for one occurrence (``schedule_authorised``, as the API).

The bank pays each date itself (``ScheduledTransfers.run_due``); a date refused is
told in a 融e联 notice and shown here as the last outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from rongbank.accounts.schedule_endpoints import schedule_authorised, scheduled_change
from rongbank.accounts.scheduled import ScheduledTransfer
from rongbank.accounts.schedules import Frequency, Schedule, ScheduleInvalid, first_occurrence
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.auth.tools import PaymentRequest
from rongbank.errors import DomainError
from rongbank.idempotency import keyed
from rongbank.inputs import IdParam
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform
from rongbank.web.account_pages import accounts_view, masked_name
from rongbank.web.csrf import check_csrf
from rongbank.web.i18n import translate
from rongbank.web.pages import Me, PlatformDep, lang_of, refusal_text, render, see_other
from rongbank.web.step_up import (
    ChallengeAnswer,
    ChallengeCarried,
    ChallengeField,
    Responses,
    StepUpAnswer,
    ToolChoice,
    challenge_view,
    confirm_step_up,
)

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

FIELDS = (
    "source",
    "destination",
    "amount",
    "note",
    "frequency",
    "start_on",
    "day_of_month",
    "weekday",
    "end_on",
)
NOTICES = {
    "created": "schedule_done",
    "pause": "schedule_paused",
    "resume": "schedule_resumed",
    "cancel": "schedule_cancelled",
}
Field40 = Annotated[str, Form(max_length=40)]


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value.strip() else None
    except ValueError:
        raise ScheduleInvalid(day=value[:10]) from None


def _number(value: str) -> int | None:
    try:
        return int(value) if value.strip() else None
    except ValueError:
        raise ScheduleInvalid() from None


def schedule_of(form: Mapping[str, str]) -> Schedule:
    """The schedule the form describes; the fields of the other frequencies, which a
    page without JavaScript cannot hide, are ignored."""
    try:
        frequency = Frequency(form["frequency"])
    except ValueError:
        raise ScheduleInvalid() from None
    start_on = _day(form["start_on"])
    if start_on is None:
        raise ScheduleInvalid()
    return Schedule(
        frequency,
        start_on,
        _number(form["day_of_month"]) if frequency is Frequency.MONTHLY else None,
        _number(form["weekday"]) if frequency is Frequency.WEEKLY else None,
        None if frequency is Frequency.ONCE else _day(form["end_on"]),
    )


def when(lang: str, schedule: Schedule, first: date | None) -> str:
    """The schedule in the customer's language (``每月31日，自 2026-04-30 起``)."""
    t = translate(lang)
    first_text = (first or schedule.start_on).isoformat()
    if schedule.frequency is Frequency.ONCE:
        return t["schedule_when_once"].format(date=first_text)
    if schedule.frequency is Frequency.WEEKLY:
        text = t["schedule_when_weekly"].format(
            weekday=t[f"weekday_{schedule.weekday}"], first=first_text
        )
    else:
        text = t["schedule_when_monthly"].format(day=schedule.day_of_month, first=first_text)
    if schedule.end_on:
        text += t["schedule_until"].format(end=schedule.end_on.isoformat())
    return text


def _view(lang: str, found: ScheduledTransfer) -> dict[str, Any]:
    return {
        "id": found.id,
        "destination": found.destination,
        "amount": format_amount(found.amount, scale=2),
        "note": found.description,
        "when": when(lang, found.schedule, None),
        "next_on": found.next_on.isoformat() if found.next_on else "",
        "status": found.status.value,
        "last_run": found.last_run,
    }


@router.get("/scheduled")
def scheduled_page(request: Request, platform: PlatformDep, me: Me, done: str = "") -> Response:
    return _scheduled(request, platform, me, form={}, notice=NOTICES.get(done))


def _scheduled(
    request: Request, platform: Platform, me: Principal, status_code: int = 200, **context: Any
) -> Response:
    lang = lang_of(request)
    with platform.transaction() as session:
        schedules = platform.scheduled.schedules(session, me.id)
        payees = platform.payees.saved(session, me.id)
    return render(
        request,
        "scheduled.html",
        status_code,
        accounts=accounts_view(platform, me.id),
        schedules=[_view(lang, s) for s in schedules],
        saved_payees=payees,
        **context,
    )


def _request(
    platform: Platform, form: Mapping[str, str], client_id: str
) -> tuple[PaymentRequest, Schedule, int]:
    amount = parse_positive_amount(form["amount"].strip(), scale=2, currency="CNY")
    schedule = schedule_of(form)
    payment = platform.scheduled.request(
        source=form["source"],
        destination=form["destination"],
        amount=amount,
        client_id=client_id,
        schedule=schedule,
    )
    return payment, schedule, amount


def _review(
    request: Request,
    platform: Platform,
    form: Mapping[str, str],
    client_id: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """The review page (again, with the challenge or why an answer did not count)."""
    _, schedule, amount = _request(platform, form, f"web:{client_id}")
    with platform.transaction() as session:
        payee = platform.accounts.account(session, form["destination"])
        holder = platform.accounts.customer(session, payee.customer_id).name
    first = first_occurrence(schedule, platform.scheduled.today())
    return render(
        request,
        "scheduled_confirm.html",
        status_code,
        form={**form, "amount": format_amount(amount, scale=2)},
        payee_name=masked_name(holder),
        when=when(lang_of(request), schedule, first),
        client_id=client_id,
        **context,
    )


def _form(**fields: str) -> dict[str, str]:
    form = {k: fields.get(k, "").strip() for k in FIELDS}
    form["destination"] = form["destination"].replace(" ", "")
    return form


@router.post("/scheduled")
def scheduled_review(
    request: Request,
    platform: PlatformDep,
    me: Me,
    source: Field40,
    destination: Field40,
    amount: Field40,
    frequency: Field40,
    start_on: Field40,
    note: Annotated[str, Form(max_length=200)] = "",
    day_of_month: Field40 = "",
    weekday: Field40 = "",
    end_on: Field40 = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """First step: check what can be checked now and show it back to confirm."""
    check_csrf(request, csrf)
    form = _form(
        source=source,
        destination=destination,
        amount=amount,
        note=note,
        frequency=frequency,
        start_on=start_on,
        day_of_month=day_of_month,
        weekday=weekday,
        end_on=end_on,
    )
    try:
        return _review(request, platform, form, uuid.uuid4().hex)
    except DomainError as error:
        return _scheduled(request, platform, me, 422, form=form, error=refusal_text(request, error))


@router.post("/scheduled/confirm")
def scheduled_confirm(
    request: Request,
    platform: PlatformDep,
    me: Me,
    source: Field40,
    destination: Field40,
    amount: Field40,
    frequency: Field40,
    start_on: Field40,
    client_id: Annotated[str, Form(max_length=64)],
    note: Annotated[str, Form(max_length=200)] = "",
    day_of_month: Field40 = "",
    weekday: Field40 = "",
    end_on: Field40 = "",
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Second step: set up once per form, confirmed as one occurrence's payment."""
    check_csrf(request, csrf)
    form = _form(
        source=source,
        destination=destination,
        amount=amount,
        note=note,
        frequency=frequency,
        start_on=start_on,
        day_of_month=day_of_month,
        weekday=weekday,
        end_on=end_on,
    )
    schedule_client_id = f"web:{client_id}"

    def refused(error: DomainError) -> Response:
        return _scheduled(request, platform, me, 422, form=form, error=refusal_text(request, error))

    try:
        payment, schedule, minor = _request(platform, form, schedule_client_id)
    except DomainError as error:
        return refused(error)

    def pay(step_up: StepUpAnswer) -> Response:
        with schedule_authorised(
            platform,
            me.id,
            payment,
            challenge_id=step_up.challenge_id,
            response=step_up.response,
            prefer=step_up.prefer,
            idempotency=keyed(
                f"customer:{me.id}:scheduled_transfer",
                schedule_client_id,
                {**form, "amount": minor},
            ),
        ) as session:
            platform.scheduled.create(
                session,
                customer_id=me.id,
                client_id=schedule_client_id,
                source=form["source"],
                destination=form["destination"],
                amount=minor,
                description=form["note"],
                schedule=schedule,
            )
        return see_other("/scheduled?done=created")

    def again(shown: Mapping[str, Any] | None, error: DomainError | None) -> Response:
        with platform.transaction() as session:
            mobile = platform.accounts.customer(session, me.id).mobile
        return _review(
            request,
            platform,
            form,
            client_id,
            200 if error is None else 422,
            challenge=None if shown is None else challenge_view(shown, mobile=mobile),
            error=None if error is None else refusal_text(request, error),
        )

    return confirm_step_up(
        platform,
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        pay,
        already_done=lambda session: platform.scheduled.made(
            session, customer_id=me.id, client_id=schedule_client_id
        ),
        again=again,
        refused=refused,
        done_before=lambda: see_other("/scheduled?done=created"),
    )


@router.post("/scheduled/{schedule_id}/{action}")
def change_schedule(
    schedule_id: IdParam,
    action: str,
    request: Request,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Pause, resume or cancel one of the customer's schedules (audited, as the API)."""
    check_csrf(request, csrf)
    changes = {
        "pause": platform.scheduled.pause,
        "resume": platform.scheduled.resume,
        "cancel": platform.scheduled.cancel,
    }
    if action not in changes:
        return _scheduled(request, platform, me, 404, form={})
    try:
        with scheduled_change(platform, me.id, action, schedule_id) as session:
            changes[action](session, me.id, schedule_id)
    except DomainError as error:
        return _scheduled(request, platform, me, 422, form={}, error=refusal_text(request, error))
    return see_other(f"/scheduled?done={action}")
