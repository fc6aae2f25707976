"""What watch-list screening announces (see :mod:`rongbank.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rongbank.outbox import Event


@dataclass(frozen=True, kw_only=True)
class ScreeningHit(Event):
    """A customer or a saved payee scored at or above the threshold against a watch
    list: a row of ``screening_hits`` waits for an analyst (the alert a case is
    opened from)."""

    name: ClassVar[str] = "risk.screening_hit"
    hit_id: int
    subject: str
    """``customer`` or ``payee``."""
    subject_id: int
    customer_id: int
    list_name: str
    score: float

    @property
    def key(self) -> str:
        return f"screening:{self.hit_id}"
