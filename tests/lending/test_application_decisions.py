"""Credit applications over the API: the decision in stages, each recorded, and what
the customer sees of it (an offer with APR and schedule, a decline with the main
reasons, a referral to a credit officer)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from rongbank.lending.bureau import BureauReport
from rongbank.platform import Platform
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.lending import FakeScorecard, apply
from tests.support.pii import resident_id_of


def stages(platform: Platform, application_id: int) -> list[tuple[str, str]]:
    with platform.transaction() as session:
        return [
            (s.name, s.outcome)
            for s in platform.credit.applications.stages(session, application_id)
        ]


def test_a_good_applicant_gets_an_offer_with_its_apr_and_schedule(
    customer: ApiCustomer, platform: Platform
) -> None:
    response = apply(customer)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "offered"
    assert body["grade"] == "B"
    offer = body["offer"]
    assert offer["amount"] == "50000.00"
    assert offer["rate"] == "7.20%"
    assert offer["apr_bps"] >= offer["rate_bps"]
    assert len(offer["schedule"]) == 12
    assert sum(float(i["principal"]) for i in offer["schedule"]) == pytest.approx(50000)
    assert stages(platform, body["id"]) == [
        ("eligibility", "pass"),
        ("bureau", "pass"),
        ("fraud", "pass"),
        ("scorecard", "pass"),
        ("pricing", "pass"),
    ]
    assert [o["id"] for o in customer.get("/me/lending/offers").json()] == [offer["id"]]


def test_the_form_reaches_the_scorecard_in_the_data_sets_units(
    customer: ApiCustomer, scorer: FakeScorecard
) -> None:
    apply(customer)

    assert scorer.seen[-1] == {
        "Seniority": 5,
        "Home": "rent",
        "Time": 12,
        "Age": 35,
        "Records": "no",
        "Job": "fixed",
        "Expenses": 60.0,
        "Income": 160.0,
        "Assets": 2000.0,
        "Debt": 0.0,
        "Amount": 1000.0,
        "Price": 1000.0,
    }


def test_a_retry_answers_the_same_application_and_another_body_is_a_conflict(
    customer: ApiCustomer,
) -> None:
    first = apply(customer)
    again = apply(customer)
    other = apply(customer, amount="20000.00")

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "lending_application_conflict"


def test_a_blacklisted_identity_is_declined_at_eligibility_and_goes_no_further(
    customer: ApiCustomer, platform: Platform, connection: Connection
) -> None:
    resident_id = resident_id_of(platform, customer.id)
    connection.execute(
        text(
            "INSERT INTO lending_blacklist (resident_id, resident_id_hash, reason, created_at) "
            "VALUES (:id, :hash, 'fraud conviction', now())"
        ),
        {"id": resident_id, "hash": platform.pii.hash("id", resident_id)},
    )

    body = apply(customer).json()

    assert body["status"] == "declined"
    assert body["reasons"] == ["blacklisted"]
    assert body["offer"] is None
    assert stages(platform, body["id"]) == [("eligibility", "decline")]


@pytest.mark.parametrize(
    ("report", "status", "reasons"),
    [
        (
            BureauReport(overdue_now=1, overdue_records=1, debt_elsewhere=0),
            "declined",
            ["overdue_elsewhere"],
        ),
        (
            BureauReport(overdue_now=0, overdue_records=2, debt_elsewhere=0),
            "review",  # not overdue now: the scorecard weighs the record (grey zone)
            ["grey_zone"],
        ),
    ],
)
def test_the_bureau_declines_who_is_overdue_elsewhere_now_and_the_score_weighs_the_past(
    client: TestClient,
    platform: Platform,
    reports: dict[str, BureauReport],
    report: BureauReport,
    status: str,
    reasons: list[str],
) -> None:
    customer = ApiCustomer(client, platform, People(client, platform).register())
    reports[resident_id_of(platform, customer.id)] = report

    body = apply(customer).json()

    assert (body["status"], body["reasons"][:1]) == (status, reasons)


@pytest.mark.parametrize("scorer", [FakeScorecard(points=500)])
def test_a_decline_on_the_score_tells_the_main_factors(customer: ApiCustomer) -> None:
    body = apply(customer, debts="60000.00").json()

    assert body["status"] == "declined"
    assert body["reasons"][0] == "score_too_low"
    assert "factor:Debt" in body["reasons"][1:]
    assert body["grade"] is None


@pytest.mark.parametrize(
    ("scorer", "changes"),
    [(FakeScorecard(), {}), (FakeScorecard(), {"debts": "60000.00"}), (FakeScorecard(510), {})],
)
def test_the_answer_to_an_application_is_the_application_as_stored(
    customer: ApiCustomer, changes: dict[str, str]
) -> None:
    """Offered, declined on the score, referred: the decision's answer (made from
    what was written, not read back) and the stored application read again agree."""
    answered = apply(customer, **changes).json()

    stored = customer.get(f"/me/lending/applications/{answered['id']}")

    assert stored.status_code == 200
    assert stored.json() == answered


@pytest.mark.parametrize("scorer", [FakeScorecard(points=510)])
def test_the_grey_zone_goes_to_a_credit_officer(customer: ApiCustomer, platform: Platform) -> None:
    body = apply(customer).json()

    assert body["status"] == "review"
    assert body["reasons"][0] == "grey_zone"
    with platform.transaction() as session:
        queue = platform.credit.reviews.queue(session)
    assert [r.application_id for r in queue] == [body["id"]]


@pytest.mark.parametrize("scorer", [FakeScorecard(points=700)])
def test_an_amount_above_the_products_review_threshold_goes_to_review(
    customer: ApiCustomer,
) -> None:
    body = apply(customer, amount="150000.00").json()

    assert body["status"] == "review"
    assert body["reasons"] == ["large_amount"]


def test_the_grade_limits_the_amount_offered(customer: ApiCustomer) -> None:
    body = apply(customer, amount="90000.00", term_months=24).json()

    assert body["status"] == "offered"
    assert body["offer"]["amount"] == "90000.00"
    smaller = apply(customer, "a2", amount="150000.00").json()  # grade B: 120,000 at most
    assert smaller["status"] == "declined"  # 90,000 already offered: the cap leaves 110,000
    assert smaller["reasons"] == ["personal_cap_exceeded"]


@pytest.mark.parametrize("scorer", [FakeScorecard(points=700)])
def test_the_cap_counts_open_offers_and_what_is_asked(customer: ApiCustomer) -> None:
    assert apply(customer, "a1", amount="100000.00").json()["status"] == "offered"
    assert apply(customer, "a2", amount="90000.00").json()["status"] == "offered"

    third = apply(customer, "a3", amount="20000.00").json()

    assert third["status"] == "declined"
    assert third["reasons"] == ["personal_cap_exceeded"]


def test_terms_the_product_does_not_offer_are_refused_not_declined(
    customer: ApiCustomer, platform: Platform
) -> None:
    response = apply(customer, term_months=7)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "loan_term_not_offered"
    with platform.transaction() as session:
        assert platform.credit.applications.applications(session, customer.id) == []


def test_an_applicant_sees_only_their_own_applications(
    client: TestClient, platform: Platform, customer: ApiCustomer, people: People
) -> None:
    mine = apply(customer).json()
    other = ApiCustomer(client, platform, people.register("李四"))

    assert other.get(f"/me/lending/applications/{mine['id']}").status_code == 404
    assert other.get(f"/me/lending/offers/{mine['offer']['id']}").status_code == 404
    assert customer.get(f"/me/lending/applications/{mine['id']}").json()["id"] == mine["id"]
