"""e-Pay payments refused under a key stay refused under it, even after money arrives;
the key for another payment is a conflict; a new key (or order number) pays."""

from __future__ import annotations

from typing import Any

from tests.payments.helpers import V1, Shop, client, shop
from tests.payments.test_barcode import collect, pay_static, payment_code, static_qr

__all__ = ["client", "shop"]


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


class TestStaticQr:
    def test_a_refused_payment_stays_refused_under_its_client_id(self, shop: Shop) -> None:
        alice = shop.customer(fen=1_000)
        qr = static_qr(shop)

        refused = pay_static(shop, alice, qr, "50.00", "c1")
        shop.people.fund(alice, 10_000)
        again = pay_static(shop, alice, qr, "50.00", "c1")
        other = pay_static(shop, alice, qr, "5.00", "c1")

        assert error(refused) == error(again) == (422, "insufficient_funds")
        assert refused.json() == again.json()
        assert error(other) == (409, "order_number_conflict")
        assert shop.available(alice) == 11_000
        assert pay_static(shop, alice, qr, "50.00", "c2").status_code == 201
        assert shop.available(alice) == 6_000


class TestOrders:
    def test_with_a_client_id_a_refusal_is_that_requests_answer(self, shop: Shop) -> None:
        alice, bob = shop.customer(fen=1_000), shop.customer("李雷")
        token = shop.token(shop.order("O-1", "50.00"))
        path = f"{V1}/me/orders/{token}/pay"
        body = {"account": alice["account"]["number"], "client_id": "k1"}

        refused = shop.confirmed(alice, path, body)
        shop.people.fund(alice, 10_000)
        again = shop.confirmed(alice, path, body)
        other = shop.confirmed(alice, path, body | {"account": bob["account"]["number"]})

        assert error(refused) == error(again) == (422, "insufficient_funds")
        assert error(other) == (409, "idempotency_conflict")
        assert shop.query("O-1")["status"] == "created"
        # The order itself is still open: a new request (without a key here) pays it.
        assert shop.pay(alice, token).status_code == 200
        assert shop.query("O-1")["status"] == "paid"
        assert shop.available(alice) == 6_000


class TestPaymentCode:
    def test_a_refused_collection_stays_refused_under_its_order_number(self, shop: Shop) -> None:
        alice = shop.customer(fen=1_000)
        code = payment_code(shop, alice)

        refused = collect(shop, code, "P-1", "50.00")
        shop.people.fund(alice, 10_000)
        again = collect(shop, code, "P-1", "50.00")
        other = collect(shop, code, "P-1", "5.00")

        assert error(refused) == error(again) == (422, "insufficient_funds")
        assert error(other) == (409, "order_number_conflict")
        assert shop.available(alice) == 11_000
        # The code was not spent by the refusal: a new order number takes it.
        paid = collect(shop, code, "P-2", "50.00")
        assert paid.status_code == 201, paid.text
        assert shop.available(alice) == 6_000
