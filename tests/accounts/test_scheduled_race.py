"""The scheduled-transfer job on real connections: run again, or in several threads at
once (several server processes), it pays each date of each schedule exactly once,
records each refusal once and tells it once; the ledger balances."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from rongbank.accounts.scheduled import ScheduledRuns
from rongbank.accounts.schedules import Frequency, Schedule
from rongbank.clock import FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories.identity import resident_id

pytestmark = pytest.mark.slow

PAYERS, THREADS = 4, 4
AMOUNT = 1_000  # 10.00 a date
SCHEDULES = (
    Schedule(Frequency.WEEKLY, date(2026, 3, 3), weekday=3),  # 4, 11, 18, 25 March
    Schedule(Frequency.MONTHLY, date(2026, 3, 3), day_of_month=31),  # 31 March
    Schedule(Frequency.ONCE, date(2026, 3, 20)),
)
DATES_EACH = 6
"""What the schedules above pay by 31 March."""
DUE_ALL = datetime(2026, 3, 30, 17, 0, tzinfo=UTC)  # 31 March, 01:00 Beijing


@dataclass
class World:
    platform: Platform
    numbers: list[str]
    """The payers' accounts, each paying the next round a ring."""
    broke: tuple[int, str]
    """A customer without money, and their account: their schedule fails each date."""


@pytest.fixture
def world(fresh_db: str, clock: FrozenClock) -> Iterator[World]:
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    try:
        with platform.transaction() as session:
            vault, _ = platform.ledger.create_account(
                session, code="bank:vault", currency="CNY", type=AccountType.ASSET
            )
            people = []
            for n in range(PAYERS + 1):
                customer, account = platform.accounts.register_person(
                    session, name="张三", mobile=f"1390000{n:04d}", resident_id=resident_id(n + 1)
                )
                people.append((customer.id, account.number))
                if n < PAYERS:
                    platform.ledger.transfer(
                        session,
                        Transfer(
                            client_id=f"fund-{n}",
                            debit_account=vault.id,
                            credit_account=account.ledger_account_id,
                            amount=100 * AMOUNT,
                            currency="CNY",
                        ),
                    )
            numbers = [number for _, number in people[:PAYERS]]
            for n, (customer_id, number) in enumerate(people[:PAYERS]):
                for k, plan in enumerate(SCHEDULES):
                    platform.scheduled.create(
                        session,
                        customer_id=customer_id,
                        client_id=f"s{k}",
                        source=number,
                        destination=numbers[(n + 1) % PAYERS],
                        amount=AMOUNT,
                        description="",
                        schedule=plan,
                    )
            broke = people[PAYERS]
            platform.scheduled.create(
                session,
                customer_id=broke[0],
                client_id="broke",
                source=broke[1],
                destination=numbers[0],
                amount=AMOUNT,
                description="",
                schedule=SCHEDULES[0],
            )
        yield World(platform, numbers, broke)
    finally:
        platform.close()


def concurrent_runs(platform: Platform, *, batch: int) -> list[ScheduledRuns]:
    """The job run by THREADS processes at once; every run must succeed (a deadlock
    between them would fail one)."""
    barrier = threading.Barrier(THREADS)
    done: list[ScheduledRuns] = []
    errors: list[Exception] = []

    def run() -> None:
        barrier.wait()
        try:
            while (one := platform.run_scheduled_transfers(batch=batch)) != ScheduledRuns():
                done.append(one)
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return done


def count(platform: Platform, sql: str) -> int:
    with platform.transaction() as session:
        return int(session.execute(text(sql)).scalar_one())


def test_concurrent_runs_pay_every_date_once_and_tell_every_refusal_once(
    world: World, clock: FrozenClock
) -> None:
    platform = world.platform
    clock.advance(DUE_ALL - clock.now())
    runs = concurrent_runs(platform, batch=2)  # small batches: the runs interleave

    paid = PAYERS * DATES_EACH
    assert sum(r.paid for r in runs) == paid
    assert sum(r.failed for r in runs) == 4  # the broke customer's four Wednesdays
    assert sum(r.errors for r in runs) == 0
    assert count(platform, "SELECT count(*) FROM scheduled_transfer_run") == paid + 4
    assert (
        count(platform, "SELECT count(*) FROM ledger_entry WHERE client_id LIKE 'scheduled:%'")
        == paid
    )
    assert (
        count(
            platform,
            "SELECT count(*) FROM outbox_event WHERE name = 'accounts.scheduled_transfer_failed'",
        )
        == 4
    )
    with platform.transaction() as session:
        for number in world.numbers:  # each paid as much as it was paid, round the ring
            account = platform.accounts.account(session, number)
            assert platform.accounts.available(session, account) == 100 * AMOUNT
        assert platform.ledger.verify(session) == {}
        broke = platform.accounts.account(session, world.broke[1])
        assert platform.accounts.available(session, broke) == 0

    # The job run again: nothing; on the next Wednesday, that Wednesday only.
    assert platform.run_scheduled_transfers() == ScheduledRuns()
    clock.advance(datetime(2026, 4, 1, 0, 0, tzinfo=UTC) - clock.now())  # 1 April, 08:00
    later = concurrent_runs(platform, batch=1)
    assert (sum(r.paid for r in later), sum(r.failed for r in later)) == (PAYERS, 1)


def test_the_job_run_twice_in_a_row_pays_a_date_once(world: World, clock: FrozenClock) -> None:
    platform = world.platform
    clock.advance(datetime(2026, 3, 3, 16, 30, tzinfo=UTC) - clock.now())  # 4 March, 00:30
    first, second = platform.run_scheduled_transfers(), platform.run_scheduled_transfers()
    assert (first.paid, first.failed, second) == (PAYERS, 1, ScheduledRuns())
    assert (
        count(platform, "SELECT count(*) FROM ledger_entry WHERE client_id LIKE 'scheduled:%'")
        == PAYERS
    )
