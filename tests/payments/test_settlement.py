"""Settlement pays a merchant exactly what it is owed, never more: whatever order the
days are settled in, however late a payment or refund commits, and within the class
limits of the account it is paid into."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.api.app import create_app
from rongbank.errors import DomainError
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.payments import rules
from rongbank.payments.settlement import settle, settle_all, settlement_report
from rongbank.platform import Platform
from tests.accounts.test_endpoints import resident_id
from tests.conftest import staff_token
from tests.payments.helpers import CommittedShop, break_settlement_of, mend_settlement

FEE_BPS = 60


def next_day(platform: Platform) -> date:
    """Move the clock to the next business day (09:30 in Beijing); the day left."""
    clock: Any = platform.clock
    left = platform.accounts.business_day()
    start = datetime(left.year, left.month, left.day, 1, 30, tzinfo=UTC) + timedelta(days=1)
    clock.advance(start - clock.now())
    return left


def refund(
    platform: Platform, session: Session, shop: CommittedShop, order_no: str, no: str, fen: int
) -> str:
    """Refund as the merchant; "refunded" or the refusal's code."""
    try:
        platform.payments.refund(
            session, merchant_id=shop.merchant_id, order_no=order_no, refund_no=no, amount=fen
        )
    except DomainError as refused:
        return refused.code
    return "refunded"


def paid_out(session: Session, merchant_id: int) -> tuple[int, int]:
    """What settlement runs paid the merchant and charged it, in all."""
    paid, charged = session.execute(
        text(
            "SELECT coalesce(sum(paid), 0), coalesce(sum(fees_charged), 0) "
            "FROM merchant_settlement WHERE merchant_id = :m"
        ),
        {"m": merchant_id},
    ).one()
    return int(paid), int(charged)


def held(platform: Platform, session: Session, shop: CommittedShop) -> int:
    """What the merchant payable holds (credit balance)."""
    merchant = platform.payments.merchant(session, shop.merchant_id)
    payable = platform.ledger.account(session, merchant.payable_account_id)
    return payable.credits_posted - payable.debits_posted


@dataclass
class Merchant:
    """Drives one merchant's days through the services and keeps, from what it saw
    accepted, what the merchant is owed."""

    platform: Platform
    session: Session
    shop: CommittedShop
    payments: dict[str, int] = field(default_factory=dict)  # order no → captured
    refunds: int = 0

    def pay(self, order_no: str, fen: int) -> None:
        self.shop.pay_in(self.session, order_no, fen)
        self.payments[order_no] = fen

    def refund(self, pick: int, per_mille: int, refund_no: str) -> None:
        if not self.payments:
            return
        order_no = sorted(self.payments)[pick % len(self.payments)]
        fen = max(self.payments[order_no] * per_mille // 1000, 1)
        outcome = refund(self.platform, self.session, self.shop, order_no, refund_no, fen)
        assert outcome in ("refunded", "refund_exceeds_payment", "refund_exceeds_merchant_funds")
        if outcome == "refunded":
            self.refunds += fen

    def settle(self, day: date) -> None:
        settle(self.session, self.platform.payments, merchant_id=self.shop.merchant_id, day=day)
        assert self.paid_out()[0] <= self.owed()

    def fees(self) -> int:
        """Each payment's fee as it stands (on what it kept until it was settled)."""
        payments = self.platform.payments
        return sum(
            payments.get(self.session, merchant_id=self.shop.merchant_id, order_no=n).fee
            for n in self.payments
        )

    def owed(self) -> int:
        return sum(self.payments.values()) - self.refunds - self.fees()

    def paid_out(self) -> tuple[int, int]:
        return paid_out(self.session, self.shop.merchant_id)

    def held(self) -> int:
        return held(self.platform, self.session, self.shop)


Op = tuple[str, int, int]  # ("pay", fen, _) or ("refund", which payment, per mille)

day_ops = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(1, 30_000), st.just(0)),
        st.tuples(st.just("refund"), st.integers(0, 20), st.integers(1, 1000)),
    ),
    max_size=5,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    days=st.lists(day_ops, min_size=1, max_size=4),
    runs=st.lists(st.lists(st.integers(0, 3), max_size=3), min_size=4, max_size=4),
    last=st.permutations(range(4)),
)
def test_whatever_the_order_of_settlement_the_merchant_is_paid_what_it_is_owed_never_more(
    platform: Platform, days: list[list[Op]], runs: list[list[int]], last: list[int]
) -> None:
    """Random payments and refunds across days; before each day, earlier days settled
    in a random order (again, or out of order); at the end every day in a random
    order. At every step the payable is not below zero and the merchant has been paid
    no more than it is owed; at the end, exactly that."""
    with platform.transaction() as session:
        shop = Merchant(platform, session, CommittedShop.make(session, platform, funds=10**9))
        dates: list[date] = []
        for n, ops in enumerate(days):
            for pick in runs[n]:
                if pick < len(dates):
                    shop.settle(dates[pick])
            for k, (kind, a, b) in enumerate(ops):
                if kind == "pay":
                    shop.pay(f"O{n}-{k}", a)
                else:
                    shop.refund(a, b, f"R{n}-{k}")
                assert shop.held() >= 0
            dates.append(next_day(platform))
        for pick in [*last, len(dates) - 1]:
            if pick < len(dates):
                shop.settle(dates[pick])
        assert shop.paid_out() == (shop.owed(), shop.fees())
        assert shop.held() == 0
        unsettled = session.execute(
            text("SELECT count(*) FROM payment WHERE merchant_id = :m AND settled_day IS NULL"),
            {"m": shop.shop.merchant_id},
        ).scalar_one()
        assert unsettled == 0
        assert platform.ledger.verify(session) == {}
        session.rollback()


