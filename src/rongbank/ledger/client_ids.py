"""Ledger client ids: one namespace per kind of movement, so that two different
requests never build the same id.

An entry's client id is unique in the whole ledger and makes its movement once only:
a retry finds the entry by it. Every path that writes entries builds its ids with
:meth:`Namespace.client_id`, as ``namespace:part:...:last``:

- the namespace (:class:`Namespace`) says what kind of movement it is and whose key
  makes it once only; it has no ``:``, so it is exactly the id's first segment, and
  two namespaces never share an id;
- every part but the last is a number or a fixed word, without ``:`` either;
- only the last part may be any text (a customer's own key, a merchant's refund
  number), and a namespace whose last part is such text always has the same number
  of parts.

So an id names its namespace and parts unambiguously: text a customer or a merchant
chose is only ever the tail of an id in its own namespace, under its owner. A
customer's transfer key ``card:7`` is ``xfer:42:card:7``, never card 7's payment
(``chat-card:7``). The back office's ids (the ledger API's, chosen by staff) may not
begin with a namespace (:func:`check_not_reserved`).

The namespaces keep the forms the paths wrote before, so that the ids already stored
still answer their retries; ``chat-card`` is new, and no customer path could write
an id in it before (a card's payment was ``xfer:<customer>:card:<id>`` then, in the
customer's own keys, where an API key could meet it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum, unique

from rongbank.ledger.errors import ClientIdReserved


@unique
class Namespace(StrEnum):
    """The first segment of every client id written by the bank itself; each member
    says its parts."""

    SYSTEM = "sys"
    """The ledger's own entries: ``sys:expire:<pending entry>``."""
    TRANSFER = "xfer"
    """A customer's transfer: ``xfer:<customer>:<the customer's key>`` (an API
    client's key, or the one-off key a web bank form carries)."""
    CHAT_CARD = "chat-card"
    """A 融e联 service card's payment, a transfer or a purchase: ``chat-card:<card>``.
    One card, at most one payment; not a key the customer chose."""
    SCHEDULED_TRANSFER = "scheduled"
    """One occurrence of a scheduled transfer, made by the bank for the customer:
    ``scheduled:<schedule>:<YYYY-MM-DD>``. One schedule, one payment a date; not a
    key the customer chose."""
    WEALTH_PURCHASE = "wealth"
    """A customer's wealth purchase: ``wealth:<customer>:<the customer's key>``."""
    WEALTH_PAYOUT = "wealth-payout"
    """A wealth payout's legs: the principal ``wealth-payout:<payout>``, the yield
    ``wealth-payout:<payout>:yield``."""
    FUNDING = "funding"
    """A top-up or withdrawal: ``funding:<request>:<hold|void|post|credit>``."""
    EPAY = "epay"
    """An e-Pay payment (or its authorisation hold): ``epay:<payment>``."""
    EPAY_CAPTURE = "epay-capture"
    """``epay-capture:<payment>``."""
    EPAY_VOID = "epay-void"
    """``epay-void:<payment>``."""
    EPAY_REFUND = "epay-refund"
    """``epay-refund:<payment>:<the merchant's refund number>``."""
    EPAY_SETTLEMENT = "epay-settle"
    """A merchant's day settled: ``epay-settle:<merchant>:<YYYY-MM-DD>``."""
    INTEREST = "interest"
    """Interest paid: ``interest:<account number>:<period end YYYY-MM-DD>``."""
    LOAN = "loan"
    """A loan's disbursement: ``loan:<customer>:<the customer's key>``."""
    LOAN_REPAYMENT = "loan-repay"
    """A repayment of a loan: ``loan-repay:<loan>:<the customer's key>`` (the end of
    day's auto-debit: ``auto:<YYYY-MM-DD>``)."""
    LENDING_EOD = "lending-eod"
    """The end of day's entries for the whole book: ``lending-eod:<YYYY-MM-DD>:<what>``."""
    MALL_RELEASE = "mall-release"
    """A 融e购 order's money released to its seller: ``mall-release:<order>``."""
    MALL_CLAWBACK = "mall-clawback"
    """A 融e购 refund after release taken back into the clearing: ``mall-clawback:<return>``;
    what the seller owed taken from a settlement: ``mall-clawback:settle:<merchant>:<day>``."""
    INVEST = "invest"
    """e-Invest: ``invest:trade:<customer>:<key>``, ``invest:fill:<journal seq>:<n>``,
    ``invest:order:<order>:<reserve|release|...>``."""
    DEMO = "demo"
    """A demo customer's opening balance: ``demo:fund:<account number>``."""
    RISK_HOLD = "risk-hold"
    """A payment held for review, posted or voided: ``risk-hold:post:<pending entry>``
    or ``risk-hold:void:<pending entry>`` (``rongbank.risk.engine.holds``)."""

    def client_id(self, *parts: int | str) -> str:
        """``namespace:part:...``. Every part but the last must be a number or a word
        without ``:`` (a bug otherwise: the id would read as other parts); the last
        may be any text."""
        if not parts:
            raise ValueError("a client id needs at least one part after its namespace")
        texts = [str(part) for part in parts]
        if any(not text or ":" in text for text in texts[:-1]):
            raise ValueError(f"only the last part of a client id may hold ':': {texts!r}")
        return ":".join([self.value, *texts])


def is_reserved(text: str) -> bool:
    """Whether ``text`` lies in a namespace of the bank's own ids."""
    head, colon, _ = text.partition(":")
    return bool(colon) and head in _NAMESPACES


def check_not_reserved(text: str) -> None:
    """Refuse a client id chosen outside the bank's paths (the ledger API's) that lies
    in one of their namespaces: it could take the id of a customer's transfer yet to
    come, and the customer's request would then be answered with it."""
    if is_reserved(text):
        raise ClientIdReserved(namespace=text.partition(":")[0])


_NAMESPACES = frozenset(n.value for n in Namespace)


@dataclass(frozen=True, slots=True)
class CardKey:
    """What makes a 融e联 service card's payment (a transfer or a purchase) once only:
    the card itself. A customer's own key is plain text; a card's key is this, so
    that the two can never be taken for each other."""

    card_id: int

    def __str__(self) -> str:
        return Namespace.CHAT_CARD.client_id(self.card_id)


@dataclass(frozen=True, slots=True)
class OccurrenceKey:
    """What makes one occurrence of a scheduled transfer once only: the schedule and
    the date it fell due, so that the job run again (or in two processes) never
    pays that date twice."""

    schedule_id: int
    occurrence: date

    def __str__(self) -> str:
        return Namespace.SCHEDULED_TRANSFER.client_id(self.schedule_id, self.occurrence.isoformat())


RequestKey = str | CardKey | OccurrenceKey
"""The key of a customer's money-moving request: the customer's own (an API
client's, a web form's), a card's, or a scheduled transfer's occurrence."""


def request_id(namespace: Namespace, customer_id: int, key: RequestKey) -> str:
    """The ledger client id of a customer's request of the kind ``namespace``
    (``TRANSFER``, ``WEALTH_PURCHASE``): the customer's own key under the customer;
    a card's payment in the cards' namespace, whatever it pays for; an occurrence in
    the schedules'."""
    if isinstance(key, CardKey | OccurrenceKey):
        return str(key)
    return namespace.client_id(customer_id, key)
