"""Booking a flight card: the steps that talk to the airline, around the payment.

A booking is: hold a seat (:meth:`FlightBookings.hold_seat`), take the fare as an
authorised e-Pay payment (``CardService.act`` inside ``Platform.authorised``, which
the API and the web page each run their own way, because one answers a challenge in
JSON and the other on a page), then :meth:`FlightBookings.finish`: confirm with the
airline and capture, or void and give the seat back. A payment refused before it is
taken gives the seat back (:meth:`FlightBookings.give_back`).

The airline is outside the bank and slow, so no step holds a transaction (or a
database connection) while it waits. To finish a card once only, ``finish`` claims it
first in a short transaction (``confirming_by``, a token of its own, and
``confirming_until``, when the claim lapses), asks the airline with no transaction
open, then records the answer in a second short transaction only while the claim is
still its own; the card's row is locked only for those two short transactions. A
card whose process stopped between the payment and the airline's answer stays
``booking``: :meth:`FlightBookings.finish_unfinished` (a periodic job) finishes those
once they are older than a grace period and not claimed, or claimed by a process
whose claim has lapsed.

What a stop at each step leaves (the airline's ``confirm`` answers a hold it already
ticketed with the same reference, so asking again is safe):

- claimed, the airline not yet asked: the claim lapses and the job (or the customer
  acting again) claims the card and asks the airline;
- the airline confirmed, the answer not recorded: the same; the airline answers the
  same booking reference and the fare is captured once;
- recorded: the card is closed; a failed booking's seat is given back right after
  (if that is lost too, the airline lets the unticketed hold lapse).

A claim must outlast any airline call (``lease``): a call still running when its
claim has lapsed and been taken over has its answer ignored, and the taker's stands.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.orm import Session

from rongbank.chat.airline import AirlineError
from rongbank.chat.card_store import Card
from rongbank.chat.cards import CardService
from rongbank.chat.errors import CardUsed, FlightUnavailable

logger = logging.getLogger(__name__)

Transaction = Callable[[], AbstractContextManager[Session]]

LEASE = timedelta(minutes=5)
"""How long a claim on a card being confirmed lasts: longer than any airline call
(its client's timeout), shorter than the airline's seat hold."""


@dataclass(frozen=True, slots=True)
class Finished:
    """What one run of the recovery job did."""

    booked: int = 0
    failed: int = 0
    unanswered: int = 0
    """Cards left ``booking`` because the airline could not be reached: next run."""


class FlightBookings:
    def __init__(
        self, cards: CardService, transaction: Transaction, *, lease: timedelta = LEASE
    ) -> None:
        self.cards = cards
        self.transaction = transaction
        """The platform's unit of work; chat events go out after it commits."""
        self.lease = lease

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
            with self.transaction() as session:
                self.cards.booking_failed(session, card)
            raise FlightUnavailable(card_id=card.id) from None
        with self.transaction() as session:
            kept = self.cards.keep_hold(session, card, hold)
        if not kept:  # acted on at the same moment by another request
            airline.release(hold.hold_ref)
            raise CardUsed(status="open")
        return replace(card, hold_ref=hold.hold_ref)

    def give_back(self, card: Card) -> None:
        """The fare could not be taken (funds, limits, a wrong account): the card stays
        open and its seat goes back to the airline. Only while the card is open and
        still holds the seat: a request that lost the race to a payment on the same
        card (refused ``chat_card_used``) read it open, but the seat is the payer's
        now, and releasing it would fail the booking just paid."""
        if card.hold_ref is None:
            return
        with self.transaction() as session:
            dropped = self.cards.drop_hold(session, card)
        if dropped:
            self.cards.airline.release(card.hold_ref)

    def finish(self, card: Card) -> Card:
        """Confirm a paid (``booking``) card with the airline: captured and ``booked``,
        or voided, the seat given back and ``failed``. A card finished meanwhile, or
        being confirmed by another process (the job, a second request), is answered
        as it is."""
        claim = _claim()
        with self.transaction() as session:
            claimed, ours = self.cards.claim_booking(
                session, card, claim=claim, until=self.cards.clock.now() + self.lease
            )
        if not ours:
            return claimed
        done, _ = self._confirm(claimed, claim, recovered=False)
        return done

    def finish_unfinished(self, *, grace: timedelta, limit: int = 50) -> Finished:
        """Finish flight cards left ``booking`` for longer than ``grace`` (the process
        that took the fare stopped before the airline answered), one claim at a time:
        two runs at once, or a customer finishing the same card, never confirm or
        void one card twice."""
        booked = failed = unanswered = 0
        passed: list[int] = []
        for _ in range(limit):
            claim = _claim()
            with self.transaction() as session:
                now = self.cards.clock.now()
                card = self.cards.claim_unfinished_booking(
                    session, since=now - grace, claim=claim, until=now + self.lease, skip=passed
                )
            if card is None:
                break
            try:
                done, ours = self._confirm(card, claim, recovered=True)
            except Exception:
                # No answer at all (the airline unreachable), or the card cannot be
                # settled now: the claim was given up, the card stays booking for the
                # next run, and the cards behind it are not held up.
                logger.exception("flight card %d left booking for the next run", card.id)
                passed.append(card.id)
                unanswered += 1
                continue
            booked += ours and done.status == "booked"
            failed += ours and done.status == "failed"
        return Finished(booked=booked, failed=failed, unanswered=unanswered)

    def _confirm(self, card: Card, claim: str, *, recovered: bool) -> tuple[Card, bool]:
        """Ask the airline about a card claimed with ``claim`` (no transaction open),
        then record its answer while the claim is still ours; True when we did."""
        assert card.hold_ref is not None  # a card is paid only with a seat held
        try:
            try:
                booking_ref: str | None = self.cards.airline.confirm(
                    card.hold_ref, payment_ref=card.order_ref
                )
            except AirlineError:
                booking_ref = None
            with self.transaction() as session:
                done, ours = self.cards.record_booking(
                    session, card, claim=claim, booking_ref=booking_ref, recovered=recovered
                )
        except BaseException:
            self._give_up(card, claim)
            raise
        if ours and done.status == "failed":  # the fare released: the seat goes back
            self.cards.airline.release(card.hold_ref)
        return done, ours

    def _give_up(self, card: Card, claim: str) -> None:
        """Release the claim of a card left unfinished; if even that fails, the claim
        lapses on its own."""
        try:
            with self.transaction() as session:
                self.cards.release_claim(session, card, claim=claim)
        except Exception:
            logger.exception("claim on flight card %d left to lapse", card.id)


def _claim() -> str:
    return secrets.token_hex(8)
