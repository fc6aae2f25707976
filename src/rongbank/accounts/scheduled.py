"""Scheduled and recurring transfers: set up by the customer, made by the bank.

**Setting one up** is a payment authorised now for later: the boundary runs
:meth:`ScheduledTransfers.create` inside ``Platform.authorised`` with ``standing``,
so one occurrence beyond the password-free allowance is confirmed with the
customer's tool when it is set up (at run time nobody is there to answer a
challenge), and nothing is counted against today's limits then.

**Each occurrence** is paid by the server's job (:meth:`ScheduledTransfers.run_due`)
on its Beijing date, through the customer transfer's own path
(``AccountsService.transfer``: the accounts' states, class limits, the ledger) with
the step-up's daily limits counted as for a payment made that day
(``StepUp.authorise_run``). The fraud engine is asked first, as for a transfer the
customer makes: a review holds the run's money (the run ``held`` until the review
releases or voids it, the customer asked "was this you?"), a block refuses it (its
decision kept), and a challenge, which nobody is there to answer, refuses it too
(:class:`ScheduledRunChallenged`). Its ledger client id is the schedule and the date
(:class:`~rongbank.ledger.client_ids.OccurrenceKey`), and its outcome row is unique
per schedule and date, written in the transaction that pays it: the job run again,
or in several processes at once, pays a date once. Due schedules are claimed one at
a time with ``FOR UPDATE SKIP LOCKED``, one transaction each (a transaction holding
several would lock several customers' accounts in no common order).

**A refused run** (no funds, a limit, a frozen or closed account) is recorded as
failed with the refusal's code, and the customer is told in a 融e联 notice
(:class:`~rongbank.accounts.events.ScheduledTransferFailed` in the outbox). It is
not retried: the schedule goes on to its next date, as a standing order does.

Customers list their schedules and their runs, pause (occurrences falling due while
paused are not paid), resume (from the next date not yet run, today included) and
cancel. Every schedule is its customer's alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox, review_hold
from rongbank.accounts.errors import (
    AccountFrozen,
    AccountNotActive,
    EAccountNotFound,
    NotYourAccount,
    SameEAccount,
)
from rongbank.accounts.events import ScheduledTransferFailed
from rongbank.accounts.schedules import (
    Frequency,
    Schedule,
    describe,
    first_occurrence,
    first_on_or_after,
    following,
)
from rongbank.accounts.service import AccountsService
from rongbank.auth.limits import Risk, RiskRefused
from rongbank.auth.stepup import StepUp
from rongbank.auth.tools import PaymentRequest
from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.errors import Conflict, DomainError, Forbidden, NotFound
from rongbank.ledger.client_ids import OccurrenceKey
from rongbank.money import format_amount

logger = logging.getLogger(__name__)

SCHEDULED_TRANSFER = "scheduled_transfer"
"""The purpose of setting up a scheduled transfer (what its challenge confirms)."""
CURRENCY = "CNY"


class ScheduleStatus(StrEnum):
    ACTIVE = "active"
    """Paid on each date as it falls due."""
    PAUSED = "paused"
    """Not paid until resumed; dates falling due meanwhile are passed over."""
    CANCELLED = "cancelled"
    """Stopped by the customer for good."""
    FINISHED = "finished"
    """No date left (a one-off made, or past its end)."""


class RunStatus(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    """Refused (``error_code`` says why); nothing moved, the customer was told."""
    HELD = "held"
    """Held for the fraud checks' review: its money reserved (``entry_id``, pending)
    until the review releases or voids it."""


class ScheduledRunChallenged(Forbidden):
    """The fraud checks wanted the customer to confirm this run, and a run made by
    the bank has nobody to ask."""

    code = "scheduled_run_challenged"
    message = (
        "The bank's fraud checks wanted you to confirm this payment, which a scheduled "
        "transfer cannot ask: make it yourself if you still mean to."
    )


class ScheduledTransferNotFound(NotFound):
    """Also the answer for another customer's schedule."""

    code = "scheduled_transfer_not_found"
    message = "No such scheduled transfer."


