"""What e-Pay announces (see :mod:`rongbank.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rongbank.outbox import Event


@dataclass(frozen=True, kw_only=True)
class PaymentMade(Event):
    """A customer paid a merchant: ``paid`` (the money is the merchant's, to settle)
    or ``authorised`` (held on the customer's account until the merchant captures
    it or the hold runs out)."""

    name: ClassVar[str] = "payments.payment_made"
    payment_id: int
    customer_id: int
    e_account_id: int
    account_tail: str
    merchant_id: int
    merchant: str
    """The merchant's name, as the customer saw it when paying."""
    amount: int
    currency: str
    status: str
    """``paid`` or ``authorised``."""

    @property
    def key(self) -> str:
        return f"epay-paid:{self.payment_id}"


@dataclass(frozen=True, kw_only=True)
class PaymentRefunded(Event):
    """A merchant gave back (part of) a payment: the amount is in the payer's
    account again."""

    name: ClassVar[str] = "payments.payment_refunded"
    refund_id: int
    payment_id: int
    customer_id: int
    merchant_id: int
    merchant: str
    amount: int
    currency: str

    @property
    def key(self) -> str:
        return f"epay-refund:{self.refund_id}"
