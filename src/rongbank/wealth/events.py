"""What wealth products announce (see :mod:`rongbank.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rongbank.outbox import Event


@dataclass(frozen=True, kw_only=True)
class PayoutMade(Event):
    """A holding paid its principal and yield back into the customer's account: at
    maturity (fixed term) or on the customer's redemption (open-ended)."""

    name: ClassVar[str] = "wealth.payout_made"
    holding_id: int
    customer_id: int
    kind: str
    """``maturity`` or ``redemption``."""
    client_id: str
    """The redemption's client id (the holding's for a maturity): one payout each."""
    product: str
    """The product's name."""
    principal: int
    yield_amount: int
    currency: str
    account_tail: str

    @property
    def key(self) -> str:
        return f"wealth:{self.holding_id}:{self.kind}:{self.client_id}"