class ScheduledTransferOver(Conflict):
    code = "scheduled_transfer_over"
    message = "This scheduled transfer was cancelled or has no dates left; set up a new one."


@dataclass(frozen=True, slots=True)
class Run:
    occurrence: date
    status: RunStatus
    entry_id: int | None
    error_code: str
    ran_at: datetime


@dataclass(frozen=True, slots=True)
class ScheduledTransfer:
    id: int
    customer_id: int
    client_id: str
    source: str
    destination: str
    amount: int
    currency: str
    description: str
    schedule: Schedule
    next_on: date | None
    status: ScheduleStatus
    created_at: datetime
    last_run: Run | None = None


@dataclass(frozen=True, slots=True)
class ScheduledRuns:
    """What one run of the job did."""

    paid: int = 0
    failed: int = 0
    """Occurrences refused (recorded, the customer told)."""
    errors: int = 0
    """Schedules that could not be run at all (logged; tried again next run)."""

    def __add__(self, other: ScheduledRuns) -> ScheduledRuns:
        return ScheduledRuns(
            self.paid + other.paid, self.failed + other.failed, self.errors + other.errors
        )


_COLUMNS = (
    "s.id, s.customer_id, s.client_id, s.source, s.destination, s.amount, s.currency, "
    "s.description, s.frequency, s.start_on, s.day_of_month, s.weekday, s.end_on, s.next_on, "
    "s.status, s.created_at"
)
_LAST_RUN = (
    "LEFT JOIN LATERAL (SELECT r.occurrence, r.status, r.entry_id, r.error_code, r.ran_at "
    "FROM scheduled_transfer_run r WHERE r.schedule_id = s.id "
    "ORDER BY r.occurrence DESC LIMIT 1) last ON true"
)


def _scheduled(row: Any) -> ScheduledTransfer:
    values = list(row)
    frequency, start_on, day_of_month, weekday, end_on = values[8:13]
    last = values[16:] if len(values) > 16 and values[16] is not None else None
    return ScheduledTransfer(
        id=values[0],
        customer_id=values[1],
        client_id=values[2],
        source=values[3],
        destination=values[4],
        amount=values[5],
        currency=values[6],
        description=values[7],
        schedule=Schedule(Frequency(frequency), start_on, day_of_month, weekday, end_on),
        next_on=values[13],
        status=ScheduleStatus(values[14]),
        created_at=values[15],
        last_run=None if last is None else _run(last),
    )


def _run(row: Any) -> Run:
    occurrence, status, entry_id, error_code, ran_at = row
    return Run(occurrence, RunStatus(status), entry_id, str(error_code), ran_at)


Transaction = Callable[[], AbstractContextManager[Session]]


