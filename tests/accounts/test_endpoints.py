"""The direct bank over HTTP, as a customer and as staff use it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.auth.sms import FakeSmsGateway
from rongbank.platform import Platform
from tests.factories.identity import resident_id
from tests.factories.people import PASSWORD, V1, People


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


def transfer_confirmed(client: TestClient, payer: dict[str, Any], body: dict[str, Any]) -> Any:
    """Send a transfer; when the bank asks for an SMS code, answer it as the customer
    would (the code read from the fake SMS gateway) by sending the request again."""
    response = client.post(f"{V1}/me/transfers", headers=payer["headers"], json=body)
    error = response.json().get("error", {}) if response.status_code == 403 else {}
    if error.get("code") != "challenge_required":
        return response
    challenge = error["details"]["challenge"]
    assert challenge["tool"] == "sms", challenge
    platform: Platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.transaction() as session:
        _, message = FakeSmsGateway.outbox(session, payer["login_name"])[0]
    code = message.split("】", 1)[1][:6]
    answer = {**body, "challenge_id": challenge["id"], "response": code}
    return client.post(f"{V1}/me/transfers", headers=payer["headers"], json=answer)


def pay(
    client: TestClient, payer: dict[str, Any], payee_number: str, amount: str, client_id: str
) -> Any:
    return transfer_confirmed(
        client,
        payer,
        {
            "client_id": client_id,
            "source": payer["account"]["number"],
            "destination": payee_number,
            "amount": amount,
        },
    )


def available(client: TestClient, person: dict[str, Any]) -> str:
    accounts = client.get(f"{V1}/me/accounts", headers=person["headers"]).json()
    return str(accounts[0]["available"])


class TestRegistrationAndLogin:
    def test_a_new_customer_registers_logs_in_and_sees_a_class_two_account(
        self, client: TestClient, people: People
    ) -> None:
        alice = people.register()
        accounts = client.get(f"{V1}/me/accounts", headers=alice["headers"]).json()
        assert [(a["account_class"], a["status"], a["available"]) for a in accounts] == [
            (2, "active", "0.00")
        ]

    def test_wrong_check_digit_is_a_clear_error(self, client: TestClient) -> None:
        number = resident_id(1)
        wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
        body = {"name": "x", "mobile": "13900000001", "resident_id": wrong, "password": PASSWORD}
        response = client.post(f"{V1}/customers", json=body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "resident_id_check_digit_wrong"

    def test_wrong_password_and_unknown_user_look_the_same(
        self, client: TestClient, people: People
    ) -> None:
        alice = people.register()
        wrong = client.post(
            f"{V1}/sessions", json={"login_name": alice["login_name"], "password": "nope-nope-1"}
        )
        unknown = client.post(
            f"{V1}/sessions", json={"login_name": "13999999999", "password": "nope-nope-1"}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "login_failed"
        assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]

    def test_no_token_no_access(self, client: TestClient) -> None:
        response = client.get(f"{V1}/me/accounts")
        assert response.status_code == 401


class TestTransfers:
    def test_pay_another_customer_and_retry_safely(
        self, client: TestClient, people: People
    ) -> None:
        alice, bob = people.register(), people.register("李雷")
        people.fund(alice, 100_000)
        first = pay(client, alice, bob["account"]["number"], "250.50", "t1")
        again = pay(client, alice, bob["account"]["number"], "250.50", "t1")
        assert (first.status_code, again.status_code) == (201, 200)
        assert available(client, alice) == "749.50"
        assert available(client, bob) == "250.50"

    @pytest.mark.parametrize(
        ("amount", "code"),
        [
            ("12.345", "amount_precision_exceeded"),
            ("-1", "invalid_amount"),
            ("0", "amount_not_positive"),
            ("10000.01", "daily_limit_exceeded"),
            ("5000.00", "insufficient_funds"),
        ],
    )
    def test_bad_transfers_change_nothing(
        self, client: TestClient, people: People, amount: str, code: str
    ) -> None:
        alice, bob = people.register(), people.register("李雷")
        people.fund(alice, 100_000) if code != "daily_limit_exceeded" else people.fund(
            alice, 2_000_000
        )
        before = available(client, alice)
        response = pay(client, alice, bob["account"]["number"], amount, "bad")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == code
        assert available(client, alice) == before
        assert available(client, bob) == "0.00"

    def test_cannot_pay_from_another_customers_account(
        self, client: TestClient, people: People
    ) -> None:
        alice, bob = people.register(), people.register("李雷")
        people.fund(bob, 100_000)
        response = client.post(
            f"{V1}/me/transfers",
            headers=alice["headers"],
            json={
                "client_id": "steal",
                "source": bob["account"]["number"],
                "destination": alice["account"]["number"],
                "amount": "1.00",
            },
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "account_not_accessible"
        assert available(client, bob) == "1000.00"

    def test_customers_cannot_use_staff_or_operator_endpoints(
        self, client: TestClient, people: People
    ) -> None:
        alice = people.register()
        number = alice["account"]["number"]
        freeze = client.post(
            f"{V1}/staff/accounts/{number}/freeze", headers=alice["headers"], json={"reason": "x"}
        )
        assert freeze.status_code == 403
        ledger = client.get(f"{V1}/ledger/trial-balance", headers=alice["headers"])
        assert ledger.status_code == 403


class TestStaff:
    def test_operations_freezes_and_the_customer_cannot_pay(
        self, client: TestClient, people: People
    ) -> None:
        alice, bob = people.register(), people.register("李雷")
        people.fund(alice, 100_000)
        operations = people.staff("operations")
        number = alice["account"]["number"]
        frozen = client.post(
            f"{V1}/staff/accounts/{number}/freeze", headers=operations, json={"reason": "涉嫌诈骗"}
        )
        assert frozen.status_code == 200
        assert frozen.json()["status"] == "frozen"
        refused = pay(client, alice, bob["account"]["number"], "1.00", "f1")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "account_frozen"
        client.post(f"{V1}/staff/accounts/{number}/unfreeze", headers=operations)
        assert pay(client, alice, bob["account"]["number"], "1.00", "f2").status_code == 201

    def test_an_account_manager_may_not_freeze(self, client: TestClient, people: People) -> None:
        alice = people.register()
        manager = people.staff("account_manager")
        response = client.post(
            f"{V1}/staff/accounts/{alice['account']['number']}/freeze",
            headers=manager,
            json={"reason": "x"},
        )
        assert response.status_code == 403
