"""The outbox: an event exists exactly when the movement that records it commits,
once per key, for every reader; and a movement whose event cannot be recorded fails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.events import TransferMade
from rongbank.accounts.service import EAccount
from rongbank.chat.push import OUTBOX_READER
from rongbank.db import make_engine, make_session_factory, unit_of_work
from rongbank.platform import Platform
from tests.factories.accounts import People

RISK = "risk"
AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


class Refused(Exception):
    pass


def refused_after(platform: Platform, work: Callable[[Session], object]) -> None:
    """Do ``work`` in a transaction that then fails."""
    with platform.transaction() as session:
        work(session)
        raise Refused


def transfer_made(entry_id: int) -> TransferMade:
    return TransferMade(
        entry_id=entry_id,
        payer_customer_id=1,
        payer_account_id=1,
        payee_customer_id=2,
        payee_account_id=2,
        payee_account_tail="0002",
        amount=100,
        currency="CNY",
        occurred_at=AT,
    )


def queued(session: Session, reader: str) -> list[outbox.Event]:
    return [t.event for t in outbox.take(session, reader)]


class Bank:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.people = People(platform.accounts, platform.ledger)
        with platform.transaction() as session:
            self.alice = self.people.person(session, "王小明")
            self.bob = self.people.person(session, "李雷")
            self.people.fund(session, self.alice, 10_000)
        with platform.transaction() as session:  # the registrations' events: not the subject
            outbox.acknowledge(session, OUTBOX_READER, outbox.take(session, OUTBOX_READER))

    def pay(self, session: Session, amount: int, client_id: str = "c1") -> int:
        return self.platform.accounts.transfer(
            session,
            customer_id=self.alice.customer_id,
            source=self.alice.number,
            destination=self.bob.number,
            amount=amount,
            client_id=client_id,
        ).entry_id

    def pay_now(self, amount: int) -> int:
        with self.platform.transaction() as session:
            return self.pay(session, amount)

    def balance(self, account: EAccount) -> int:
        with self.platform.transaction() as session:
            return self.people.balance(session, account)


@pytest.fixture
def bank(platform: Platform) -> Bank:
    return Bank(platform)


class TestRecordedWithTheMovement:
    def test_a_transfer_records_its_event_when_it_commits(self, bank: Bank) -> None:
        with bank.platform.transaction() as session:
            entry_id = bank.pay(session, 2_500)
        with bank.platform.transaction() as session:
            events = queued(session, OUTBOX_READER)
        assert events == [
            TransferMade(
                entry_id=entry_id,
                payer_customer_id=bank.alice.customer_id,
                payer_account_id=bank.alice.id,
                payee_customer_id=bank.bob.customer_id,
                payee_account_id=bank.bob.id,
                payee_account_tail=bank.bob.number[-4:],
                amount=2_500,
                currency="CNY",
                occurred_at=bank.platform.clock.now(),
            )
        ]

    def test_a_transfer_rolled_back_records_nothing(self, bank: Bank) -> None:
        with pytest.raises(Refused):
            refused_after(bank.platform, lambda session: bank.pay(session, 2_500))
        with bank.platform.transaction() as session:
            assert queued(session, OUTBOX_READER) == []
        assert bank.balance(bank.bob) == 0

    def test_a_retried_transfer_records_nothing_new(self, bank: Bank) -> None:
        for _ in range(2):
            with bank.platform.transaction() as session:
                bank.pay(session, 2_500, client_id="same")
        with bank.platform.transaction() as session:
            assert len(queued(session, OUTBOX_READER)) == 1

    def test_an_event_recorded_twice_is_there_once(self, bank: Bank) -> None:
        with bank.platform.transaction() as session:
            outbox.record(session, transfer_made(7))
        with bank.platform.transaction() as session:
            outbox.record(session, transfer_made(7))
            assert queued(session, OUTBOX_READER) == [transfer_made(7)]

    def test_a_movement_whose_event_cannot_be_recorded_fails_whole(self, bank: Bank) -> None:
        with bank.platform.transaction() as session:
            session.execute(
                text(
                    "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$; "
                    "CREATE TRIGGER refuse BEFORE INSERT ON outbox_event "
                    "FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()"
                )
            )
        with pytest.raises(DBAPIError, match="outbox unavailable"):
            bank.pay_now(2_500)
        assert (bank.balance(bank.alice), bank.balance(bank.bob)) == (10_000, 0)
        with bank.platform.transaction() as session:
            assert not bank.platform.accounts.transfer_made(
                session, customer_id=bank.alice.customer_id, client_id="c1"
            )


class TestReaders:
    def test_two_readers_each_see_every_event(self, bank: Bank) -> None:
        with bank.platform.transaction() as session:
            session.execute(text("INSERT INTO outbox_reader (name) VALUES (:r)"), {"r": RISK})
        with bank.platform.transaction() as session:
            for entry_id in (1, 2, 3):
                outbox.record(session, transfer_made(entry_id))
        with bank.platform.transaction() as session:
            chat = outbox.take(session, OUTBOX_READER)
            outbox.acknowledge(session, OUTBOX_READER, chat)
        with bank.platform.transaction() as session:
            assert queued(session, OUTBOX_READER) == []
            risk = outbox.take(session, RISK, limit=2)
            assert [t.event for t in risk] == [transfer_made(1), transfer_made(2)]
            outbox.acknowledge(session, RISK, risk)
        with bank.platform.transaction() as session:
            assert queued(session, RISK) == [transfer_made(3)]
        assert [t.event for t in chat] == [transfer_made(n) for n in (1, 2, 3)]

    def test_an_event_taken_but_not_handled_stays_queued(self, bank: Bank) -> None:
        with bank.platform.transaction() as session:
            outbox.record(session, transfer_made(1))
        with pytest.raises(Refused):  # the reader fails while handling it
            refused_after(
                bank.platform,
                lambda s: outbox.acknowledge(s, OUTBOX_READER, outbox.take(s, OUTBOX_READER)),
            )
        with bank.platform.transaction() as session:
            assert queued(session, OUTBOX_READER) == [transfer_made(1)]


def test_an_event_committed_after_a_later_one_was_read_is_still_read(fresh_db: str) -> None:
    """With real commits: ids are taken at insert and transactions commit in another
    order, so a reader must not go by position."""
    engine = make_engine(fresh_db, pool_size=3)
    factory = make_session_factory(engine)
    try:
        with unit_of_work(factory) as slow:
            outbox.record(slow, transfer_made(1))  # takes the lower id
            with unit_of_work(factory) as quick:
                outbox.record(quick, transfer_made(2))
            with unit_of_work(factory) as reader:
                taken = outbox.take(reader, OUTBOX_READER)
                assert [t.event for t in taken] == [transfer_made(2)]
                outbox.acknowledge(reader, OUTBOX_READER, taken)
        with unit_of_work(factory) as reader:
            assert queued(reader, OUTBOX_READER) == [transfer_made(1)]
    finally:
        engine.dispose()


def test_processes_of_one_reader_share_its_queue(fresh_db: str) -> None:
    engine = make_engine(fresh_db, pool_size=3)
    factory = make_session_factory(engine)
    try:
        with unit_of_work(factory) as session:
            for entry_id in (1, 2, 3):
                outbox.record(session, transfer_made(entry_id))
        with unit_of_work(factory) as one, unit_of_work(factory) as other:
            first = outbox.take(one, OUTBOX_READER, limit=2)
            second = outbox.take(other, OUTBOX_READER)
            assert [t.event for t in first] == [transfer_made(1), transfer_made(2)]
            assert [t.event for t in second] == [transfer_made(3)]
    finally:
        engine.dispose()
