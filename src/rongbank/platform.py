"""The running platform: settings, database, clock and services, wired once.

Every boundary (the API, the CLI, tests) builds one ``Platform`` and gets services
from it, so that the same clock and database reach every domain. Its authorisation
seam (audited and authorised transactions) is ``rongbank.platform_auth``, its
background jobs ``rongbank.platform_jobs``, both mixed into :class:`Platform`.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

import psycopg
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from rongbank.accounts.clearing import ClearingNetwork, FakeClearingNetwork
from rongbank.accounts.funding import FundingService
from rongbank.accounts.payees import Payees
from rongbank.accounts.rules import NewCardLimit, load_class_limits
from rongbank.accounts.scheduled import ScheduledTransfers
from rongbank.accounts.service import AccountsService
from rongbank.audit.service import AuditLog
from rongbank.auth.limits import load_tool_limits
from rongbank.auth.reset import PasswordResets
from rongbank.auth.service import AuthService
from rongbank.auth.sms import FakeSmsGateway, SmsGateway
from rongbank.auth.stepup import RiskCheck, StepUp
from rongbank.auth.tools import ToolService
from rongbank.business_calendar import BusinessCalendar, load_business_calendar
from rongbank.chat.airline import Airline, FakeAirline
from rongbank.chat.attachments import AttachmentService
from rongbank.chat.booking import FlightBookings
from rongbank.chat.cards import CardService
from rongbank.chat.committer import GatewaySend, send_committer
from rongbank.chat.committer import Outcome as SendOutcome
from rongbank.chat.media import limits_from
from rongbank.chat.push import PushService
from rongbank.chat.service import ChatService, chat_config, make_bus
from rongbank.clock import Clock, SystemClock
from rongbank.db import (
    SessionFactory,
    connect_direct,
    make_engine,
    make_session_factory,
    unit_of_work,
)
from rongbank.group_commit import GroupCommitter
from rongbank.invest.prices import PriceSource, ReplaySource
from rongbank.invest.products import load_catalogue
from rongbank.invest.service import InvestService
from rongbank.jobs import Leadership, run_recorded
from rongbank.ledger import batcher
from rongbank.ledger.service import LedgerService
from rongbank.lending.bureau import CreditBureau
from rongbank.lending.centre import CreditCentre
from rongbank.lending.checkout import YidaiCheckout
from rongbank.lending.decision import Scorer
from rongbank.lending.loans import LoanService
from rongbank.lending.products import load_products
from rongbank.lending.settlement_share import SettlementShares
from rongbank.mall.catalogue.service import Catalogue
from rongbank.mall.orders.service import MallOrders
from rongbank.money import parse_amount
from rongbank.overview.service import OverviewService
from rongbank.payments.rules import load_barcode_limits
from rongbank.payments.service import PaymentsService
from rongbank.pii import PersonalData, personal_data
from rongbank.platform_auth import Authorisation
from rongbank.platform_jobs import BackgroundJobs
from rongbank.risk.aml.batch import aml_job
from rongbank.risk.cases.desk import RiskDesk
from rongbank.risk.engine.backtests import backtest_job
from rongbank.risk.engine.engine import RiskEngine, load_model
from rongbank.risk.liquidity.monitor import monitor_job
from rongbank.settings import Settings
from rongbank.wealth.service import WealthService

logger = logging.getLogger(__name__)

PER_PROCESS_JOBS = frozenset({"chat-presence"})
"""Jobs every API process runs for itself (its own gateway's lease and sockets);
the others run in one process at a time (:mod:`rongbank.jobs`)."""


@dataclass
class Platform(Authorisation, BackgroundJobs):
    settings: Settings
    session_factory: SessionFactory
    clock: Clock
    ledger: LedgerService
    engine: Engine | None = None
    committer: batcher.GroupCommitter | None = None
    """Set when single transfers go through group commit; None means each request's
    own transaction carries its transfer (what tests with rolled-back sessions use)."""
    clearing: ClearingNetwork | None = None
    """The network to other banks; None: the in-memory fake (development and tests)."""
    sms: SmsGateway | None = None
    """The SMS operator; None: the fake that keeps messages in a table."""
    risk: RiskCheck | None = None
    """Scores payments for step-up; None: the inline fraud engine (``risk_engine``)."""
    airline: Airline | None = None
    """The airline behind chat flight cards; None: the in-memory fake."""
    credit_bureau: CreditBureau | None = None
    """The credit reference centre; None: ``FakeCreditBureau``."""
    scorer: Scorer | None = None
    """The application scorecard; None: the shipped one (refusing to decide without it)."""
    invest_prices: PriceSource | None = None
    """e-Invest's reference prices; None: the shipped replay of public history."""
    calendar: BusinessCalendar = field(init=False)
    """The bank's business days (``holidays_file``)."""
    accounts: AccountsService = field(init=False)
    auth: AuthService = field(init=False)
    pii: PersonalData = field(init=False)
    """Sealing and keyed hashes of identity and mobile numbers (``rongbank.pii``)."""
    funding: FundingService = field(init=False)
    audit: AuditLog = field(init=False)
    tools: ToolService = field(init=False)
    stepup: StepUp = field(init=False)
    password_resets: PasswordResets = field(init=False)
    chat: ChatService = field(init=False)
    chat_sends: GroupCommitter[GatewaySend, SendOutcome] = field(init=False)
    """The WebSocket gateway's sends, group-committed (see ``rongbank.chat.committer``)."""
    payments: PaymentsService = field(init=False)
    wealth: WealthService = field(init=False)
    overview: OverviewService = field(init=False)
    settlement_shares: SettlementShares = field(init=False)
    """Merchant operating loans repaid by a share of each e-Pay settlement."""
    yidai: YidaiCheckout = field(init=False)
    """逸贷: e-Pay orders paid by instalments, and their refunds unwound on the loan."""
    credit: CreditCentre = field(init=False)
    """Credit applications, decisions, offers, reviews (``rongbank.lending.centre``)."""
    mall_orders: MallOrders = field(init=False)
    """融e购: carts, checkouts, orders per seller, returns (``rongbank.mall.orders``)."""
    cards: CardService = field(init=False)
    bookings: FlightBookings = field(init=False)
    attachments: AttachmentService = field(init=False)
    push: PushService = field(init=False)
    payees: Payees = field(init=False)
    scheduled: ScheduledTransfers = field(init=False)
    loans: LoanService = field(init=False)
    """Lending: loans, their schedules, repayment and the end of day."""
    risk_engine: RiskEngine = field(init=False)
    """The inline fraud engine (``rongbank.risk.engine``), the default ``risk``."""
    risk_desk: RiskDesk = field(init=False)
    """Risk alerts filed into cases for analysts, and "was this you?"."""
    mall: Catalogue = field(init=False)
    """融e购's shops, categories, products and search (``rongbank.mall.catalogue``)."""
    invest: InvestService = field(init=False)
    """工银e投资: quotes, trades, pending orders and the tick (``rongbank.invest``)."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _leadership: Leadership | None = None
    """Whether this process runs the once-only jobs (None: no database of its own to
    ask, as in tests over one transaction: it does)."""

    def __post_init__(self) -> None:
        self.calendar = load_business_calendar(self.settings.holidays_file)
        self.pii = personal_data(self.settings)
        self.auth = AuthService(self.clock, stored_name=self.pii.login_name)
        self.accounts = AccountsService(
            self.ledger,
            self.clock,
            auth=self.auth,
            limits=load_class_limits(self.settings.account_classes_file),
            number_prefix=self.settings.account_number_prefix,
            pii=self.pii,
        )
        self.audit = AuditLog(self.clock)
        self.funding = FundingService(
            self.ledger,
            self.accounts,
            self.clock,
            self.clearing or FakeClearingNetwork(clock=self.clock),
            card_hash_key=self._key(self.settings.card_hash_key, "card hash"),
            new_card=NewCardLimit(
                period=timedelta(days=self.settings.new_card_days),
                daily=parse_amount(format(self.settings.new_card_daily_limit, "f"), scale=2),
            ),
        )
        tool_limits = load_tool_limits(self.settings.tool_limits_file)
        self.tools = ToolService(
            self.clock,
            tool_limits,
            tool_key=self._key(self.settings.tool_key, "tool"),
            sms=self.sms or FakeSmsGateway(self.clock),
        )
        self.risk_engine = RiskEngine(
            self.clock,
            hold_timeout=timedelta(hours=self.settings.risk_hold_timeout_hours),
            model=load_model(self.settings.risk_model_dir),
        )
        self.stepup = StepUp(
            self.clock,
            tool_limits,
            self.tools,
            risk=self.risk or (self.risk_engine if self.settings.risk_engine_enabled else None),
            ttl=timedelta(seconds=self.settings.challenge_ttl_seconds),
        )
        self.password_resets = PasswordResets(self.clock, self.auth, self.tools, self.accounts)
        self.chat = ChatService(
            self.clock,
            make_bus(self.settings, self._connect_direct if self.engine else None),
            # Chat derives its own key from the card-hash key (a keyed hash, kept for good).
            chat_config(self.settings, key=self._key(self.settings.card_hash_key, "card hash")),
            pii=self.pii,
        )
        self.chat_sends = send_committer(self.transaction, self.auth, self.chat)
        self.attachments = AttachmentService(
            self.chat,
            limits_from(
                image_max_bytes=self.settings.chat_image_max_bytes,
                file_max_bytes=self.settings.chat_file_max_bytes,
                image_max_pixels=self.settings.chat_image_max_pixels,
                file_types=self.settings.chat_file_types,
            ),
        )
        self.push = PushService(
            self.chat, due_notice=timedelta(days=self.settings.chat_due_notice_days)
        )
        self.payments = PaymentsService(
            self.ledger,
            self.accounts,
            self.clock,
            auth=self.auth,
            barcode_limits=load_barcode_limits(self.settings.barcode_limits_file),
            key=self._key(self.settings.payments_key, "payments"),
            order_ttl=timedelta(minutes=self.settings.order_ttl_minutes),
            public_url=self.settings.public_address,
            allow_private_urls=self.settings.payments_allow_private_notify,
        )
        self.wealth = WealthService(
            self.ledger,
            self.accounts,
            self.clock,
            calendar=self.calendar,
            cutoff=self.settings.wealth_cutoff,
            assessments_per_day=self.settings.wealth_assessments_per_day,
        )
        self.overview = OverviewService(self.accounts, self.ledger, self.wealth, self.clock)
        self.cards = CardService(
            self.chat,
            self.accounts,
            self.payments,
            self.wealth,
            self.clock,
            airline=self.airline or FakeAirline(self.clock),
            airline_merchant_id=self.settings.airline_merchant_id,
        )
        self.bookings = FlightBookings(self.cards, self.transaction)
        self.payees = Payees(self.accounts, self.clock)
        self.scheduled = ScheduledTransfers(self.accounts, self.stepup, self.clock)
        self.loans = LoanService(
            self.ledger,
            self.accounts,
            self.clock,
            load_products(self.settings.lending_products_file),
        )
        self.credit = CreditCentre(
            self.clock,
            loans=self.loans,
            risk=lambda: self.stepup.risk,
            rules_file=self.settings.lending_decision_file,
            bureau=self.credit_bureau,
            scorer=self.scorer,
            pii=self.pii,
        )
        self.yidai = YidaiCheckout(lambda: self.credit, self.payments)
        self.payments.refund_listeners.append(self.yidai.refunded)
        self.settlement_shares = SettlementShares(lambda: self.credit.loans, self.payments)
        self.payments.settlement_listeners.append(self.settlement_shares.settled)
        self.risk_desk = RiskDesk(
            self.clock, accounts=self.accounts, tools=self.tools, audit=self.audit, push=self.push
        )
        self.mall_orders = MallOrders(
            self.ledger,
            self.payments,
            self.clock,
            merchant_id=self.settings.mall_merchant_id,
            reservation=timedelta(minutes=self.settings.mall_reservation_minutes),
            receipt_after=timedelta(days=self.settings.mall_receipt_days),
            return_window=timedelta(days=self.settings.mall_return_days),
            aftersale=timedelta(days=self.settings.mall_aftersale_days),
            paid_by=lambda s, p: "epay" if self.yidai.loan_of(s, p) is None else "yidai",
        )
        self.mall = Catalogue(self.clock, self.payments, self.attachments.limits)
        self.mall.closing_checks.append(
            lambda session, shop: self.mall_orders.refuse_closing(session, shop.id)
        )
        catalogue = load_catalogue(self.settings.invest_products_file)
        self.invest = InvestService(
            self.ledger,
            self.accounts,
            self.wealth,
            self.clock,
            catalogue,
            self.invest_prices or ReplaySource(catalogue),
        )

    @classmethod
    def connect(
        cls,
        url: str,
        settings: Settings,
        *,
        clock: Clock | None = None,
        group_commit: bool = True,
    ) -> Platform:
        engine = make_engine(url, pool_size=settings.db_pool_size)
        factory = make_session_factory(engine)
        clock = clock or SystemClock()
        ledger = LedgerService(clock)
        committer = (
            batcher.GroupCommitter(ledger, factory, max_batch=settings.group_commit_max_batch)
            if group_commit
            else None
        )
        return cls(settings, factory, clock, ledger, engine=engine, committer=committer)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with unit_of_work(self.session_factory) as session:
            yield session

    @contextmanager
    def standby_reads(self) -> Iterator[Session]:
        """A unit of work for reads that may lag the primary by a moment (a period's
        statement): on ``RONGBANK_READ_DATABASE_URL`` (a standby) where it is set, so
        that they load the primary less; else on the primary."""
        with unit_of_work(self._standby) as session:
            yield session

    @cached_property
    def _standby(self) -> SessionFactory:
        url = self.settings.read_database_url
        if url is None or self.engine is None:  # a test's platform on one connection
            return self.session_factory
        return make_session_factory(make_engine(url, pool_size=self.settings.db_pool_size))

    def start(self, *, background: bool = True) -> None:
        """Start the group committer and, with ``background``, the periodic jobs: the
        chat gateway's presence lease in every process, the others in the one
        process that leads them (:mod:`rongbank.jobs`) when several serve the bank."""
        if self.committer is not None:
            self.committer.start()
        self.chat_sends.start()
        if background:
            self.open_mall()
            jobs = {
                "hold-expiry": (self.settings.hold_expiry_interval_seconds, self.expire_holds),
                "audit-sealer": (self.settings.audit_seal_interval_seconds, self.seal_audit),
                "funding-resolver": (
                    self.settings.funding_resolve_interval_seconds,
                    self.resolve_funding,
                ),
                "payment-notifier": (
                    self.settings.payment_notify_interval_seconds,
                    self.deliver_notifications,
                ),
                "chat-card-expiry": (
                    self.settings.hold_expiry_interval_seconds,
                    self.expire_cards,
                ),
                "chat-push": (self.settings.chat_push_interval_seconds, self.deliver_push),
                "wealth-payouts": (
                    self.settings.wealth_maturity_interval_seconds,
                    self.mature_wealth,
                ),
                "chat-presence": (
                    self.chat.config.presence_lease.total_seconds() / 3,
                    self.keep_presence,
                ),
                "chat-flight-recovery": (
                    self.settings.funding_resolve_interval_seconds,
                    self.finish_bookings,
                ),
                "risk-screening": (
                    self.settings.risk_screening_interval_seconds,
                    self.screen_watchlists,
                ),
                "scheduled-transfers": (
                    self.settings.scheduled_transfer_interval_seconds,
                    self.run_scheduled_transfers,
                ),
                "liquidity-monitor": monitor_job(self.transaction, self.clock),
                "risk-cases": self.risk_desk.job(self.transaction),
                "lending-eod": (self.settings.lending_eod_interval_seconds, self.run_lending_eod),
                "risk-aml": aml_job(self.transaction, self.clock),
                "risk-backtests": backtest_job(self.transaction, self.clock, self._stop.is_set),
                "risk-holds": (self.settings.hold_expiry_interval_seconds, self.resolve_risk_holds),
                "risk-counters": (600.0, self.prune_risk_counters),
                "mall-orders": (self.settings.mall_job_interval_seconds, self.run_mall_jobs),
                "invest-ticks": (1.0, lambda: self.invest.run_tick(self.transaction)),
            }
            if self.engine is not None:
                self._leadership = Leadership(self._connect_direct)
            for name, (interval, job) in jobs.items():
                lead = self._leadership if name not in PER_PROCESS_JOBS else None
                thread = threading.Thread(
                    target=self._repeat, args=(interval, job, lead), name=name, daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if self._leadership is not None:
            self._leadership.close()
        if self.committer is not None:
            self.committer.stop()
        self.chat_sends.stop()
        self.chat.bus.close()
        if self.engine is not None:
            self.engine.dispose()
        standby = self.__dict__.get("_standby")
        if standby is not None and standby is not self.session_factory:
            standby.kw["bind"].dispose()

    @staticmethod
    def _key(configured: SecretStr | None, name: str) -> bytes:
        if configured is not None:
            return configured.get_secret_value().encode()
        # Tests and throwaway platforms: a key for this process only. `rongbank up`
        # always passes the persistent keys from the data dir.
        logger.warning("no %s key configured; using one for this process only", name)
        return secrets.token_bytes(32)

    def _connect_direct(self) -> psycopg.Connection[Any]:
        assert self.engine is not None
        return connect_direct(self.engine)

    def _repeat(
        self, interval: float, job: Callable[[], None], leadership: Leadership | None
    ) -> None:
        name = threading.current_thread().name
        while not self._stop.wait(interval):
            if leadership is not None and not leadership.held():
                continue
            try:
                run_recorded(name, interval, job, self.session_factory, self.clock)
            except Exception:
                logger.exception(
                    "%s failed; retrying next interval", threading.current_thread().name
                )
