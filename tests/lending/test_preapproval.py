"""Pre-approval: existing customers scored from what the bank knows of them into
standing offers, once a day; for them credit is one click (offer, accept, money)."""

from __future__ import annotations

from datetime import timedelta

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.lending import FakeScorecard


def test_a_customer_with_history_gets_a_standing_offer_and_takes_it_in_one_click(
    platform: Platform, people: People, clock: FrozenClock, scorer: FakeScorecard
) -> None:
    person = people.register()
    people.fund(person, 60_000_00)  # six months' income, as the bank saw it come in
    clock.advance(timedelta(days=100))
    person["headers"] = {"Authorization": f"Bearer {people.login(person['login_name'])}"}
    customer = ApiCustomer(people.client, platform, person)

    run = platform.credit.preapproval.run(platform.transaction)

    assert (run.scored, run.offered) == (1, 1)
    assert scorer.seen[-1]["Income"] == 200.0  # 10,000 yuan a month
    assert scorer.seen[-1]["Home"] is None  # not known without a form
    offers = customer.get("/me/lending/offers").json()
    assert [o["amount"] for o in offers] == ["60000.00"]
    accepted = customer.confirmed(f"/me/lending/offers/{offers[0]['id']}/accept", {})
    assert accepted.status_code == 201, accepted.text
    assert customer.available() == "120000.00"


def test_running_it_again_the_same_day_changes_nothing(
    platform: Platform, people: People, clock: FrozenClock
) -> None:
    people.fund(people.register(), 60_000_00)
    clock.advance(timedelta(days=100))
    platform.credit.preapproval.run(platform.transaction)

    again = platform.credit.preapproval.run(platform.transaction)

    assert (again.scored, again.offered, again.skipped) == (0, 0, 0)


def test_a_customer_the_bank_barely_knows_gets_nothing(
    platform: Platform, people: People, clock: FrozenClock
) -> None:
    people.register()  # no money in yet
    people.fund(people.register("李四"), 60_000_00)  # money in, but only a week's tenure
    clock.advance(timedelta(days=7))

    run = platform.credit.preapproval.run(platform.transaction)

    assert (run.scored, run.skipped) == (0, 2)
