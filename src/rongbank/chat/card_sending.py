"""Sending service cards: each kind's checks and draft, posted once per client id
with the checks of any message (see :mod:`rongbank.chat.cards`)."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import fields, replace
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.errors import NotYourAccount
from rongbank.accounts.service import EAccount
from rongbank.chat import rules
from rongbank.chat.airline import FlightOffer
from rongbank.chat.card_store import CARD_COLUMNS, Card, CardKind, CardStore
from rongbank.chat.errors import (
    CardNotAllowedHere,
    ConversationNotFound,
    FlightSearchInvalid,
    FlightsNotOffered,
    FlightUnavailable,
    MerchantNotYours,
    NoReceivingAccount,
)
from rongbank.chat.records import Conversation
from rongbank.chat.service import CUSTOMER, STAFF, Member
from rongbank.payments.errors import OrderNotPayable
from rongbank.wealth.errors import AssessmentRequired, ProductNotOnSale


class CardSending(CardStore):
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
                f"SELECT {CARD_COLUMNS} FROM chat_card WHERE conversation_id = :c "  # noqa: S608
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
        account = self.accounts.own_account(session, customer_id, number)
        if account.status != "active":
            raise NotYourAccount()
        return account

    def _receiving_account(self, session: Session, customer_id: int) -> EAccount:
        for account, _ in self.accounts.accounts_of(session, customer_id):
            if account.status == "active":
                return account
        raise NoReceivingAccount()
