"""A held e-Pay payment's release and void racing each other on real connections:
one wins, once; the merchant never gets the money of a voided hold."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.risk.engine import holds
from rongbank.settings import Settings
from tests.payments.helpers import CommittedShop
from tests.support.risk_engine import in_force

pytestmark = pytest.mark.slow

FUNDS = 1_000_000
AMOUNT = 10_000
PAYMENTS = 4


@pytest.fixture
def shop(fresh_db: str, clock: FrozenClock) -> Iterator[CommittedShop]:
    """A shop whose every payment the engine sends to review, on a database of its own."""
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    try:
        shop = CommittedShop.open(platform, funds=FUNDS)
        in_force(platform, name="all", condition="merchant_payment", action="review", reason="t")
        yield shop
    finally:
        platform.close()


def hold(shop: CommittedShop, order_no: str) -> str:
    """The customer pays an order; the engine holds it (as ``Platform.authorised``
    asks it, before the body)."""
    platform = shop.platform
    with platform.transaction() as session:
        order = shop.order_in(session, order_no, AMOUNT)
        merchant = platform.payments.merchant(session, shop.merchant_id)
        request = platform.payments.payment_request(merchant, order_no, AMOUNT, shop.payer_account)
        platform.risk_engine.assess(session, shop.payer_id, request)
        paid = platform.payments.pay_order(
            session, customer_id=shop.payer_id, payment=order, account_number=shop.payer_account
        )
        assert paid.status == "held"
        return str(
            session.execute(
                text("SELECT hold_ref FROM risk_hold WHERE entry_id = :e"), {"e": paid.entry_id}
            ).scalar_one()
        )


def race(platform: Platform, hold_ref: str) -> list[bool]:
    """The analyst's "false positive" and the customer's "no" at once."""
    barrier = threading.Barrier(2)
    won = [False, False]

    def decide(index: int, release: bool) -> None:
        barrier.wait()
        with platform.transaction() as session:
            won[index] = holds.resolve(
                session,
                platform.ledger,
                hold_ref,
                release=release,
                by=f"race:{index}",
                now=platform.clock.now(),
                resolved=platform.risk_hold_resolved,
            )

    threads = [threading.Thread(target=decide, args=(i, i == 0)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_a_release_racing_a_void_acts_once_and_the_money_follows_the_winner(
    shop: CommittedShop,
) -> None:
    platform = shop.platform
    refs = [hold(shop, f"H-{n}") for n in range(PAYMENTS)]
    released = 0
    for ref in refs:
        won = race(platform, ref)
        assert won.count(True) == 1, won
        released += won[0]
        # Asked again, either way: it was decided.
        with platform.transaction() as session:
            for release in (True, False):
                assert not holds.resolve(
                    session,
                    platform.ledger,
                    ref,
                    release=release,
                    by="late",
                    now=platform.clock.now(),
                    resolved=platform.risk_hold_resolved,
                )
    with platform.transaction() as session:
        statuses = session.execute(
            text(
                "SELECT p.status, h.state, "
                "(SELECT count(*) FROM ledger_entry e WHERE e.client_id IN "
                "('risk-hold:post:' || h.entry_id, 'risk-hold:void:' || h.entry_id)) "
                "FROM payment p JOIN risk_hold h ON h.entry_id = p.entry_id ORDER BY p.id"
            )
        ).all()
        merchant = platform.payments.merchant(session, shop.merchant_id)
        funds = platform.payments.merchant_funds(session, merchant)
        payer = platform.accounts.account(session, shop.payer_account)
        left = platform.accounts.available(session, payer)
    for status, state, entries in statuses:
        assert (status, entries) == ({"released": "paid", "voided": "declined"}[state], 1)
    assert funds.held == released * AMOUNT
    assert left == FUNDS - released * AMOUNT
