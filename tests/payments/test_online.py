"""Web-shop orders: create, pay with step-up, idempotency, capture later."""

from __future__ import annotations

from rongbank.platform import Platform
from tests.payments.helpers import V1, Shop, client, shop

__all__ = ["client", "shop"]


class TestOnlineOrders:
    def test_a_customer_pays_an_order_and_the_merchant_sees_it_paid(self, shop: Shop) -> None:
        alice = shop.customer()
        token = shop.token(shop.order("A-1", "88.80", description="两碗面"))
        seen = shop.client.get(f"{V1}/me/orders/{token}", headers=alice["headers"])
        assert seen.json()["amount"] == "88.80"
        assert seen.json()["merchant_name"] == "老王面馆"
        paid = shop.pay(alice, token)
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "paid"
        order = shop.query("A-1")
        assert (order["status"], order["captured"], order["fee"]) == ("paid", "88.80", "0.53")
        assert shop.available(alice) == 1_000_000 - 8880

    def test_a_large_payment_needs_the_sms_challenge_like_a_transfer(self, shop: Shop) -> None:
        alice = shop.customer()
        token = shop.token(shop.order("A-2", "300.00"))
        body = {"account": alice["account"]["number"]}
        first = shop.client.post(f"{V1}/me/orders/{token}/pay", headers=alice["headers"], json=body)
        assert first.status_code == 403
        assert first.json()["error"]["code"] == "challenge_required"
        assert shop.query("A-2")["status"] == "created"
        assert shop.pay(alice, token).json()["status"] == "paid"
        again = shop.client.post(f"{V1}/me/orders/{token}/pay", headers=alice["headers"], json=body)
        assert again.status_code == 200  # a retry: no new challenge, no second payment
        assert shop.available(alice) == 1_000_000 - 30000

    def test_the_same_order_number_answers_the_same_order_and_a_different_one_conflicts(
        self, shop: Shop
    ) -> None:
        first = shop.order("A-3", "10.00")
        assert first.status_code == 201
        again = shop.order("A-3", "10.00")
        assert again.status_code == 200
        assert again.json()["pay_url"] == first.json()["pay_url"]
        other = shop.order("A-3", "11.00")
        assert other.status_code == 409
        assert other.json()["error"]["code"] == "order_number_conflict"

    def test_another_customer_cannot_pay_or_see_a_paid_order(self, shop: Shop) -> None:
        alice, bob = shop.customer(), shop.customer("李雷")
        token = shop.token(shop.order("A-4", "10.00"))
        assert shop.pay(alice, token).status_code == 200
        assert (
            shop.client.get(f"{V1}/me/orders/{token}", headers=alice["headers"]).status_code == 200
        )
        assert shop.pay(bob, token).json()["error"]["code"] == "payment_not_found"
        mine = shop.client.get(f"{V1}/me/payments", headers=bob["headers"]).json()
        assert mine == []
        steal = shop.client.post(
            f"{V1}/me/orders/{token}/pay",
            headers=bob["headers"],
            json={"account": alice["account"]["number"]},
        )
        assert steal.status_code in (403, 404)

    def test_an_expired_order_cannot_be_paid(self, shop: Shop, platform: Platform) -> None:
        from datetime import timedelta

        alice = shop.customer()
        token = shop.token(shop.order("A-5", "10.00"))
        platform.clock.advance(timedelta(minutes=31))  # type: ignore[attr-defined]
        alice["headers"] = {"Authorization": f"Bearer {shop.people.login(alice['login_name'])}"}
        refused = shop.pay(alice, token)
        assert refused.json()["error"]["code"] == "order_not_payable"
        assert shop.available(alice) == 1_000_000


class TestAuthoriseThenCapture:
    def test_money_is_held_then_captured_in_part_and_the_rest_released(self, shop: Shop) -> None:
        alice = shop.customer()
        token = shop.token(shop.order("H-1", "100.00", capture="manual"))
        assert shop.pay(alice, token).json()["status"] == "authorised"
        assert shop.available(alice) == 1_000_000 - 10000
        cashier = shop.client.post(
            f"{V1}/merchant/orders/H-1/capture", headers=shop.cashier, json={}
        )
        assert cashier.status_code == 403
        captured = shop.client.post(
            f"{V1}/merchant/orders/H-1/capture", headers=shop.api, json={"amount": "60.00"}
        )
        assert captured.status_code == 200, captured.text
        assert (captured.json()["status"], captured.json()["captured"]) == ("paid", "60.00")
        assert shop.available(alice) == 1_000_000 - 6000

    def test_a_void_releases_everything(self, shop: Shop) -> None:
        alice = shop.customer()
        token = shop.token(shop.order("H-2", "100.00", capture="manual"))
        shop.pay(alice, token)
        voided = shop.client.post(f"{V1}/merchant/orders/H-2/void", headers=shop.owner)
        assert voided.json()["status"] == "voided"
        assert shop.available(alice) == 1_000_000
        late = shop.client.post(f"{V1}/merchant/orders/H-2/capture", headers=shop.api, json={})
        assert late.json()["error"]["code"] == "payment_not_capturable"
