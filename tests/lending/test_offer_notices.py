"""融e联 notices of credit offers: an offer made to the customer's application is a
bank notice (announcement); a standing pre-approved offer the bank makes unasked is a
promotion, which a customer who switched promotions off does not get."""

from __future__ import annotations

from datetime import timedelta

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.lending import FakeScorecard, apply, notices


def test_an_offer_to_an_application_is_told(customer: ApiCustomer, platform: Platform) -> None:
    assert apply(customer).json()["status"] == "offered"

    [told] = notices(platform, customer.id, "announcement")
    assert told["title"] == "贷款申请已批准"
    assert "50,000.00元，12期，年化利率" in told["text"]
    assert told["en"]["title"] == "Credit approved"
    assert notices(platform, customer.id, "promotion") == []
    assert notices(platform, customer.id, "announcement") == [told]  # told once


def test_a_declined_application_gets_no_offer_notice(
    customer: ApiCustomer, platform: Platform, scorer: FakeScorecard
) -> None:
    scorer.points = 300
    assert apply(customer).json()["status"] == "declined"
    assert notices(platform, customer.id, "announcement") == []


def test_a_preapproved_offer_is_a_promotion_and_follows_the_preference(
    platform: Platform, people: People, clock: FrozenClock
) -> None:
    keen, unwilling = people.register(), people.register("李四")
    for person in (keen, unwilling):
        people.fund(person, 60_000_00)
    with platform.transaction() as session:
        platform.push.set_preferences(session, unwilling["customer_id"], {"promotion": False})
    clock.advance(timedelta(days=100))

    run = platform.credit.preapproval.run(platform.transaction)

    assert run.offered == 2
    [told] = notices(platform, keen["customer_id"], "promotion")
    assert told["title"] == "预授信额度"
    assert "预授信 60,000.00元" in told["text"]
    assert told["en"]["title"] == "Pre-approved credit"
    assert notices(platform, unwilling["customer_id"], "promotion") == []
