"""Two trades on one position at once, on real connections: closing more than is held
between them succeeds once; two buys both count."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from rongbank.accounts.service import EAccount
from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories.accounts import People
from tests.support.invest import investor, scripted

pytestmark = pytest.mark.slow
GRAM = 1000


@pytest.fixture
def platform(fresh_db: str, clock: FrozenClock) -> Iterator[Platform]:
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    scripted(platform, AU_CNY=500_00)
    try:
        yield platform
    finally:
        platform.close()


def _at_once(platform: Platform, account: EAccount, trades: list[tuple[str, int]]) -> list[object]:
    with platform.transaction() as session:
        quote = platform.invest.quote(session, customer_id=account.customer_id, code="AU_CNY")
    barrier = threading.Barrier(len(trades))
    results: list[object] = [None] * len(trades)

    def run(i: int, action: str, grams: int) -> None:
        barrier.wait()
        try:
            with platform.transaction() as session:
                results[i] = platform.invest.trade(
                    session,
                    customer_id=account.customer_id,
                    quote_id=quote.id,
                    side="long",
                    action=action,  # type: ignore[arg-type]
                    quantity=grams * GRAM,
                    account_number=account.number,
                    client_id=f"{action}-{i}",
                )[0]
        except DomainError as refused:
            results[i] = refused.code

    threads = [threading.Thread(target=run, args=(i, *t)) for i, t in enumerate(trades)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _held(platform: Platform, customer_id: int) -> int:
    with platform.transaction() as session:
        positions = platform.invest.positions(session, customer_id)
        ledger = platform.ledger.account(session, f"invest:{customer_id}:long:AU_G")
    assert ledger.credits_posted - ledger.debits_posted == sum(p.quantity for p in positions)
    return sum(p.quantity for p in positions)


def test_two_closes_that_together_exceed_the_position_succeed_once(platform: Platform) -> None:
    me = investor(platform, People(platform.accounts, platform.ledger))
    _at_once(platform, me, [("open", 5)])
    results = _at_once(platform, me, [("close", 4), ("close", 4)])
    assert sorted(r if isinstance(r, str) else "ok" for r in results) == [
        "invest_position_too_small",
        "ok",
    ]
    assert _held(platform, me.customer_id) == 1 * GRAM


def test_two_buys_at_once_both_count(platform: Platform) -> None:
    me = investor(platform, People(platform.accounts, platform.ledger))
    results = _at_once(platform, me, [("open", 2), ("open", 3)])
    assert all(isinstance(r, dict) for r in results)
    assert _held(platform, me.customer_id) == 5 * GRAM
