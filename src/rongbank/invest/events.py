"""What e-Invest announces (see :mod:`rongbank.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rongbank.outbox import Event


@dataclass(frozen=True, kw_only=True)
class MarginCall(Event):
    """A customer's margin ratio fell below the warning line (60%): they are told to
    add margin or reduce their shorts before the bank closes them (20%)."""

    name: ClassVar[str] = "invest.margin_call"
    customer_id: int
    ratio_bps: int
    journal: str
    """The journal position of the tick that found it."""

    @property
    def key(self) -> str:
        return f"invest:margin-call:{self.journal}"
