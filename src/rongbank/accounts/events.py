"""What the direct bank announces (see :mod:`rongbank.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rongbank.outbox import Event


@dataclass(frozen=True, kw_only=True)
class TransferMade(Event):
    """Money moved from one e-account to another, the customer's own or someone
    else's (then ``payer_customer_id`` differs from ``payee_customer_id``)."""

    name: ClassVar[str] = "accounts.transfer_made"
    entry_id: int
    """The ledger entry that moved the money."""
    payer_customer_id: int
    payer_account_id: int
    payee_customer_id: int
    payee_account_id: int
    payee_account_tail: str
    amount: int
    currency: str

    @property
    def key(self) -> str:
        return f"ledger:{self.entry_id}"
