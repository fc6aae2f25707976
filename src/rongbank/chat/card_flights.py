"""Flight cards (工银e商友 business travel): a seat held, the fare paid and held,
the airline asked, then the fare captured or voided (see :mod:`rongbank.chat.cards`
and :mod:`rongbank.chat.booking`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.chat.airline import FlightOffer, SeatHold
from rongbank.chat.card_store import CARD_COLUMNS, Card, CardStore
from rongbank.chat.errors import FlightUnavailable
from rongbank.payments.orders import OrderRequest


class CardFlights(CardStore):
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
                f"WHERE id = :id RETURNING {CARD_COLUMNS}"
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
                "AND (confirming_until IS NULL OR confirming_until <= :now) "
                f"RETURNING {CARD_COLUMNS}"
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
                f"RETURNING {CARD_COLUMNS}"
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
