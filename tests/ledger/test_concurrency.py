"""Many writers on a few hot accounts, with real commits.

Each thread has its own engine and sessions; all of them move money at random
between four funded deposits, now and then retrying a client id (their own, or one
that other threads send at the same time). Afterwards nothing may be lost, created
twice, overdrawn or out of balance, and no writer may have hit a deadlock.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text

from rongbank.db import SessionFactory, make_engine, make_session_factory, unit_of_work
from rongbank.ledger.batcher import GroupCommitter
from rongbank.ledger.service import (
    Command,
    LedgerService,
    Outcome,
    PostPending,
    Reverse,
    Transfer,
    VoidPending,
)
from tests.ledger.factories import create_bank_asset, create_deposit, fund, unique

pytestmark = pytest.mark.slow

THREADS = 8
TRANSFERS_PER_THREAD = 150
FUNDS = 50_000
HOT = 4


@dataclass
class Ledger:
    url: str
    factory: SessionFactory
    hot: list[int]


@dataclass
class Log:
    """What the writers were told, across all threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    commands: dict[str, Transfer] = field(default_factory=dict)
    answers: dict[str, list[Outcome]] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)

    def record(self, command: Transfer, outcome: Outcome) -> None:
        with self.lock:
            self.commands[command.client_id] = command
            self.answers.setdefault(command.client_id, []).append(outcome)


@pytest.fixture
def ledger(fresh_db: str) -> Iterator[Ledger]:
    engine = make_engine(fresh_db, pool_size=2)
    factory = make_session_factory(engine)
    service = LedgerService()
    with unit_of_work(factory) as session:
        bank = create_bank_asset(session)
        hot = [create_deposit(session, code=f"hot-{i}") for i in range(HOT)]
        for account in hot:
            fund(service, session, source=bank, destination=account, amount=FUNDS)
    yield Ledger(fresh_db, factory, hot)
    engine.dispose()


def writer_commands(ledger: Ledger, seed: int, contested: list[Transfer]) -> Iterator[Transfer]:
    """One thread's stream: new transfers, a tenth of them followed by a retry of an
    earlier one of its own, and now and then one of the ``contested`` transfers that
    every thread sends."""
    rng = random.Random(seed)
    mine: list[Transfer] = []
    for i in range(TRANSFERS_PER_THREAD):
        roll = rng.random()
        if roll < 0.1 and mine:
            yield rng.choice(mine)
        elif roll < 0.2:
            yield contested[i % len(contested)]
        else:
            debit, credit = rng.sample(ledger.hot, 2)
            command = Transfer(
                client_id=f"w{seed}-{i}",
                debit_account=debit,
                credit_account=credit,
                amount=rng.randint(1, 4_000),
                currency="CNY",
            )
            mine.append(command)
            yield command


def contested_commands(ledger: Ledger) -> list[Transfer]:
    rng = random.Random(0)
    return [
        Transfer(
            client_id=f"contested-{i}",
            debit_account=ledger.hot[i % HOT],
            credit_account=ledger.hot[(i + 1) % HOT],
            amount=rng.randint(1, 4_000),
            currency="CNY",
        )
        for i in range(10)
    ]


def run_writers(ledger: Ledger, send: Callable[[SessionFactory, Transfer], Outcome]) -> Log:
    log = Log()
    contested = contested_commands(ledger)
    start = threading.Barrier(THREADS)

    def work(seed: int) -> None:
        engine = make_engine(ledger.url, pool_size=1)
        factory = make_session_factory(engine)
        try:
            start.wait()
            for command in writer_commands(ledger, seed, contested):
                log.record(command, send(factory, command))
        except BaseException as error:
            with log.lock:
                log.errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer is stuck"
    return log


def check(ledger: Ledger, log: Log) -> None:
    assert log.errors == []  # no deadlock, no serialization failure, no crash
    service = LedgerService()
    with unit_of_work(ledger.factory) as session:
        assert service.verify(session) == {}
        for row in service.trial_balance(session):
            assert (row.debits_posted, row.debits_pending) == (
                row.credits_posted,
                row.credits_pending,
            )
        entries: dict[str, int] = dict(
            session.execute(text("SELECT client_id, id FROM ledger_entry")).all()
        )
        balances = {
            account_id: credits - debits
            for account_id, debits, credits in session.execute(
                text(
                    "SELECT id, debits_posted, credits_posted FROM ledger_account "
                    "WHERE id = ANY(:ids)"
                ),
                {"ids": ledger.hot},
            )
        }

    expected = dict.fromkeys(ledger.hot, FUNDS)
    acknowledged = 0
    for client_id, answers in log.answers.items():
        ids = {o.entry_id for o in answers if o.status != "failed"}
        created = [o for o in answers if o.status == "created"]
        assert len(created) <= 1, f"{client_id} created twice"
        if not ids:
            assert client_id not in entries, f"{client_id} refused but written"
            continue
        acknowledged += 1
        # Every answer for the client id names the one entry stored under it.
        assert ids == {entries.get(client_id)}, client_id
        command = log.commands[client_id]
        expected[command.debit_account] -= command.amount  # type: ignore[index]
        expected[command.credit_account] += command.amount  # type: ignore[index]

    assert acknowledged > THREADS * TRANSFERS_PER_THREAD // 2  # most went through
    transfers = {cid for cid in entries if cid.startswith(("w", "contested"))}
    assert len(transfers) == acknowledged  # nothing stored that no one was told of
    assert balances == expected
    assert all(balance >= 0 for balance in balances.values())
    assert sum(balances.values()) == HOT * FUNDS


