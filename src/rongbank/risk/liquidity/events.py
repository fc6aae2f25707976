"""What liquidity monitoring announces (see :mod:`rongbank.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rongbank.outbox import Event


@dataclass(frozen=True, kw_only=True)
class OutflowAlertRaised(Event):
    """Customers took more money out of the bank in a few minutes than the monitor's
    threshold allows: a network bank run may be starting (amounts in fen)."""

    name: ClassVar[str] = "risk.liquidity_outflow_alert"
    alert_id: int
    window_start: datetime
    window_end: datetime
    net_outflow: int
    deposits: int
    hqla: int
    threshold: str
    """``deposits`` or ``hqla``: the share that was crossed."""

    @property
    def key(self) -> str:
        return f"risk-liquidity-outflow:{self.window_start.isoformat()}"
