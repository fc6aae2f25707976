"""Wealth products end to end: staff create them, customers buy them (step-up, as
every payment) and see their holdings; the money sits in the product's custody
account in the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.auth.sms import FakeSmsGateway
from rongbank.platform import Platform
from tests.accounts.test_endpoints import People
from tests.wealth.helpers import assessed, custody_balance

V1 = "/api/v1"
PRODUCT = {
    "code": "GYLC2026A",
    "name": "工银理财·稳享90天",
    "risk_level": 2,
    "yield_bps": 285,
    "min_amount": "1000.00",
    "step_amount": "100.00",
    "sale_start": "2026-03-01T00:00:00Z",
    "sale_end": "2026-03-10T00:00:00Z",
}


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def shop(client: TestClient, platform: Platform) -> dict[str, Any]:
    """Operations staff with a product on sale, and a customer with 10,000.00."""
    people = People(client, platform)
    operations = people.staff("operations")
    created = client.post(f"{V1}/staff/wealth/products", headers=operations, json=PRODUCT)
    assert created.status_code == 201, created.text
    customer = people.register()
    people.fund(customer, 1_000_000)
    assessed(platform, customer["customer_id"], level=2)
    return {"people": people, "operations": operations, "customer": customer}


def buy(client: TestClient, platform: Platform, who: dict[str, Any], **body: Any) -> Any:
    """Buy; when the bank asks for an SMS code, answer it and send the request again."""
    body = {"client_id": "p1", "product_code": "GYLC2026A",
            "account": who["account"]["number"], "amount": "1500.00"} | body  # fmt: skip
    response = client.post(f"{V1}/me/wealth/purchases", headers=who["headers"], json=body)
    error = response.json().get("error", {}) if response.status_code == 403 else {}
    if error.get("code") != "challenge_required":
        return response
    with platform.transaction() as session:
        _, message = FakeSmsGateway.outbox(session, who["login_name"])[0]
    code = message.split("】", 1)[1][:6]
    answer = {"challenge_id": error["details"]["challenge"]["id"], "response": code}
    return client.post(f"{V1}/me/wealth/purchases", headers=who["headers"], json=body | answer)


def custody(platform: Platform) -> int:
    return custody_balance(platform, "GYLC2026A")


def available(platform: Platform, who: dict[str, Any]) -> int:
    with platform.transaction() as session:
        account = platform.accounts.account(session, who["account"]["number"])
        return platform.accounts.available(session, account)


class TestCatalogue:
    def test_customers_see_the_products_on_sale(
        self, client: TestClient, shop: dict[str, Any]
    ) -> None:
        listed = client.get(f"{V1}/me/wealth/products", headers=shop["customer"]["headers"])
        assert [(p["code"], p["expected_yield"], p["risk_label"]) for p in listed.json()] == [
            ("GYLC2026A", "2.85%", "PR2 稳健型")
        ]

    def test_a_code_is_taken_once(self, client: TestClient, shop: dict[str, Any]) -> None:
        again = client.post(f"{V1}/staff/wealth/products", headers=shop["operations"], json=PRODUCT)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "wealth_product_code_taken"

    def test_account_managers_see_but_do_not_create(
        self, client: TestClient, shop: dict[str, Any]
    ) -> None:
        manager = shop["people"].staff("account_manager")
        assert client.get(f"{V1}/staff/wealth/products", headers=manager).status_code == 200
        body = PRODUCT | {"code": "OTHER01"}
        created = client.post(f"{V1}/staff/wealth/products", headers=manager, json=body)
        assert created.status_code == 403


class TestClosingTheSale:
    def test_nothing_more_is_bought_and_what_was_bought_is_kept(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        customer, operations = shop["customer"], shop["operations"]
        assert buy(client, platform, customer).status_code == 201
        closed = client.post(f"{V1}/staff/wealth/products/gylc2026a/close", headers=operations)
        assert closed.status_code == 200, closed.text
        assert closed.json()["sale_end"] == "2026-03-02T01:30:00Z"  # now
        refused = buy(client, platform, customer, client_id="p2")
        assert refused.json()["error"]["code"] == "wealth_product_not_on_sale"
        assert custody(platform) == 150_000
        holdings = client.get(f"{V1}/me/wealth/holdings", headers=customer["headers"]).json()
        assert [h["amount"] for h in holdings] == ["1500.00"]
        listed = client.get(f"{V1}/me/wealth/products", headers=customer["headers"]).json()
        assert "GYLC2026A" not in [p["code"] for p in listed]

    def test_closing_again_or_before_the_sale_changes_nothing_more(
        self, client: TestClient, shop: dict[str, Any]
    ) -> None:
        operations = shop["operations"]
        upcoming = PRODUCT | {"code": "GYLC2026B", "sale_start": "2026-03-05T00:00:00Z"}
        assert client.post(f"{V1}/staff/wealth/products", headers=operations, json=upcoming)
        first = client.post(f"{V1}/staff/wealth/products/GYLC2026B/close", headers=operations)
        assert first.json()["sale_start"] == first.json()["sale_end"] == "2026-03-02T01:30:00Z"
        again = client.post(f"{V1}/staff/wealth/products/GYLC2026B/close", headers=operations)
        assert again.json() == first.json()

    def test_an_unknown_product_and_a_manager_are_refused(
        self, client: TestClient, shop: dict[str, Any]
    ) -> None:
        unknown = client.post(
            f"{V1}/staff/wealth/products/NOSUCH1/close", headers=shop["operations"]
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "wealth_product_not_found"
        manager = shop["people"].staff("account_manager")
        refused = client.post(f"{V1}/staff/wealth/products/GYLC2026A/close", headers=manager)
        assert refused.status_code == 403


class TestPurchase:
    def test_moves_the_money_into_custody_and_records_the_holding(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        customer = shop["customer"]
        bought = buy(client, platform, customer)
        assert bought.status_code == 201, bought.text
        assert (bought.json()["product_code"], bought.json()["amount"]) == ("GYLC2026A", "1500.00")
        assert available(platform, customer) == 1_000_000 - 150_000
        assert custody(platform) == 150_000
        holdings = client.get(f"{V1}/me/wealth/holdings", headers=customer["headers"]).json()
        assert [(h["product_code"], h["amount"], h["account"]) for h in holdings] == [
            ("GYLC2026A", "1500.00", customer["account"]["number"][-4:])
        ]

    def test_a_retry_answers_the_same_purchase_and_moves_nothing_more(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        customer = shop["customer"]
        first = buy(client, platform, customer)
        again = buy(client, platform, customer)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        assert custody(platform) == 150_000
        changed = buy(client, platform, customer, amount="2000.00")
        assert changed.status_code == 409
        assert changed.json()["error"]["code"] == "wealth_purchase_conflict"

    def test_needs_an_answered_challenge(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        customer = shop["customer"]
        body = {"client_id": "p1", "product_code": "GYLC2026A",
                "account": customer["account"]["number"], "amount": "1500.00"}  # fmt: skip
        asked = client.post(f"{V1}/me/wealth/purchases", headers=customer["headers"], json=body)
        assert asked.status_code == 403
        assert asked.json()["error"]["code"] == "challenge_required"
        assert custody(platform) == 0

    def test_more_than_the_balance_is_refused_and_nothing_changes(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        customer = shop["customer"]
        refused = buy(client, platform, customer, amount="10100.00")
        assert refused.status_code in (400, 409, 422), refused.text
        assert refused.json()["error"]["code"] == "insufficient_funds"
        assert custody(platform) == 0
        assert available(platform, customer) == 1_000_000
        assert client.get(f"{V1}/me/wealth/holdings", headers=customer["headers"]).json() == []

    def test_not_from_someone_elses_account(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        thief = shop["people"].register("路人")
        refused = buy(
            client, platform, thief, account=shop["customer"]["account"]["number"], amount="1000"
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "account_not_accessible"
        assert custody(platform) == 0

    def test_below_the_minimum_is_refused(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        refused = buy(client, platform, shop["customer"], amount="999.99")
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "wealth_amount_below_minimum"