def test_a_day_settled_after_a_later_one_loses_no_debt(platform: Platform) -> None:
    """Day 1 takes 100.00; day 2 refunds 80.00 of it (a net of -80 for day 2 alone);
    day 3 takes 50.00. Settling day 2, then 3, then 1 pays 69.58 in all: what the
    merchant kept less fees, not day 1's 100 again on top."""
    with platform.transaction() as session:
        shop = CommittedShop.make(session, platform, funds=1_000_000)
        shop.pay_in(session, "A", 10_000)
        day1 = next_day(platform)
        assert refund(platform, session, shop, "A", "r1", 8_000) == "refunded"
        day2 = next_day(platform)
        shop.pay_in(session, "B", 5_000)
        day3 = next_day(platform)
        runs = [
            settle(session, platform.payments, merchant_id=shop.merchant_id, day=d)
            for d in (day2, day3, day1)
        ]
        seller = platform.accounts.account(session, shop.seller_account)
        seller_balance = platform.accounts.available(session, seller)
    owed = 10_000 - 8_000 + 5_000 - rules.fee(2_000, FEE_BPS) - rules.fee(5_000, FEE_BPS)
    assert owed == 6_958
    assert [r.paid for r in runs] == [2_000 - rules.fee(2_000, FEE_BPS), 4_970, 0]
    assert sum(r.paid for r in runs) == owed == seller_balance
    assert (runs[0].payments, runs[0].refunds) == (10_000, 8_000)  # day 1's, taken late
    assert (runs[2].payments, runs[2].refunds, runs[2].carried_forward) == (0, 0, 0)


