"""A cart across sellers checked out: stock reserved, one order per seller, one
payment for the whole cart, and a reservation that lapses when it is not paid."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.people import V1, People
from tests.support.api import ApiCustomer
from tests.support.mall_orders import Shops, buy, pay


def test_a_cart_of_three_sellers_is_split_into_three_orders_paid_by_one_payment(
    buyer: ApiCustomer, shops: Shops
) -> None:
    shirt = shops.sku(0, price=99_00, stock=5)
    book = shops.sku(1, price=45_50, stock=5)
    tea = shops.sku(2, price=128_00, stock=5)

    made = buy(buyer, {shirt: 2, book: 1, tea: 1})

    assert made.status_code == 201, made.text
    checkout = made.json()
    assert checkout["status"] == "reserved"
    assert checkout["amount"] == "371.50"
    assert [(o["shop_id"], o["amount"], o["status"]) for o in checkout["orders"]] == [
        (shops.sellers[0].shop_id, "198.00", "reserved"),
        (shops.sellers[1].shop_id, "45.50", "reserved"),
        (shops.sellers[2].shop_id, "128.00", "reserved"),
    ]
    assert (shops.stock(shirt), shops.stock(book), shops.stock(tea)) == (3, 4, 4)
    assert buyer.get("/me/mall/cart").json()["lines"] == []

    paid = pay(buyer, checkout["id"])

    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert paid.json()["paid_by"] == "epay"
    assert {o["status"] for o in paid.json()["orders"]} == {"paid"}
    assert buyer.available() == "4628.50"  # 5000.00 - 371.50, taken once
    assert shops.clearing_held() == 371_50  # all of it in the mall's clearing
    assert [shops.held(s.merchant_id) for s in shops.sellers] == [0, 0, 0]  # not yet
    payments = buyer.get("/me/payments").json()
    assert [p["amount"] for p in payments] == ["371.50"]  # one payment
    again = pay(buyer, checkout["id"])
    assert again.status_code == 200
    assert buyer.available() == "4628.50"


def test_a_checkout_short_of_stock_reserves_nothing_and_keeps_the_cart(
    buyer: ApiCustomer, shops: Shops
) -> None:
    plenty = shops.sku(0, price=10_00, stock=10)
    last = shops.sku(1, price=20_00, stock=1)

    refused = buy(buyer, {plenty: 3, last: 2})

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "mall_out_of_stock"
    assert (shops.stock(plenty), shops.stock(last)) == (10, 1)
    assert len(buyer.get("/me/mall/cart").json()["lines"]) == 2
    assert buyer.get("/me/mall/orders").json() == []


def test_a_refused_checkout_is_refused_again_under_its_key(
    buyer: ApiCustomer, shops: Shops, platform: Platform
) -> None:
    last = shops.sku(1, price=20_00, stock=1)
    assert buy(buyer, {last: 2}, key="k").json()["error"]["code"] == "mall_out_of_stock"
    changed = buyer.client.put(
        f"{V1}/me/mall/cart/lines/{last}", headers=buyer.headers, json={"quantity": 1}
    )
    assert changed.status_code == 204

    again = buyer.post("/me/mall/checkouts", {"client_id": "k"})
    other = buyer.post("/me/mall/checkouts", {"client_id": "k", "enterprise_id": 1})

    assert again.json()["error"]["code"] == "mall_out_of_stock"  # the key's answer
    assert other.json()["error"]["code"] == "mall_checkout_conflict"
    assert buyer.post("/me/mall/checkouts", {"client_id": "k2"}).status_code == 201
    assert shops.stock(last) == 0


def test_a_retried_checkout_answers_the_first(buyer: ApiCustomer, shops: Shops) -> None:
    sku = shops.sku(0, price=10_00, stock=10)
    first = buy(buyer, {sku: 2}, key="same")

    again = buyer.post("/me/mall/checkouts", {"client_id": "same"})

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert shops.stock(sku) == 8


def test_an_unpaid_reservation_expires_and_puts_the_units_back(
    buyer: ApiCustomer, shops: Shops, platform: Platform, clock: FrozenClock, people: People
) -> None:
    sku = shops.sku(0, price=10_00, stock=3)
    checkout = buy(buyer, {sku: 3}).json()
    assert shops.stock(sku) == 0

    clock.advance(timedelta(minutes=29))
    assert platform.run_mall_jobs().expired == 0
    assert shops.stock(sku) == 0
    clock.advance(timedelta(minutes=2))
    assert platform.run_mall_jobs().expired == 1

    assert shops.stock(sku) == 3
    buyer.headers = {"Authorization": f"Bearer {people.login(buyer.mobile)}"}  # a new session
    seen = buyer.get(f"/me/mall/checkouts/{checkout['id']}").json()
    assert seen["status"] == "expired"
    assert {o["status"] for o in seen["orders"]} == {"expired"}
    late = pay(buyer, checkout["id"])
    assert late.status_code == 409
    assert buyer.available() == "5000.00"


def test_a_checkout_paid_on_e_pays_own_order_page_is_paid_in_the_mall_too(
    buyer: ApiCustomer, shops: Shops
) -> None:
    sku = shops.sku(2, price=88_00, stock=3)
    checkout = buy(buyer, {sku: 1}).json()

    paid = buyer.confirmed(
        f"/me/orders/{checkout['payment_token']}/pay", {"account": buyer.account}
    )

    assert paid.status_code == 200, paid.text
    seen = buyer.get(f"/me/mall/checkouts/{checkout['id']}").json()
    assert seen["status"] == "paid"
    assert seen["orders"][0]["status"] == "paid"


def test_another_customers_checkout_is_not_found(
    buyer: ApiCustomer, shops: Shops, client: TestClient, platform: Platform, people: People
) -> None:
    sku = shops.sku(0, price=10_00, stock=3)
    checkout = buy(buyer, {sku: 1}).json()
    other = ApiCustomer(client, platform, people.register("李雷"))

    assert other.get(f"/me/mall/checkouts/{checkout['id']}").status_code == 404
    paying = other.post(f"/me/mall/checkouts/{checkout['id']}/pay", {"account": other.account})
    assert paying.status_code == 404


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("UPDATE mall_sku SET active = false WHERE id = :k", "mall_sku_inactive"),
        (
            "UPDATE mall_product SET status = 'unpublished' "
            "WHERE id = (SELECT product_id FROM mall_sku WHERE id = :k)",
            "mall_product_unpublished",
        ),
        (
            "UPDATE mall_shop SET status = 'suspended' WHERE id = (SELECT p.shop_id "
            "FROM mall_sku k JOIN mall_product p ON p.id = k.product_id WHERE k.id = :k)",
            "mall_shop_not_selling",
        ),
    ],
    ids=["inactive-sku", "unpublished-product", "shop-not-open"],
)
def test_a_cart_line_no_longer_for_sale_is_refused_and_nothing_is_reserved(
    buyer: ApiCustomer, shops: Shops, platform: Platform, change: str, code: str
) -> None:
    kept = shops.sku(0, price=10_00, stock=3)
    gone = shops.sku(1, price=20_00, stock=3)
    for sku_id in (kept, gone):
        added = buyer.post("/me/mall/cart/lines", {"sku_id": sku_id, "quantity": 1})
        assert added.status_code == 204, added.text
    with platform.transaction() as session:
        session.execute(text(change), {"k": gone})

    refused = buyer.post("/me/mall/checkouts", {"client_id": "k"})

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == code
    assert refused.json()["error"]["details"]["sku_id"] == gone
    assert (shops.stock(kept), shops.stock(gone)) == (3, 3)  # nothing reserved
    assert buyer.get("/me/mall/orders").json() == []
    assert buyer.get("/me/payments").json() == []
    assert len(buyer.get("/me/mall/cart").json()["lines"]) == 2  # the cart is kept
    again = buyer.post("/me/mall/cart/lines", {"sku_id": gone, "quantity": 1})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == code


def test_a_checkout_is_paid_with_the_step_up_and_limits_of_any_e_pay_payment(
    buyer: ApiCustomer, shops: Shops, people: People
) -> None:
    shirt = shops.sku(0, price=371_50, stock=5)
    checkout = buy(buyer, {shirt: 1}).json()
    body = {"account": buyer.account}

    asked = buyer.post(f"/me/mall/checkouts/{checkout['id']}/pay", body)

    assert asked.status_code == 403
    assert asked.json()["error"]["code"] == "challenge_required"
    seen = buyer.get(f"/me/mall/checkouts/{checkout['id']}").json()
    assert seen["status"] == "reserved"
    assert buyer.available() == "5000.00"
    # Beyond what the account's class may spend in a day: refused, nothing taken.
    people.fund({"account": {"number": buyer.account}}, 20_000_00)
    safe = shops.sku(1, price=12_000_00, stock=1)
    big = buy(buyer, {safe: 1}, key="c2").json()
    refused = pay(buyer, big["id"])
    assert refused.status_code in (403, 409, 422), refused.text
    assert refused.json()["error"]["code"] in (
        "daily_limit_exceeded",
        "tool_limit_exceeded",
        "yearly_limit_exceeded",
    )
    assert buyer.get(f"/me/mall/checkouts/{big['id']}").json()["status"] == "reserved"
    assert buyer.available() == "25000.00"
