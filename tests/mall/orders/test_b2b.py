"""B2B: a purchaser's cart goes to an approver of the same enterprise, who pays it
from the enterprise's own account (with the enterprise's step-up); fapiao data per
order names the enterprise and its credit code."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from rongbank.platform import Platform
from tests.factories.identity import resident_id
from tests.factories.people import PASSWORD, V1, People
from tests.support.api import ApiCustomer
from tests.support.mall_orders import Shops, buy
from tests.support.sms import sms_code

COMPANY_MOBILE = "13900009999"
CREDIT_CODE = "91350100M000100Y43"


def enterprise(client: TestClient, platform: Platform, people: People) -> ApiCustomer:
    registered = client.post(
        f"{V1}/enterprises",
        json={
            "name": "福州融通贸易有限公司",
            "mobile": COMPANY_MOBILE,
            "credit_code": CREDIT_CODE,
            "legal_rep_name": "林某",
            "legal_rep_id": resident_id(1, birth=date(1980, 1, 1)),
            "password": PASSWORD,
        },
    )
    assert registered.status_code == 201, registered.text
    company: dict[str, Any] = registered.json()
    company["headers"] = {"Authorization": f"Bearer {people.login(company['login_name'])}"}
    people.fund(company, 20_000_00)
    return ApiCustomer(client, platform, company)


def approve(approver: ApiCustomer, checkout_id: int) -> Any:
    """Approve; the code goes to the enterprise's own mobile."""
    path = f"/me/mall/approvals/{checkout_id}/approve"
    asked = approver.post(path)
    if asked.status_code != 403:
        return asked
    challenge = asked.json()["error"]["details"]["challenge"]
    answer = {
        "challenge_id": challenge["id"],
        "response": sms_code(approver.platform, COMPANY_MOBILE),
    }
    return approver.post(path, answer)


def test_a_purchasers_cart_is_paid_from_the_enterprise_once_an_approver_approves(
    client: TestClient, platform: Platform, people: People, shops: Shops
) -> None:
    company = enterprise(client, platform, people)
    purchaser = ApiCustomer(client, platform, people.register("采购员"))
    approver = ApiCustomer(client, platform, people.register("审批人"))
    bystander = ApiCustomer(client, platform, people.register("旁人"))
    for who, role in ((purchaser, "purchaser"), (approver, "approver")):
        added = company.post("/me/mall/enterprise/members", {"mobile": who.mobile, "role": role})
        assert added.status_code == 201, added.text
    paper = shops.sku(0, price=25_00, stock=100)
    toner = shops.sku(1, price=480_00, stock=10)

    not_member = buy(bystander, {paper: 1}, key="x")
    assert not_member.status_code == 201  # a personal checkout is anyone's
    refused = bystander.post("/me/mall/checkouts", {"client_id": "y", "enterprise_id": company.id})
    assert refused.json()["error"]["code"] == "mall_not_enterprise_member"
    for sku_id, quantity in ((paper, 40), (toner, 2)):
        purchaser.post("/me/mall/cart/lines", {"sku_id": sku_id, "quantity": quantity})
    made = purchaser.post("/me/mall/checkouts", {"client_id": "po-1", "enterprise_id": company.id})
    assert made.status_code == 201, made.text
    checkout = made.json()
    assert (checkout["approval"], checkout["amount"]) == ("awaiting", "1960.00")
    own_pay = purchaser.post(
        f"/me/mall/checkouts/{checkout['id']}/pay", {"account": purchaser.account}
    )
    assert own_pay.json()["error"]["code"] == "mall_checkout_needs_approval"
    assert [c["id"] for c in approver.get("/me/mall/approvals").json()] == [checkout["id"]]
    assert bystander.get("/me/mall/approvals").json() == []
    assert bystander.post(f"/me/mall/approvals/{checkout['id']}/approve").status_code == 404

    approved = approve(approver, checkout["id"])

    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["approval"]) == ("paid", "approved")
    assert company.available() == "18040.00"  # 20000.00 - 1960.00, from the enterprise
    assert approver.available() == purchaser.available() == "0.00"
    order = checkout["orders"][1]
    invoice = purchaser.get(f"/me/mall/orders/{order['id']}/fapiao").json()
    assert (invoice["buyer_name"], invoice["buyer_tax_id"]) == ("福州融通贸易有限公司", CREDIT_CODE)
    assert (invoice["amount"], invoice["lines"][0]["quantity"]) == ("960.00", 2)


def test_an_approver_who_refuses_releases_the_reservation(
    client: TestClient, platform: Platform, people: People, shops: Shops
) -> None:
    company = enterprise(client, platform, people)
    purchaser = ApiCustomer(client, platform, people.register("采购员"))
    approver = ApiCustomer(client, platform, people.register("审批人"))
    company.post("/me/mall/enterprise/members", {"mobile": purchaser.mobile, "role": "purchaser"})
    company.post("/me/mall/enterprise/members", {"mobile": approver.mobile, "role": "approver"})
    chairs = shops.sku(2, price=899_00, stock=4)
    purchaser.post("/me/mall/cart/lines", {"sku_id": chairs, "quantity": 4})
    checkout = purchaser.post(
        "/me/mall/checkouts", {"client_id": "po-2", "enterprise_id": company.id}
    ).json()
    assert shops.stock(chairs) == 0

    refused = approver.post(f"/me/mall/approvals/{checkout['id']}/refuse")

    assert refused.status_code == 200, refused.text
    assert (refused.json()["status"], refused.json()["approval"]) == ("expired", "refused")
    assert shops.stock(chairs) == 4
    # The enterprise's own e-Pay order page cannot pay it any more either.
    late = company.confirmed(
        f"/me/orders/{checkout['payment_token']}/pay", {"account": company.account}
    )
    assert late.status_code == 409
    assert company.available() == "20000.00"
