"""Transfers between two customers both ways at once, on real connections: each locks
both accounts in one statement in id order, so opposite transfers queue rather than
deadlock, and every one is made once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from rongbank.clock import FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer, balance_of
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories.identity import resident_id

pytestmark = pytest.mark.slow

EACH, FUNDS = 25, 10_000


@pytest.fixture
def platform(fresh_db: str, clock: FrozenClock) -> Iterator[Platform]:
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    try:
        yield platform
    finally:
        platform.close()


def test_opposite_transfers_at_once_all_go_through(platform: Platform) -> None:
    people: list[tuple[int, str, int]] = []
    with platform.transaction() as session:
        vault, _ = platform.ledger.create_account(
            session, code="bank:vault", currency="CNY", type=AccountType.ASSET
        )
        for n in range(2):
            customer, account = platform.accounts.register_person(
                session, name="张三", mobile=f"1390000{n:04d}", resident_id=resident_id(n + 1)
            )
            people.append((customer.id, account.number, account.ledger_account_id))
            platform.ledger.transfer(
                session,
                Transfer(
                    client_id=f"fund-{n}",
                    debit_account=vault.id,
                    credit_account=account.ledger_account_id,
                    amount=FUNDS,
                    currency="CNY",
                ),
            )
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def pay(payer: tuple[int, str, int], payee: tuple[int, str, int]) -> None:
        start.wait()
        try:
            for i in range(EACH):
                with platform.transaction() as session:
                    platform.accounts.transfer(
                        session,
                        customer_id=payer[0],
                        source=payer[1],
                        destination=payee[1],
                        amount=1 + payer[0] % 2,
                        client_id=f"race-{i}",
                    )
        except BaseException as error:  # a deadlock, or anything else, fails the test
            errors.append(error)

    threads = [
        threading.Thread(target=pay, args=(people[0], people[1])),
        threading.Thread(target=pay, args=(people[1], people[0])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with platform.transaction() as session:
        balances = [
            balance_of(platform.ledger.account(session, ledger_id)).posted
            for _, _, ledger_id in people
        ]
    sent = [EACH * (1 + customer_id % 2) for customer_id, _, _ in people]
    assert balances == [FUNDS - sent[0] + sent[1], FUNDS - sent[1] + sent[0]]
