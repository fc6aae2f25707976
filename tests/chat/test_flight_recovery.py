"""Flight cards whose booking stopped between the payment and the airline's answer:
the recovery job finishes them (booked, or voided and the seat given back), posts
the outcome into the conversation, and never finishes one card twice. Nothing holds
a database transaction while the airline answers: a card is claimed for the call."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from rongbank.chat.airline import FakeAirline
from rongbank.chat.booking import LEASE, Finished
from rongbank.chat.service import CUSTOMER, Member
from rongbank.clock import FrozenClock
from tests.chat.conftest import CHAT, STAFF_CHAT, Chat
from tests.chat.test_cards import Cards
from tests.payments.helpers import Shop

GRACE = timedelta(seconds=120)
FARE = 90_000
FLIGHT_DAY = date(2026, 3, 5)


@dataclass
class UnsteadyAirline(FakeAirline):
    """The fake airline, whose confirmation can go unanswered (``down``: the line
    drops, as when the bank's process dies mid-call) or wait at a gate until let
    through (``gate``: a slow airline, to catch two callers at once)."""

    down: bool = False
    gate: threading.Event | None = None
    entered: threading.Event = field(default_factory=threading.Event)
    confirms: int = 0

    def confirm(self, hold_ref: str, *, payment_ref: str) -> str:
        self.confirms += 1
        if self.down:
            raise ConnectionError("the airline did not answer")
        gate = self.gate
        if gate is not None:
            self.entered.set()
            gate.wait(30)
        return super().confirm(hold_ref, payment_ref=payment_ref)


def setting_up(chat: Chat) -> tuple[UnsteadyAirline, dict[str, Any], dict[str, Any]]:
    """The airline (an e-Pay merchant), a customer with money in their bank chat, and
    a flight card their manager sent them."""
    airline = UnsteadyAirline(chat.platform.clock)
    cards = chat.platform.cards
    cards.airline = airline
    cards.airline_merchant_id = Shop(chat.client, chat.platform, chat).id
    manager, customer = chat.staff_member("m1"), chat.customer("张三")
    chat.fund(customer, 1_000_000)
    bank = chat.client.post(f"{CHAT}/conversations/bank", headers=customer["headers"])
    assert bank.status_code == 201, bank.text
    route = {"origin": "PEK", "destination": "SHA", "date": FLIGHT_DAY.isoformat()}
    offers = chat.client.get(f"{STAFF_CHAT}/flights", headers=manager["headers"], params=route)
    body = route | {"kind": "flight", "client_id": "f1", "offer_id": offers.json()[0]["offer_id"]}
    card = Cards(chat).sent(manager, bank.json()["id"], body)
    return airline, customer, card


def paid_unanswered(chat: Chat, airline: UnsteadyAirline, customer: Any, card: Any) -> None:
    """The customer books and pays; the airline's answer never comes back."""
    airline.down = True
    with pytest.raises(ConnectionError):
        Cards(chat).act_confirmed(customer, card, account=customer["account"]["number"])
    airline.down = False
    assert Cards(chat).state(customer, card)["status"] == "booking"
    assert Cards(chat).available(customer) == 1_000_000 - FARE  # held, not taken


def order_status(chat: Chat, card: dict[str, Any]) -> tuple[str, int]:
    with chat.platform.transaction() as session:
        order = chat.platform.payments.get(
            session,
            merchant_id=chat.platform.cards.airline_merchant_id or 0,
            order_no=f"chat-card-{card['id']}",
        )
    return order.status, order.captured


def finish(chat: Chat) -> Finished:
    return chat.platform.bookings.finish_unfinished(grace=GRACE)


def claimed_by_a_process_that_stops(chat: Chat, card: dict[str, Any]) -> None:
    """Another process claims the paid card to confirm it, then stops: its claim
    stays on the card until it lapses."""
    cards, actor = chat.platform.cards, Member(CUSTOMER, card["actor"]["id"])
    with chat.platform.transaction() as session:
        found = cards.card(
            session, actor, conversation_id=card["conversation_id"], card_id=card["id"]
        )
        _, ours = cards.claim_booking(
            session, found, claim="stopped", until=chat.platform.clock.now() + LEASE
        )
    assert ours


def booking_at_the_airline(
    chat: Chat, airline: UnsteadyAirline, customer: Any, card: Any
) -> tuple[threading.Thread, list[Any], threading.Event]:
    """The customer answers the challenge and books, on a thread of its own; returns
    once the airline has been asked and is holding its answer at the gate."""
    cards, account = Cards(chat), customer["account"]["number"]
    asked = cards.act(customer, card, account=account)
    assert asked.json()["error"]["code"] == "challenge_required"
    challenge = asked.json()["error"]["details"]["challenge"]["id"]
    gate = airline.gate = threading.Event()
    answers: list[Any] = []
    booking = threading.Thread(
        target=lambda: answers.append(
            cards.act(
                customer,
                card,
                account=account,
                challenge_id=challenge,
                response=cards.sms(customer),
            )
        )
    )
    booking.start()
    assert airline.entered.wait(30)
    return booking, answers, gate


@contextmanager
def job_held_at_the_airline(chat: Chat, airline: UnsteadyAirline) -> Iterator[list[Finished]]:
    """A run of the recovery job on a thread of its own, held at the airline until the
    block ends; yields what the run finished (filled in once it has)."""
    gate = airline.gate = threading.Event()
    ran: list[Finished] = []
    running = threading.Thread(target=lambda: ran.append(finish(chat)))
    running.start()
    assert airline.entered.wait(30)
    try:
        yield ran
    finally:
        gate.set()
        running.join()


class TestTheRecoveryJob:
    def test_books_a_paid_card_once_the_grace_period_is_over(
        self, chat: Chat, clock: FrozenClock
    ) -> None:
        airline, customer, card = setting_up(chat)
        paid_unanswered(chat, airline, customer, card)
        assert finish(chat) == Finished()  # the customer's own request may still answer
        clock.advance(GRACE + timedelta(seconds=1))
        assert finish(chat) == Finished(booked=1)
        state = Cards(chat).state(customer, card)
        assert state["status"] == "booked"
        assert state["outcome"]["recovered"] is True
        assert len(state["outcome"]["booking_ref"]) == 6
        assert order_status(chat, card) == ("paid", FARE)
        assert Cards(chat).available(customer) == 1_000_000 - FARE
        outcomes = Cards(chat).outcomes(customer, card)
        assert [o["status"] for o in outcomes] == ["booked"]

    def test_running_again_changes_nothing(self, chat: Chat, clock: FrozenClock) -> None:
        airline, customer, card = setting_up(chat)
        paid_unanswered(chat, airline, customer, card)
        clock.advance(GRACE + timedelta(seconds=1))
        assert finish(chat) == Finished(booked=1)
        confirms = airline.confirms
        assert finish(chat) == Finished()
        assert airline.confirms == confirms
        assert [o["status"] for o in Cards(chat).outcomes(customer, card)] == ["booked"]

    def test_a_lapsed_hold_voids_the_payment_and_gives_the_seat_back(
        self, chat: Chat, clock: FrozenClock
    ) -> None:
        airline, customer, card = setting_up(chat)
        airline.hold_minutes = 3  # past the grace, within the customer's login
        flight_no = card["flight"]["flight_no"]
        seats = airline.seats_left(flight_no, FLIGHT_DAY)
        paid_unanswered(chat, airline, customer, card)
        assert airline.seats_left(flight_no, FLIGHT_DAY) == seats - 1
        clock.advance(timedelta(minutes=airline.hold_minutes + 1))  # the airline let it go
        assert finish(chat) == Finished(failed=1)
        state = Cards(chat).state(customer, card)
        assert (state["status"], state["outcome"]["charged"]) == ("failed", False)
        assert state["outcome"]["recovered"] is True
        assert order_status(chat, card) == ("voided", 0)
        assert Cards(chat).available(customer) == 1_000_000
        assert airline.seats_left(flight_no, FLIGHT_DAY) == seats
        assert [o["status"] for o in Cards(chat).outcomes(customer, card)] == ["failed"]

    def test_an_airline_that_still_does_not_answer_is_asked_again_next_run(
        self, chat: Chat, clock: FrozenClock
    ) -> None:
        airline, customer, card = setting_up(chat)
        paid_unanswered(chat, airline, customer, card)
        clock.advance(GRACE + timedelta(seconds=1))
        airline.down = True
        assert finish(chat) == Finished(unanswered=1)
        assert Cards(chat).state(customer, card)["status"] == "booking"
        assert Cards(chat).outcomes(customer, card) == []
        airline.down = False
        assert finish(chat) == Finished(booked=1)

    def test_the_customer_acting_again_after_the_job_is_told_the_booking(
        self, chat: Chat, clock: FrozenClock
    ) -> None:
        airline, customer, card = setting_up(chat)
        paid_unanswered(chat, airline, customer, card)
        clock.advance(GRACE + timedelta(seconds=1))
        finish(chat)
        again = Cards(chat).act(customer, card, account=customer["account"]["number"])
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "chat_card_used"
        assert Cards(chat).available(customer) == 1_000_000 - FARE

    def test_the_platform_job_uses_the_configured_grace(
        self, chat: Chat, clock: FrozenClock
    ) -> None:
        airline, customer, card = setting_up(chat)
        paid_unanswered(chat, airline, customer, card)
        chat.platform.finish_bookings()
        assert Cards(chat).state(customer, card)["status"] == "booking"
        clock.advance(timedelta(seconds=chat.platform.settings.chat_booking_grace_seconds))
        chat.platform.finish_bookings()
        assert Cards(chat).state(customer, card)["status"] == "booked"


def test_two_runs_at_once_finish_a_card_once(live_chat: Chat, clock: FrozenClock) -> None:
    """The first run has claimed the card while the airline answers; a second run at
    the same moment passes over it instead of confirming it again."""
    chat = live_chat
    airline, customer, card = setting_up(chat)
    paid_unanswered(chat, airline, customer, card)
    clock.advance(GRACE + timedelta(seconds=1))
    with job_held_at_the_airline(chat, airline) as first:
        assert finish(chat) == Finished()  # the card is being finished by the other run
    assert first == [Finished(booked=1)]
    assert airline.confirms == 2  # the unanswered call, then the first run's
    assert [o["status"] for o in Cards(chat).outcomes(customer, card)] == ["booked"]
    assert order_status(chat, card) == ("paid", FARE)


def test_a_booking_in_progress_is_left_to_its_request(live_chat: Chat, clock: FrozenClock) -> None:
    """The customer's own request has claimed the card while the airline answers: the
    job, even past the grace period, passes over it and the request books it."""
    chat = live_chat
    airline, customer, card = setting_up(chat)
    booking, answers, gate = booking_at_the_airline(chat, airline, customer, card)
    clock.advance(GRACE + timedelta(seconds=1))
    assert finish(chat) == Finished()
    gate.set()
    booking.join()
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["status"] == "booked"
    assert "recovered" not in answers[0].json()["outcome"]
    assert airline.confirms == 1


def test_a_slow_airline_holds_no_lock_and_no_transaction(live_chat: Chat) -> None:
    """While the airline takes its time, the card's row can be locked at once by
    anyone else, and no connection of the bank sits in an open transaction."""
    chat = live_chat
    airline, customer, card = setting_up(chat)
    booking, answers, gate = booking_at_the_airline(chat, airline, customer, card)
    try:
        with chat.platform.transaction() as session:
            locked = session.execute(
                text("SELECT status FROM chat_card WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": card["id"]},
            ).scalar_one()
            waiting = session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                )
            ).scalar_one()
    finally:
        gate.set()
        booking.join()
    assert (locked, waiting) == ("booking", 0)
    assert answers[0].json()["status"] == "booked"
    assert [o["status"] for o in Cards(chat).outcomes(customer, card)] == ["booked"]


