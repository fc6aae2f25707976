"""Refunds and settlement racing each other on real connections: refunds together
never exceed what was paid, one refund number refunds once however many times it is
sent, a refund racing the settlement never takes money the merchant was paid, and a
payment still in flight when its day is settled is settled the next day."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
from rongbank.payments import rules
from rongbank.payments.settlement import Settlement, settle, settle_all
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.payments.helpers import CommittedShop

pytestmark = pytest.mark.slow

PAID = 10_000  # fen
THREADS = 8


@pytest.fixture
def shop(fresh_db: str, clock: FrozenClock) -> Iterator[CommittedShop]:
    """A payment of 100.00 (order C-1), committed, on a database of its own: the
    refunds below run on connections of their own."""
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    try:
        shop = CommittedShop.open(platform, funds=PAID)
        shop.pay("C-1", PAID)
        yield shop
    finally:
        platform.close()


def race(shop: CommittedShop, asks: list[tuple[str, int]]) -> list[str]:
    """Send the refunds of C-1 at once, one thread and transaction each; what each got."""
    barrier = threading.Barrier(len(asks))
    outcomes = [""] * len(asks)

    def refund(index: int, refund_no: str, amount: int) -> None:
        barrier.wait()
        try:
            with shop.platform.transaction() as session:
                shop.platform.payments.refund(
                    session,
                    merchant_id=shop.merchant_id,
                    order_no="C-1",
                    refund_no=refund_no,
                    amount=amount,
                )
            outcomes[index] = "refunded"
        except DomainError as error:
            outcomes[index] = error.code

    threads = [
        threading.Thread(target=refund, args=(i, no, amount)) for i, (no, amount) in enumerate(asks)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def refunded(shop: CommittedShop) -> tuple[int, int]:
    """The payment's refunded total and the sum of its refund rows."""
    payments = shop.platform.payments
    with shop.platform.transaction() as session:
        payment = payments.get(session, merchant_id=shop.merchant_id, order_no="C-1")
        return payment.refunded, sum(r.amount for r in payments.refunds(session, payment.id))


def test_concurrent_refunds_together_never_exceed_the_payment(shop: CommittedShop) -> None:
    outcomes = race(shop, [(f"r{i}", 3_000) for i in range(THREADS)])

    assert Counter(outcomes) == {"refunded": 3, "refund_exceeds_payment": THREADS - 3}
    assert refunded(shop) == (9_000, 9_000)
    assert shop.available(shop.payer_account) == 9_000
    with shop.platform.transaction() as session:
        assert shop.platform.ledger.verify(session) == {}


def test_one_refund_number_sent_concurrently_refunds_once(shop: CommittedShop) -> None:
    outcomes = race(shop, [("same", 5_000)] * THREADS)

    assert outcomes == ["refunded"] * THREADS  # the repeats answer the one refund
    assert refunded(shop) == (5_000, 5_000)
    assert shop.available(shop.payer_account) == 5_000


def test_a_refund_racing_the_settlement_never_takes_what_was_paid_out(
    shop: CommittedShop, clock: FrozenClock
) -> None:
    """C-1 (100.00, not settled) is refunded in full while its day is settled: one of
    them goes first (both lock the merchant), and the other sees what it left."""
    day = shop.platform.accounts.business_day()
    clock.advance(timedelta(days=1))
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def refund() -> None:
        barrier.wait()
        try:
            with shop.platform.transaction() as session:
                shop.platform.payments.refund(
                    session,
                    merchant_id=shop.merchant_id,
                    order_no="C-1",
                    refund_no="r",
                    amount=PAID,
                )
            outcome["refund"] = "refunded"
        except DomainError as error:
            outcome["refund"] = error.code

    def settlement() -> None:
        barrier.wait()
        with shop.platform.transaction() as session:
            outcome["paid"] = settle(
                session, shop.platform.payments, merchant_id=shop.merchant_id, day=day
            ).paid

    both = [threading.Thread(target=refund), threading.Thread(target=settlement)]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join()

    assert outcome in (
        {"refund": "refunded", "paid": 0},  # the refund first: nothing left, no fee
        {"refund": "refund_exceeds_merchant_funds", "paid": PAID - rules.fee(PAID, 60)},
    )
    refunded_back = PAID if outcome["refund"] == "refunded" else 0
    assert shop.available(shop.payer_account) == refunded_back
    assert shop.available(shop.seller_account) == outcome["paid"]
    with shop.platform.transaction() as session:
        assert shop.platform.ledger.verify(session) == {}


@pytest.mark.parametrize("order_made_with_it", [False, True])
def test_a_payment_in_flight_at_midnight_is_settled_once(
    fresh_db: str, clock: FrozenClock, order_made_with_it: bool
) -> None:
    """A payment that began at 23:59:58 commits after its day's settlement began. If
    its order was made before, the run does not wait for it and the next run takes
    it; if the order is made in the same transaction, the run waits for it (the new
    row holds the merchant's key) and takes it. Either way the merchant is paid it
    once."""
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    try:
        shop = CommittedShop.open(platform, funds=PAID)
        day = platform.accounts.business_day()
        midnight = datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)  # in Beijing
        clock.advance(midnight - timedelta(seconds=2) - clock.now())
        shop.pay("EARLY", 6_000)
        if not order_made_with_it:
            with platform.transaction() as session:
                shop.order_in(session, "LATE", 4_000)
        paid, release = threading.Event(), threading.Event()

        def in_flight() -> None:
            with platform.transaction() as session:
                shop.pay_in(session, "LATE", 4_000)  # its business day: the old one
                paid.set()
                release.wait(timeout=120)

        late = threading.Thread(target=in_flight)
        late.start()
        assert paid.wait(timeout=120)
        clock.advance(timedelta(seconds=3))  # 00:00:01: the day is over
        first: list[Settlement] = []
        settler = threading.Thread(
            target=lambda: first.extend(
                settle_all(platform.session_factory, platform.payments, day).settled
            )
        )
        settler.start()
        _until(lambda: not settler.is_alive() or _waiting_on_a_lock(platform) > 0)
        release.set()
        late.join()
        settler.join()
        clock.advance(timedelta(days=1))
        second = settle_all(
            platform.session_factory, platform.payments, day + timedelta(days=1)
        ).settled
        with platform.transaction() as session:
            found = platform.payments.get(session, merchant_id=shop.merchant_id, order_no="LATE")
            assert platform.ledger.verify(session) == {}
    finally:
        platform.close()
    taken_on = day if order_made_with_it else day + timedelta(days=1)
    assert (found.business_day, found.settled_day) == (day, taken_on)
    if order_made_with_it:
        assert ([s.payments for s in first], [s.payments for s in second]) == ([10_000], [0])
    else:
        assert ([s.payments for s in first], [s.payments for s in second]) == ([6_000], [4_000])
    assert shop.available(shop.seller_account) == (
        6_000 - rules.fee(6_000, 60) + 4_000 - rules.fee(4_000, 60)
    )


def _waiting_on_a_lock(platform: Platform) -> int:
    with platform.transaction() as session:
        return int(
            session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def _until(condition: Callable[[], bool]) -> None:
    """Poll until ``condition`` holds (a guard against hanging, not a timed test)."""
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)
