"""A service card as the bank keeps it (``chat_card``) and as members see it; its
row read, shown, and closed with its outcome posted into the conversation. The card's
vocabulary is in :mod:`rongbank.chat.cards`."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import AccountsService
from rongbank.chat import rules
from rongbank.chat.airline import Airline
from rongbank.chat.errors import CardNotFound, FlightsNotOffered
from rongbank.chat.service import CUSTOMER, ChatService, Member
from rongbank.clock import Clock
from rongbank.ledger.client_ids import CardKey
from rongbank.money import format_amount
from rongbank.payments.service import PaymentsService
from rongbank.wealth import rules as wealth_rules
from rongbank.wealth.service import Product, WealthService

CNY_SCALE = 2


_ACCOUNT_NUMBERS = "rongbank.chat.account_numbers"
"""``session.info`` key of the account numbers a session has read (``_number``)."""


class CardKind(StrEnum):
    TRANSFER = "transfer"
    REQUEST = "request"
    MERCHANT_ORDER = "merchant_order"
    WEALTH = "wealth"
    FLIGHT = "flight"


HELD = "held_entry"
"""In an open card's outcome: the ledger entry of its transfer, held for review."""


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    conversation_id: int
    seq: int
    sender_kind: str
    sender_id: int
    client_id: str
    kind: str
    actor_id: int
    amount: int | None
    currency: str
    payer_account_id: int | None
    payee_account_id: int | None
    merchant_id: int | None
    order_no: str | None
    product_id: int | None
    offer: dict[str, Any] | None
    hold_ref: str | None
    note: str
    status: str
    """``open``; ``booking`` (a flight paid and held, the airline not yet
    confirmed); then one of ``paid``, ``booked``, ``declined``, ``expired``,
    ``failed``."""
    outcome: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    booking_since: datetime | None
    """When a flight card's fare was authorised (it became ``booking``)."""
    confirming_by: str | None
    """The claim of the process confirming a ``booking`` card with the airline (a
    token of its own), so that one card is finished once; None: nobody is."""
    confirming_until: datetime | None
    """When that claim lapses (its process stopped): then another may take it."""

    @property
    def payment_key(self) -> CardKey:
        """The key of the card's payment: one card, at most one payment. The card's
        own, never one of the customer's keys (``rongbank.ledger.client_ids``)."""
        return CardKey(self.id)

    @property
    def order_ref(self) -> str:
        """The e-Pay order number of a flight card's payment to the airline."""
        return f"chat-card-{self.id}"


CARD_COLUMNS = ", ".join(f.name for f in fields(Card))
"""The columns a :class:`Card` is read from (``Card(*row)``)."""


