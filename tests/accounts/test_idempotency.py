"""A refusal is a request's outcome: a transfer or a withdrawal refused under a key is
refused again when sent again with that key, even after money has arrived; the key
for another request is a conflict; a new key is a new request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.platform import Platform
from tests.accounts.test_endpoints import V1, People, available, pay, transfer_confirmed
from tests.accounts.test_funding import bind, move


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


class TestTransfers:
    def test_a_refused_transfer_stays_refused_under_its_key_after_money_arrives(
        self, client: TestClient, people: People
    ) -> None:
        alice, bob = people.register(), people.register("李雷")
        people.fund(alice, 1_000)
        bob_number = bob["account"]["number"]

        refused = pay(client, alice, bob_number, "50.00", "k1")
        people.fund(alice, 10_000)
        again = pay(client, alice, bob_number, "50.00", "k1")

        assert refused.status_code == again.status_code == 422
        assert refused.json() == again.json()
        assert again.json()["error"]["code"] == "insufficient_funds"
        assert available(client, alice) == "110.00"
        assert pay(client, alice, bob_number, "50.00", "k2").status_code == 201
        assert available(client, alice) == "60.00"

    def test_the_refused_key_for_another_transfer_is_a_conflict(
        self, client: TestClient, people: People
    ) -> None:
        alice, bob = people.register(), people.register("李雷")
        people.fund(alice, 1_000)
        bob_number = bob["account"]["number"]
        assert pay(client, alice, bob_number, "50.00", "k1").status_code == 422

        other = pay(client, alice, bob_number, "5.00", "k1")

        assert other.status_code == 409
        assert other.json()["error"]["code"] == "idempotency_conflict"
        assert available(client, alice) == "10.00"

    def test_a_key_is_the_customers_own(self, client: TestClient, people: People) -> None:
        alice, bob = people.register(), people.register("李雷")
        people.fund(bob, 1_000)
        assert pay(client, alice, bob["account"]["number"], "50.00", "same").status_code == 422

        assert pay(client, bob, alice["account"]["number"], "5.00", "same").status_code == 201

    def test_a_challenge_is_not_an_outcome_the_same_key_answers_it(
        self, client: TestClient, people: People
    ) -> None:
        """Over the password-free allowance the bank asks for a code: the client sends
        the same request again with it, under the same key, and it is paid."""
        alice, bob = people.register(), people.register("李雷")
        people.fund(alice, 2_000_000)
        body = {
            "client_id": "big",
            "source": alice["account"]["number"],
            "destination": bob["account"]["number"],
            "amount": "500.00",
        }
        first = client.post(f"{V1}/me/transfers", headers=alice["headers"], json=body)
        assert first.json()["error"]["code"] == "challenge_required"

        assert transfer_confirmed(client, alice, body).status_code == 201
        assert available(client, alice) == "19500.00"


class TestWithdrawals:
    def test_a_refused_withdrawal_stays_refused_under_its_key(
        self, client: TestClient, people: People
    ) -> None:
        alice = people.register()
        card_id = bind(client, alice).json()["id"]
        people.fund(alice, 1_000)

        refused = move(client, "withdrawals", alice, card_id, "50.00", key="w1")
        people.fund(alice, 10_000)
        again = move(client, "withdrawals", alice, card_id, "50.00", key="w1")
        other = move(client, "withdrawals", alice, card_id, "5.00", key="w1")

        assert refused.status_code == again.status_code == 422
        assert refused.json() == again.json()
        assert again.json()["error"]["code"] == "insufficient_funds"
        assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_conflict")
        assert available(client, alice) == "110.00"
        paid = move(client, "withdrawals", alice, card_id, "50.00", key="w2")
        assert paid.status_code == 201
        assert available(client, alice) == "60.00"

    def test_a_top_up_and_a_withdrawal_cannot_share_a_key(
        self, client: TestClient, people: People
    ) -> None:
        alice = people.register()
        card_id = bind(client, alice).json()["id"]
        assert move(client, "withdrawals", alice, card_id, "50.00", key="k").status_code == 422

        top_up = move(client, "top-ups", alice, card_id, "50.00", key="k")

        assert top_up.status_code == 409
        assert available(client, alice) == "0.00"
