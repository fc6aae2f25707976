"""Cards the customer binds at another bank, for top-ups and withdrawals
(:mod:`rongbank.accounts.funding`).

Only the customer's own card may be bound, at most :data:`MAX_BOUND_CARDS` at once; a
card is known by its keyed hash, never stored in full. Binding a card is a security
change the customer confirms (see the funding module's docstring, "Security").
:class:`BoundCards` is mixed into :class:`~rongbank.accounts.funding.FundingService`.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.clearing import ClearingNetwork, ClearingTimeout
from rongbank.accounts.events import PayoutCardBound, PayoutCardUnbound
from rongbank.accounts.rules import NewCardLimit, luhn_valid
from rongbank.accounts.service import AccountsService
from rongbank.auth.tools import PaymentRequest
from rongbank.clock import Clock
from rongbank.errors import Conflict, DomainError, InvalidRequest, NotFound

MAX_BOUND_CARDS = 5
CARD_NUMBER_LENGTHS = range(16, 20)
"""Bank card numbers (ISO/IEC 7812 PANs) issued in China have 16 to 19 digits."""


class CardNumberInvalid(InvalidRequest):
    code = "card_number_invalid"
    message = "The card number is not valid; please check it digit by digit."


class CardHolderMismatch(InvalidRequest):
    """Only the customer's own card may be bound (银发〔2016〕302号)."""

    code = "card_holder_mismatch"
    message = "You can only bind a card in your own name."


class CardAlreadyBound(Conflict):
    code = "card_already_bound"
    message = "This card is already bound to your accounts."


class BoundCardLimitReached(DomainError):
    code = "bound_card_limit_reached"
    status = 422
    message = f"At most {MAX_BOUND_CARDS} cards can be bound; unbind one first."


class CardRefused(DomainError):
    code = "card_refused"
    status = 422
    message = "The card's bank refused the binding."


class ClearingUnavailable(DomainError):
    code = "clearing_unavailable"
    status = 503
    message = "The other bank did not answer in time; nothing was bound. Please try again."


class CardNotFound(NotFound):
    """Also the answer for another customer's card: it tells nothing about it."""

    code = "card_not_found"
    message = "No such bound card."


@dataclass(frozen=True, slots=True)
class CardBinding:
    """A card found fit to bind, and the security change binding it asks the customer
    to confirm: its ``change`` names the card's keyed hash, so that a code confirms
    binding this card and no other."""

    masked: str
    change: PaymentRequest


@dataclass(frozen=True, slots=True)
class BoundCard:
    id: int
    customer_id: int
    masked: str
    """First six and last four digits only (what PCI DSS allows to be shown)."""
    holder_name: str
    bank_name: str | None
    bound_at: datetime


CARD_COLUMNS = "id, customer_id, masked, holder_name, bank_name, bound_at"


def normalise_card_number(card_number: str) -> str:
    """Digits only: full-width digits folded (NFKC), the spaces and dashes people
    type between groups of four removed."""
    folded = unicodedata.normalize("NFKC", card_number)
    return "".join(c for c in folded if c not in " -")


def mask_card_number(number: str) -> str:
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def _name_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


