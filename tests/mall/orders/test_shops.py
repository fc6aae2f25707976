"""A shop suspended by operations (its products leave the mall and cannot be bought;
its open orders still ship, return and settle; its seller reads why) and reinstated,
each audited with the member of staff and the reason; a shop closed by its owner,
refused while orders are open or money unsettled; who may do each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.auth.service import PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.people import V1, People
from tests.support.api import ApiCustomer
from tests.support.mall_orders import (
    Shops,
    log_in_again,
    paid_checkout,
    received_and_released,
    settle_yesterday,
    ship_all,
)


def shop_products(buyer: ApiCustomer, shop_id: int) -> list[int]:
    found = buyer.get(f"/mall/products?shop={shop_id}")
    assert found.status_code == 200, found.text
    return [h["id"] for h in found.json()["hits"]]


def product_of(platform: Platform, sku_id: int) -> int:
    with platform.transaction() as session:
        return int(
            session.execute(
                text("SELECT product_id FROM mall_sku WHERE id = :k"), {"k": sku_id}
            ).scalar_one()
        )


def headers_of(platform: Platform, merchant_id: int, role: str) -> dict[str, str]:
    """A login of the merchant's in ``role`` (``api``: its API key)."""
    with platform.transaction() as session:
        if role == "api":
            _, key = platform.payments.create_api_key(session, merchant_id=merchant_id)
            return {"Authorization": f"Bearer {key}"}
        user = platform.payments.add_user(session, merchant_id=merchant_id, role=role, name="小李")
        login = platform.auth.open_session(
            session, kind=PrincipalKind.MERCHANT, principal_id=user, client="tests"
        )
    return {"Authorization": f"Bearer {login.token}"}


def audited(platform: Platform, action: str) -> list[tuple[str, int, str, Any]]:
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT actor_kind, actor_id, result, details FROM audit_log "
                "WHERE action = :a ORDER BY id"
            ),
            {"a": action},
        ).all()
    return [(str(r[0]), int(r[1]), str(r[2]), r[3]) for r in rows]


def test_a_suspended_shop_leaves_the_mall_but_its_open_orders_ship_return_and_settle(
    buyer: ApiCustomer,
    shops: Shops,
    client: TestClient,
    platform: Platform,
    clock: FrozenClock,
    people: People,
) -> None:
    tea = shops.sku(2, price=128_00, stock=5, commission_bp=500)
    cup = shops.sku(2, price=20_00, stock=5, commission_bp=500)
    shop_id = shops.sellers[2].shop_id
    checkout = paid_checkout(buyer, {tea: 1, cup: 1})
    assert len(shop_products(buyer, shop_id)) == 2
    in_cart = buyer.post("/me/mall/cart/lines", {"sku_id": cup, "quantity": 1})
    assert in_cart.status_code == 204
    ops = people.staff("operations")

    suspended = client.post(
        f"{V1}/staff/mall/shops/{shop_id}/suspend", headers=ops, json={"reason": "售假投诉核查中"}
    )

    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    # Customers no longer find or buy its products.
    assert shop_products(buyer, shop_id) == []
    assert buyer.get(f"/mall/products/{product_of(platform, tea)}").status_code == 404
    added = buyer.post("/me/mall/cart/lines", {"sku_id": tea, "quantity": 1})
    assert added.json()["error"]["code"] == "mall_shop_not_selling"
    bought = buyer.post("/me/mall/checkouts", {"client_id": "c2"})  # put in the cart before
    assert bought.json()["error"]["code"] == "mall_shop_not_selling"
    # The seller reads why.
    seen = client.get(f"{V1}/merchant/mall/shop", headers=shops.headers(2)).json()
    assert (seen["status"], seen["reason"]) == ("suspended", "售假投诉核查中")
    # The open order still ships, and a return of it is still refunded.
    ship_all(client, shops, checkout)
    order = checkout["orders"][0]
    cup_line = next(line for line in order["lines"] if line["sku_id"] == cup)
    asked = buyer.post(
        f"/me/mall/orders/{order['id']}/returns",
        {"lines": [{"line_id": cup_line["id"], "quantity": 1}], "reason": "破损"},
    )
    agreed = client.post(
        f"{V1}/merchant/mall/returns/{asked.json()['id']}/agree", headers=shops.headers(2)
    )
    assert agreed.json()["status"] == "refunded"
    # A suspended shop is not closed by its seller: operations hold it.
    closing = client.post(f"{V1}/merchant/mall/shop/close", headers=shops.headers(2), json={})
    assert closing.json()["error"]["code"] == "mall_shop_state_invalid"
    # ... and it is settled: 128.00 kept less 5%.
    assert received_and_released(platform, clock) == (1, 1)
    clock.advance(timedelta(days=1))
    run = settle_yesterday(platform)
    assert {x.merchant_id: x.paid for x in run.settled}[shops.sellers[2].merchant_id] == 121_60

    log_in_again(buyer, people)
    ops = {"Authorization": f"Bearer {people.login('operations-1')}"}
    reinstated = client.post(
        f"{V1}/staff/mall/shops/{shop_id}/reinstate", headers=ops, json={"reason": "核查无误"}
    )
    assert reinstated.json()["status"] == "open"
    assert reinstated.json()["reason"] == ""
    assert len(shop_products(buyer, shop_id)) == 2
    # Who did what and why: the shop's events and the audit log.
    events = client.get(f"{V1}/staff/mall/shops/{shop_id}/events", headers=ops).json()
    assert [(e["action"], e["status_before"], e["reason"]) for e in events] == [
        ("suspend", "open", "售假投诉核查中"),
        ("reinstate", "suspended", "核查无误"),
    ]
    staff_id = events[0]["staff_id"]
    assert staff_id is not None
    [(kind, actor, result, details)] = audited(platform, "mall.shop.suspend")
    assert (kind, actor, result, details["reason"]) == ("staff", staff_id, "ok", "售假投诉核查中")


