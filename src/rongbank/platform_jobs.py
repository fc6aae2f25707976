"""The platform's background jobs: what ``Platform.start`` runs every few seconds
(:mod:`rongbank.jobs`), each a method that tests and commands may also call.

:class:`BackgroundJobs` is mixed into :class:`~rongbank.platform.Platform`, which
wires the services they use and starts them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, timedelta

from sqlalchemy.orm import Session

from rongbank.accounts.funding import FundingService, Resolved
from rongbank.accounts.scheduled import ScheduledRuns, ScheduledTransfers
from rongbank.accounts.service import AccountsService
from rongbank.audit.service import AuditLog
from rongbank.chat.booking import FlightBookings
from rongbank.chat.cards import CardService
from rongbank.chat.push import PushService
from rongbank.chat.service import ChatService
from rongbank.clock import Clock
from rongbank.db import SessionFactory
from rongbank.ledger.service import LedgerService
from rongbank.lending.eod import EodFigures
from rongbank.lending.loans import LoanService
from rongbank.mall.orders.service import MallJobs, MallOrders
from rongbank.payments.notify import deliver_due
from rongbank.payments.service import PaymentsService
from rongbank.risk.engine import holds as risk_holds
from rongbank.risk.engine.features import prune as prune_counters
from rongbank.risk.engine.holds import HoldsResolved
from rongbank.risk.watchlist.screening import Screened, screen_events
from rongbank.settings import Settings
from rongbank.wealth.service import MaturityRun, WealthService

logger = logging.getLogger(__name__)


class BackgroundJobs:
    """The periodic jobs, mixed into ``Platform``."""

    settings: Settings
    session_factory: SessionFactory
    clock: Clock
    ledger: LedgerService
    accounts: AccountsService
    audit: AuditLog
    funding: FundingService
    chat: ChatService
    cards: CardService
    bookings: FlightBookings
    push: PushService
    payments: PaymentsService
    wealth: WealthService
    scheduled: ScheduledTransfers
    loans: LoanService
    mall_orders: MallOrders
    transaction: Callable[[], AbstractContextManager[Session]]

    def seal_audit(self) -> None:
        with self.transaction() as session:
            self.audit.seal(session)

    def expire_cards(self) -> None:
        with self.transaction() as session:
            self.cards.expire_due(session)

    def keep_presence(self, *, batches: int = 20) -> None:
        """Renew this gateway's presence lease and, when they may be wrong, make its
        rows match its sockets (``ChatService.reconcile_presence``), then clear what
        gateways that died left behind (``ChatService.sweep_presence``), a batch per
        transaction."""
        with self.transaction() as session:
            self.chat.renew_lease(session)
        if (here := self.chat.open_here) is not None and self.chat.presence_due():
            try:
                with self.transaction() as session:
                    self.chat.reconcile_presence(session, here)
            except Exception:
                self.chat.presence_suspect = True
                raise
        for _ in range(batches):
            with self.transaction() as session:
                if not self.chat.sweep_presence(session):
                    break

    def finish_bookings(self) -> None:
        """Finish flight cards whose booking stopped between payment and the airline's
        answer (see ``rongbank.chat.booking``)."""
        finished = self.bookings.finish_unfinished(
            grace=timedelta(seconds=self.settings.chat_booking_grace_seconds)
        )
        if finished.booked or finished.failed or finished.unanswered:
            logger.info("unfinished flight bookings: %s", finished)

    def deliver_push(self, *, batch: int = 500, batches: int = 20) -> None:
        """Deliver pending push notices (see ``rongbank.chat.push``): batch after
        batch while they come full (a broadcast to a large segment, a burst of
        events), up to ``batches``; what fails waits for the next run."""
        for _ in range(batches):
            delivered = self.push.deliver(self.transaction, limit=batch)
            if delivered.failed:
                logger.info("push notices not delivered, to retry: %d", delivered.failed)
            if delivered.sent + delivered.skipped < batch and delivered.events < batch:
                break

    def mature_wealth(self, *, batch: int = 200) -> MaturityRun:
        """Pay out the fixed-term wealth holdings that have matured and the
        redemptions whose value date has come (``WealthService.mature_due``,
        ``pay_due``), one transaction per batch so that a large day is not one long
        lock; safe to run in several processes at once."""
        total = MaturityRun()
        for pay in (self.wealth.mature_due, self.wealth.pay_due):
            while True:
                with self.transaction() as session:
                    run = pay(session, limit=batch)
                total += run
                if run.holdings + run.redemptions < batch:
                    break
        if total.holdings or total.redemptions:
            logger.info(
                "wealth paid out: %d matured holdings, %d redemptions due",
                total.holdings,
                total.redemptions,
            )
        return total

    def run_scheduled_transfers(self, *, batch: int = 5000) -> ScheduledRuns:
        """Pay the scheduled transfers due today (``ScheduledTransfers.run_due``): one
        occurrence per transaction; safe to run in several processes at once."""
        done = self.scheduled.run_due(self.transaction, limit=batch)
        if done != ScheduledRuns():
            logger.info("scheduled transfers: %s", done)
        return done

    def screen_watchlists(self, *, batch: int = 200, batches: int = 20) -> Screened:
        """Screen new customers and saved payees against the watch lists
        (``rongbank.risk.watchlist.screening``), a batch of events per transaction."""
        total = Screened(0, 0, 0)
        for _ in range(batches):
            with self.transaction() as session:
                done = screen_events(
                    session,
                    at=self.clock.now(),
                    threshold=self.settings.risk_screening_threshold,
                    limit=batch,
                )
            total += done
            if done.events < batch:
                break
        if total.hits:
            logger.info("watch-list screening: %s", total)
        return total

    def run_lending_eod(self, day: date | None = None) -> list[EodFigures]:
        """The lending end of day of every business date up to ``day`` (default:
        yesterday, Beijing, the last that has ended) not yet run, each in its own
        transaction (``EndOfDay.run_through``); a date already run changes nothing."""
        if day is None:
            day = self.loans.business_day() - timedelta(days=1)
        done = self.loans.end_of_day.run_through(self.transaction, day)
        for figures in done:
            if not figures.already_run:
                logger.info("lending end of day %s: %s", figures.business_date, figures)
        return done

    def resolve_risk_holds(self) -> HoldsResolved:
        """Release or void the payments held for review: as their cases were decided
        (``RiskCaseDecided``), or by policy once they time out. A release is announced
        as the transfer it is (``TransferMade``: the payee is told) or the e-Pay
        payment (paid, its merchant told; voided, declined), and a chat card that made
        it closes as paid (or failed, voided)."""
        resolved = self.risk_hold_resolved
        total = HoldsResolved()
        with self.transaction() as session:
            total += risk_holds.decided(session, self.ledger, self.clock.now(), resolved=resolved)
        with self.transaction() as session:
            total += risk_holds.timed_out(
                session,
                self.ledger,
                self.clock.now(),
                release=self.settings.risk_hold_timeout_outcome == "release",
                resolved=resolved,
            )
        if total != HoldsResolved():
            logger.info("risk holds resolved: %s", total)
        return total

    def risk_hold_resolved(self, session: Session, entry_id: int, released: bool) -> None:
        """Whoever made the held entry hears of its end (``risk_holds.Resolved``)."""
        paid = self.payments.held_resolved(session, entry_id, released=released)
        if released and not paid:
            self.accounts.held_transfer_released(session, entry_id)
        self.cards.held_resolved(session, entry_id, released=released)
        self.scheduled.held_resolved(session, entry_id, released=released)

    def prune_risk_counters(self) -> None:
        """Delete the fraud engine's counter buckets older than any window reads."""
        with self.transaction() as session:
            prune_counters(session, self.clock.now())

    def open_mall(self) -> int:
        """融e购's clearing merchant, part of the bank's own set-up: opened once (the
        serving bank and ``seed-demo`` call this), then found by every process."""
        with self.transaction() as session:
            return self.mall_orders.open_clearing(session, self.accounts)

    def run_mall_jobs(self) -> MallJobs:
        """融e购's jobs: lapsed reservations expired, receipts confirmed, sellers paid."""
        done = self.mall_orders.run_jobs(self.transaction)
        if done != MallJobs(0, 0, 0):
            logger.info("mall: %s", done)
        return done

    def expire_holds(self) -> None:
        with self.transaction() as session:
            expired = self.ledger.expire_due_holds(session)
        if expired:
            logger.info("expired %d pending transfers", expired)

    def deliver_notifications(self) -> None:
        """Send the merchants' due payment notifications (see ``rongbank.payments.notify``)."""
        delivered = deliver_due(self.session_factory, self.payments, self.clock)
        if delivered.failed:
            logger.info("payment notifications not acknowledged: %d", delivered.failed)

    def resolve_funding(self) -> None:
        resolved = self.funding.resolve_unknown(self.session_factory)
        if resolved != Resolved():
            logger.info("settled funding requests without an answer: %s", resolved)