class BoundCards:
    """Binding and unbinding cards, mixed into ``FundingService``; every method takes
    the caller's session and never commits."""

    accounts: AccountsService
    clock: Clock
    network: ClearingNetwork
    new_card: NewCardLimit
    _card_hash_key: bytes

    def card_binding(
        self, session: Session, *, customer_id: int, card_number: str, holder_name: str
    ) -> CardBinding:
        """Check that the card can be bound, asking no one outside the bank (so that a
        mistyped number or another's name is refused before a code is sent), and say
        what binding it asks the customer to confirm."""
        number, _, card_hash = self._checked(session, customer_id, card_number, holder_name)
        masked = mask_card_number(number)
        change = PaymentRequest.security_change(
            customer_id, f"为您的网上银行绑定银行卡{masked}", f"card:{card_hash.hex()}"
        )
        return CardBinding(masked, change)

    def bind_card(
        self, session: Session, *, customer_id: int, card_number: str, holder_name: str
    ) -> BoundCard:
        """Bind the customer's own card at another bank: checked locally, then
        enrolled with its issuer. The issuer is asked before any row is locked. Run
        it only once the change is confirmed (see the module docstring)."""
        number, holder, card_hash = self._checked(session, customer_id, card_number, holder_name)
        try:
            enrolment = self.network.enrol_card(card_number=number, holder_name=holder)
        except ClearingTimeout:
            raise ClearingUnavailable() from None
        if enrolment.token is None:
            raise CardRefused(reason=enrolment.reason)
        # One binding at a time per customer, so that the count and the duplicate
        # check cannot both pass for two concurrent bindings. NO KEY UPDATE leaves
        # inserts referring to the customer (which take KEY SHARE) unblocked.
        session.execute(
            text("SELECT 1 FROM customer WHERE id = :c FOR NO KEY UPDATE"), {"c": customer_id}
        )
        self._check_can_bind(session, customer_id, card_hash)
        row = session.execute(
            text(
                "INSERT INTO bound_card (customer_id, card_hash, masked, holder_name, bank_name, "  # noqa: S608
                "network_token, bound_at) VALUES (:c, :h, :m, :n, :b, :t, :at) "
                f"RETURNING {CARD_COLUMNS}"
            ),
            {
                "c": customer_id,
                "h": card_hash,
                "m": mask_card_number(number),
                "n": holder,
                "b": enrolment.bank_name,
                "t": enrolment.token,
                "at": self.clock.now(),
            },
        ).one()
        card = BoundCard(*row)
        full = card.bound_at + self.new_card.period
        outbox.record(
            session,
            PayoutCardBound(
                card_id=card.id,
                customer_id=card.customer_id,
                card=card.masked,
                bank=card.bank_name or "",
                full_limits_from=full,
                occurred_at=card.bound_at,
            ),
        )
        return card

    def _checked(
        self, session: Session, customer_id: int, card_number: str, holder_name: str
    ) -> tuple[str, str, bytes]:
        """The card's digits, its holder's name as typed and its keyed hash, once it
        is found to be a valid number in the customer's own name that they may bind."""
        number = normalise_card_number(card_number)
        if len(number) not in CARD_NUMBER_LENGTHS or not luhn_valid(number):
            raise CardNumberInvalid()
        holder = " ".join(holder_name.split())
        if _name_key(holder) != _name_key(self.accounts.customer(session, customer_id).name):
            raise CardHolderMismatch()
        card_hash = hmac.new(self._card_hash_key, number.encode(), hashlib.sha256).digest()
        self._check_can_bind(session, customer_id, card_hash)  # spare the issuer a refusal
        return number, holder, card_hash

    @staticmethod
    def _check_can_bind(session: Session, customer_id: int, card_hash: bytes) -> None:
        row = session.execute(
            text(
                "SELECT count(*), coalesce(bool_or(card_hash = :h), false) FROM bound_card "
                "WHERE customer_id = :c AND unbound_at IS NULL"
            ),
            {"c": customer_id, "h": card_hash},
        ).one()
        if row[1]:
            raise CardAlreadyBound()
        if row[0] >= MAX_BOUND_CARDS:
            raise BoundCardLimitReached(maximum=MAX_BOUND_CARDS)

    def cards(self, session: Session, customer_id: int) -> list[BoundCard]:
        rows = session.execute(
            text(
                f"SELECT {CARD_COLUMNS} FROM bound_card "  # noqa: S608
                "WHERE customer_id = :c AND unbound_at IS NULL ORDER BY id"
            ),
            {"c": customer_id},
        ).all()
        return [BoundCard(*row) for row in rows]

    def unbind_card(self, session: Session, *, customer_id: int, card_id: int) -> None:
        """Unbind a card; top-ups and withdrawals already under way still complete."""
        row = session.execute(
            text(
                "UPDATE bound_card SET unbound_at = :at "  # noqa: S608
                "WHERE id = :id AND customer_id = :c AND unbound_at IS NULL "
                f"RETURNING {CARD_COLUMNS}"
            ),
            {"at": self.clock.now(), "id": card_id, "c": customer_id},
        ).first()
        if row is None:
            raise CardNotFound(card_id=card_id)
        card = BoundCard(*row)
        outbox.record(
            session,
            PayoutCardUnbound(
                card_id=card.id,
                customer_id=card.customer_id,
                card=card.masked,
                bank=card.bank_name or "",
                occurred_at=self.clock.now(),
            ),
        )

    @staticmethod
    def live_card(session: Session, customer_id: int, card_id: int) -> tuple[str, datetime]:
        """A bound card's network token and when it was bound."""
        row = session.execute(
            text(
                "SELECT network_token, bound_at FROM bound_card "
                "WHERE id = :id AND customer_id = :c AND unbound_at IS NULL"
            ),
            {"id": card_id, "c": customer_id},
        ).first()
        if row is None:
            raise CardNotFound(card_id=card_id)
        return str(row[0]), row[1]
