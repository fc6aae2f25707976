"""Booking a flight card: the steps that talk to the airline, around the payment.

A booking is: hold a seat (:meth:`FlightBookings.hold_seat`), take the fare as an
authorised e-Pay payment (``CardService.act`` inside ``Platform.authorised``, which
the API and the web page each run their own way, because one answers a challenge in
JSON and the other on a page), then :meth:`FlightBookings.finish`: confirm with the
airline and capture, or void and give the seat back. A payment refused before it is
taken gives the seat back (:meth:`FlightBookings.give_back`).

The airline is outside the bank and slow, so no step holds a transaction while it
waits, except ``finish``: it keeps the card's row locked while the airline answers,
so that one card is finished by one process at a time. A card whose process stopped
between the payment and the airline's answer stays ``booking``;
:meth:`FlightBookings.finish_unfinished` (a periodic job) finishes those once they are
older than a grace period, passing over any that another process holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.orm import Session

from rongbank.chat.airline import AirlineError
from rongbank.chat.bus import chat_transaction
from rongbank.chat.cards import Card, CardService
from rongbank.chat.errors import CardUsed, FlightUnavailable

logger = logging.getLogger(__name__)

Transaction = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True, slots=True)
class Finished:
    """What one run of the recovery job did."""

    booked: int = 0
    failed: int = 0
    unanswered: int = 0
    """Cards left ``booking`` because the airline could not be reached: next run."""


class FlightBookings:
    def __init__(self, cards: CardService, transaction: Transaction) -> None:
        self.cards = cards
        self.transaction = transaction
        """The platform's unit of work; chat events go out after it commits."""

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with chat_transaction(self.transaction, self.cards.chat.bus) as session:
            yield session

    def hold_seat(self, card: Card, *, customer_id: int) -> Card:
        """Hold a seat for an open card (once: a card holding one keeps it) and keep its
        reference on the card. A seat the airline cannot hold closes the card."""
        if card.hold_ref is not None:
            return card
        airline = self.cards.airline
        with self.transaction() as session:
            passenger = self.cards.passenger(session, customer_id)
        try:
            hold = airline.hold(self.cards.flight_offer(card), passenger=passenger)
        except AirlineError:
            with self._tx() as session:
                self.cards.booking_failed(session, card)
            raise FlightUnavailable(card_id=card.id) from None
        with self._tx() as session:
            kept = self.cards.keep_hold(session, card, hold)
        if not kept:  # acted on at the same moment by another request
            airline.release(hold.hold_ref)
            raise CardUsed(status="open")
        return replace(card, hold_ref=hold.hold_ref)

    def give_back(self, card: Card) -> None:
        """The fare could not be taken (funds, limits, a wrong account): the card stays
        open and its seat goes back to the airline."""
        if card.hold_ref is None:
            return
        with self.transaction() as session:
            self.cards.drop_hold(session, card)
        self.cards.airline.release(card.hold_ref)

    def finish(self, card: Card) -> Card:
        """Confirm a paid (``booking``) card with the airline: captured and ``booked``,
        or voided, the seat given back and ``failed``. A card finished meanwhile (by
        the job, or a second request) is answered as it is."""
        with self._tx() as session:
            locked = self.cards.lock(session, card)
            done = self._confirm(session, locked, recovered=False)
        self._after(locked, done)
        return done

    def finish_unfinished(self, *, grace: timedelta, limit: int = 50) -> Finished:
        """Finish flight cards left ``booking`` for longer than ``grace`` (the process
        that took the fare stopped before the airline answered). One card a
        transaction, its row locked while the airline answers: two runs at once, or a
        customer finishing the same card, never confirm or void one card twice."""
        booked = failed = unanswered = 0
        passed: list[int] = []
        for _ in range(limit):
            card: Card | None = None
            try:
                with self._tx() as session:
                    since = self.cards.clock.now() - grace
                    card = self.cards.next_unfinished_booking(session, since=since, skip=passed)
                    if card is None:
                        break
                    done = self._confirm(session, card, recovered=True)
            except Exception:
                if card is None:
                    raise
                # No answer at all (the airline unreachable), or the card cannot be
                # settled now: its transaction is rolled back, the card stays booking
                # for the next run, and the cards behind it are not held up.
                logger.exception("flight card %d left booking for the next run", card.id)
                passed.append(card.id)
                unanswered += 1
                continue
            self._after(card, done)
            booked += done.status == "booked"
            failed += done.status == "failed"
        return Finished(booked=booked, failed=failed, unanswered=unanswered)

    def _confirm(self, session: Session, card: Card, *, recovered: bool) -> Card:
        if card.status != "booking":
            return card
        assert card.hold_ref is not None  # a card is paid only with a seat held
        try:
            booking_ref = self.cards.airline.confirm(card.hold_ref, payment_ref=card.order_ref)
        except AirlineError:
            return self.cards.booking_failed(session, card, recovered=recovered)
        return self.cards.booked(session, card, booking_ref, recovered=recovered)

    def _after(self, before: Card, done: Card) -> None:
        """Once the card's outcome is committed: a failed booking's seat goes back."""
        if before.status == "booking" and done.status == "failed" and before.hold_ref:
            self.cards.airline.release(before.hold_ref)
