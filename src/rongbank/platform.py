"""The running platform: settings, database, clock and services, wired once.

Every boundary (the API, the CLI, tests) builds one ``Platform`` and gets services
from it, so that the same clock and database reach every domain.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import psycopg
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from rongbank.accounts.clearing import ClearingNetwork, FakeClearingNetwork
from rongbank.accounts.funding import FundingService, Resolved
from rongbank.accounts.identity import parse_mobile
from rongbank.accounts.payees import Payees
from rongbank.accounts.rules import NewCardLimit, load_class_limits
from rongbank.accounts.scheduled import ScheduledRuns, ScheduledTransfers
from rongbank.accounts.service import AccountsService
from rongbank.audit.service import AuditLog
from rongbank.auth.limits import Risk, ToolKind, load_tool_limits
from rongbank.auth.reset import PasswordResets, StartedReset
from rongbank.auth.service import AuthService, LoginResult, Principal, PrincipalKind
from rongbank.auth.sms import FakeSmsGateway, SmsGateway
from rongbank.auth.stepup import Challenge, ChallengeNeeded, ChallengeRequired, RiskCheck, StepUp
from rongbank.auth.tools import PaymentRequest, ToolService
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
from rongbank.errors import DomainError
from rongbank.group_commit import GroupCommitter
from rongbank.idempotency import Keyed, known, remembering
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
from rongbank.lending.eod import EodFigures
from rongbank.lending.loans import LoanService
from rongbank.lending.products import load_products
from rongbank.lending.settlement_share import SettlementShares
from rongbank.mall.catalogue.service import Catalogue
from rongbank.mall.orders.service import MallJobs, MallOrders
from rongbank.metrics import counted_payments
from rongbank.money import parse_amount
from rongbank.overview.service import OverviewService
from rongbank.payments.notify import deliver_due
from rongbank.payments.rules import load_barcode_limits
from rongbank.payments.service import PaymentsService
from rongbank.pii import PersonalData, personal_data
from rongbank.risk.aml.batch import aml_job
from rongbank.risk.cases.desk import RiskDesk
from rongbank.risk.engine import holds as risk_holds
from rongbank.risk.engine.backtests import backtest_job
from rongbank.risk.engine.engine import PaymentBlocked, RiskEngine, load_model
from rongbank.risk.engine.features import prune as prune_counters
from rongbank.risk.engine.holds import HoldsResolved
from rongbank.risk.liquidity.monitor import monitor_job
from rongbank.risk.watchlist.screening import Screened, screen_events
from rongbank.settings import Settings
from rongbank.wealth.service import MaturityRun, WealthService

logger = logging.getLogger(__name__)

PER_PROCESS_JOBS = frozenset({"chat-presence"})
"""Jobs every API process runs for itself (its own gateway's lease and sockets);
the others run in one process at a time (:mod:`rongbank.jobs`)."""


@dataclass
class Platform:
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

    @contextmanager
    def audited(
        self,
        *,
        actor_kind: str,
        actor_id: int | None,
        action: str,
        target: str = "",
        details: dict[str, Any] | None = None,
        idempotency: Keyed | None = None,
        prepare: Callable[[Session], object] | None = None,
    ) -> Iterator[Session]:
        """A transaction whose outcome is audited: recorded with it when it commits;
        a business refusal is recorded in a transaction of its own, then re-raised.
        With ``idempotency``, the request's key is claimed first and a final refusal
        remembered under it, in the refusal's same transaction (see
        ``rongbank.idempotency``). ``prepare``: what runs before the key is claimed,
        unaudited (``remembering``)."""
        with self._audited(
            actor_kind=actor_kind,
            actor_id=actor_id,
            audit=lambda: (action, target, details),
            idempotency=idempotency,
            prepare=prepare,
        ) as session:
            yield session

    @contextmanager
    def _audited(
        self,
        *,
        actor_kind: str,
        actor_id: int | None,
        audit: Callable[[], tuple[str, str, dict[str, Any] | None]],
        idempotency: Keyed | None,
        prepare: Callable[[Session], object] | None,
        ahead: Callable[[Session], object] | None = None,
    ) -> Iterator[Session]:
        """``audited``, with what the row says (action, target, details) asked once
        ``prepare`` has run (it may be what finds it out); ``ahead``: sent with the
        key's claim (``rongbank.idempotency.claim``)."""

        def record(session: Session, error: DomainError | None = None) -> None:
            action, target, details = audit()
            self.audit.record(
                session,
                actor_kind=actor_kind,
                actor_id=actor_id,
                action=action,
                target=target,
                result="ok" if error is None else "refused",
                details=details if error is None else {**(details or {}), "error": error.code},
            )
            if isinstance(error, PaymentBlocked):  # the engine's decision, kept
                error.record(session)

        with remembering(
            self.transaction,
            idempotency,
            self.clock,
            refused=record,
            prepare=prepare,
            ahead=ahead,
        ) as session:
            yield session
            record(session)

    @counted_payments
    @contextmanager
    def authorised(
        self,
        payment: PaymentRequest | Callable[[Session], PaymentRequest],
        *,
        customer_id: int,
        challenge_id: str | None = None,
        response: str | None = None,
        prefer: ToolKind | None = None,
        already_done: Callable[[Session], bool] = lambda _: False,
        idempotency: Keyed | None = None,
        standing: bool = False,
    ) -> Iterator[Session]:
        """An audited transaction for a payment the customer has authorised.

        With a ``response``, the challenge is answered first (the failure count
        committed even when wrong). Then the body moves the money, and the step-up
        rules decide at its end, inside the same transaction; when they want a
        challenge, one is opened in a transaction of its own and
        :class:`ChallengeRequired` raised with it. ``already_done`` says whether this
        is a retry of a payment made before, which needs no new authentication (the
        ledger answers it with the original result). ``idempotency``: the request's
        key, which remembers a refusal as its outcome (``Platform.audited``).
        ``standing``: setting up a payment the bank makes later, each run counted
        then (``StepUp.authorise``). An ``already_done`` with an ``ask(session)``
        (``MadeCheck``) sends its question in the round trip of the key's claim.

        ``payment`` may be a function that reads what the payment is (a merchant,
        an order) in the transaction's session: it runs first, in the same
        transaction, and what it refuses is answered unaudited (``remembering``'s
        ``prepare``), as it would be from a transaction of its own before.
        """

        def check(session: Session, payment: PaymentRequest) -> Callable[[Session], object] | None:
            if already_done(session):
                return None
            # Scored before the body writes the payment's own effects.
            risk = self.stepup.risk.assess(session, customer_id, payment)
            return lambda s: self.stepup.authorise(
                s, customer_id, payment, challenge_id, risk, standing=standing
            )

        with self._challenged(
            payment,
            customer_id=customer_id,
            challenge_id=challenge_id,
            response=response,
            prefer=prefer,
            already_done=already_done,
            check=check,
            audit=lambda p: (
                p.purpose,
                f"{p.payer} -> {p.payee}",
                {"amount": p.amount, "client_id": p.client_id},
            ),
            idempotency=idempotency,
            ahead=getattr(already_done, "ask", None),
        ) as session:
            yield session

    @contextmanager
    def confirmed(
        self,
        change: PaymentRequest,
        *,
        customer_id: int,
        challenge_id: str | None = None,
        response: str | None = None,
        action: str,
        target: str,
        first: bool = False,
        tools: tuple[ToolKind, ...] = (ToolKind.SMS,),
    ) -> Iterator[Session]:
        """An audited transaction for a security change (a new tool, a higher limit of
        one's own, a new payout card), confirmed like a payment by a code sent to the
        registered mobile, so that a stolen password alone cannot add a tool, lift a
        limit or bind a card.

        The code is checked after the body, so that a change that cannot be made says
        so before a code is sent; with ``first``, before it instead, for a body that
        reaches outside the bank (a card enrolled with its issuer), which must not run
        unconfirmed: the caller then checks what can be refused before asking. ``tools``:
        what may confirm it (``StepUp.confirm``)."""

        def check(session: Session, change: PaymentRequest) -> Callable[[Session], object] | None:
            # A change that moves money (a loan signed and paid out) is a payment to
            # the fraud engine too; where it wants a binding tool, only those confirm.
            risk = self.stepup.risk.assess(session, customer_id, change) if change.amount else None
            needed = self.stepup.binding_tools(tools) if risk is Risk.ELEVATED else tools

            def confirm(s: Session) -> None:
                self.stepup.confirm(s, customer_id, change, challenge_id, tools=needed)

            if not first:
                return confirm
            confirm(session)
            return None

        with self._challenged(
            change,
            customer_id=customer_id,
            challenge_id=challenge_id,
            response=response,
            prefer=None,
            already_done=lambda _: False,
            check=check,
            audit=lambda _: (action, target, None),
        ) as session:
            yield session

    @contextmanager
    def _challenged(
        self,
        payment: PaymentRequest | Callable[[Session], PaymentRequest],
        *,
        customer_id: int,
        challenge_id: str | None,
        response: str | None,
        prefer: ToolKind | None,
        already_done: Callable[[Session], bool],
        check: Callable[[Session, PaymentRequest], Callable[[Session], object] | None],
        audit: Callable[[PaymentRequest], tuple[str, str, dict[str, Any] | None]],
        idempotency: Keyed | None = None,
        ahead: Callable[[Session], object] | None = None,
    ) -> Iterator[Session]:
        """``check`` runs before the body and returns what decides after it (None:
        nothing to decide), raising :class:`ChallengeNeeded` for a challenge;
        ``audit`` says what the audit row of the request says (action, target,
        details)."""
        known_request = payment if isinstance(payment, PaymentRequest) else None

        def request_of(session: Session) -> PaymentRequest:
            nonlocal known_request
            if known_request is None:
                assert not isinstance(payment, PaymentRequest)
                known_request = payment(session)
            return known_request

        def request() -> PaymentRequest:
            assert known_request is not None
            return known_request

        if challenge_id is not None and response is not None:
            with self.transaction() as session:
                request_of(session)
                # A retry of a request done (or refused) before: its challenge is
                # spent, and the ledger (or the key's record) answers as the first time.
                done = already_done(session) or (
                    idempotency is not None and known(session, idempotency)
                )
            if not done:
                self._answer(request(), customer_id, challenge_id, response, audit(request())[1])
        try:
            with self._audited(
                actor_kind="customer",
                actor_id=customer_id,
                audit=lambda: audit(request()),
                idempotency=idempotency,
                prepare=None if known_request is not None else request_of,
                ahead=ahead,
            ) as session:
                decide = check(session, request())
                yield session
                # After the body, so that a request that cannot succeed anyway (no
                # funds, over an account limit) says so before asking for a challenge.
                if decide is not None:
                    decide(session)
        except ChallengeNeeded as needed:
            action = audit(request())[0]
            with self.audited(
                actor_kind="customer",
                actor_id=customer_id,
                target=audit(request())[1],
                action="challenge.open",
                details={"for": action, "amount": request().amount},
            ) as session:
                mobile = self.accounts.customer(session, customer_id).mobile
                challenge = self.stepup.open_challenge(
                    session, customer_id, request(), needed.decision, mobile=mobile, prefer=prefer
                )
            raise ChallengeRequired(challenge=_challenge_details(challenge)) from None

    def _answer(
        self,
        payment: PaymentRequest,
        customer_id: int,
        challenge_id: str,
        response: str,
        target: str,
    ) -> None:
        """Answer a challenge in a transaction of its own, so that a wrong answer's
        failure count is committed before the refusal is raised."""
        with self.transaction() as session:
            answered = self.stepup.answer(session, customer_id, payment, challenge_id, response)
            self.audit.record(
                session,
                actor_kind="customer",
                actor_id=customer_id,
                target=target,
                action="challenge.answer",
                result="refused" if answered.error else "ok",
                details={"challenge": challenge_id[:8], "amount": payment.amount}
                | ({"error": answered.error.code} if answered.error else {}),
            )
        answered.unwrap()

    def audit_login(
        self, session: Session, result: LoginResult, *, login_name: str, ip: str | None
    ) -> None:
        principal = result.new_session.principal if result.new_session else None
        self.audit.record(
            session,
            actor_kind=principal.kind.value if principal else "anonymous",
            actor_id=principal.id if principal else None,
            action="login",
            target=login_name,
            result="ok" if principal else "refused",
            ip=ip,
            details=(
                {}
                if result.error is None
                # A disabled login is refused as a wrong password; the bank is told why.
                else {"error": result.error.code} | ({"disabled": True} if result.disabled else {})
            )
            # Whose login was tried, for their login history (``AuditLog.logins_of``).
            | ({"login_of": f"{owner[0].value}:{owner[1]}"} if (owner := result.login_of) else {}),
        )

    def change_password(
        self, principal: Principal, *, current: str, new: str, ip: str | None
    ) -> int:
        """Change the principal's password (``AuthService.change_password``), audited,
        a wrong current password counted before it is refused; how many other
        sessions ended."""

        def record(session: Session, error: DomainError | None, ended: int = 0) -> None:
            self.audit.record(
                session,
                actor_kind=principal.kind.value,
                actor_id=principal.id,
                action="password.change",
                result="refused" if error else "ok",
                ip=ip,
                details={"error": error.code} if error else {"sessions_ended": ended},
            )

        try:
            with self.transaction() as session:
                personal = (
                    self.accounts.holder(session, principal.id).personal
                    if principal.kind is PrincipalKind.CUSTOMER
                    else ()
                )
                changed = self.auth.change_password(
                    session, principal, current=current, new=new, ip=ip, personal=personal
                )
                record(session, changed.error, changed.sessions_ended)
        except DomainError as error:  # a new password the policy refuses
            with self.transaction() as session:
                record(session, error)
            raise
        return changed.unwrap()

    def start_password_reset(
        self, *, mobile: str, identity_number: str, ip: str | None
    ) -> StartedReset:
        """Start a password reset (``rongbank.auth.reset``), audited; the same answer
        whoever the mobile belongs to."""
        number = parse_mobile(mobile)
        with self.audited(
            actor_kind="anonymous", actor_id=None, action="password.reset.start", target=number
        ) as session:
            return self.password_resets.start(
                session, mobile=number, identity_number=identity_number, ip=ip
            )

    def finish_password_reset(
        self,
        reset_id: str,
        *,
        code: str | None,
        password: str | None,
        challenge_id: str | None,
        response: str | None,
        ip: str | None,
    ) -> int:
        """Check a reset's code and new password (a wrong code counted before it is
        refused), then set the password, confirmed by the customer's token or U盾
        when they hold one (``Platform.confirmed``). How many sessions ended."""
        target = f"password-reset:{reset_id[:8]}"
        with self.transaction() as session:
            checked = self.password_resets.check(session, reset_id, code=code, password=password)
            if checked.error is None:
                strong = self.stepup.strong_tools(session, checked.unwrap())
            else:
                self.audit.record(
                    session,
                    actor_kind="anonymous",
                    actor_id=None,
                    action="password.reset",
                    target=target,
                    result="refused",
                    ip=ip,
                    details={"error": checked.error.code},
                )
        customer_id = checked.unwrap()
        work = (
            self.confirmed(
                self.password_resets.change(customer_id, reset_id),
                customer_id=customer_id,
                challenge_id=challenge_id,
                response=response,
                action="password.reset",
                target=target,
                tools=strong,
            )
            if strong
            else self.audited(
                actor_kind="customer", actor_id=customer_id, action="password.reset", target=target
            )
        )
        with work as session:
            return self.password_resets.finish(session, reset_id, ip=ip)

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
                "hold-expiry": (self.settings.hold_expiry_interval_seconds, self._expire_holds),
                "audit-sealer": (self.settings.audit_seal_interval_seconds, self._seal_audit),
                "funding-resolver": (
                    self.settings.funding_resolve_interval_seconds,
                    self._resolve_funding,
                ),
                "payment-notifier": (
                    self.settings.payment_notify_interval_seconds,
                    self.deliver_notifications,
                ),
                "chat-card-expiry": (
                    self.settings.hold_expiry_interval_seconds,
                    self._expire_cards,
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

    def _seal_audit(self) -> None:
        with self.transaction() as session:
            self.audit.seal(session)

    def _expire_cards(self) -> None:
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

    def _expire_holds(self) -> None:
        with self.transaction() as session:
            expired = self.ledger.expire_due_holds(session)
        if expired:
            logger.info("expired %d pending transfers", expired)

    def deliver_notifications(self) -> None:
        """Send the merchants' due payment notifications (see ``rongbank.payments.notify``)."""
        delivered = deliver_due(self.session_factory, self.payments, self.clock)
        if delivered.failed:
            logger.info("payment notifications not acknowledged: %d", delivered.failed)

    def _resolve_funding(self) -> None:
        resolved = self.funding.resolve_unknown(self.session_factory)
        if resolved != Resolved():
            logger.info("settled funding requests without an answer: %s", resolved)


def _challenge_details(challenge: Challenge) -> dict[str, Any]:
    return {
        "id": challenge.id,
        "tool": challenge.tool.value,
        "question": challenge.question,
        "expires_at": challenge.expires_at.isoformat(),
        "alternatives": [t.value for t in challenge.alternatives],
        "challenges_left": challenge.challenges_left,
    }
