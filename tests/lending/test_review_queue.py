"""The credit officers' review queue over the API: what they see of a referred
application, approve (an offer for the customer) or decline, and maker-checker
above the second approver's limit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.auth.service import PrincipalKind
from rongbank.platform import Platform
from tests.factories.people import PASSWORD, V1, People
from tests.support.api import ApiCustomer
from tests.support.lending import FakeScorecard, apply

GREY = pytest.mark.parametrize("scorer", [FakeScorecard(points=510)])
"""The grey zone, at grade D: what approving it lends is at most 20,000 yuan."""


def officer(platform: Platform, people: People, name: str) -> dict[str, str]:
    with platform.transaction() as session:
        staff_id = platform.accounts.create_staff(
            session, username=name, name="信贷员", role="credit_officer"
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.STAFF,
            principal_id=staff_id,
            username=name,
            password=PASSWORD,
        )
    return {"Authorization": f"Bearer {people.login(name)}"}


def referred(customer: ApiCustomer, amount: str = "30000.00") -> int:
    body = apply(customer, amount=amount).json()
    assert body["status"] == "review", body
    return int(body["id"])


def decide(client: TestClient, who: dict[str, str], application_id: int, verb: str) -> Any:
    return client.post(
        f"{V1}/staff/lending/reviews/{application_id}/{verb}", headers=who, json={"note": "ok"}
    )


@GREY
def test_an_officer_sees_the_applicant_the_score_and_every_stage(
    client: TestClient, platform: Platform, people: People, customer: ApiCustomer
) -> None:
    application_id = referred(customer)
    me = officer(platform, people, "officer-1")

    queue = client.get(f"{V1}/staff/lending/reviews", headers=me).json()
    detail = client.get(f"{V1}/staff/lending/reviews/{application_id}", headers=me).json()

    assert [r["application_id"] for r in queue] == [application_id]
    assert queue[0]["reasons"] == ["grey_zone"]
    assert detail["points"] == 510
    assert detail["form"]["monthly_income"] == 800000
    assert [s["stage"] for s in detail["stages"]] == [
        "eligibility",
        "bureau",
        "fraud",
        "scorecard",
        "pricing",
    ]


@GREY
def test_approving_below_the_limit_makes_the_offer_at_once(
    client: TestClient, platform: Platform, people: People, customer: ApiCustomer
) -> None:
    application_id = referred(customer)

    approved = decide(client, officer(platform, people, "officer-1"), application_id, "approve")

    assert approved.status_code == 200, approved.text
    assert approved.json()["review"]["status"] == "approved"
    mine = customer.get(f"/me/lending/applications/{application_id}").json()
    assert mine["status"] == "offered"
    assert mine["offer"]["amount"] == "20000.00"  # grade D's limit
    assert (
        client.get(
            f"{V1}/staff/lending/reviews", headers=officer(platform, people, "officer-2")
        ).json()
        == []
    )


@pytest.mark.parametrize("scorer", [FakeScorecard(points=600)])  # grade A
def test_above_the_limit_a_second_officer_approves_and_not_the_first_again(
    client: TestClient, platform: Platform, people: People, customer: ApiCustomer
) -> None:
    application_id = referred(customer, "150000.00")  # a large amount, above 50,000: two
    first, second = officer(platform, people, "officer-1"), officer(platform, people, "officer-2")

    once = decide(client, first, application_id, "approve")
    again = decide(client, first, application_id, "approve")
    assert customer.get(f"/me/lending/applications/{application_id}").json()["offer"] is None
    twice = decide(client, second, application_id, "approve")

    assert once.json()["review"]["status"] == "approved_once"
    assert once.json()["offer_id"] is None
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "lending_second_approver_required"
    assert twice.json()["review"]["status"] == "approved"
    mine = customer.get(f"/me/lending/applications/{application_id}").json()
    assert mine["offer"]["id"] == twice.json()["offer_id"]


@GREY
def test_a_declined_review_declines_the_application_and_closes(
    client: TestClient, platform: Platform, people: People, customer: ApiCustomer
) -> None:
    application_id = referred(customer)
    me = officer(platform, people, "officer-1")

    declined = decide(client, me, application_id, "decline")
    late = decide(client, me, application_id, "approve")

    assert declined.json()["review"]["status"] == "declined"
    assert customer.get(f"/me/lending/applications/{application_id}").json()["status"] == (
        "declined"
    )
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "lending_review_closed"


@GREY
def test_only_credit_officers_work_the_queue(
    client: TestClient, people: People, customer: ApiCustomer
) -> None:
    application_id = referred(customer)
    operations = people.staff("operations")

    assert client.get(f"{V1}/staff/lending/reviews", headers=operations).status_code == 403
    assert decide(client, operations, application_id, "approve").status_code == 403
    assert customer.get("/staff/lending/reviews").status_code == 403
