"""Service cards: chat messages that open an action, each one usable once.

The vocabulary:

- ``transfer`` ("转账"): a customer offers to send money to the other customer of a
  direct conversation; the sender confirms it (with their authentication tool when
  the step-up rules ask) and the money goes to the recipient's receiving account
  (their first active e-account);
- ``request`` ("收款"): a customer asks the other to pay into one of the sender's
  accounts; the other pays it from one of theirs;
- ``merchant_order``: the customer behind an e-Pay merchant sends one of its open
  orders; the other pays it exactly as on e-Pay's pay page;
- ``wealth``: bank staff (the account manager) offer a wealth product with a buy
  button; the customer chooses the amount;
- ``flight``: staff send an airline's fare (工银e商友 business travel); booking holds
  a seat, takes the fare in e-Pay to the airline's merchant account (held), confirms
  with the airline and only then captures; if the airline fails, the hold is voided
  and the seat released (:mod:`rongbank.chat.booking`: no transaction is held while
  the airline answers; a claim on the card makes sure it is finished once).

Each card names the one customer who may act on it (the **actor**), lapses at
``expires_at``, and is used once: acting locks its row, so a second use (even at the
same moment) finds it closed and is refused with ``chat_card_used``. Money moves
through the same services as anywhere else (``AccountsService.transfer``,
``PaymentsService.pay_order``, ``WealthService.buy``), inside ``Platform.authorised``
at the boundary (:mod:`rongbank.chat.card_endpoints`), so limits and step-up apply
unchanged; the card's id is the payment's client id, so it can never pay twice.

The card is a message of kind ``card`` whose body is the card as JSON (see
``rongbank.chat.schemas.CardOut``); every change of its state is another ``card``
message whose ``ref_seq`` is the card's message, with the card as it is now. Messages
cannot be updated, so the state itself lives in ``chat_card``.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.errors import AccountNumberInvalid, EAccountNotFound, NotYourAccount
from rongbank.accounts.service import AccountsService, EAccount
from rongbank.auth.tools import PaymentRequest
from rongbank.chat import rules
from rongbank.chat.airline import Airline, FlightOffer, SeatHold
from rongbank.chat.errors import (
    CardAccountRequired,
    CardAmountRequired,
    CardExpired,
    CardNotAllowedHere,
    CardNotForYou,
    CardNotFound,
    CardUsed,
    ConversationNotFound,
    FlightSearchInvalid,
    FlightsNotOffered,
    FlightUnavailable,
    MerchantNotYours,
    NoReceivingAccount,
)
from rongbank.chat.records import Conversation
from rongbank.chat.service import CUSTOMER, STAFF, ChatService, Member
from rongbank.clock import Clock
from rongbank.ledger.client_ids import CardKey
from rongbank.money import format_amount
from rongbank.payments.errors import OrderNotPayable
from rongbank.payments.service import OrderRequest, PaymentsService
from rongbank.wealth import rules as wealth_rules
from rongbank.wealth.errors import AssessmentRequired, ProductNotOnSale
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


_CARD = ", ".join(f.name for f in fields(Card))


class CardService:
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

    # -- sending -------------------------------------------------------------------------

    def send_transfer(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        client_id: str,
        account: str,
        amount: int,
        note: str = "",
    ) -> tuple[Card, bool]:
        """Offer ``amount`` from one of the sender's accounts to the other customer."""

        def draft(conversation: Conversation) -> dict[str, Any]:
            other = self._direct_other(session, member, conversation)
            payer = self._own_account(session, member.id, account)
            payee = self._receiving_account(session, other)
            return {
                "actor_id": member.id,
                "amount": amount,
                "payer_account_id": payer.id,
                "payee_account_id": payee.id,
                "note": note,
                "expires_at": rules.card_expiry(self.clock.now(), rules.CARD_TTL),
            }

        return self._send(session, member, conversation_id, client_id, CardKind.TRANSFER, draft)

    def send_request(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        client_id: str,
        account: str,
        amount: int,
        note: str = "",
    ) -> tuple[Card, bool]:
        """Ask the other customer to pay ``amount`` into one of the sender's accounts."""

        def draft(conversation: Conversation) -> dict[str, Any]:
            other = self._direct_other(session, member, conversation)
            payee = self._own_account(session, member.id, account)
            return {
                "actor_id": other,
                "amount": amount,
                "payee_account_id": payee.id,
                "note": note,
                "expires_at": rules.card_expiry(self.clock.now(), rules.CARD_TTL),
            }

        return self._send(session, member, conversation_id, client_id, CardKind.REQUEST, draft)

    def send_merchant_order(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        client_id: str,
        merchant_id: int,
        order_no: str,
    ) -> tuple[Card, bool]:
        """Send an open e-Pay order of the sender's own merchant to the other customer."""

        def draft(conversation: Conversation) -> dict[str, Any]:
            other = self._direct_other(session, member, conversation)
            merchant = self.payments.merchant(session, merchant_id)
            if merchant.customer_id != member.id:
                raise MerchantNotYours()
            self.payments.active_merchant(session, merchant_id)
            order = self.payments.get(session, merchant_id=merchant_id, order_no=order_no)
            now = self.clock.now()
            if order.status != "created" or order.expires_at <= now:
                raise OrderNotPayable(status=order.status)
            if order.channel != "online" or order.customer_id not in (None, other):
                raise CardNotAllowedHere("Only an online order open to this customer can be sent.")
            return {
                "actor_id": other,
                "amount": order.amount,
                "merchant_id": merchant.id,
                "order_no": order.order_no,
                "expires_at": rules.card_expiry(now, rules.CARD_TTL, order.expires_at),
            }

        return self._send(
            session, member, conversation_id, client_id, CardKind.MERCHANT_ORDER, draft
        )

    def send_wealth(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        client_id: str,
        product_code: str,
        to_customer_id: int | None = None,
        note: str = "",
    ) -> tuple[Card, bool]:
        """Staff offer a wealth product on sale to a customer of the conversation."""

        def draft(conversation: Conversation) -> dict[str, Any]:
            actor = self._served_customer(session, member, conversation, to_customer_id)
            product = self.wealth.product(session, product_code)
            now = self.clock.now()
            if not product.sale_start <= now < product.sale_end:
                raise ProductNotOnSale(
                    sale_start=product.sale_start.isoformat(),
                    sale_end=product.sale_end.isoformat(),
                )
            # Suitability rules forbid offering a product above the customer's assessed
            # risk level. A customer not (or no longer) assessed may still be offered
            # it: buying asks them to take the assessment first.
            with contextlib.suppress(AssessmentRequired):
                self.wealth.check_suitable(session, customer_id=actor, product=product)
            return {
                "actor_id": actor,
                "product_id": product.id,
                "note": note,
                "expires_at": rules.card_expiry(now, rules.WEALTH_CARD_TTL, product.sale_end),
            }

        return self._send(session, member, conversation_id, client_id, CardKind.WEALTH, draft)

    def search_flights(self, *, origin: str, destination: str, day: date) -> list[FlightOffer]:
        if self.airline_merchant_id is None:
            raise FlightsNotOffered()
        if not all(re.fullmatch("[A-Za-z]{3}", code.strip()) for code in (origin, destination)):
            raise FlightSearchInvalid()
        return self.airline.search(origin=origin, destination=destination, day=day)

    def send_flight(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        client_id: str,
        origin: str,
        destination: str,
        day: date,
        offer_id: str,
        to_customer_id: int | None = None,
    ) -> tuple[Card, bool]:
        """Staff send one of the airline's current fares (found by searching the
        route again: the card carries the airline's offer, not the client's)."""

        def draft(conversation: Conversation) -> dict[str, Any]:
            actor = self._served_customer(session, member, conversation, to_customer_id)
            offers = self.search_flights(origin=origin, destination=destination, day=day)
            offer = next((o for o in offers if o.offer_id == offer_id), None)
            if offer is None:
                raise FlightUnavailable(offer_id=offer_id)
            return {
                "actor_id": actor,
                "amount": offer.fare,
                "offer": offer.to_json(),
                "expires_at": rules.card_expiry(self.clock.now(), rules.CARD_TTL, offer.expires_at),
            }

        return self._send(session, member, conversation_id, client_id, CardKind.FLIGHT, draft)

    def _send(
        self,
        session: Session,
        member: Member,
        conversation_id: int,
        client_id: str,
        kind: CardKind,
        draft: Any,
    ) -> tuple[Card, bool]:
        """Post a card once per ``client_id`` (a resend answers the original), with the
        same checks as a text message (``ChatService.admit``: membership, the log's
        lock, blocks, the rate limit; a refused draft rolls the token back with it)."""
        admitted = self.chat.admit(
            session, member, conversation_id=conversation_id, client_id=client_id, kind="card"
        )
        if not isinstance(admitted, Conversation):  # a resend: the card sent before
            existing = self._by_client_id(session, conversation_id, member, client_id)
            if existing is None:  # the client id of a plain message of the sender's
                raise CardNotAllowedHere("This client_id was used for another message.")
            return existing, False
        conversation = admitted
        values = draft(conversation)
        card_id = int(
            session.execute(
                text("SELECT nextval(pg_get_serial_sequence('chat_card', 'id'))")
            ).scalar_one()
        )
        now = self.clock.now()
        card = Card(
            **{
                "id": card_id,
                "conversation_id": conversation_id,
                "seq": 0,
                "sender_kind": member.kind,
                "sender_id": member.id,
                "client_id": client_id,
                "kind": kind.value,
                "amount": None,
                "currency": "CNY",
                "payer_account_id": None,
                "payee_account_id": None,
                "merchant_id": None,
                "order_no": None,
                "product_id": None,
                "offer": None,
                "hold_ref": None,
                "note": "",
                "status": "open",
                "outcome": {},
                "created_at": now,
                "closed_at": None,
                "booking_since": None,
                "confirming_by": None,
                "confirming_until": None,
                **values,
            }
        )
        message = self.chat.append(
            session,
            conversation,
            sender=member,
            client_id=client_id,
            kind="card",
            body=self._body(session, card),
        )
        card = replace(card, seq=message.seq)
        columns = [f.name for f in fields(Card)]
        session.execute(
            text(
                f"INSERT INTO chat_card ({', '.join(columns)}) OVERRIDING SYSTEM VALUE "  # noqa: S608
                f"VALUES ({', '.join(':' + c for c in columns)})"
            ),
            {
                **{c: getattr(card, c) for c in columns},
                "offer": None if card.offer is None else json.dumps(card.offer),
                "outcome": json.dumps(card.outcome),
            },
        )
        if conversation.kind == "bank":
            self.chat.desk.message_added(session, conversation, message)
        return card, True

    def _by_client_id(
        self, session: Session, conversation_id: int, member: Member, client_id: str
    ) -> Card | None:
        row = session.execute(
            text(
                f"SELECT {_CARD} FROM chat_card WHERE conversation_id = :c "  # noqa: S608
                "AND sender_kind = :k AND sender_id = :m AND client_id = :cid"
            ),
            {"c": conversation_id, "k": member.kind, "m": member.id, "cid": client_id},
        ).first()
        return None if row is None else Card(*row)

    def _direct_other(self, session: Session, member: Member, conversation: Conversation) -> int:
        """The other customer of a direct conversation the sender (a customer) is in."""
        if member.kind != CUSTOMER or conversation.kind != "direct":
            raise CardNotAllowedHere()
        other = next(
            (
                m.id
                for m in self.chat.members(session, member, conversation.id)
                if m.kind == CUSTOMER and m.id != member.id
            ),
            None,
        )
        if other is None:
            raise CardNotAllowedHere()
        return other  # a block between the two was refused by ``admit``

    def _served_customer(
        self,
        session: Session,
        member: Member,
        conversation: Conversation,
        to_customer_id: int | None,
    ) -> int:
        """The customer a staff card is for: the bank conversation's customer, or a
        customer member of a group (an enterprise's group with its bank team)."""
        if member.kind != STAFF or conversation.kind not in ("bank", "group"):
            raise CardNotAllowedHere()
        actor = to_customer_id if conversation.kind == "group" else conversation.customer_id
        if actor is None or (to_customer_id is not None and to_customer_id != actor):
            raise CardNotAllowedHere("Say which customer of the group the card is for.")
        try:
            self.chat.membership(session, Member(CUSTOMER, actor), conversation.id)
        except ConversationNotFound:  # not a member: the card could never be used
            raise CardNotAllowedHere() from None
        return actor

    def _own_account(self, session: Session, customer_id: int, number: str) -> EAccount:
        try:
            account = self.accounts.account(session, number)
        except (EAccountNotFound, AccountNumberInvalid):
            raise NotYourAccount() from None
        if account.customer_id != customer_id or account.status != "active":
            raise NotYourAccount()
        return account

    def _receiving_account(self, session: Session, customer_id: int) -> EAccount:
        for account, _ in self.accounts.accounts_of(session, customer_id):
            if account.status == "active":
                return account
        raise NoReceivingAccount()

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
                f"SELECT {_CARD} FROM chat_card WHERE id = :id AND conversation_id = :c"  # noqa: S608
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

    # -- acting ----------------------------------------------------------------------------

    def check_actable(self, card: Card, customer_id: int) -> None:
        """Raise unless ``customer_id`` may act on the card now. A flight card paid
        but not yet confirmed by the airline (``booking``) may be acted on again by
        its actor: that finishes the booking (unless another process is asking the
        airline about it right now), it does not pay again."""
        if card.actor_id != customer_id:
            raise CardNotForYou()
        if card.status == "expired" or (
            card.status == "open" and card.expires_at <= self.clock.now()
        ):
            raise CardExpired(expires_at=card.expires_at.isoformat())
        if card.status not in ("open", "booking"):
            raise CardUsed(status=card.status)
        if HELD in card.outcome:
            raise CardUsed(status="held")

    def prepare(
        self, session: Session, *, customer_id: int, conversation_id: int, card_id: int
    ) -> Card:
        """The card as its actor is about to act on it; a card found past its expiry
        is closed as ``expired`` here (in a transaction of its own, so that the
        refusal that follows does not undo it)."""
        self.chat.membership(session, Member(CUSTOMER, customer_id), conversation_id)
        card = self._get(session, conversation_id, card_id, lock=True)
        if card.status == "open" and card.expires_at <= self.clock.now():
            card = self._close(session, card, "expired", {})
        return card

    def payment(
        self, session: Session, card: Card, *, account: str | None, amount: int | None
    ) -> PaymentRequest:
        """What acting on the card asks the customer to authorise."""
        kind = CardKind(card.kind)
        if kind is CardKind.TRANSFER:
            return PaymentRequest(
                purpose="transfer",
                payer=self._number(session, card.payer_account_id),
                payee=self._number(session, card.payee_account_id),
                amount=self._amount(card),
                currency=card.currency,
                client_id=str(card.payment_key),
            )
        payer = _required_account(account)
        if kind is CardKind.REQUEST:
            return PaymentRequest(
                purpose="transfer",
                payer=payer,
                payee=self._number(session, card.payee_account_id),
                amount=self._amount(card),
                currency=card.currency,
                client_id=str(card.payment_key),
            )
        if kind is CardKind.WEALTH:
            if amount is None:
                raise CardAmountRequired()
            product = self._product(session, card)
            return self.wealth.payment_request(
                product, amount=amount, account_number=payer, client_id=card.payment_key
            )
        merchant_id, order_no = self._order_of(card)
        merchant = self.payments.merchant(session, merchant_id)
        return self.payments.payment_request(merchant, order_no, self._amount(card), payer)

    def paid_before(self, session: Session, card: Card, *, customer_id: int) -> bool:
        """Whether the card's payment was made already (then a retry needs no new
        authentication; the card answers that it was used)."""
        kind = CardKind(card.kind)
        if kind in (CardKind.TRANSFER, CardKind.REQUEST):
            return self.accounts.transfer_made(
                session, customer_id=customer_id, client_id=card.payment_key
            )
        if kind is CardKind.WEALTH:
            return self.wealth.purchase_made(
                session, customer_id=customer_id, client_id=card.payment_key
            )
        merchant_id, order_no = self._order_of(card)
        found = self.payments.find(session, merchant_id=merchant_id, order_no=order_no)
        return found is not None and found.status != "created"

    def act(
        self,
        session: Session,
        *,
        conversation_id: int,
        card_id: int,
        customer_id: int,
        account: str | None,
        amount: int | None,
    ) -> Card:
        """Carry out the card's action in the caller's (authorised) transaction.
        The card's row lock makes it single use: a concurrent second use waits here,
        then finds the card closed."""
        card = self._get(session, conversation_id, card_id, lock=True)
        self.check_actable(card, customer_id)
        if card.status != "open":
            raise CardUsed(status=card.status)
        kind = CardKind(card.kind)
        if kind in (CardKind.TRANSFER, CardKind.REQUEST):
            source = (
                self._number(session, card.payer_account_id)
                if kind is CardKind.TRANSFER
                else _required_account(account)
            )
            done = self.accounts.transfer(
                session,
                customer_id=customer_id,
                source=source,
                destination=self._number(session, card.payee_account_id),
                amount=self._amount(card),
                client_id=card.payment_key,
                description=card.note or "融e联转账",
            )
            if done.status == "held":
                # Held for the fraud checks' review: not paid until released
                # (:meth:`held_resolved`); open, but acted on.
                return self._mark_held(session, card, done.entry_id)
            return self._close(session, card, "paid", {})
        if kind is CardKind.MERCHANT_ORDER:
            order = self.payments.get(
                session, merchant_id=self._order_of(card)[0], order_no=self._order_of(card)[1]
            )
            paid = self.payments.pay_order(
                session,
                customer_id=customer_id,
                payment=order,
                account_number=_required_account(account),
            )
            if paid.customer_id != customer_id:  # paid by someone with the order's link
                raise OrderNotPayable(status=paid.status)
            if paid.status == "held" and paid.entry_id is not None:  # as a held transfer
                return self._mark_held(session, card, paid.entry_id)
            return self._close(session, card, "paid", {})
        if kind is CardKind.WEALTH:
            if amount is None:
                raise CardAmountRequired()
            holding, _ = self.wealth.buy(
                session,
                customer_id=customer_id,
                code=self._product(session, card).code,
                account_number=_required_account(account),
                amount=amount,
                client_id=card.payment_key,
            )
            return self._close(
                session,
                card,
                "paid",
                {
                    "amount": format_amount(holding.amount, scale=CNY_SCALE),
                    "holding_id": holding.id,
                    "value_date": holding.value_date.isoformat(),
                },
            )
        return self._pay_flight(session, card, customer_id, _required_account(account))

    def order_for_instalments(
        self, session: Session, *, customer_id: int, conversation_id: int, card_id: int
    ) -> tuple[Card, str, bool]:
        """A merchant-order card its actor pays by 逸贷 instalments (the lending
        checkout decides and lends, on the order's token): the card locked, the
        order's token, and whether the card is still to close (False: it was paid by
        this customer already, a retry). Refused as :meth:`check_actable` refuses."""
        self.chat.membership(session, Member(CUSTOMER, customer_id), conversation_id)
        card = self._get(session, conversation_id, card_id, lock=True)
        if card.kind != CardKind.MERCHANT_ORDER:
            raise CardNotAllowedHere("Only a merchant order can be paid by instalments.")
        merchant_id, order_no = self._order_of(card)
        order = self.payments.get(session, merchant_id=merchant_id, order_no=order_no)
        if card.outcome.get("by") == "instalments" and card.actor_id == customer_id:
            return card, order.token, False
        self.check_actable(card, customer_id)
        return card, order.token, True

    def open_order_cards(
        self, session: Session, *, customer_id: int, merchant_id: int, order_no: str
    ) -> list[Card]:
        """The open merchant-order cards of this order meant for this customer, locked
        (before the order, as acting does): an order paid by 逸贷 from its pay page
        closes them with :meth:`paid_by_instalments`."""
        rows = session.execute(
            text(
                f"SELECT {_CARD} FROM chat_card WHERE kind = 'merchant_order' "  # noqa: S608
                "AND merchant_id = :m AND order_no = :o AND actor_id = :c AND status = 'open' "
                "ORDER BY id FOR UPDATE"
            ),
            {"m": merchant_id, "o": order_no, "c": customer_id},
        ).all()
        return [Card(*row) for row in rows]

    def paid_by_instalments(self, session: Session, card: Card) -> Card:
        """Close the card locked by :meth:`order_for_instalments` as paid, its order
        paid by a loan in this transaction."""
        return self._close(session, card, "paid", {"by": "instalments"})

    def decline(
        self, session: Session, member: Member, *, conversation_id: int, card_id: int
    ) -> Card:
        """The actor turns the card down, or its sender withdraws it, while it is open."""
        self.chat.membership(session, member, conversation_id)
        card = self._get(session, conversation_id, card_id, lock=True)
        actor = member == Member(CUSTOMER, card.actor_id)
        sender = member == Member(card.sender_kind, card.sender_id)
        if not (actor or sender):
            raise CardNotForYou()
        if card.status != "open":
            raise CardUsed(status=card.status)
        return self._close(session, card, "declined", {"by": "actor" if actor else "sender"})

    def expire_due(self, session: Session, *, limit: int = 100) -> int:
        """Close open cards past their expiry (the periodic job); returns how many."""
        rows = session.execute(
            text(
                f"SELECT {_CARD} FROM chat_card WHERE status = 'open' AND expires_at <= :now "  # noqa: S608
                f"AND outcome ->> '{HELD}' IS NULL "
                "ORDER BY expires_at LIMIT :limit FOR UPDATE SKIP LOCKED"
            ),
            {"now": self.clock.now(), "limit": limit},
        ).all()
        for row in rows:
            self._close(session, Card(*row), "expired", {})
        return len(rows)

    def held_resolved(self, session: Session, entry_id: int, *, released: bool) -> None:
        """The transfer a card made, held for review, was released (the card closes as
        paid) or voided (failed: nothing moved). A hold no card made changes nothing."""
        row = session.execute(
            text(
                f"SELECT {_CARD} FROM chat_card WHERE status = 'open' "  # noqa: S608
                f"AND outcome ->> '{HELD}' = :entry FOR UPDATE"
            ),
            {"entry": str(entry_id)},
        ).first()
        if row is not None:
            outcome = {} if released else {"reason": "risk_review"}
            self._close(session, Card(*row), "paid" if released else "failed", outcome)

    def _mark_held(self, session: Session, card: Card, entry_id: int) -> Card:
        row = session.execute(
            text(
                "UPDATE chat_card SET outcome = CAST(:o AS jsonb) "  # noqa: S608
                f"WHERE id = :id RETURNING {_CARD}"
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
                f"WHERE id = :id RETURNING {_CARD}"
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

    # -- flights: hold, pay, confirm, then capture or void -------------------------------

    def flight_offer(self, card: Card) -> FlightOffer:
        assert card.offer is not None
        return FlightOffer.from_json(card.offer)

    def keep_hold(self, session: Session, card: Card, hold: SeatHold) -> bool:
        """Remember the seat held for an open flight card; False when the card
        changed meanwhile (the caller then gives the seat back)."""
        kept = session.execute(
            text(
                "UPDATE chat_card SET hold_ref = :h WHERE id = :id AND status = 'open' "
                "AND hold_ref IS NULL"
            ),
            {"h": hold.hold_ref, "id": card.id},
        ).rowcount  # type: ignore[attr-defined]
        return bool(kept)

    def drop_hold(self, session: Session, card: Card) -> bool:
        """Forget the seat ``card`` (as its caller read it) holds, if the card is still
        open and still holds that very seat; True when this caller dropped it, and so
        must give it back to the airline. A card paid meanwhile by a request acting on
        it at the same moment (now ``booking``) keeps its seat: it is the payer's."""
        dropped = session.execute(
            text(
                "UPDATE chat_card SET hold_ref = NULL "
                "WHERE id = :id AND status = 'open' AND hold_ref = :h"
            ),
            {"id": card.id, "h": card.hold_ref},
        ).rowcount  # type: ignore[attr-defined]
        return bool(dropped)

    def _pay_flight(self, session: Session, card: Card, customer_id: int, account: str) -> Card:
        """Take the fare as an e-Pay payment to the airline's merchant account, held
        (manual capture) until the airline confirms the seat."""
        if card.hold_ref is None:
            raise FlightUnavailable()
        merchant_id, order_no = self._order_of(card)
        offer = self.flight_offer(card)
        order, _ = self.payments.create_order(
            session,
            merchant_id=merchant_id,
            order=OrderRequest(
                order_no=order_no,
                amount=self._amount(card),
                channel="online",
                description=f"{offer.flight_no} {offer.origin}-{offer.destination}",
                capture="manual",
            ),
            customer_id=customer_id,
        )
        self.payments.pay_order(
            session, customer_id=customer_id, payment=order, account_number=account
        )
        row = session.execute(
            text(
                "UPDATE chat_card SET status = 'booking', booking_since = :now "  # noqa: S608
                f"WHERE id = :id RETURNING {_CARD}"
            ),
            {"id": card.id, "now": self.clock.now()},
        ).one()
        return Card(*row)

    def claim_booking(
        self, session: Session, card: Card, *, claim: str, until: datetime
    ) -> tuple[Card, bool]:
        """Claim a paid (``booking``) card to confirm it with the airline, until
        ``until``; True when claimed. False, with the card as it is now, when it was
        finished meanwhile or another process holds a claim that has not lapsed. The
        row is locked only for this statement, never while the airline answers."""
        row = session.execute(
            text(
                "UPDATE chat_card SET confirming_by = :claim, confirming_until = :until "  # noqa: S608
                "WHERE id = :id AND status = 'booking' "
                f"AND (confirming_until IS NULL OR confirming_until <= :now) RETURNING {_CARD}"
            ),
            {"claim": claim, "until": until, "id": card.id, "now": self.clock.now()},
        ).first()
        if row is None:
            return self._get(session, card.conversation_id, card.id), False
        return Card(*row), True

    def claim_unfinished_booking(
        self, session: Session, *, since: datetime, claim: str, until: datetime, skip: list[int]
    ) -> Card | None:
        """Claim the oldest flight card left ``booking`` since before ``since`` (its
        process stopped before the airline answered) and not claimed, or claimed by a
        process whose claim has lapsed (it stopped while the airline answered)."""
        row = session.execute(
            text(
                "UPDATE chat_card SET confirming_by = :claim, confirming_until = :until "  # noqa: S608
                "WHERE id = (SELECT id FROM chat_card WHERE status = 'booking' "
                "AND booking_since <= :since AND id <> ALL(:skip) "
                "AND (confirming_until IS NULL OR confirming_until <= :now) "
                "ORDER BY booking_since LIMIT 1 FOR UPDATE SKIP LOCKED) "
                f"RETURNING {_CARD}"
            ),
            {
                "claim": claim,
                "until": until,
                "since": since,
                "skip": skip,
                "now": self.clock.now(),
            },
        ).first()
        return None if row is None else Card(*row)

    def release_claim(self, session: Session, card: Card, *, claim: str) -> None:
        """Give up a claim whose holder did not finish the card (no answer from the
        airline), so that the job or the customer acting again asks again soon."""
        session.execute(
            text(
                "UPDATE chat_card SET confirming_by = NULL, confirming_until = NULL "
                "WHERE id = :id AND confirming_by = :claim"
            ),
            {"id": card.id, "claim": claim},
        )

    def record_booking(
        self,
        session: Session,
        card: Card,
        *,
        claim: str,
        booking_ref: str | None,
        recovered: bool = False,
    ) -> tuple[Card, bool]:
        """Record the airline's answer on a card claimed with ``claim``: confirmed
        (``booking_ref``): take the held fare and close the card as booked; refused
        (None): release the held fare and close it as failed. ``recovered``: finished
        by the bank's job, not while the customer waited. True when recorded; False,
        with the card as it is, when the claim is no longer this caller's (it lapsed
        and another took the card over): the other's answer stands."""
        card = self._get(session, card.conversation_id, card.id, lock=True)
        if card.status != "booking" or card.confirming_by != claim:
            return card, False
        merchant_id, order_no = self._order_of(card)
        if booking_ref is None:
            self.payments.void(session, merchant_id=merchant_id, order_no=order_no)
            return self._close(session, card, "failed", _failed(recovered)), True
        self.payments.capture(session, merchant_id=merchant_id, order_no=order_no)
        outcome: dict[str, Any] = {"booking_ref": booking_ref}
        return self._close(session, card, "booked", outcome | _recovered(recovered)), True

    def booking_failed(self, session: Session, card: Card) -> Card:
        """No seat could be held for an open card: close it as failed (nothing was
        taken)."""
        card = self._get(session, card.conversation_id, card.id, lock=True)
        if card.status != "open":
            return card
        return self._close(session, card, "failed", _failed(recovered=False))

    def passenger(self, session: Session, customer_id: int) -> str:
        return self.accounts.customer(session, customer_id).name


def _recovered(recovered: bool) -> dict[str, Any]:
    return {"recovered": True} if recovered else {}


def _failed(recovered: bool) -> dict[str, Any]:
    return {"reason": "airline_failed", "charged": False} | _recovered(recovered)


def _required_account(account: str | None) -> str:
    if not account:
        raise CardAccountRequired()
    return account
