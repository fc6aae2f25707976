"""The outbox: an event exists exactly when the movement that records it commits,
once per key, for every reader; and a movement whose event cannot be recorded fails."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.events import PayeeSaved, TransferMade
from rongbank.accounts.service import EAccount
from rongbank.chat import notices
from rongbank.chat.push import OUTBOX_READER
from rongbank.db import make_engine, make_session_factory, unit_of_work
from rongbank.payments.events import PaymentMade
from rongbank.platform import Platform
from rongbank.risk.cases import intake
from rongbank.risk.engine import holds
from rongbank.risk.events import RiskCaseDecided
from rongbank.risk.watchlist import screening
from tests.factories.accounts import People

RISK = outbox.Reader("risk", (TransferMade,))
READERS = (OUTBOX_READER, screening.READER, holds.READER, intake.READER)
"""Every reader of the outbox in the code: each has its row, with the same kinds."""
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


def payee_saved(payee_id: int) -> PayeeSaved:
    return PayeeSaved(payee_id=payee_id, customer_id=1, holder_name="李雷", occurred_at=AT)


def case_decided(case_id: int) -> RiskCaseDecided:
    return RiskCaseDecided(
        decision_ref=f"case:{case_id}",
        customer_id=1,
        outcome="no_action",
        source="engine",
        source_ref=str(case_id),
        occurred_at=AT,
    )


def queued(session: Session, reader: outbox.Reader) -> list[outbox.Event]:
    return [t.event for t in outbox.take(session, reader)]


def queue_rows(session: Session) -> dict[str, int]:
    rows = session.execute(text("SELECT reader, count(*) FROM outbox_pending GROUP BY reader"))
    return {str(reader): int(count) for reader, count in rows}


class Bank:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.people = People(platform.accounts, platform.ledger)
        with platform.transaction() as session:
            self.alice = self.people.person(session, "王小明")
            self.bob = self.people.person(session, "李雷")
            self.people.fund(session, self.alice, 10_000)
        with platform.transaction() as session:  # the registrations' events: not the subject
            for reader in READERS:
                outbox.acknowledge(session, reader, outbox.take(session, reader))

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
    def test_two_readers_of_a_kind_each_see_every_event_of_it(self, bank: Bank) -> None:
        with bank.platform.transaction() as session:
            session.execute(
                text("INSERT INTO outbox_reader (name, kinds) VALUES (:r, :k)"),
                {"r": RISK.name, "k": RISK.names},
            )
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

    def test_a_reader_is_queued_and_given_only_its_kinds(self, bank: Bank) -> None:
        payee, decided = payee_saved(1), case_decided(1)
        with bank.platform.transaction() as session:
            for event in (transfer_made(1), payee, decided, transfer_made(2)):
                outbox.record(session, event)
        with bank.platform.transaction() as session:
            assert queue_rows(session) == {
                OUTBOX_READER.name: 2,
                screening.READER.name: 1,
                holds.READER.name: 1,
            }
            assert queued(session, OUTBOX_READER) == [transfer_made(1), transfer_made(2)]
            assert queued(session, screening.READER) == [payee]
            assert queued(session, holds.READER) == [decided]
            assert queued(session, intake.READER) == []

    def test_a_reader_takes_only_the_kinds_this_process_declares(self, bank: Bank) -> None:
        """A newer version's reader may handle more kinds than this process knows of:
        those stay queued for a process that declares them."""
        older = outbox.Reader(OUTBOX_READER.name, (PaymentMade,))
        with bank.platform.transaction() as session:
            outbox.record(session, transfer_made(1))
        with bank.platform.transaction() as session:
            assert queued(session, older) == []
            assert queued(session, OUTBOX_READER) == [transfer_made(1)]

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


def sent(session: Session, event: outbox.Event) -> int:
    """Record ``event`` and send it now (``record`` waits for the next round trip), so
    that it takes its id from the sequence at this point; its id."""
    outbox.record(session, event)
    return int(
        session.execute(
            text("SELECT id FROM outbox_event WHERE event_key = :k"), {"k": event.key}
        ).scalar_one()
    )


def test_an_event_committed_after_a_later_one_was_read_is_still_read(fresh_db: str) -> None:
    """With real commits: ids are taken at insert and transactions commit in another
    order, so a reader must not go by position."""
    engine = make_engine(fresh_db, pool_size=3)
    factory = make_session_factory(engine)
    try:
        with unit_of_work(factory) as slow:
            lower = sent(slow, transfer_made(1))
            with unit_of_work(factory) as quick:
                assert sent(quick, transfer_made(2)) > lower
            with unit_of_work(factory) as reader:
                taken = outbox.take(reader, OUTBOX_READER)
                assert [t.event for t in taken] == [transfer_made(2)]
                outbox.acknowledge(reader, OUTBOX_READER, taken)
        with unit_of_work(factory) as reader:
            assert queued(reader, OUTBOX_READER) == [transfer_made(1)]
    finally:
        engine.dispose()


def test_each_reader_gets_each_event_of_its_kinds_once_whatever_the_commit_order(
    fresh_db: str,
) -> None:
    """Transactions record events of two readers' kinds, take their ids in one order
    and commit in another, while both readers take and acknowledge in between: in the
    end each reader has handled every event of its kinds exactly once, and no other."""
    engine = make_engine(fresh_db, pool_size=6)
    factory = make_session_factory(engine)
    chat, engine_reader = OUTBOX_READER, holds.READER
    counter = iter(range(1, 1_000_000))

    @settings(max_examples=12, deadline=None)
    @given(
        st.lists(st.lists(st.booleans(), min_size=1, max_size=3), min_size=1, max_size=4).flatmap(
            lambda txs: st.tuples(
                st.just(txs),
                st.permutations(range(len(txs))),
                st.lists(st.booleans(), min_size=len(txs), max_size=len(txs)),
            )
        )
    )
    def check(plan: tuple[list[list[bool]], list[int], list[bool]]) -> None:
        transactions, commit_order, read_after = plan
        handled: dict[str, list[outbox.Event]] = {chat.name: [], engine_reader.name: []}

        def read() -> None:
            for reader in (chat, engine_reader):
                with unit_of_work(factory) as session:
                    taken = outbox.take(session, reader)
                    handled[reader.name] += [t.event for t in taken]
                    outbox.acknowledge(session, reader, taken)

        expected: dict[str, list[outbox.Event]] = {chat.name: [], engine_reader.name: []}
        open_: dict[int, AbstractContextManager[Session]] = {}
        for index, kinds in enumerate(transactions):  # opened in this order: ids ascend
            work = open_[index] = unit_of_work(factory)
            session = work.__enter__()
            for is_transfer in kinds:
                n = next(counter)
                event = transfer_made(n) if is_transfer else case_decided(n)
                sent(session, event)
                expected[chat.name if is_transfer else engine_reader.name].append(event)
        try:
            read()  # nothing committed yet: nothing to see
            for index, then_read in zip(commit_order, read_after, strict=True):
                open_.pop(index).__exit__(None, None, None)
                if then_read:
                    read()
        finally:  # a failed example leaves no transaction open for the next
            for left in open_.values():
                left.__exit__(Refused, Refused(), None)
        read()
        for name, events in expected.items():
            assert sorted(handled[name], key=repr) == sorted(events, key=repr)

    try:
        check()
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


def test_each_reader_is_registered_with_the_kinds_it_declares(platform: Platform) -> None:
    """The recording statement queues by the rows; the readers take by their code."""
    with platform.transaction() as session:
        rows = session.execute(text("SELECT name, kinds FROM outbox_reader")).all()
    assert {str(name): sorted(kinds) for name, kinds in rows} == {
        r.name: r.names for r in READERS
    }, "a reader's kinds changed: change its outbox_reader row with a migration"


def test_the_push_reader_declares_every_kind_it_makes_a_notice_of() -> None:
    """A kind ``notice_of`` learns to tell of, left out of the reader, would never be
    queued for it: the notice would silently never come."""
    tree = ast.parse(inspect.getsource(notices))
    told = {
        kind
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef) and function.name in ("notice_of", "_loan_notice")
        for node in ast.walk(function)
        if isinstance(node, ast.Name)
        and isinstance(kind := getattr(notices, node.id, None), type)
        and issubclass(kind, outbox.Event)
        and kind is not outbox.Event
    }
    assert told
    assert told == set(notices.NOTIFIED) == set(OUTBOX_READER.kinds)
