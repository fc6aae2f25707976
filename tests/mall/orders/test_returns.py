"""Returns: partial per line with the seller's agreement, or by operations' ruling in
a dispute; the refund goes back the way it came (e-Pay, or the 逸贷 plan unwound),
the units back in stock, the commission taken only on what was kept."""

from __future__ import annotations

from fastapi.testclient import TestClient

from rongbank.clock import FrozenClock
from rongbank.lending.repayment import periods_of
from rongbank.platform import Platform
from tests.factories.people import V1, People
from tests.support.api import ApiCustomer
from tests.support.mall_orders import (
    Shops,
    ask_return,
    buy,
    instalments_offered,
    paid_checkout,
    received_and_released,
    ship_all,
)


def test_a_partial_return_agreed_by_the_seller_is_refunded_and_restocked(
    buyer: ApiCustomer, shops: Shops, client: TestClient, platform: Platform, clock: FrozenClock
) -> None:
    shirt = shops.sku(0, price=99_00, stock=5, commission_bp=500)
    socks = shops.sku(0, price=15_00, stock=5, commission_bp=500)
    book = shops.sku(1, price=45_50, stock=5, commission_bp=300)
    checkout = paid_checkout(buyer, {shirt: 2, socks: 3, book: 1})
    ship_all(client, shops, checkout)
    clothes = checkout["orders"][0]

    asked = ask_return(buyer, clothes, [1, 2])  # one shirt, two pairs of socks
    assert asked.status_code == 201, asked.text
    assert asked.json()["amount"] == "129.00"
    too_many = ask_return(buyer, clothes, [2, 0])  # one shirt is already being returned
    assert too_many.json()["error"]["code"] == "mall_return_invalid"
    other_seller = client.post(
        f"{V1}/merchant/mall/returns/{asked.json()['id']}/agree", headers=shops.headers(1)
    )
    assert other_seller.status_code == 404

    agreed = client.post(
        f"{V1}/merchant/mall/returns/{asked.json()['id']}/agree", headers=shops.headers(0)
    )

    assert agreed.status_code == 200, agreed.text
    assert agreed.json()["status"] == "refunded"
    assert buyer.available() == "4840.50"  # 5000.00 - 288.50 + 129.00
    assert (shops.stock(shirt), shops.stock(socks)) == (4, 4)
    order = buyer.get(f"/me/mall/orders/{clothes['id']}").json()
    assert order["refunded"] == "129.00"
    assert [line["returned"] for line in order["lines"]] == [1, 2]

    # Released after receipt and the window: commission only on what was kept.
    assert received_and_released(platform, clock) == (2, 2)
    kept = 99_00 + 15_00  # one shirt, one pair of socks
    assert shops.held(shops.sellers[0].merchant_id) == kept - 5_70  # 5% of 114.00
    assert shops.income() == 5_70 + 1_37  # and 3% of the book's 45.50: 1.365 -> 1.37
    assert shops.clearing_held() == 0


def test_a_refused_return_disputed_is_ruled_on_by_operations(
    buyer: ApiCustomer, shops: Shops, client: TestClient, people: People
) -> None:
    tea = shops.sku(2, price=128_00, stock=5)
    checkout = paid_checkout(buyer, {tea: 1})
    order = checkout["orders"][0]
    asked = ask_return(buyer, order, [1]).json()
    seller = shops.headers(2)

    refused = client.post(f"{V1}/merchant/mall/returns/{asked['id']}/refuse", headers=seller)
    assert refused.json()["status"] == "refused"
    disputed = buyer.post(f"/me/mall/returns/{asked['id']}/dispute")
    assert disputed.json()["status"] == "disputed"
    operations = people.staff("operations")
    listed = client.get(f"{V1}/staff/mall/disputes", headers=operations).json()
    assert [d["id"] for d in listed] == [asked["id"]]

    ruled = client.post(
        f"{V1}/staff/mall/returns/{asked['id']}/ruling", headers=operations, json={"refund": True}
    )

    assert ruled.status_code == 200, ruled.text
    assert ruled.json()["status"] == "refunded"
    assert buyer.available() == "5000.00"
    assert shops.stock(tea) == 5
    assert buyer.get(f"/me/mall/orders/{order['id']}").json()["status"] == "closed"
    assert shops.clearing_held() == 0


def test_a_checkout_paid_by_instalments_is_unwound_on_the_loan_when_returned(
    buyer: ApiCustomer, shops: Shops, client: TestClient, platform: Platform
) -> None:
    phone = shops.sku(0, price=3000_00, stock=2)
    case = shops.sku(1, price=600_00, stock=2)
    checkout = buy(buyer, {phone: 1, case: 1}).json()
    assert checkout["instalments_offered"] is True
    token = checkout["payment_token"]

    offered = instalments_offered(buyer, checkout)
    assert offered.status_code == 201, offered.text
    offer = offered.json()["offer"]
    assert offer["amount"] == "3600.00"
    assert offer["apr_bps"] > 0  # the APR shown before signing
    paid = buyer.confirmed(f"/me/orders/{token}/instalments/pay", {"offer_id": offer["id"]})
    assert paid.status_code == 200, paid.text

    seen = buyer.get(f"/me/mall/checkouts/{checkout['id']}").json()
    assert (seen["status"], seen["paid_by"]) == ("paid", "yidai")
    assert buyer.available() == "5000.00"  # lent straight to the mall's clearing
    assert shops.clearing_held() == 3600_00
    case_order = checkout["orders"][1]
    asked = ask_return(buyer, case_order, [1]).json()
    agreed = client.post(
        f"{V1}/merchant/mall/returns/{asked['id']}/agree", headers=shops.headers(1)
    )
    assert agreed.status_code == 200, agreed.text

    loan_id = paid.json()["loan_id"]
    with platform.transaction() as session:
        loan = platform.loans.loan(session, loan_id=loan_id)
        left = sum(p.principal - p.principal_paid for p in periods_of(session, loan_id))
    assert left == 3000_00  # the refund repaid 600.00 of the principal at once
    assert loan.status == "active"
    assert buyer.available() == "5000.00"  # refunded in, repaid out
    assert shops.stock(case) == 2
