"""Accepting an offer: signed with the house's challenge, the loan paid into the
customer's e-account at once, once only; the cap checked again at that moment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.lending import FakeScorecard, apply
from tests.support.sms import sms_texts


def offer_of(customer: ApiCustomer, key: str = "a1", **changes: object) -> dict[str, object]:
    body = apply(customer, key, **changes).json()
    assert body["status"] == "offered", body
    offer: dict[str, object] = body["offer"]
    return offer


def test_accepting_needs_the_code_sent_to_the_mobile_and_pays_the_loan_in(
    customer: ApiCustomer, platform: Platform
) -> None:
    offer = offer_of(customer)
    path = f"/me/lending/offers/{offer['id']}/accept"

    unsigned = customer.post(path)
    assert unsigned.status_code == 403
    assert unsigned.json()["error"]["code"] == "challenge_required"
    assert customer.available() == "0.00"
    accepted = customer.confirmed(path, {})

    assert accepted.status_code == 201, accepted.text
    assert "借款50000.00元" in sms_texts(platform, customer.mobile)[0]
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["loan_id"] is not None
    assert customer.available() == "50000.00"
    application = customer.get(f"/me/lending/applications/{offer['application_id']}").json()
    assert application["status"] == "accepted"
    with platform.transaction() as session:
        assert platform.loans.outstanding_personal_principal(session, customer.id) == 50_000_00


def test_accepting_again_lends_nothing_more(customer: ApiCustomer) -> None:
    offer = offer_of(customer)
    path = f"/me/lending/offers/{offer['id']}/accept"
    customer.confirmed(path, {})

    again = customer.post(path)

    assert again.status_code == 200
    assert again.json()["status"] == "accepted"
    assert customer.available() == "50000.00"


def test_an_expired_offer_cannot_be_accepted(
    customer: ApiCustomer, clock: FrozenClock, people: People
) -> None:
    offer = offer_of(customer)
    clock.advance(timedelta(days=14, seconds=1))  # offers are valid 14 days
    customer.headers = {"Authorization": f"Bearer {people.login(customer.mobile)}"}

    refused = customer.confirmed(f"/me/lending/offers/{offer['id']}/accept", {})

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "lending_offer_not_open"
    assert customer.available() == "0.00"


@pytest.mark.parametrize("scorer", [FakeScorecard(points=700)])
def test_the_cap_is_checked_again_when_an_offer_is_accepted(
    customer: ApiCustomer, platform: Platform
) -> None:
    first = offer_of(customer, amount="100000.00")
    second = offer_of(customer, "a2", amount="100000.00")  # 200,000 offered: at the cap
    customer.confirmed(f"/me/lending/offers/{first['id']}/accept", {})
    with platform.transaction() as session:  # the bank lent more meanwhile (by hand)
        session.execute(text("UPDATE loans SET principal_outstanding = principal_outstanding + 1"))

    refused = customer.confirmed(f"/me/lending/offers/{second['id']}/accept", {})

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "loan_personal_cap_exceeded"
    assert customer.available() == "100000.00"


def test_the_offer_shows_the_apr_with_fees_before_signing(customer: ApiCustomer) -> None:
    offer = offer_of(customer, product="yidai", amount="12000.00", method="equal_principal")

    assert offer["rate"] == "0.00%"
    assert offer["apr_bps"] > 0  # priced by its monthly fee: the APR says what it costs
    assert offer["total_fees"] != "0.00"
