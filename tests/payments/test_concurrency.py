"""Refunds racing each other on real connections: together they never exceed what
was paid, and one refund number refunds once however many times it is sent."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
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
