"""Fulfilment: the seller ships with a carrier and tracking number, the buyer
confirms receipt (or it confirms itself), reviews after receipt; and who may see
and do what (a seller never sees another's orders)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from rongbank.auth.service import PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories import payments as epay
from tests.factories.people import V1, People
from tests.support.api import ApiCustomer
from tests.support.mall_orders import Shops, buy, log_in_again, paid_checkout, pay


def test_shipped_with_tracking_received_and_reviewed(
    buyer: ApiCustomer, shops: Shops, client: TestClient
) -> None:
    sku = shops.sku(0, price=59_00, stock=3)
    checkout = buy(buyer, {sku: 1}).json()
    order_id = checkout["orders"][0]["id"]
    seller = shops.headers(0)
    line_id = checkout["orders"][0]["lines"][0]["id"]
    ship = {"carrier": "中通快递", "tracking_no": "ZT123456789"}

    unpaid = client.post(f"{V1}/merchant/mall/orders/{order_id}/ship", headers=seller, json=ship)
    assert unpaid.json()["error"]["code"] == "mall_order_state_invalid"
    assert pay(buyer, checkout["id"]).status_code == 200
    to_ship = client.get(f"{V1}/merchant/mall/orders?status=paid", headers=seller).json()
    assert [o["id"] for o in to_ship] == [order_id]
    early = buyer.post(f"/me/mall/lines/{line_id}/review", {"rating": 5})
    assert early.json()["error"]["code"] == "mall_review_not_allowed"

    shipped = client.post(f"{V1}/merchant/mall/orders/{order_id}/ship", headers=seller, json=ship)

    assert shipped.status_code == 200, shipped.text
    seen = buyer.get(f"/me/mall/orders/{order_id}").json()
    assert (seen["status"], seen["carrier"], seen["tracking_no"]) == (
        "shipped",
        "中通快递",
        "ZT123456789",
    )
    received = buyer.post(f"/me/mall/orders/{order_id}/receipt")
    assert received.json()["status"] == "received"
    assert buyer.post(f"/me/mall/orders/{order_id}/receipt").status_code == 200  # a repeat

    reviewed = buyer.post(f"/me/mall/lines/{line_id}/review", {"rating": 4, "body": "质量不错"})
    assert reviewed.status_code == 204, reviewed.text
    again = buyer.post(f"/me/mall/lines/{line_id}/review", {"rating": 1})
    assert again.json()["error"]["code"] == "mall_review_not_allowed"
    out_of_range = buyer.post(f"/me/mall/lines/{line_id}/review", {"rating": 6})
    assert out_of_range.status_code == 422


def test_receipt_confirms_itself_after_the_configured_days_and_closes_returns(
    buyer: ApiCustomer,
    shops: Shops,
    client: TestClient,
    platform: Platform,
    clock: FrozenClock,
    people: People,
) -> None:
    sku = shops.sku(1, price=20_00, stock=3)
    checkout = paid_checkout(buyer, {sku: 1})
    order = checkout["orders"][0]
    client.post(
        f"{V1}/merchant/mall/orders/{order['id']}/ship",
        headers=shops.headers(1),
        json={"carrier": "EMS", "tracking_no": "E1"},
    )

    clock.advance(timedelta(days=9, hours=23))
    assert platform.run_mall_jobs().received == 0
    clock.advance(timedelta(hours=1))
    assert platform.run_mall_jobs().received == 1

    clock.advance(timedelta(days=15))  # past the after-sales days, not only the return window
    log_in_again(buyer, people)
    late = buyer.post(
        f"/me/mall/orders/{order['id']}/returns",
        {"lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "不想要了"},
    )
    assert late.json()["error"]["code"] == "mall_return_window_closed"


def test_a_seller_never_sees_or_ships_another_sellers_orders(
    buyer: ApiCustomer, shops: Shops, client: TestClient, platform: Platform, people: People
) -> None:
    mine = shops.sku(0, price=10_00, stock=3)
    theirs = shops.sku(1, price=10_00, stock=3)
    checkout = paid_checkout(buyer, {mine: 1, theirs: 1})
    order_of = {o["shop_id"]: o["id"] for o in checkout["orders"]}
    first, second = shops.headers(0), shops.headers(1)

    listed = client.get(f"{V1}/merchant/mall/orders", headers=first).json()
    assert [o["id"] for o in listed] == [order_of[shops.sellers[0].shop_id]]
    other = order_of[shops.sellers[1].shop_id]
    ship = {"carrier": "EMS", "tracking_no": "E2"}
    assert (
        client.post(f"{V1}/merchant/mall/orders/{other}/ship", headers=first, json=ship).status_code
        == 404
    )
    assert client.get(f"{V1}/merchant/mall/orders", headers=second).json()[0]["id"] == other
    # A merchant without a shop, a stranger, nobody: refused.
    outsider = ApiCustomer(client, platform, people.register("赵六"))
    merchant = epay.merchant(
        platform, customer_id=outsider.id, account=outsider.account, name="无店商户"
    )
    with platform.transaction() as session:
        user = platform.payments.add_user(session, merchant_id=merchant, role="owner", name="赵六")
        login = platform.auth.open_session(
            session, kind=PrincipalKind.MERCHANT, principal_id=user, client="tests"
        )
    no_shop = client.get(
        f"{V1}/merchant/mall/orders", headers={"Authorization": f"Bearer {login.token}"}
    )
    assert no_shop.json()["error"]["code"] == "mall_not_your_shop"
    assert outsider.get(f"/me/mall/orders/{other}").status_code == 404
    assert client.get(f"{V1}/merchant/mall/orders").status_code == 401
    assert client.get(f"{V1}/merchant/mall/orders", headers=buyer.headers).status_code == 403
    assert client.get(f"{V1}/staff/mall/disputes", headers=buyer.headers).status_code == 403
