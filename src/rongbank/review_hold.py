"""A payment the risk engine sends to review: its money held, not moved.

The engine decides before the body of a payment runs (``Platform.authorised``); the
body is what builds the ledger transfer. So the engine asks here, on the session of
the payment's transaction, and a body that can hold (a customer's transfer, an e-Pay
payment) takes the request and makes its transfer pending, then tells the engine
which hold it made (:attr:`ReviewHold.held`), still in the same transaction. Neither
side imports the other: the request lives on the session, and this module knows no
domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

_KEY = "rongbank.review_hold"


class Held(Protocol):
    def __call__(
        self, session: Session, ref: str, entry_id: int, *, keep_pending: bool = False
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ReviewHold:
    held: Held
    """Called with the pending transfer's client id and entry id once it is made;
    ``keep_pending``: a release leaves the transfer pending, for its owner to post
    (an e-Pay authorisation, which the merchant captures), rather than posting it."""


def ask(session: Session, hold: ReviewHold) -> None:
    session.info[_KEY] = hold


def take(session: Session) -> ReviewHold | None:
    """The hold asked for this payment, if any (asked once: taking clears it)."""
    hold: ReviewHold | None = session.info.pop(_KEY, None)
    return hold
