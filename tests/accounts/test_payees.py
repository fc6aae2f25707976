"""Saved and recent payees over the API: a customer's own, and nobody else's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.people import People
from tests.support.api import ApiCustomer


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> list[ApiCustomer]:
    """张三 (funded), 李雷 and 韩梅梅."""
    register = People(client, platform)
    registered = [register.register(name) for name in ("张三", "李雷", "韩梅梅")]
    register.fund(registered[0], 1_000_000)
    return [ApiCustomer(client, platform, person) for person in registered]


def add(customer: ApiCustomer, name: str, account: str) -> dict[str, object]:
    response = customer.post("/me/payees", {"name": name, "account": account})
    assert response.status_code == 201, response.text
    saved: dict[str, object] = response.json()
    return saved


class TestSavedPayees:
    def test_a_saved_payee_shows_the_holders_masked_name_beside_the_customers_own(
        self, people: list[ApiCustomer]
    ) -> None:
        zhang, li, _ = people
        saved = add(zhang, " 房东 ", li.account)
        assert (saved["name"], saved["account"], saved["holder"]) == ("房东", li.account, "*雷")
        assert [p["name"] for p in zhang.get("/me/payees").json()] == ["房东"]

    def test_renamed_and_deleted(self, people: list[ApiCustomer]) -> None:
        zhang, li, han = people
        first = add(zhang, "房东", li.account)
        add(zhang, "同事", han.account)
        renamed = zhang.client.patch(
            f"/api/v1/me/payees/{first['id']}", headers=zhang.headers, json={"name": "老李"}
        )
        assert renamed.json()["name"] == "老李"
        deleted = zhang.client.delete(f"/api/v1/me/payees/{first['id']}", headers=zhang.headers)
        assert deleted.status_code == 204
        assert [p["name"] for p in zhang.get("/me/payees").json()] == ["同事"]
        assert zhang.get(f"/me/payees/{first['id']}").status_code == 404

    def test_another_customers_payee_is_not_found_whatever_is_asked(
        self, people: list[ApiCustomer]
    ) -> None:
        zhang, li, han = people
        theirs = add(zhang, "房东", li.account)
        path = f"/api/v1/me/payees/{theirs['id']}"
        assert han.client.get(path, headers=han.headers).status_code == 404
        renamed = han.client.patch(path, headers=han.headers, json={"name": "x"})
        assert (renamed.status_code, renamed.json()["error"]["code"]) == (404, "payee_not_found")
        assert han.client.delete(path, headers=han.headers).status_code == 404
        assert han.get("/me/payees").json() == []
        assert zhang.get(f"/me/payees/{theirs['id']}").json()["name"] == "房东"

    def test_only_an_account_of_this_bank_saved_once(self, people: list[ApiCustomer]) -> None:
        zhang, li, _ = people
        add(zhang, "房东", li.account)
        again = zhang.post("/me/payees", {"name": "又是他", "account": li.account})
        assert (again.status_code, again.json()["error"]["code"]) == (409, "payee_already_saved")
        typo = li.account[:-1] + str((int(li.account[-1]) + 1) % 10)
        wrong = zhang.post("/me/payees", {"name": "x", "account": typo})
        assert wrong.json()["error"]["code"] == "account_number_invalid"
        blank = zhang.post("/me/payees", {"name": "  ", "account": li.account})
        assert blank.status_code == 422
        assert [p["name"] for p in zhang.get("/me/payees").json()] == ["房东"]


class TestRecentPayees:
    def test_recent_payees_are_the_others_the_customer_paid_latest_first(
        self, people: list[ApiCustomer], clock: FrozenClock
    ) -> None:
        zhang, li, han = people
        for n, payee in enumerate((li, han, li, han)):
            clock.advance(timedelta(minutes=1))
            paid = zhang.confirmed(
                "/me/transfers",
                {
                    "client_id": f"t{n}",
                    "source": zhang.account,
                    "destination": payee.account,
                    "amount": "10.00",
                },
            )
            assert paid.status_code == 201, paid.text
        saved = add(zhang, "房东", li.account)
        recent = zhang.get("/me/payees/recent").json()
        assert [(r["account"], r["holder"], r["payee_id"]) for r in recent] == [
            (han.account, "*梅梅", None),
            (li.account, "*雷", saved["id"]),
        ]
        # Derived from the payer's own transfers: the payees see no payee in them.
        assert li.get("/me/payees/recent").json() == []


class TestReceipts:
    def test_either_party_gets_the_receipt_masked_and_no_one_else(
        self, people: list[ApiCustomer]
    ) -> None:
        zhang, li, han = people
        done = zhang.confirmed(
            "/me/transfers",
            {
                "client_id": "r1",
                "source": zhang.account,
                "destination": li.account,
                "amount": "12.34",
            },
        )
        assert done.status_code == 201, done.text
        entry = done.json()["entry_id"]
        mine = zhang.get(f"/me/receipts/{entry}").json()
        theirs = li.get(f"/me/receipts/{entry}").json()
        assert (mine["amount"], mine["direction"], theirs["direction"]) == ("12.34", "out", "in")
        assert mine["payee"] == {
            "account": f"{li.account[:4]}****{li.account[-4:]}",
            "holder": "*雷",
        }
        assert mine["payer"]["holder"] == "*三"
        assert mine["scheduled"] is False
        assert {k: v for k, v in theirs.items() if k != "direction"} == {
            k: v for k, v in mine.items() if k != "direction"
        }
        refused = han.get(f"/me/receipts/{entry}")
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "receipt_not_found"
        assert han.get("/me/receipts/999999").json()["error"]["code"] == "receipt_not_found"