class CardStore:
    """What every part of :class:`~rongbank.chat.cards.CardService` stands on: the
    services a card reaches, its row and its view."""

    def __init__(
        self,
        chat: ChatService,
        accounts: AccountsService,
        payments: PaymentsService,
        wealth: WealthService,
        clock: Clock,
        *,
        airline: Airline,
        airline_merchant_id: int | None = None,
    ) -> None:
        self.chat = chat
        self.accounts = accounts
        self.payments = payments
        self.wealth = wealth
        self.clock = clock
        self.airline = airline
        self.airline_merchant_id = airline_merchant_id
        """The e-Pay merchant whose account the airline is paid into; None: no
        flight booking at this bank."""

    # -- reading -------------------------------------------------------------------------

    def card(self, session: Session, member: Member, *, conversation_id: int, card_id: int) -> Card:
        """A card of a conversation the member is in (404 for anyone else)."""
        self.chat.membership(session, member, conversation_id)
        return self._get(session, conversation_id, card_id)

    def _get(
        self, session: Session, conversation_id: int, card_id: int, *, lock: bool = False
    ) -> Card:
        row = session.execute(
            text(
                f"SELECT {CARD_COLUMNS} FROM chat_card WHERE id = :id AND conversation_id = :c"  # noqa: S608
                + (" FOR UPDATE" if lock else "")
            ),
            {"id": card_id, "c": conversation_id},
        ).first()
        if row is None:
            raise CardNotFound()
        return Card(*row)

    def view(self, session: Session, card: Card) -> dict[str, Any]:
        """The card as every member of the conversation sees it: what a client needs
        to draw it and its state (``CardOut`` documents the shape). Account numbers
        show their last four digits only; a person's family name is hidden."""
        money = None if card.amount is None else format_amount(card.amount, scale=CNY_SCALE)
        out: dict[str, Any] = {
            "id": card.id,
            "conversation_id": card.conversation_id,
            "seq": card.seq,
            "kind": card.kind,
            "status": card.status,
            "sender": {"kind": card.sender_kind, "id": card.sender_id},
            "actor": {"kind": CUSTOMER, "id": card.actor_id},
            "amount": money,
            "currency": card.currency,
            "note": card.note,
            "payer_account": None,
            "payee_account": None,
            "payee_name": None,
            "merchant": None,
            "product": None,
            "flight": None,
            "created_at": card.created_at.isoformat(),
            "expires_at": card.expires_at.isoformat(),
            "closed_at": card.closed_at.isoformat() if card.closed_at else None,
            "outcome": card.outcome,
        }
        if card.payer_account_id is not None:
            out["payer_account"] = self._account_tail(session, card.payer_account_id)
        if card.payee_account_id is not None:
            out["payee_account"] = self._account_tail(session, card.payee_account_id)
            owner = session.execute(
                text(
                    "SELECT c.name FROM e_account a JOIN customer c ON c.id = a.customer_id "
                    "WHERE a.id = :id"
                ),
                {"id": card.payee_account_id},
            ).scalar_one()
            out["payee_name"] = rules.mask_name(str(owner))
        if card.merchant_id is not None and card.kind == CardKind.MERCHANT_ORDER:
            merchant = self.payments.merchant(session, card.merchant_id)
            out["merchant"] = {
                "number": merchant.number,
                "name": merchant.name,
                "order_no": card.order_no,
            }
        if card.product_id is not None:
            row = session.execute(
                text("SELECT code FROM wealth_product WHERE id = :id"), {"id": card.product_id}
            ).scalar_one()
            product = self.wealth.product(session, str(row))
            out["product"] = {
                "code": product.code,
                "name": product.name,
                "risk_level": product.risk_level,
                "risk_label": wealth_rules.RISK_LEVELS[product.risk_level],
                "expected_yield": wealth_rules.format_yield(product.yield_bps),
                "min_amount": format_amount(product.min_amount, scale=CNY_SCALE),
                "step_amount": format_amount(product.step_amount, scale=CNY_SCALE),
                "sale_end": product.sale_end.isoformat(),
                "cutoff": f"{self.wealth.cutoff_of(product):%H:%M}",
            }
        if card.offer is not None:
            flight = {k: v for k, v in card.offer.items() if k != "fare"}
            out["flight"] = flight | {"fare": format_amount(card.offer["fare"], scale=CNY_SCALE)}
        return out

    def _body(self, session: Session, card: Card) -> str:
        return json.dumps({"card": self.view(session, card)}, ensure_ascii=False)

    def _account_tail(self, session: Session, account_id: int) -> str:
        return self._number(session, account_id)[-4:]

    def _number(self, session: Session, account_id: int | None) -> str:
        assert account_id is not None
        # An account's number never changes (nor is an id used again): read once per
        # session, though a card's payment, its action and its posts each ask.
        numbers: dict[int, str] = session.info.setdefault(_ACCOUNT_NUMBERS, {})
        number = numbers.get(account_id)
        if number is None:
            number = numbers[account_id] = str(
                session.execute(
                    text("SELECT number FROM e_account WHERE id = :id"), {"id": account_id}
                ).scalar_one()
            )
        return number

    # -- changing: the outcome recorded and posted into the conversation ------------------

    def _mark_held(self, session: Session, card: Card, entry_id: int) -> Card:
        row = session.execute(
            text(
                "UPDATE chat_card SET outcome = CAST(:o AS jsonb) "  # noqa: S608
                f"WHERE id = :id RETURNING {CARD_COLUMNS}"
            ),
            {"o": json.dumps({HELD: entry_id}), "id": card.id},
        ).one()
        return Card(*row)

    def _close(self, session: Session, card: Card, status: str, outcome: dict[str, Any]) -> Card:
        """Record the card's outcome and post it into the conversation, referencing
        the card's message."""
        row = session.execute(
            text(
                "UPDATE chat_card SET status = :s, outcome = CAST(:o AS jsonb), "  # noqa: S608
                "closed_at = :now, confirming_by = NULL, confirming_until = NULL "
                f"WHERE id = :id RETURNING {CARD_COLUMNS}"
            ),
            {"s": status, "o": json.dumps(outcome), "now": self.clock.now(), "id": card.id},
        ).one()
        closed = Card(*row)
        self._post_state(session, closed)
        return closed

    def _post_state(self, session: Session, card: Card) -> None:
        conversation = self.chat.conversation(session, card.conversation_id, lock=True)
        self.chat.append(
            session,
            conversation,
            sender=None,
            client_id=f"card:{card.id}:{card.status}",
            kind="card",
            body=self._body(session, card),
            ref_seq=card.seq,
        )

    @staticmethod
    def _amount(card: Card) -> int:
        assert card.amount is not None
        return card.amount

    def _order_of(self, card: Card) -> tuple[int, str]:
        if card.kind == CardKind.FLIGHT:
            if self.airline_merchant_id is None:
                raise FlightsNotOffered()
            return self.airline_merchant_id, card.order_ref
        assert card.merchant_id is not None
        assert card.order_no is not None
        return card.merchant_id, card.order_no

    def _product(self, session: Session, card: Card) -> Product:
        code = session.execute(
            text("SELECT code FROM wealth_product WHERE id = :id"), {"id": card.product_id}
        ).scalar_one()
        return self.wealth.product(session, str(code))
