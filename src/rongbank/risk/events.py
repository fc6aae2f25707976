"""What the risk centre's parts tell each other (see :mod:`rongbank.outbox`).

Alerts come from several sources (the inline engine on a payment, the AML batch over
the ledger, watch-list screening); analysts work them as cases; a case's decision, or
the customer's own answer to "was this you?", goes back to whoever holds the money.
Each side only records and reads these events, so none calls into another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rongbank.outbox import Event


@dataclass(frozen=True, kw_only=True)
class RiskAlertRaised(Event):
    """Something an analyst should look at: a case is opened from it (or added to the
    customer's open case)."""

    name: ClassVar[str] = "risk.alert_raised"
    source: str
    """``engine`` (a payment scored inline), ``aml`` (a batch finding) or ``screening``."""
    source_ref: str
    """The source's own id for it (the engine's decision id, the AML finding's id)."""
    customer_id: int
    action: str
    """What the source did: ``review`` (the money is held, ``hold_ref`` names the
    hold), ``block`` (refused), ``shadow`` (a rule in shadow mode would have acted) or
    ``report`` (an AML report or pattern: nothing was stopped)."""
    score: float | None = None
    """From 0 to 1, whatever the source's own scale (the engine's 0-100 points are
    divided by 100), so the queue and the charts compare sources on one scale."""
    reasons: str = ""
    """Reason codes, comma-separated (e.g. ``new_device,fan_out``)."""
    amount: int | None = None
    """Minor units of the payment concerned, when there is one."""
    hold_ref: str | None = None
    features: str = ""
    """What the source scored, as a JSON object in text (the engine's features by the
    names its rules use); "" when it has none (AML), and cases keeps its own snapshot."""

    @property
    def key(self) -> str:
        return f"alert:{self.source}:{self.source_ref}"


@dataclass(frozen=True, kw_only=True)
class RiskCaseDecided(Event):
    """An analyst decided a case, or the customer answered "was this you?": what
    holds the money acts on it (releases or voids the hold exactly once)."""

    name: ClassVar[str] = "risk.case_decided"
    decision_ref: str
    """Unique per decision, e.g. ``case:42`` or ``answer:17``."""
    customer_id: int
    outcome: str
    """``fraud`` (confirmed: void what is held, block the tool), ``genuine`` (a false
    positive, or the customer said it was them: release), ``suspicious`` (AML: report,
    keep the hold for the policy) or ``no_action``."""
    source: str
    source_ref: str
    hold_ref: str | None = None
    decided_by: int | None = None
    """The staff member, or None when the customer answered."""

    @property
    def key(self) -> str:
        return f"decided:{self.decision_ref}"
