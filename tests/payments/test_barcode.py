"""Paying by QR code and payment code, within the PBoC's barcode limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rongbank.payments import rules
from rongbank.platform import Platform
from tests.payments.helpers import V1, Shop, client, shop

__all__ = ["client", "shop"]


def static_qr(shop: Shop) -> str:
    made = shop.client.post(f"{V1}/merchant/static-qr", headers=shop.owner, json={"label": "柜台"})
    assert made.status_code == 201, made.text
    assert made.json()["svg"].startswith("<svg")
    return str(made.json()["content"])


def pay_static(shop: Shop, payer: dict[str, Any], qr: str, amount: str, client_id: str) -> Any:
    return shop.confirmed(
        payer,
        f"{V1}/me/payments/static-qr",
        {"qr": qr, "account": payer["account"]["number"], "amount": amount, "client_id": client_id},
    )


def payment_code(shop: Shop, payer: dict[str, Any]) -> str:
    made = shop.client.post(
        f"{V1}/me/payment-codes",
        headers=payer["headers"],
        json={"account": payer["account"]["number"]},
    )
    assert made.status_code == 201, made.text
    return str(made.json()["code"])


def collect(shop: Shop, code: str, order_no: str, amount: str) -> Any:
    return shop.client.post(
        f"{V1}/merchant/payment-codes",
        headers=shop.cashier,
        json={"code": code, "order_no": order_no, "amount": amount},
    )


class TestStaticQr:
    def test_the_customer_enters_the_amount_and_a_retry_pays_once(self, shop: Shop) -> None:
        alice = shop.customer()
        qr = static_qr(shop)
        first = pay_static(shop, alice, qr, "25.00", "c-1")
        assert first.status_code == 201, first.text
        assert pay_static(shop, alice, qr, "25.00", "c-1").status_code == 200
        assert pay_static(shop, alice, qr, "26.00", "c-1").status_code == 409
        assert shop.available(alice) == 1_000_000 - 2500

    def test_static_codes_stop_at_500_yuan_a_day(self, shop: Shop, platform: Platform) -> None:
        alice = shop.customer()
        qr = static_qr(shop)
        for n in range(3):
            assert pay_static(shop, alice, qr, "150.00", f"s{n}").status_code == 201
        over = pay_static(shop, alice, qr, "50.01", "s3")
        assert over.json()["error"]["code"] == "barcode_limit_exceeded"
        assert over.json()["error"]["details"]["remaining"] == "50.00"
        assert pay_static(shop, alice, qr, "50.00", "s4").status_code == 201
        platform.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        alice["headers"] = {"Authorization": f"Bearer {shop.people.login(alice['login_name'])}"}
        assert pay_static(shop, alice, qr, "100.00", "s5").status_code == 201


class TestDynamicQr:
    def test_the_order_qr_carries_the_amount_and_lives_a_minute(
        self, shop: Shop, platform: Platform
    ) -> None:
        alice = shop.customer()
        made = shop.order("D-1", "18.00", channel="dynamic_qr")
        svg = shop.client.get(f"{V1}/merchant/orders/D-1/qr.svg", headers=shop.cashier)
        assert svg.headers["content-type"].startswith("image/svg+xml")
        paid = shop.pay(alice, shop.token(made))
        assert paid.json()["status"] == "paid"
        late = shop.token(shop.order("D-2", "18.00", channel="dynamic_qr"))
        platform.clock.advance(timedelta(seconds=61))  # type: ignore[attr-defined]
        assert shop.pay(alice, late).json()["error"]["code"] == "order_not_payable"

    def test_dynamic_codes_together_stop_at_5000_yuan_a_day(self, shop: Shop) -> None:
        alice = shop.customer(fen=2_000_000)
        for n in range(2):
            made = shop.order(f"D-big-{n}", "2500.00", channel="dynamic_qr")
            assert shop.pay(alice, shop.token(made)).json()["status"] == "paid"
        over = shop.pay(alice, shop.token(shop.order("D-over", "0.01", channel="dynamic_qr")))
        assert over.json()["error"]["code"] == "barcode_limit_exceeded"
        # A web-shop order is not a barcode payment.
        online = shop.pay(alice, shop.token(shop.order("W-1", "0.01")))
        assert online.json()["status"] == "paid"


class TestPaymentCode:
    def test_the_cashier_scans_the_code_and_is_paid(self, shop: Shop) -> None:
        alice = shop.customer()
        code = payment_code(shop, alice)
        assert len(code) == 18
        assert code[:2] == "88"
        assert not any(code[:2] in taken for taken in rules.WALLET_CODE_PREFIXES.values())
        paid = collect(shop, code, "P-1", "12.00")
        assert paid.status_code == 201, paid.text
        assert paid.json()["status"] == "paid"
        assert collect(shop, code, "P-1", "12.00").json()["status"] == "paid"  # a retry
        reused = collect(shop, code, "P-2", "12.00")
        assert reused.json()["error"]["code"] == "code_expired"
        assert shop.available(alice) == 1_000_000 - 1200
        mine = shop.client.get(f"{V1}/me/payments", headers=alice["headers"]).json()
        assert [p["order_no"] for p in mine] == ["P-1"]

    def test_an_expired_code_is_refused(self, shop: Shop, platform: Platform) -> None:
        alice = shop.customer()
        code = payment_code(shop, alice)
        platform.clock.advance(timedelta(seconds=61))  # type: ignore[attr-defined]
        assert collect(shop, code, "P-3", "1.00").json()["error"]["code"] == "code_expired"
        unknown = collect(shop, "290000000000000000", "P-4", "1.00")
        assert unknown.json()["error"]["code"] == "code_not_found"

    def test_over_password_free_the_customer_confirms_on_their_phone(self, shop: Shop) -> None:
        alice = shop.customer()
        code = payment_code(shop, alice)
        waiting = collect(shop, code, "P-5", "300.00")
        assert waiting.status_code == 202, waiting.text
        assert waiting.json()["status"] == "created"
        pending = shop.client.get(f"{V1}/me/payments", headers=alice["headers"]).json()
        assert [(p["order_no"], p["status"]) for p in pending] == [("P-5", "created")]
        confirmed = shop.client.post(
            f"{V1}/me/orders/{pending[0]['token']}/pay",
            headers=alice["headers"],
            json={"account": alice["account"]["number"], "response": shop.sms(alice)},
        )
        assert confirmed.status_code == 200, confirmed.text
        assert shop.query("P-5")["status"] == "paid"

    def test_a_suspended_merchant_takes_no_payments(self, shop: Shop) -> None:
        alice = shop.customer()
        suspended = shop.client.post(
            f"{V1}/staff/merchants/{shop.id}/suspend", headers=shop.staff, json={"reason": "风险"}
        )
        assert suspended.json()["status"] == "suspended"
        refused = collect(shop, payment_code(shop, alice), "P-6", "1.00")
        assert refused.json()["error"]["code"] == "merchant_not_active"