def test_a_payment_committed_after_its_day_was_settled_is_settled_the_next_day(
    platform: Platform,
) -> None:
    """A server whose clock is a few seconds behind (or a transaction that began before
    midnight) records a payment on a day already settled: the next run takes it."""
    clock: Any = platform.clock
    with platform.transaction() as session:
        shop = CommittedShop.make(session, platform, funds=1_000_000)
        shop.pay_in(session, "EARLY", 10_000)
        day = platform.accounts.business_day()
        midnight = datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)  # Beijing
        clock.advance(midnight + timedelta(seconds=1) - clock.now())
        first = settle(session, platform.payments, merchant_id=shop.merchant_id, day=day)
        clock.advance(timedelta(seconds=-3))  # 23:59:58 on the day just settled
        late = shop.pay_in(session, "LATE", 3_000)
        assert late.business_day == day
        clock.advance(timedelta(seconds=3))
        next_run_day = next_day(platform)
        second = settle(session, platform.payments, merchant_id=shop.merchant_id, day=next_run_day)
        report = settlement_report(session, second)
        late = platform.payments.get(session, merchant_id=shop.merchant_id, order_no="LATE")
        remaining = held(platform, session, shop)
    assert (first.payments, first.paid) == (10_000, 10_000 - rules.fee(10_000, FEE_BPS))
    assert (second.payments, second.paid) == (3_000, 3_000 - rules.fee(3_000, FEE_BPS))
    assert late.settled_day == next_run_day
    assert ",payment,LATE," in report
    assert remaining == 0


def test_a_class_ii_settlement_account_gets_what_its_limit_allows_and_the_rest_later(
    platform: Platform,
) -> None:
    """A person's remote e-account (class II) may take in 10,000 yuan a day: a day of
    12,000 yuan of takings is paid 10,000 now and the rest the next day."""
    with platform.transaction() as session:
        shop = CommittedShop.make(session, platform, funds=1_000_000)
        for n in range(3):  # three payers: each may pay 10,000 yuan a day
            payer = pay_from_another_customer(platform, session, shop, n, 400_000)
            assert payer.status == "paid"
        day = next_day(platform)
        first = settle(session, platform.payments, merchant_id=shop.merchant_id, day=day)
        quiet = next_day(platform)
        second = settle(session, platform.payments, merchant_id=shop.merchant_id, day=quiet)
        seller = platform.accounts.account(session, shop.seller_account)
        balance = platform.accounts.available(session, seller)
    fees = 3 * rules.fee(400_000, FEE_BPS)
    assert first.paid == 1_000_000
    assert first.carried_forward == 1_200_000 - fees - 1_000_000
    assert (second.payments, second.brought_forward) == (0, first.carried_forward)
    assert second.paid == first.carried_forward
    assert balance == 1_200_000 - fees


def test_a_refund_counts_against_the_customers_class_ii_inflow_limit(platform: Platform) -> None:
    with platform.transaction() as session:
        shop = CommittedShop.make(session, platform, funds=1_000_000)
        shop.pay_in(session, "A", 5_000)
        payer = platform.accounts.account(session, shop.payer_account, lock=True)
        platform.accounts.count_usage(session, payer, column="inflow", amount=998_000)
        refused = refund(platform, session, shop, "A", "r1", 2_001)
        done = refund(platform, session, shop, "A", "r2", 2_000)
        again = refund(platform, session, shop, "A", "r3", 1)
    assert (refused, done, again) == ("daily_limit_exceeded", "refunded", "daily_limit_exceeded")


def pay_from_another_customer(
    platform: Platform, session: Session, shop: CommittedShop, n: int, fen: int
) -> Any:
    """A payer of its own (each class II account may pay 10,000 yuan a day)."""
    from rongbank.payments.orders import OrderRequest

    customer, account = platform.accounts.register_person(
        session, name="李雷", mobile=f"1380000010{n}", resident_id=resident_id(10 + n)
    )
    vault, _ = platform.ledger.create_account(
        session, code="bank:vault", currency="CNY", type=AccountType.ASSET
    )
    platform.ledger.transfer(
        session,
        Transfer(
            client_id=f"fund-{n}",
            debit_account=vault.id,
            credit_account=account.ledger_account_id,
            amount=fen,
            currency="CNY",
        ),
    )
    order, _ = platform.payments.create_order(
        session,
        merchant_id=shop.merchant_id,
        order=OrderRequest(order_no=f"X-{n}", amount=fen, channel="online"),
    )
    return platform.payments.pay_order(
        session, customer_id=customer.id, payment=order, account_number=account.number
    )


