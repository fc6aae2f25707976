"""The customer's loans over the API: list, detail with schedule and APR, repay,
repay early; only one's own; step-up and once per client id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.loans import assert_book_matches_loans
from tests.factories.people import People
from tests.support.api import ApiCustomer


@pytest.fixture
def people(api: TestClient, platform: Platform) -> People:
    return People(api, platform)


def borrower(
    api: TestClient,
    platform: Platform,
    people: People,
    name: str = "张三",
    principal: int = 1_200_000,
) -> tuple[ApiCustomer, int]:
    person = ApiCustomer(api, platform, people.register(name))
    with platform.transaction() as session:
        account = platform.accounts.account(session, person.account)
        loan_id = platform.loans.disburse(
            session,
            customer_id=person.id,
            account_id=account.id,
            product_code="personal_credit",
            principal_fen=principal,
            term_months=12,
            method="equal_principal",
            annual_rate_bps=1200,
            grade="B",
            application_id=None,
            idempotency_key="offer-1",
        )
    return person, loan_id


def later(person: ApiCustomer, people: People, clock: FrozenClock, days: int) -> None:
    """``days`` later, logged in again (sessions do not last that long)."""
    clock.advance(timedelta(days=days))
    person.headers = {"Authorization": f"Bearer {people.login(person.mobile)}"}


def detail(person: ApiCustomer, loan_id: int) -> dict[str, Any]:
    response = person.get(f"/me/loans/{loan_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestReading:
    def test_my_loans_and_one_with_its_schedule_and_apr(self, api, platform, people):
        person, loan_id = borrower(api, platform, people)
        [listed] = person.get("/me/loans").json()
        assert (listed["id"], listed["principal"], listed["apr_bps"]) == (loan_id, "12000.00", 1200)
        body = detail(person, loan_id)
        assert len(body["schedule"]) == 12
        assert body["schedule"][0] == {
            "number": 1,
            "due_date": "2026-04-02",
            "principal": "1000.00",
            "interest": "120.00",
            "fee": "0.00",
            "penalty": "0.00",
            "total": "1120.00",
            "paid": "0.00",
            "paid_at": None,
        }
        assert body["due_now"]["total"] == "0.00"

    def test_another_customers_loan_is_not_found(self, api, platform, people):
        _, loan_id = borrower(api, platform, people)
        other = ApiCustomer(api, platform, people.register("李四"))
        assert other.get(f"/me/loans/{loan_id}").status_code == 404
        assert other.get("/me/loans").json() == []
        refused = other.post(f"/me/loans/{loan_id}/repayments", {"client_id": "x"})
        assert refused.status_code == 404
        refused = other.post(f"/me/loans/{loan_id}/early-repayments", {"client_id": "x"})
        assert refused.status_code == 404

    def test_without_a_customer_session(self, api, platform, people):
        _, loan_id = borrower(api, platform, people)
        stranger = {"Authorization": "Bearer not-a-session"}
        assert api.get(f"/api/v1/me/loans/{loan_id}", headers=stranger).status_code == 401
        assert api.get(f"/api/v1/me/loans/{loan_id}").status_code == 403  # staff are not customers


class TestRepaying:
    def test_nothing_due_yet(self, api, platform, people):
        person, loan_id = borrower(api, platform, people)
        refused = person.confirmed(f"/me/loans/{loan_id}/repayments", {"client_id": "r1"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "loan_nothing_due")

    def test_repay_what_is_due_once(self, api, platform, people, clock: FrozenClock):
        person, loan_id = borrower(api, platform, people)
        later(person, people, clock, 31)
        assert detail(person, loan_id)["due_now"]["total"] == "1120.00"
        made = person.confirmed(f"/me/loans/{loan_id}/repayments", {"client_id": "r1"})
        assert made.status_code == 201, made.text
        assert made.json()["paid"]["total"] == "1120.00"
        again = person.confirmed(f"/me/loans/{loan_id}/repayments", {"client_id": "r1"})
        assert (again.status_code, again.json()["id"]) == (200, made.json()["id"])
        assert person.available() == "10880.00"
        assert detail(person, loan_id)["loan"]["principal_outstanding"] == "11000.00"
        with platform.transaction() as session:
            assert_book_matches_loans(session, platform.ledger)

    def test_early_repayment_shown_then_made(self, api, platform, people, clock: FrozenClock):
        # Under 5,000 yuan a time: above it a first payment to a payee (here the loan)
        # needs a token or U盾 (NewPayeeRiskCheck), which this customer does not hold.
        person, loan_id = borrower(api, platform, people, principal=600_000)
        later(person, people, clock, 10)
        cost = person.get(f"/me/loans/{loan_id}/early-repayment?principal=3000.00").json()
        assert cost == {
            "principal": "3000.00",
            "interest": "19.35",  # 60 yuan for the month's 31 days, 10 run
            "fee": "0.00",
            "penalty": "0.00",
            "total": "3019.35",
        }
        made = person.confirmed(
            f"/me/loans/{loan_id}/early-repayments", {"client_id": "p1", "principal": "3000.00"}
        )
        assert made.status_code == 201, made.text
        assert made.json()["kind"] == "early_partial"
        assert made.json()["paid"]["total"] == "3019.35"
        people.fund({"account": {"number": person.account}}, 10_000)  # the interest to today
        later(person, people, clock, 1)  # SMS codes authorise 5,000 yuan a day
        full = person.confirmed(f"/me/loans/{loan_id}/early-repayments", {"client_id": "p2"})
        assert full.status_code == 201, full.text
        assert full.json()["kind"] == "early_full"
        assert detail(person, loan_id)["loan"]["status"] == "repaid"

    def test_bad_amounts(self, api, platform, people, clock: FrozenClock):
        person, loan_id = borrower(api, platform, people)
        later(person, people, clock, 31)
        for body, code in (
            ({"client_id": "r1", "amount": "-1"}, "invalid_amount"),
            ({"client_id": "r1", "amount": "1120.01"}, "loan_repayment_above_due"),
            ({"client_id": "r1", "amount": "1.001"}, "amount_precision_exceeded"),
        ):
            refused = person.confirmed(f"/me/loans/{loan_id}/repayments", body)
            assert refused.json()["error"]["code"] == code
            assert 400 <= refused.status_code < 500
