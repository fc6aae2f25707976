"""What the direct bank announces (see :mod:`rongbank.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
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


@dataclass(frozen=True, kw_only=True)
class PayoutCardBound(Event):
    """A customer bound a card that withdrawals may go to: a change to where their
    money can be sent, which the customer must hear of whoever made it."""

    name: ClassVar[str] = "accounts.payout_card_bound"
    card_id: int
    customer_id: int
    card: str
    """The card's number masked as the customer sees it."""
    bank: str
    full_limits_from: datetime
    """When the card stops being new (:class:`rongbank.accounts.rules.NewCardLimit`)."""

    @property
    def key(self) -> str:
        return f"card:{self.card_id}:bound"


@dataclass(frozen=True, kw_only=True)
class PayoutCardUnbound(Event):
    """A payout card was unbound: withdrawals can no longer go to it."""

    name: ClassVar[str] = "accounts.payout_card_unbound"
    card_id: int
    customer_id: int
    card: str
    bank: str

    @property
    def key(self) -> str:
        return f"card:{self.card_id}:unbound"


@dataclass(frozen=True, kw_only=True)
class WithdrawalMade(Event):
    """Money left an e-account for a bound card: the card's bank confirmed it."""

    name: ClassVar[str] = "accounts.withdrawal_made"
    request_id: int
    """The funding request that carried it."""
    customer_id: int
    card_id: int
    card: str
    bank: str
    account_tail: str
    amount: int
    currency: str

    @property
    def key(self) -> str:
        return f"funding:{self.request_id}"


@dataclass(frozen=True, kw_only=True)
class ScheduledTransferFailed(Event):
    """A scheduled transfer the bank was to make for the customer on a day was refused
    (no funds, a limit, a frozen or closed account): nothing moved, and the customer,
    who counted on it, must hear of it."""

    name: ClassVar[str] = "accounts.scheduled_transfer_failed"
    schedule_id: int
    occurrence: date
    """The Beijing date the transfer fell due."""
    customer_id: int
    account_tail: str
    """The last four digits of the account it was to be paid from."""
    payee_tail: str
    amount: int
    currency: str
    reason: str
    """The refusal's code (``insufficient_funds``, ``daily_limit_exceeded``...)."""

    @property
    def key(self) -> str:
        return f"scheduled:{self.schedule_id}:{self.occurrence.isoformat()}:failed"


@dataclass(frozen=True, kw_only=True)
class CustomerRegistered(Event):
    """A person or an enterprise became a customer, under these names: what
    watch-list screening looks at (``rongbank.risk.watchlist.screening``)."""

    name: ClassVar[str] = "accounts.customer_registered"
    customer_id: int
    kind: str
    """``person`` or ``enterprise``."""
    customer_name: str
    legal_rep_name: str | None = None
    """An enterprise's legal representative."""

    @property
    def key(self) -> str:
        return f"customer:{self.customer_id}:registered"


@dataclass(frozen=True, kw_only=True)
class PayeeSaved(Event):
    """A customer saved another account as a payee: the account holder's full name
    is what screening looks at (the customer's own name for the payee is theirs)."""

    name: ClassVar[str] = "accounts.payee_saved"
    payee_id: int
    customer_id: int
    holder_name: str

    @property
    def key(self) -> str:
        return f"payee:{self.payee_id}:saved"