def test_who_may_suspend_reinstate_and_close_a_shop(
    buyer: ApiCustomer, shops: Shops, client: TestClient, platform: Platform, people: People
) -> None:
    shop_id = shops.sellers[0].shop_id
    merchant_id = shops.sellers[0].merchant_id
    reason = {"reason": "核查"}
    suspend = f"{V1}/staff/mall/shops/{shop_id}/suspend"
    outsiders = {
        "nobody": {},
        "a customer": buyer.headers,
        "the shop's owner": shops.headers(0),
        "an account manager": people.staff("account_manager"),
        "a risk analyst": people.staff("risk_analyst"),
    }
    for who, headers in outsiders.items():
        answer = client.post(suspend, headers=headers, json=reason)
        assert answer.status_code in (401, 403), who
    # A reason is required.
    ops = people.staff("operations")
    assert client.post(suspend, headers=ops, json={"reason": " "}).status_code == 422
    assert (
        client.post(suspend, headers=people.staff("administrator"), json=reason).status_code == 200
    )
    # Only an open shop is suspended, only a suspended one reinstated; repeats answer it.
    assert client.post(suspend, headers=ops, json=reason).json()["status"] == "suspended"
    reinstate = f"{V1}/staff/mall/shops/{shop_id}/reinstate"
    assert client.post(reinstate, headers=ops, json=reason).json()["status"] == "open"
    assert client.post(reinstate, headers=ops, json=reason).json()["status"] == "open"
    missing = client.post(f"{V1}/staff/mall/shops/999999/suspend", headers=ops, json=reason)
    assert missing.json()["error"]["code"] == "mall_shop_not_found"

    # Only the owner closes: not a cashier, nor the API key, nor a customer.
    close = f"{V1}/merchant/mall/shop/close"
    for who, headers in {
        "a cashier": headers_of(platform, merchant_id, "cashier"),
        "the API key": headers_of(platform, merchant_id, "api"),
        "a customer": buyer.headers,
        "operations": ops,
    }.items():
        assert client.post(close, headers=headers, json={}).status_code in (401, 403), who
    closed = client.post(close, headers=shops.headers(0), json={"reason": "不做了"})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["reason"]) == ("closed", "不做了")
    # A closed shop is neither suspended nor reinstated; its owner may ask again.
    assert client.post(suspend, headers=ops, json=reason).json()["error"]["code"] == (
        "mall_shop_state_invalid"
    )
    asked = client.post(f"{V1}/merchant/mall/shop", headers=shops.headers(0), json={"name": "新店"})
    assert asked.json()["status"] == "pending"


def test_a_shop_closes_only_when_its_orders_are_done_and_its_money_settled(
    buyer: ApiCustomer, shops: Shops, client: TestClient, platform: Platform, clock: FrozenClock
) -> None:
    book = shops.sku(1, price=45_50, stock=5)
    checkout = paid_checkout(buyer, {book: 1})
    owner = shops.headers(1)

    def close() -> Any:
        return client.post(f"{V1}/merchant/mall/shop/close", headers=owner, json={})

    assert close().json()["error"]["code"] == "mall_shop_orders_open"  # to ship
    ship_all(client, shops, checkout)
    assert close().json()["error"]["code"] == "mall_shop_orders_open"  # on its way
    assert received_and_released(platform, clock) == (1, 1)
    owner = shops.headers(1)
    assert close().json()["error"]["code"] == "mall_shop_orders_open"  # after-sales
    clock.advance(timedelta(days=8))  # past the 15 after-sales days
    owner = shops.headers(1)
    refused = close().json()["error"]
    assert refused["code"] == "mall_shop_money_unsettled"  # not yet paid out
    settle_yesterday(platform)

    closed = close()

    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    actions = audited(platform, "mall.shop.close")
    assert [result for _, _, result, _ in actions] == ["refused"] * 4 + ["ok"]
