"""逸贷 under concurrency, on real connections: two offers for one order signed at once
(and the order paid by e-Pay at the same moment) pay it exactly once, with one loan at
most, and the merchant holds the order's amount once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.payments.orders import OrderRequest
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories import payments as epay
from tests.factories.identity import resident_id
from tests.factories.loans import assert_balanced
from tests.support.lending import STRONG_FORM, FakeScorecard, decide_with

pytestmark = pytest.mark.slow


@pytest.fixture
def platform(fresh_db: str, clock: FrozenClock) -> Iterator[Platform]:
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    decide_with(platform, FakeScorecard(points=700))
    try:
        yield platform
    finally:
        platform.close()


def test_an_order_signed_twice_and_paid_by_e_pay_at_once_is_paid_once(platform: Platform) -> None:
    with platform.transaction() as session:
        seller, shop_account = platform.accounts.register_person(
            session, name="赵掌柜", mobile="13900000001", resident_id=resident_id(1)
        )
        buyer, account = platform.accounts.register_person(
            session, name="钱多多", mobile="13900000002", resident_id=resident_id(2)
        )
    merchant_id = epay.merchant(
        platform, customer_id=seller.id, account=shop_account.number, name="赵记家电"
    )
    with platform.transaction() as session:
        order, _ = platform.payments.create_order(
            session,
            merchant_id=merchant_id,
            order=OrderRequest(order_no="R1", amount=6000_00, channel="online"),
        )
        offers = []
        for term in (6, 12):
            decided, _ = platform.yidai.apply(
                session,
                customer_id=buyer.id,
                token=order.token,
                term_months=term,
                form=STRONG_FORM,
                client_id=f"t{term}",
            )
            assert decided.offer is not None
            offers.append(decided.offer.id)
        vault, _ = platform.ledger.create_account(
            session, code="bank:vault", currency="CNY", type=AccountType.ASSET
        )
        platform.ledger.transfer(  # enough for e-Pay to pay it too
            session,
            Transfer(
                client_id="fund-race",
                debit_account=vault.id,
                credit_account=account.ledger_account_id,
                amount=6000_00,
                currency="CNY",
            ),
        )
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def by_instalments(offer_id: int) -> None:
        barrier.wait()
        try:
            with platform.transaction() as session:
                platform.yidai.pay(
                    session,
                    customer_id=buyer.id,
                    token=order.token,
                    offer_id=offer_id,
                    account=account,
                )
            outcomes.append("instalments")
        except DomainError as error:
            outcomes.append(error.code)

    def by_e_pay() -> None:
        barrier.wait()
        try:
            with platform.transaction() as session:
                platform.payments.pay_order(
                    session, customer_id=buyer.id, payment=order, account_number=account.number
                )
            outcomes.append("e-pay")
        except DomainError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=by_instalments, args=(o,)) for o in offers]
    threads.append(threading.Thread(target=by_e_pay))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with platform.transaction() as session:
        loans = platform.loans.loans_of(session, buyer.id)
        merchant = platform.payments.merchant(session, merchant_id)
        held = platform.payments.merchant_funds(session, merchant).held
        status = platform.payments.by_token(session, order.token).status
        assert_balanced(session, platform.ledger)
    assert status == "paid"
    assert held == 6000_00  # the merchant was paid once
    # One offer at most lent; e-Pay after it answers the payment as it is (the buyer's).
    assert outcomes.count("instalments") <= 1, outcomes
    assert len(loans) == outcomes.count("instalments"), outcomes
    assert set(outcomes) <= {"instalments", "e-pay", "order_not_payable"}, outcomes
