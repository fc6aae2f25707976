"""Refunds, signed notifications with retries, settlement and reconciliation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from rongbank.payments import rules
from rongbank.payments.notify import deliver_due
from rongbank.payments.settlement import compare, settle, settlement_report, transaction_file
from rongbank.platform import Platform
from tests.payments.helpers import V1, Shop, client, shop

__all__ = ["client", "shop"]


def paid_order(shop: Shop, payer: dict[str, Any], order_no: str, amount: str, **extra: Any) -> None:
    assert shop.pay(payer, shop.token(shop.order(order_no, amount, **extra))).status_code == 200


def refund(shop: Shop, order_no: str, refund_no: str, amount: str, headers: Any = None) -> Any:
    return shop.client.post(
        f"{V1}/merchant/orders/{order_no}/refunds",
        headers=headers or shop.owner,
        json={"refund_no": refund_no, "amount": amount},
    )


class TestRefunds:
    def test_partial_refunds_up_to_what_was_paid_and_never_by_a_cashier(self, shop: Shop) -> None:
        alice = shop.customer()
        paid_order(shop, alice, "R-1", "100.00")
        assert refund(shop, "R-1", "r1", "30.00", shop.cashier).status_code == 403
        assert refund(shop, "R-1", "r1", "30.00").status_code == 201
        assert refund(shop, "R-1", "r1", "30.00").status_code == 201  # a retry: once
        assert refund(shop, "R-1", "r1", "31.00").status_code == 409
        too_much = refund(shop, "R-1", "r2", "70.01")
        assert too_much.json()["error"]["code"] == "refund_exceeds_payment"
        assert too_much.json()["error"]["details"]["refundable"] == "70.00"
        assert refund(shop, "R-1", "r2", "70.00").json()["refunded"] == "100.00"
        assert shop.available(alice) == 1_000_000

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(st.integers(min_value=1, max_value=6000), min_size=1, max_size=6))
    def test_refunds_together_never_exceed_the_payment(
        self, shop: Shop, platform: Platform, asks: list[int]
    ) -> None:
        """Service level (fast): whatever refunds are asked, the total stays bounded."""
        from rongbank.errors import DomainError

        with platform.transaction() as session:
            order_no = f"PR-{platform.clock.now().timestamp()}-{len(asks)}-{sum(asks)}"
            payment = _paid_by_service(shop, platform, session, order_no, 10_000)
            total = 0
            for n, ask in enumerate(asks):
                refused = None
                try:
                    platform.payments.refund(
                        session,
                        merchant_id=shop.id,
                        order_no=payment.order_no,
                        refund_no=f"r{n}",
                        amount=ask,
                    )
                    total += ask
                except DomainError as error:
                    refused = error.code
                if refused is not None:
                    assert refused == "refund_exceeds_payment"
                    assert total + ask > 10_000
                assert total <= 10_000
            found = platform.payments.get(session, merchant_id=shop.id, order_no=order_no)
            assert found.refunded == total
            session.rollback()


def _paid_by_service(shop: Shop, platform: Platform, session: Any, order_no: str, fen: int) -> Any:
    from rongbank.payments.orders import OrderRequest

    customer_id = shop.seller["customer_id"]
    order, _ = platform.payments.create_order(
        session,
        merchant_id=shop.id,
        order=OrderRequest(order_no=order_no, amount=fen, channel="online"),
    )
    shop.people.fund(shop.seller, fen)
    return platform.payments.pay_order(
        session,
        customer_id=customer_id,
        payment=order,
        account_number=shop.seller["account"]["number"],
    )


class Receiver(BaseHTTPRequestHandler):
    failures_left = 2
    received: ClassVar[list[tuple[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        Receiver.received.append((self.headers["Rongbank-Signature"], body))
        status = 500 if Receiver.failures_left > 0 else 200
        Receiver.failures_left -= 1
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def merchant_server() -> Iterator[str]:
    Receiver.failures_left, Receiver.received = 2, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notify"
    server.shutdown()
    server.server_close()


class TestNotifications:
    def test_a_signed_notification_is_retried_until_acknowledged_once(
        self, shop: Shop, platform: Platform, merchant_server: str
    ) -> None:
        alice = shop.customer()
        paid_order(shop, alice, "N-1", "20.00", notify_url=merchant_server)
        key = shop.client.post(f"{V1}/merchant/notify-key", headers=shop.owner).json()["secret"]

        def deliver() -> Any:
            return deliver_due(platform.session_factory, platform.payments, platform.clock)

        assert deliver().failed == 1
        assert deliver().failed == 0  # not due yet: back-off
        for wait in rules.NOTIFY_BACKOFF[:2]:
            platform.clock.advance(wait)  # type: ignore[attr-defined]
            deliver()
        platform.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
        assert deliver().acknowledged == 0  # delivered: never sent again
        assert len(Receiver.received) == 3
        for signature, body in Receiver.received:
            assert rules.verify(bytes.fromhex(key), signature, body)
            assert '"order_no":"N-1"' in body
            assert '"status":"paid"' in body
        assert not rules.verify(bytes.fromhex(key), signature, body.replace("20.00", "2000.00"))
        with platform.transaction() as session:
            attempts = (
                session.execute(
                    text("SELECT acknowledged FROM payment_notification_attempt ORDER BY id")
                )
                .scalars()
                .all()
            )
        assert attempts == [False, False, True]


class TestSettlement:
    def test_settlement_nets_the_day_and_equals_the_ledger_to_the_fen(
        self, shop: Shop, platform: Platform
    ) -> None:
        alice, bob = shop.customer(), shop.customer("李雷")
        paid_order(shop, alice, "S-1", "100.00")
        paid_order(shop, bob, "S-2", "33.33")
        assert refund(shop, "S-1", "r1", "10.00").status_code == 201
        day = platform.accounts.business_day()
        seller_before = shop.available(shop.seller)
        platform.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        with platform.transaction() as session:
            done = settle(session, platform.payments, merchant_id=shop.id, day=day)
            again = settle(session, platform.payments, merchant_id=shop.id, day=day)
            merchant = platform.payments.merchant(session, shop.id)
            payable = platform.ledger.account(session, merchant.payable_account_id)
            report = settlement_report(session, done)
            lines = transaction_file(session, day, merchant_id=shop.id)
            assert compare(session, day, lines) == []
            tampered = lines.replace("33.33", "33.34")
            assert [m.problem for m in compare(session, day, tampered)] == ["amount_differs"]
            for row in report.splitlines()[1:3]:
                entry = platform.ledger.entry(session, int(row.split(",")[6]))
                assert any(p.account_id == payable.id for p in entry.postings)
        assert again == done
        # S-1's fee is on what it kept: it was refunded in part before settlement.
        fees = rules.fee(9000, 60) + rules.fee(3333, 60)
        assert (done.payments, done.refunds, done.fees) == (13333, 1000, fees)
        assert done.paid == 13333 - 1000 - fees
        assert shop.available(shop.seller) == seller_before + done.paid
        assert payable.debits_posted == payable.credits_posted  # emptied to the fen
        assert "total_payments" in report

    def test_a_refund_after_settlement_waits_for_takings_and_comes_off_the_next(
        self, shop: Shop, platform: Platform
    ) -> None:
        """Once a payment is settled, its money is the merchant's: a refund can only
        come out of takings the bank still holds (less the fees due), never out of
        the bank's own money."""
        alice = shop.customer()
        paid_order(shop, alice, "S-3", "50.00")
        first_day = platform.accounts.business_day()
        platform.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        with platform.transaction() as session:
            first = settle(session, platform.payments, merchant_id=shop.id, day=first_day)
        assert first.paid == 5000 - rules.fee(5000, 60)
        shop.owner = {"Authorization": f"Bearer {shop.people.login('wang')}"}
        alice["headers"] = {"Authorization": f"Bearer {shop.people.login(alice['login_name'])}"}
        refused = refund(shop, "S-3", "r1", "50.00")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "refund_exceeds_merchant_funds"
        assert refused.json()["error"]["details"] == {"available": "0.00"}
        paid_order(shop, alice, "S-4", "80.00")
        assert refund(shop, "S-3", "r1", "50.00").status_code == 201
        assert shop.available(alice) == 1_000_000 - 8000
        second_day = platform.accounts.business_day()
        platform.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        with platform.transaction() as session:
            second = settle(session, platform.payments, merchant_id=shop.id, day=second_day)
            merchant = platform.payments.merchant(session, shop.id)
            payable = platform.ledger.account(session, merchant.payable_account_id)
        assert (second.payments, second.refunds, second.fees) == (8000, 5000, rules.fee(8000, 60))
        assert (second.brought_forward, second.carried_forward) == (0, 0)
        assert second.paid == 8000 - 5000 - rules.fee(8000, 60)
        assert payable.debits_posted == payable.credits_posted

    def test_a_suspended_merchant_refunds_nothing(self, shop: Shop, platform: Platform) -> None:
        alice = shop.customer()
        paid_order(shop, alice, "S-6", "30.00")
        assert refund(shop, "S-6", "r1", "10.00").status_code == 201
        staff = {"Authorization": f"Bearer {shop.people.login('operations-1')}"}
        suspended = shop.client.post(
            f"{V1}/staff/merchants/{shop.id}/suspend", headers=staff, json={"reason": "fraud"}
        )
        assert suspended.status_code == 200, suspended.text
        refused = refund(shop, "S-6", "r2", "10.00")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "merchant_not_active"
        assert refund(shop, "S-6", "r1", "10.00").status_code == 201  # a retry answers it
        assert shop.available(alice) == 1_000_000 - 2000

    def test_a_day_is_settled_only_once_it_is_over_in_beijing(
        self, shop: Shop, platform: Platform
    ) -> None:
        from rongbank.errors import DomainError

        alice = shop.customer()
        paid_order(shop, alice, "S-5", "40.00")
        day = platform.accounts.business_day()
        clock: Any = platform.clock
        # The last second of the day in Beijing (UTC+8): still open.
        clock.advance(datetime(day.year, day.month, day.day, 15, 59, 59, tzinfo=UTC) - clock.now())
        for tried in (day, day + timedelta(days=1)):
            with platform.transaction() as session, pytest.raises(DomainError) as refused:
                settle(session, platform.payments, merchant_id=shop.id, day=tried)
            assert refused.value.code == "settlement_day_open"
            assert refused.value.details == {"business_day": tried.isoformat()}
        staff = {"Authorization": f"Bearer {shop.people.login('operations-1')}"}
        over_api = shop.client.post(
            f"{V1}/staff/payments/settlements", headers=staff, json={"business_day": str(day)}
        )
        assert over_api.status_code == 422
        assert over_api.json()["error"]["code"] == "settlement_day_open"
        with platform.transaction() as session:
            assert session.execute(text("SELECT count(*) FROM merchant_settlement")).scalar() == 0
        clock.advance(timedelta(seconds=1))  # midnight in Beijing: the day is over
        with platform.transaction() as session:
            done = settle(session, platform.payments, merchant_id=shop.id, day=day)
        assert done.payments == 4000