class ScheduledTransfers:
    def __init__(self, accounts: AccountsService, stepup: StepUp, clock: Clock) -> None:
        self.accounts = accounts
        self.stepup = stepup
        self.clock = clock

    def today(self) -> date:
        return self.clock.now().astimezone(BUSINESS_TIME_ZONE).date()

    # -- setting up ----------------------------------------------------------------------

    def request(
        self,
        *,
        source: str,
        destination: str,
        amount: int,
        client_id: str,
        schedule: Schedule,
    ) -> PaymentRequest:
        """What setting up the schedule asks the customer to authorise (and a
        challenge is bound to): one occurrence's payment, and the schedule itself in
        the words the SMS shows. Refuses a schedule without a date it may start on."""
        first = first_occurrence(schedule, self.today())
        money = f"{format_amount(amount, scale=2)} {CURRENCY}"
        return PaymentRequest(
            purpose=SCHEDULED_TRANSFER,
            payer=source,
            payee=destination,
            amount=amount,
            currency=CURRENCY,
            client_id=client_id,
            change=f"schedule {money} to account ending {destination[-4:]} "
            + describe(schedule, first),
        )

    def create(
        self,
        session: Session,
        *,
        customer_id: int,
        client_id: str,
        source: str,
        destination: str,
        amount: int,
        description: str,
        schedule: Schedule,
    ) -> tuple[ScheduledTransfer, bool]:
        """Set up the schedule once per ``client_id``; returns it and whether it is
        new (a retry answers the one set up before). The accounts are checked now as
        for a transfer (one's own active account, to an account of this bank), the
        funds and limits on each date."""
        found = self._by_client_id(session, customer_id, client_id)
        if found is not None:
            return found, False
        if source == destination:
            raise SameEAccount()
        try:
            payer = self.accounts.account(session, source)
        except EAccountNotFound:
            raise NotYourAccount() from None
        if payer.customer_id != customer_id:
            raise NotYourAccount()
        if payer.status == "frozen":
            raise AccountFrozen(account=payer.number[-4:])
        if payer.status != "active":
            raise AccountNotActive(account=payer.number[-4:], status=payer.status)
        payee = self.accounts.account(session, destination)
        first = first_occurrence(schedule, self.today())
        now = self.clock.now()
        row = session.execute(
            text(
                "INSERT INTO scheduled_transfer (customer_id, client_id, source, destination, "
                "amount, currency, description, frequency, start_on, day_of_month, weekday, "
                "end_on, next_on, status, created_at, updated_at) VALUES (:c, :cid, :src, :dst, "
                ":amount, :cur, :d, :f, :start, :dom, :wd, :end, :next, 'active', :at, :at) "
                "ON CONFLICT (customer_id, client_id) DO NOTHING RETURNING id"
            ),
            {
                "c": customer_id,
                "cid": client_id,
                "src": payer.number,
                "dst": payee.number,
                "amount": amount,
                "cur": payer.currency,
                "d": description.strip(),
                "f": schedule.frequency.value,
                "start": schedule.start_on,
                "dom": schedule.day_of_month,
                "wd": schedule.weekday,
                "end": schedule.end_on,
                "next": first,
                "at": now,
            },
        ).first()
        if row is None:  # the same request, concurrently: it answers
            found = self._by_client_id(session, customer_id, client_id)
            assert found is not None
            return found, False
        return self.get(session, customer_id, int(row[0])), True

    def made(self, session: Session, *, customer_id: int, client_id: str) -> bool:
        """Whether this request set a schedule up already (a retry needs no new code)."""
        return self._by_client_id(session, customer_id, client_id) is not None

    # -- the customer's -----------------------------------------------------------------

    def schedules(self, session: Session, customer_id: int) -> list[ScheduledTransfer]:
        """The customer's schedules, newest first, each with its latest run."""
        rows = session.execute(
            text(
                f"SELECT {_COLUMNS}, last.* FROM scheduled_transfer s {_LAST_RUN} "  # noqa: S608
                "WHERE s.customer_id = :c ORDER BY s.id DESC"
            ),
            {"c": customer_id},
        ).all()
        return [_scheduled(row) for row in rows]

    def get(
        self, session: Session, customer_id: int, schedule_id: int, *, lock: bool = False
    ) -> ScheduledTransfer:
        row = session.execute(
            text(
                f"SELECT {_COLUMNS}, last.* FROM scheduled_transfer s {_LAST_RUN} "  # noqa: S608
                "WHERE s.id = :id AND s.customer_id = :c" + (" FOR UPDATE OF s" if lock else "")
            ),
            {"id": schedule_id, "c": customer_id},
        ).first()
        if row is None:
            raise ScheduledTransferNotFound(schedule_id=schedule_id)
        return _scheduled(row)

    def runs(self, session: Session, customer_id: int, schedule_id: int) -> list[Run]:
        """Every occurrence carried out, the latest first."""
        self.get(session, customer_id, schedule_id)
        rows = session.execute(
            text(
                "SELECT occurrence, status, entry_id, error_code, ran_at "
                "FROM scheduled_transfer_run WHERE schedule_id = :id ORDER BY occurrence DESC"
            ),
            {"id": schedule_id},
        ).all()
        return [_run(row) for row in rows]

    def pause(self, session: Session, customer_id: int, schedule_id: int) -> ScheduledTransfer:
        found = self.get(session, customer_id, schedule_id, lock=True)
        if found.status in (ScheduleStatus.CANCELLED, ScheduleStatus.FINISHED):
            raise ScheduledTransferOver(status=found.status.value)
        return self._set(session, found, ScheduleStatus.PAUSED, found.next_on)

    def resume(self, session: Session, customer_id: int, schedule_id: int) -> ScheduledTransfer:
        """Pay again from the next date not run yet, today's included."""
        found = self.get(session, customer_id, schedule_id, lock=True)
        if found.status is ScheduleStatus.ACTIVE:
            return found
        if found.status is not ScheduleStatus.PAUSED:
            raise ScheduledTransferOver(status=found.status.value)
        after = self.today()
        if found.last_run is not None:
            after = max(after, found.last_run.occurrence + timedelta(days=1))
        next_on = first_on_or_after(found.schedule, after)
        if next_on is None:
            raise ScheduledTransferOver(status=found.status.value)
        return self._set(session, found, ScheduleStatus.ACTIVE, next_on)

    def cancel(self, session: Session, customer_id: int, schedule_id: int) -> ScheduledTransfer:
        found = self.get(session, customer_id, schedule_id, lock=True)
        if found.status is ScheduleStatus.CANCELLED:
            return found
        if found.status is ScheduleStatus.FINISHED:
            raise ScheduledTransferOver(status=found.status.value)
        return self._set(session, found, ScheduleStatus.CANCELLED, None)

    def _set(
        self,
        session: Session,
        found: ScheduledTransfer,
        status: ScheduleStatus,
        next_on: date | None,
    ) -> ScheduledTransfer:
        session.execute(
            text(
                "UPDATE scheduled_transfer SET status = :s, next_on = :n, updated_at = :at "
                "WHERE id = :id"
            ),
            {"s": status.value, "n": next_on, "at": self.clock.now(), "id": found.id},
        )
        return self.get(session, found.customer_id, found.id)

    def _by_client_id(
        self, session: Session, customer_id: int, client_id: str
    ) -> ScheduledTransfer | None:
        row = session.execute(
            text(
                f"SELECT {_COLUMNS} FROM scheduled_transfer s "  # noqa: S608
                "WHERE s.customer_id = :c AND s.client_id = :cid"
            ),
            {"c": customer_id, "cid": client_id},
        ).first()
        return None if row is None else _scheduled(row)

    # -- the job ----------------------------------------------------------------------------

    def held_resolved(self, session: Session, entry_id: int, *, released: bool) -> None:
        """A run held for review (ledger entry ``entry_id``) was released: paid; or
        voided: failed as the fraud checks' refusal, nothing moved. A hold no run
        made changes nothing."""
        session.execute(
            text(
                "UPDATE scheduled_transfer_run SET status = :s, error_code = :code, "
                "entry_id = CASE WHEN :paid THEN entry_id END "
                "WHERE entry_id = :e AND status = 'held'"
            ),
            {
                "s": (RunStatus.PAID if released else RunStatus.FAILED).value,
                "code": "" if released else RiskRefused.code,
                "paid": released,
                "e": entry_id,
            },
        )

    def run_due(self, transaction: Transaction, *, limit: int = 200) -> ScheduledRuns:
        """Pay up to ``limit`` occurrences due by today, one transaction each (see the
        module docstring); safe to run in several processes at once. A schedule that
        fails other than by a refusal (a bug, a lost connection) is logged and left for
        the next run, and does not hold up the others."""
        total = ScheduledRuns()
        broken: set[int] = set()
        for _ in range(limit):
            claimed: int | None = None
            try:
                with transaction() as session:
                    due = self._claim(session, skip=broken)
                    if due is None:
                        break
                    claimed = due.id
                    total += self._run(session, due)
            except Exception:
                if claimed is None:
                    raise
                logger.exception("scheduled transfer %d not run; tried again next run", claimed)
                broken.add(claimed)
                total += ScheduledRuns(errors=1)
        return total

    def _claim(self, session: Session, *, skip: Collection[int]) -> ScheduledTransfer | None:
        """The schedule due longest ago that no other process holds, locked."""
        row = session.execute(
            text(
                f"SELECT {_COLUMNS} FROM scheduled_transfer s "  # noqa: S608
                "WHERE s.status = 'active' AND s.next_on <= :today AND s.id <> ALL(:skip) "
                "ORDER BY s.next_on, s.id LIMIT 1 FOR UPDATE SKIP LOCKED"
            ),
            {"today": self.today(), "skip": list(skip)},
        ).first()
        return None if row is None else _scheduled(row)

    def _run(self, session: Session, due: ScheduledTransfer) -> ScheduledRuns:
        """Pay ``due``'s date, or record why not; then move it to its next date."""
        assert due.next_on is not None
        occurrence = due.next_on
        key = OccurrenceKey(due.id, occurrence)
        entry_id: int | None = None
        error: DomainError | None = None
        held = False
        payment = PaymentRequest(
            purpose="transfer",
            payer=due.source,
            payee=due.destination,
            amount=due.amount,
            currency=due.currency,
            client_id=str(key),
        )
        try:
            with session.begin_nested():  # a refusal leaves nothing of the attempt
                # Asked before the money moves, as Platform.authorised asks: a review
                # is taken by the transfer below, which makes it pending.
                if self.stepup.risk.assess(session, due.customer_id, payment) is Risk.ELEVATED:
                    raise ScheduledRunChallenged()
                done = self.accounts.transfer(
                    session,
                    customer_id=due.customer_id,
                    source=due.source,
                    destination=due.destination,
                    amount=due.amount,
                    client_id=key,
                    description=due.description,
                )
                if done.status in ("created", "held"):
                    self.stepup.authorise_run(session, due.customer_id, payment)
                entry_id, held = done.entry_id, done.status == "held"
        except RiskRefused as blocked:
            error = blocked
            blocked.keep(session)  # the engine's decision, kept with the failed run
        except DomainError as refused:
            error = refused
        review_hold.take(session)  # a review asked for a run refused after it: forgotten
        session.execute(
            text(
                "INSERT INTO scheduled_transfer_run (schedule_id, occurrence, status, entry_id, "
                "error_code, ran_at) VALUES (:id, :on, :s, :e, :code, :at)"
            ),
            {
                "id": due.id,
                "on": occurrence,
                "s": (
                    RunStatus.FAILED if error else RunStatus.HELD if held else RunStatus.PAID
                ).value,
                "e": entry_id,
                "code": error.code if error else "",
                "at": self.clock.now(),
            },
        )
        if error is not None:
            outbox.record(
                session,
                ScheduledTransferFailed(
                    schedule_id=due.id,
                    occurrence=occurrence,
                    customer_id=due.customer_id,
                    account_tail=due.source[-4:],
                    payee_tail=due.destination[-4:],
                    amount=due.amount,
                    currency=due.currency,
                    reason=error.code,
                    occurred_at=self.clock.now(),
                ),
            )
        next_on = following(due.schedule, occurrence)
        self._set(
            session,
            due,
            ScheduleStatus.ACTIVE if next_on else ScheduleStatus.FINISHED,
            next_on,
        )
        return ScheduledRuns(paid=0 if error else 1, failed=1 if error else 0)