def send_directly(factory: SessionFactory, command: Transfer) -> Outcome:
    with unit_of_work(factory) as session:
        return LedgerService().execute(session, [command])[0]


class TestConcurrentWriters:
    def test_each_in_its_own_transaction(self, ledger: Ledger) -> None:
        log = run_writers(ledger, send_directly)
        check(ledger, log)

    def test_through_the_group_committer(self, ledger: Ledger) -> None:
        committer = GroupCommitter(LedgerService(), ledger.factory, max_batch=64, writers=2)
        committer.start()
        try:
            log = run_writers(ledger, lambda _factory, command: committer.submit(command))
        finally:
            committer.stop()
        check(ledger, log)
        with unit_of_work(ledger.factory) as session:
            entries, transactions = session.execute(
                text("SELECT count(*), count(DISTINCT xmin::text) FROM ledger_entry")
            ).one()
        assert transactions < entries  # commands did share commits


class TestContestedResolutions:
    """Every thread tries to resolve every hold (post or void) and reverse every
    entry, at the same moment: each hold is resolved once, each entry reversed once."""

    def test_each_hold_and_entry_is_resolved_once(self, ledger: Ledger) -> None:
        service = LedgerService()
        with unit_of_work(ledger.factory) as session:
            holds = [
                service.transfer(
                    session,
                    Transfer(
                        client_id=unique("hold"),
                        debit_account=ledger.hot[i % HOT],
                        credit_account=ledger.hot[(i + 1) % HOT],
                        amount=100 + i,
                        currency="CNY",
                        pending=True,
                    ),
                ).entry_id_or_raise()
                for i in range(20)
            ]
            entries = [
                service.transfer(
                    session,
                    Transfer(
                        client_id=unique("paid"),
                        debit_account=ledger.hot[i % HOT],
                        credit_account=ledger.hot[(i + 2) % HOT],
                        amount=100 + i,
                        currency="CNY",
                    ),
                ).entry_id_or_raise()
                for i in range(20)
            ]
        results: dict[int, list[tuple[str, Outcome]]] = {}
        errors: list[BaseException] = []
        lock = threading.Lock()
        start = threading.Barrier(THREADS)

        def work(seed: int) -> None:
            rng = random.Random(seed)
            engine = make_engine(ledger.url, pool_size=1)
            factory = make_session_factory(engine)
            targets = [*holds, *entries]
            rng.shuffle(targets)
            try:
                start.wait()
                for target in targets:
                    command: Command
                    if target in entries:
                        command = Reverse(client_id=unique("rev"), entry=target)
                    elif rng.random() < 0.5:
                        command = PostPending(client_id=unique("post"), pending=target)
                    else:
                        command = VoidPending(client_id=unique("void"), pending=target)
                    with unit_of_work(factory) as session:
                        outcome = service.execute(session, [command])[0]
                    with lock:
                        results.setdefault(target, []).append((command.kind, outcome))
            except BaseException as error:
                with lock:
                    errors.append(error)
            finally:
                engine.dispose()

        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        assert errors == []
        states: dict[int, str] = {}
        for target, attempts in results.items():
            won = [(kind, o) for kind, o in attempts if o.status == "created"]
            assert len(won) == 1, (target, attempts)
            lost = {o.error.code for _, o in attempts if o.error is not None}
            if target in holds:
                assert lost <= {"pending_transfer_already_resolved"}
                states[target] = {"post_pending": "posted", "void_pending": "voided"}[won[0][0]]
            else:
                assert lost <= {"entry_already_reversed"}
        with unit_of_work(ledger.factory) as session:
            assert service.verify(session) == {}
            stored = dict(
                session.execute(
                    text("SELECT entry_id, state FROM ledger_hold WHERE entry_id = ANY(:ids)"),
                    {"ids": holds},
                ).all()
            )
            reversed_ = session.execute(
                text("SELECT count(*) FROM ledger_entry WHERE reverses_id = ANY(:ids)"),
                {"ids": entries},
            ).scalar_one()
        assert stored == states
        assert reversed_ == len(entries)
