"""The risk desk as the platform holds it: the cases, the customers' questions, and
the periodic job that files new alerts (``rongbank up``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

from rongbank.accounts.service import AccountsService
from rongbank.audit.service import AuditLog
from rongbank.auth.tools import ToolService
from rongbank.chat.push import PushService
from rongbank.clock import Clock
from rongbank.risk.cases.intake import Filed, file_alerts
from rongbank.risk.cases.questions import Questions
from rongbank.risk.cases.service import Cases

logger = logging.getLogger(__name__)

Transaction = Callable[[], AbstractContextManager[Session]]

INTERVAL_SECONDS = 2.0
"""How often new alerts are filed: a held payment's customer is asked within seconds."""


class RiskDesk:
    def __init__(
        self,
        clock: Clock,
        *,
        accounts: AccountsService,
        tools: ToolService,
        audit: AuditLog,
        push: PushService,
    ) -> None:
        self.cases = Cases(clock, accounts=accounts, tools=tools, audit=audit)
        self.questions = Questions(clock, push=push, tools=tools)

    def file(self, transaction: Transaction, *, batch: int = 200, batches: int = 20) -> Filed:
        """File the alerts waiting in the outbox, a batch per transaction."""
        total = Filed(0, 0, 0)
        for _ in range(batches):
            with transaction() as session:
                done = file_alerts(session, self.questions, limit=batch)
            total = Filed(
                total.events + done.events,
                total.alerts + done.alerts,
                total.questions + done.questions,
            )
            if done.events < batch:
                break
        if total.alerts:
            logger.info("risk alerts filed: %s", total)
        return total

    def job(self, transaction: Transaction) -> tuple[float, Callable[[], None]]:
        """Filing as a periodic job of ``rongbank up``: its interval and its run."""

        def run() -> None:
            self.file(transaction)

        return INTERVAL_SECONDS, run
