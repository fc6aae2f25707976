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

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.auth.tools import PaymentRequest
from rongbank.chat.card_flights import CardFlights
from rongbank.chat.card_sending import CardSending
from rongbank.chat.card_store import CARD_COLUMNS, CNY_SCALE, HELD, Card, CardKind
from rongbank.chat.errors import (
    CardAccountRequired,
    CardAmountRequired,
    CardExpired,
    CardNotAllowedHere,
    CardNotForYou,
    CardUsed,
)
from rongbank.chat.service import CUSTOMER, Member
from rongbank.money import format_amount
from rongbank.payments.errors import OrderNotPayable


class CardService(CardSending, CardFlights):
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
                f"SELECT {CARD_COLUMNS} FROM chat_card WHERE kind = 'merchant_order' "  # noqa: S608
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
                f"SELECT {CARD_COLUMNS} FROM chat_card "  # noqa: S608
                "WHERE status = 'open' AND expires_at <= :now "
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
                f"SELECT {CARD_COLUMNS} FROM chat_card WHERE status = 'open' "  # noqa: S608
                f"AND outcome ->> '{HELD}' = :entry FOR UPDATE"
            ),
            {"entry": str(entry_id)},
        ).first()
        if row is not None:
            outcome = {} if released else {"reason": "risk_review"}
            self._close(session, Card(*row), "paid" if released else "failed", outcome)


def _required_account(account: str | None) -> str:
    if not account:
        raise CardAccountRequired()
    return account
