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
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from rongbank.accounts.clearing import ClearingNetwork, FakeClearingNetwork
from rongbank.accounts.funding import FundingService, Resolved
from rongbank.accounts.rules import load_class_limits
from rongbank.accounts.service import AccountsService
from rongbank.audit.service import AuditLog
from rongbank.auth.service import AuthService, LoginResult
from rongbank.clock import Clock, SystemClock
from rongbank.db import SessionFactory, make_engine, make_session_factory, unit_of_work
from rongbank.errors import DomainError
from rongbank.ledger.batcher import GroupCommitter
from rongbank.ledger.service import LedgerService
from rongbank.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Platform:
    settings: Settings
    session_factory: SessionFactory
    clock: Clock
    ledger: LedgerService
    engine: Engine | None = None
    committer: GroupCommitter | None = None
    """Set when single transfers go through group commit; None means each request's
    own transaction carries its transfer (what tests with rolled-back sessions use)."""
    clearing: ClearingNetwork | None = None
    """The network to other banks; None: the in-memory fake (development and tests)."""
    accounts: AccountsService = field(init=False)
    auth: AuthService = field(init=False)
    funding: FundingService = field(init=False)
    audit: AuditLog = field(init=False)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.accounts = AccountsService(
            self.ledger,
            self.clock,
            limits=load_class_limits(self.settings.account_classes_file),
            number_prefix=self.settings.account_number_prefix,
        )
        self.auth = AuthService(self.clock)
        self.audit = AuditLog(self.clock)
        self.funding = FundingService(
            self.ledger,
            self.accounts,
            self.clock,
            self.clearing or FakeClearingNetwork(clock=self.clock),
            card_hash_key=self._card_hash_key(),
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
            GroupCommitter(ledger, factory, max_batch=settings.group_commit_max_batch)
            if group_commit
            else None
        )
        return cls(settings, factory, clock, ledger, engine=engine, committer=committer)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with unit_of_work(self.session_factory) as session:
            yield session

    @contextmanager
    def audited(
        self,
        *,
        actor_kind: str,
        actor_id: int | None,
        action: str,
        target: str = "",
        details: dict[str, Any] | None = None,
    ) -> Iterator[Session]:
        """A transaction whose outcome is audited: recorded with it when it commits;
        a business refusal is recorded in a transaction of its own, then re-raised."""
        try:
            with self.transaction() as session:
                yield session
                self.audit.record(
                    session,
                    actor_kind=actor_kind,
                    actor_id=actor_id,
                    action=action,
                    target=target,
                    details=details,
                )
        except DomainError as error:
            with self.transaction() as session:
                self.audit.record(
                    session,
                    actor_kind=actor_kind,
                    actor_id=actor_id,
                    action=action,
                    target=target,
                    result="refused",
                    details={**(details or {}), "error": error.code},
                )
            raise

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
            details={"error": result.error.code} if result.error else None,
        )

    def start(self, *, background: bool = True) -> None:
        """Start the group committer and, with ``background``, the periodic jobs."""
        if self.committer is not None:
            self.committer.start()
        if background:
            jobs = {
                "hold-expiry": (self.settings.hold_expiry_interval_seconds, self._expire_holds),
                "audit-sealer": (self.settings.audit_seal_interval_seconds, self._seal_audit),
                "funding-resolver": (
                    self.settings.funding_resolve_interval_seconds,
                    self._resolve_funding,
                ),
            }
            for name, (interval, job) in jobs.items():
                thread = threading.Thread(
                    target=self._repeat, args=(interval, job), name=name, daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if self.committer is not None:
            self.committer.stop()
        if self.engine is not None:
            self.engine.dispose()

    def _card_hash_key(self) -> bytes:
        if self.settings.card_hash_key is not None:
            return self.settings.card_hash_key.get_secret_value().encode()
        # Tests and throwaway platforms: a key for this process only. `rongbank up`
        # always passes the persistent key from the data dir.
        logger.warning("no card hash key configured; using one for this process only")
        return secrets.token_bytes(32)

    def _repeat(self, interval: float, job: Callable[[], None]) -> None:
        while not self._stop.wait(interval):
            try:
                job()
            except Exception:
                logger.exception(
                    "%s failed; retrying next interval", threading.current_thread().name
                )

    def _seal_audit(self) -> None:
        with self.transaction() as session:
            self.audit.seal(session)

    def _expire_holds(self) -> None:
        with self.transaction() as session:
            expired = self.ledger.expire_due_holds(session)
        if expired:
            logger.info("expired %d pending transfers", expired)

    def _resolve_funding(self) -> None:
        resolved = self.funding.resolve_unknown(self.session_factory)
        if resolved != Resolved():
            logger.info("settled funding requests without an answer: %s", resolved)
