"""LedgerService pending transfers (post, void, expiry) and reversals against real
PostgreSQL, each test rolled back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from rongbank.clock import FrozenClock
from rongbank.ledger.errors import (
    AlreadyReversed,
    ExceedsCredits,
    InvalidEntry,
    NotReversible,
    PendingAlreadyResolved,
    PendingExpired,
    PendingNotFound,
    PostExceedsPending,
    TransferNotFound,
)
from rongbank.ledger.service import Balance, LedgerService, PostPending, Reverse, VoidPending
from tests.ledger.factories import (
    START,
    balance,
    deposit_balance,
    errors,
    hold_state,
    pay,
    totals,
    unique,
)


class TestPending:
    def reserve(
        self,
        service: LedgerService,
        session: Session,
        debit: int,
        credit: int,
        amount: int,
        timeout: timedelta | None = None,
    ) -> int:
        command = pay(debit, credit, amount, pending=True, timeout=timeout)
        return service.transfer(session, command).entry_id_or_raise()

    def test_a_reservation_reduces_available_funds_only(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        self.reserve(service, session, alice, bob, 3_000)

        seen = balance(service, session, alice)
        assert (seen.posted, seen.pending_debits, seen.available) == (START, 3_000, START - 3_000)
        assert balance(service, session, bob).available == START  # not there yet
        assert balance(service, session, bob).pending_credits == 3_000

    def test_reserved_money_cannot_be_spent_twice(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        self.reserve(service, session, alice, bob, 3_000)
        with pytest.raises(ExceedsCredits):
            service.transfer(session, pay(alice, bob, START - 3_000 + 1))
        with pytest.raises(ExceedsCredits):
            self.reserve(service, session, alice, bob, START - 3_000 + 1)

    def test_posting_in_full_moves_the_money(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)

        service.transfer(session, PostPending(client_id=unique("post"), pending=pending))

        assert deposit_balance(session, alice) == START - 3_000
        assert deposit_balance(session, bob) == START + 3_000
        assert totals(session, alice).debits_pending == 0
        assert totals(session, bob).credits_pending == 0
        assert hold_state(session, pending) == "posted"

    def test_posting_part_releases_the_rest(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)

        service.transfer(
            session, PostPending(client_id=unique("post"), pending=pending, amount=1_200)
        )

        assert deposit_balance(session, alice) == START - 1_200
        assert balance(service, session, alice).available == START - 1_200
        assert deposit_balance(session, bob) == START + 1_200
        hold = service.entry(session, pending).hold
        assert hold is not None
        assert (hold.state, hold.posted_amount) == ("posted", 1_200)

    def test_posting_by_the_pending_transfers_client_id(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        command = pay(alice, bob, 500, pending=True)
        service.transfer(session, command)
        service.transfer(session, PostPending(client_id=unique("post"), pending=command.client_id))
        assert deposit_balance(session, bob) == START + 500

    def test_voiding_releases_the_reservation(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)

        service.transfer(session, VoidPending(client_id=unique("void"), pending=pending))

        assert balance(service, session, alice) == Balance(START, 0, 0, START)
        assert deposit_balance(session, bob) == START
        assert hold_state(session, pending) == "voided"

    def test_refuses_posting_more_than_pending(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)
        with pytest.raises(PostExceedsPending):
            service.transfer(
                session, PostPending(client_id=unique("post"), pending=pending, amount=3_001)
            )
        assert hold_state(session, pending) == "pending"
        assert totals(session, alice).debits_pending == 3_000

    def test_refuses_posting_twice(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)
        service.transfer(session, PostPending(client_id=unique("post"), pending=pending))

        with pytest.raises(PendingAlreadyResolved) as raised:
            service.transfer(session, PostPending(client_id=unique("post"), pending=pending))
        assert raised.value.code == "pending_transfer_already_resolved"
        assert deposit_balance(session, alice) == START - 3_000

    def test_refuses_posting_after_a_void(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)
        service.transfer(session, VoidPending(client_id=unique("void"), pending=pending))
        with pytest.raises(PendingAlreadyResolved):
            service.transfer(session, PostPending(client_id=unique("post"), pending=pending))
        assert deposit_balance(session, alice) == START

    def test_a_retried_post_is_not_applied_twice(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)
        post = PostPending(client_id=unique("post"), pending=pending, amount=1_000)
        first = service.transfer(session, post)
        again = service.transfer(session, post)
        assert (again.status, again.entry_id) == ("exists", first.entry_id)
        assert deposit_balance(session, alice) == START - 1_000

    def test_refuses_an_unknown_pending_transfer(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        entry_id = service.transfer(session, pay(alice, bob, 1)).entry_id_or_raise()
        with pytest.raises(PendingNotFound):
            service.transfer(session, PostPending(client_id=unique("post"), pending=entry_id))

    def test_refuses_a_timeout_on_a_plain_transfer(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        with pytest.raises(InvalidEntry):
            service.transfer(session, pay(alice, bob, 1, timeout=timedelta(minutes=5)))

    def test_posting_before_the_timeout_succeeds(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000, timedelta(minutes=30))
        clock.advance(timedelta(minutes=29))
        service.transfer(session, PostPending(client_id=unique("post"), pending=pending))
        assert deposit_balance(session, bob) == START + 3_000

    def test_posting_after_the_timeout_fails_and_releases_the_reservation(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000, timedelta(minutes=30))
        clock.advance(timedelta(minutes=31))

        with pytest.raises(PendingExpired) as raised:
            service.transfer(session, PostPending(client_id=unique("post"), pending=pending))

        assert raised.value.code == "pending_transfer_expired"
        assert balance(service, session, alice) == Balance(START, 0, 0, START)
        assert deposit_balance(session, bob) == START
        assert hold_state(session, pending) == "expired"
        assert service.verify(session) == {}

    def test_a_late_post_inside_a_linked_chain_still_expires_the_hold(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000, timedelta(minutes=30))
        clock.advance(timedelta(minutes=31))

        outcomes = service.execute(
            session,
            [
                PostPending(client_id=unique("post"), pending=pending, linked=True),
                pay(alice, bob, 100),
            ],
        )

        assert errors(outcomes) == ["pending_transfer_expired", "linked_chain_failed"]
        assert hold_state(session, pending) == "expired"
        assert balance(service, session, alice) == Balance(START, 0, 0, START)

    def test_expire_due_holds_releases_only_due_holds(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        short = self.reserve(service, session, alice, bob, 1_000, timedelta(minutes=10))
        long = self.reserve(service, session, alice, bob, 2_000, timedelta(hours=2))
        forever = self.reserve(service, session, alice, bob, 3_000)
        clock.advance(timedelta(minutes=11))

        assert service.expire_due_holds(session) == 1
        assert service.expire_due_holds(session) == 0

        assert [hold_state(session, h) for h in (short, long, forever)] == [
            "expired",
            "pending",
            "pending",
        ]
        assert totals(session, alice).debits_pending == 5_000
        assert totals(session, bob).credits_pending == 5_000
        assert deposit_balance(session, alice) == START

    # A client's ids and the ids the ledger gives its own expiry entries must never
    # collide: a collision once kept a hold pending for ever.
    def test_a_client_id_like_an_expiry_does_not_block_the_expiry(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 1_000, timedelta(minutes=10))
        service.transfer(session, pay(bob, alice, 5, client_id=f"expire:{pending}"))
        clock.advance(timedelta(minutes=11))

        assert service.expire_due_holds(session) == 1
        assert hold_state(session, pending) == "expired"
        assert totals(session, alice).debits_pending == 0

    def test_a_client_id_like_an_expiry_does_not_break_a_late_post(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 1_000, timedelta(minutes=10))
        service.transfer(session, pay(bob, alice, 5, client_id=f"expire:{pending}"))
        clock.advance(timedelta(minutes=11))

        with session.begin_nested():
            outcome = service.execute(
                session, [PostPending(client_id=unique("post"), pending=pending)]
            )[0]
        assert isinstance(outcome.error, PendingExpired)
        assert totals(session, alice).debits_pending == 0


class TestReversal:
    def test_reverses_the_postings(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        original = service.transfer(session, pay(alice, bob, 800)).entry_id_or_raise()

        reversal = service.transfer(session, Reverse(client_id=unique("rev"), entry=original))

        assert deposit_balance(session, alice) == START
        assert deposit_balance(session, bob) == START
        entry = service.entry(session, reversal.entry_id_or_raise())
        assert (entry.kind, entry.reverses_id) == ("reversal", original)
        assert [(p.account_id, p.amount) for p in entry.postings] == [(alice, -800), (bob, 800)]
        assert service.entry(session, original).reversed_by == entry.id

    def test_refuses_a_second_reversal(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        original = service.transfer(session, pay(alice, bob, 800)).entry_id_or_raise()
        service.transfer(session, Reverse(client_id=unique("rev"), entry=original))

        with pytest.raises(AlreadyReversed) as raised:
            service.transfer(session, Reverse(client_id=unique("rev"), entry=original))
        assert raised.value.code == "entry_already_reversed"
        assert deposit_balance(session, alice) == START

    def test_refuses_two_reversals_in_one_batch(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        original = service.transfer(session, pay(alice, bob, 800)).entry_id_or_raise()
        outcomes = service.execute(
            session,
            [
                Reverse(client_id=unique("rev"), entry=original),
                Reverse(client_id=unique("rev"), entry=original),
            ],
        )
        assert errors(outcomes) == [None, "entry_already_reversed"]
        assert deposit_balance(session, alice) == START

    def test_refuses_reversing_a_pending_transfer(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = service.transfer(session, pay(alice, bob, 800, pending=True))
        with pytest.raises(NotReversible) as raised:
            service.transfer(
                session, Reverse(client_id=unique("rev"), entry=pending.entry_id_or_raise())
            )
        assert raised.value.code == "entry_not_reversible"
        assert totals(session, alice).debits_pending == 800

    def test_refuses_reversing_a_reversal(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        original = service.transfer(session, pay(alice, bob, 800)).entry_id_or_raise()
        reversal = service.transfer(session, Reverse(client_id=unique("rev"), entry=original))
        with pytest.raises(NotReversible):
            service.transfer(
                session, Reverse(client_id=unique("rev"), entry=reversal.entry_id_or_raise())
            )

    def test_reverses_a_posted_pending_transfer_by_client_id(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = service.transfer(session, pay(alice, bob, 800, pending=True))
        post = PostPending(client_id=unique("post"), pending=pending.entry_id_or_raise())
        service.transfer(session, post)

        service.transfer(session, Reverse(client_id=unique("rev"), entry=post.client_id))

        assert deposit_balance(session, alice) == START
        assert deposit_balance(session, bob) == START

    def test_refuses_a_reversal_the_payee_cannot_afford(
        self,
        session: Session,
        service: LedgerService,
        new_deposit: Callable[..., int],
        alice: int,
        bob: int,
    ) -> None:
        carol = new_deposit(funds=0)
        original = service.transfer(session, pay(alice, carol, 800)).entry_id_or_raise()
        service.transfer(session, pay(carol, bob, 500))

        with pytest.raises(ExceedsCredits):
            service.transfer(session, Reverse(client_id=unique("rev"), entry=original))
        assert deposit_balance(session, carol) == 300

    def test_refuses_an_unknown_entry(self, session: Session, service: LedgerService) -> None:
        with pytest.raises(TransferNotFound):
            service.transfer(session, Reverse(client_id=unique("rev"), entry="no-such-entry"))