def test_the_job_and_the_customer_at_once_finish_a_card_once(
    live_chat: Chat, clock: FrozenClock
) -> None:
    """The job has claimed a card left booking and is waiting for the airline when
    the customer acts on it again: the customer is shown it still booking (no second
    call to the airline, no second capture), and the job books it."""
    chat = live_chat
    airline, customer, card = setting_up(chat)
    paid_unanswered(chat, airline, customer, card)
    clock.advance(GRACE + timedelta(seconds=1))
    with job_held_at_the_airline(chat, airline) as ran:
        again = Cards(chat).act(customer, card, account=customer["account"]["number"])
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "booking"
    assert ran == [Finished(booked=1)]
    assert airline.confirms == 2  # the unanswered call, then the job's
    assert [o["status"] for o in Cards(chat).outcomes(customer, card)] == ["booked"]
    assert order_status(chat, card) == ("paid", FARE)
    assert Cards(chat).available(customer) == 1_000_000 - FARE


class TestAClaimThatLapses:
    def test_a_stopped_process_holds_the_card_until_its_claim_lapses(
        self, chat: Chat, clock: FrozenClock
    ) -> None:
        airline, customer, card = setting_up(chat)
        paid_unanswered(chat, airline, customer, card)
        claimed_by_a_process_that_stops(chat, card)
        clock.advance(GRACE + timedelta(seconds=1))
        assert finish(chat) == Finished()
        assert airline.confirms == 1  # only the unanswered call
        again = Cards(chat).act(customer, card, account=customer["account"]["number"])
        assert again.json()["status"] == "booking"
        clock.advance(LEASE)
        assert finish(chat) == Finished(booked=1)
        state = Cards(chat).state(customer, card)
        assert (state["status"], state["outcome"]["recovered"]) == ("booked", True)
        assert order_status(chat, card) == ("paid", FARE)
        assert [o["status"] for o in Cards(chat).outcomes(customer, card)] == ["booked"]

    def test_a_ticket_the_stopped_process_never_recorded_is_captured_once(
        self, chat: Chat, clock: FrozenClock
    ) -> None:
        """The process got the airline's booking reference and stopped before
        recording it: the job asks again, gets the same reference, captures once."""
        airline, customer, card = setting_up(chat)
        paid_unanswered(chat, airline, customer, card)
        claimed_by_a_process_that_stops(chat, card)
        with chat.platform.transaction() as session:
            hold_ref = session.execute(
                text("SELECT hold_ref FROM chat_card WHERE id = :id"), {"id": card["id"]}
            ).scalar_one()
        ticket = airline.confirm(hold_ref, payment_ref=f"chat-card-{card['id']}")
        clock.advance(LEASE + timedelta(seconds=1))
        assert finish(chat) == Finished(booked=1)
        assert Cards(chat).state(customer, card)["outcome"]["booking_ref"] == ticket
        assert order_status(chat, card) == ("paid", FARE)
        assert Cards(chat).available(customer) == 1_000_000 - FARE

    def test_the_answer_of_a_call_that_outlived_its_claim_is_ignored(
        self, live_chat: Chat, clock: FrozenClock
    ) -> None:
        """The job's call to the airline outlasts its claim; the customer, acting
        again, takes the card over and books it. The job's late answer is dropped:
        one outcome, one capture, and the job counts nothing."""
        chat = live_chat
        airline, customer, card = setting_up(chat)
        paid_unanswered(chat, airline, customer, card)
        clock.advance(GRACE + timedelta(seconds=1))
        with job_held_at_the_airline(chat, airline) as ran:
            clock.advance(LEASE + timedelta(seconds=1))
            airline.gate = None  # the customer's call goes straight through
            again = Cards(chat).act(customer, card, account=customer["account"]["number"])
        assert again.status_code == 200, again.text
        assert (again.json()["status"], "recovered" in again.json()["outcome"]) == (
            "booked", False,
        )  # fmt: skip
        assert ran == [Finished()]
        assert airline.confirms == 3
        assert [o["status"] for o in Cards(chat).outcomes(customer, card)] == ["booked"]
        assert order_status(chat, card) == ("paid", FARE)