def unsettled(platform: Platform, shop: CommittedShop) -> int:
    with platform.transaction() as session:
        return int(
            session.execute(
                text("SELECT count(*) FROM payment WHERE merchant_id = :m AND settled_day IS NULL"),
                {"m": shop.merchant_id},
            ).scalar_one()
        )


class TestARunForEveryMerchant:
    @pytest.fixture
    def shops(self, platform: Platform) -> tuple[CommittedShop, CommittedShop, date]:
        """Two merchants paid on a day that is over; the first's settlement fails."""
        broken = CommittedShop.open(platform, funds=1_000_000)
        fine = CommittedShop.open(platform, funds=1_000_000, number=2)
        assert broken.merchant_id < fine.merchant_id  # the run meets the failure first
        broken.pay("B-1", 10_000)
        fine.pay("F-1", 5_000)
        with platform.transaction() as session:
            break_settlement_of(session, broken.merchant_id)
        return broken, fine, next_day(platform)

    def test_one_merchants_failure_stops_no_other_and_the_next_run_settles_it(
        self,
        platform: Platform,
        shops: tuple[CommittedShop, CommittedShop, date],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        broken, fine, day = shops
        with caplog.at_level(logging.ERROR, logger="rongbank.payments.settlement"):
            run = settle_all(platform.session_factory, platform.payments, day)
        assert [x.merchant_id for x in run.settled] == [fine.merchant_id]
        assert [(f.merchant_id, f.error) for f in run.failed] == [
            (broken.merchant_id, "unexpected_error")
        ]
        assert fine.available(fine.seller_account) == 5_000 - rules.fee(5_000, FEE_BPS)
        assert broken.available(broken.seller_account) == 0
        assert unsettled(platform, broken) == 1  # nothing of the failed run was kept
        assert f"settlement of merchant {broken.merchant_id} for {day} failed" in caplog.text
        with platform.transaction() as session:
            mend_settlement(session)
        again = settle_all(platform.session_factory, platform.payments, day)
        assert (again.failed, [x.merchant_id for x in again.settled]) == (
            [],
            [broken.merchant_id, fine.merchant_id],
        )
        assert broken.available(broken.seller_account) == 10_000 - rules.fee(10_000, FEE_BPS)
        assert fine.available(fine.seller_account) == 5_000 - rules.fee(5_000, FEE_BPS)
        with platform.transaction() as session:
            assert platform.ledger.verify(session) == {}

    def test_staff_see_which_merchants_failed_and_the_audit_keeps_them(
        self, platform: Platform, shops: tuple[CommittedShop, CommittedShop, date]
    ) -> None:
        broken, fine, day = shops
        _, token = staff_token(platform, username="ops-settle", role="operations")
        with TestClient(create_app(platform, background=False)) as client:
            answer = client.post(
                "/api/v1/staff/payments/settlements",
                headers={"Authorization": f"Bearer {token}"},
                json={"business_day": day.isoformat()},
            )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [x["merchant_id"] for x in body["settled"]] == [fine.merchant_id]
        assert [(f["merchant_id"], f["error"]) for f in body["failed"]] == [
            (broken.merchant_id, "unexpected_error")
        ]
        assert "refused by the test" not in answer.text  # the database's words stay in the log
        with platform.transaction() as session:
            details = session.execute(
                text("SELECT details FROM audit_log WHERE action = 'epay.settle'")
            ).scalar_one()
        assert (details["merchants"], details["failed"]) == (1, [broken.merchant_id])

    def test_a_day_not_over_settles_no_one(self, platform: Platform) -> None:
        CommittedShop.open(platform, funds=1_000_000)
        today = platform.accounts.business_day()
        with pytest.raises(DomainError) as refused:
            settle_all(platform.session_factory, platform.payments, today)
        assert refused.value.code == "settlement_day_open"