def test_the_customer_acting_again_after_no_answer_books_it_at_once(chat: Chat) -> None:
    """A request that got no answer from the airline gives its claim up: acting
    again asks the airline again, without waiting for the claim to lapse."""
    airline, customer, card = setting_up(chat)
    paid_unanswered(chat, airline, customer, card)
    again = Cards(chat).act(customer, card, account=customer["account"]["number"])
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "booked"
    assert order_status(chat, card) == ("paid", FARE)


def _eventually(done: Callable[[], bool], what: str) -> None:
    """Return once ``done()``; a safety net of a minute, not a timed assertion."""
    for _ in range(6000):
        if done():
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"never happened: {what}")


def _waiting_on_locks(chat: Chat) -> int:
    with chat.platform.transaction() as session:
        return int(
            session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def test_a_card_acted_on_twice_at_once_keeps_the_payers_seat(live_chat: Chat) -> None:
    """The customer sends the answer to the card's challenge twice at once (a double
    tap): both requests read the card open with its seat held; one pays, the other
    then finds the card used. The loser must not give the payer's seat back to the
    airline, or the airline refuses the booking just paid and the fare is voided."""
    chat = live_chat
    airline, customer, card = setting_up(chat)
    cards, account = Cards(chat), customer["account"]["number"]
    flight_no = card["flight"]["flight_no"]
    seats = airline.seats_left(flight_no, FLIGHT_DAY)
    asked = cards.act(customer, card, account=account)  # the seat is held from here
    challenge = asked.json()["error"]["details"]["challenge"]["id"]
    answer = {"account": account, "challenge_id": challenge, "response": cards.sms(customer)}
    gate = airline.gate = threading.Event()  # the payer's confirmation waits here
    answers: list[Any] = []
    requests = [
        threading.Thread(target=lambda: answers.append(cards.act(customer, card, **answer)))
        for _ in range(2)
    ]
    # The two are let through together once both have read the card open: the test
    # holds the challenge's row, which answering it locks after that.
    with chat.platform.transaction() as session:
        session.execute(
            text("SELECT 1 FROM auth_challenge WHERE public_id = :id FOR UPDATE"),
            {"id": challenge},
        )
        for request in requests:
            request.start()
        _eventually(lambda: _waiting_on_locks(chat) == 2, "both requests at the challenge")
    _eventually(lambda: bool(answers) and airline.entered.is_set(), "one paid, one refused")
    gate.set()
    for request in requests:
        request.join()
    outcomes = sorted(
        (a.status_code, a.json().get("status") or a.json()["error"]["code"]) for a in answers
    )
    assert outcomes == [(200, "booked"), (409, "chat_card_used")], [a.text for a in answers]
    assert [o["status"] for o in cards.outcomes(customer, card)] == ["booked"]
    assert order_status(chat, card) == ("paid", FARE)
    assert cards.available(customer) == 1_000_000 - FARE
    assert airline.seats_left(flight_no, FLIGHT_DAY) == seats - 1
