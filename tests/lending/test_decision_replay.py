"""A stored decision runs again on its recorded inputs and gives the same answer;
what was changed afterwards, or other rules or another model, is told apart."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text

from rongbank.lending.application_errors import ReplayRefused
from rongbank.platform import Platform
from tests.support.api import ApiCustomer
from tests.support.lending import FakeScorecard, apply


def test_a_stored_decision_replays_to_the_same_answer(
    customer: ApiCustomer, platform: Platform
) -> None:
    application_id = apply(customer).json()["id"]

    with platform.transaction() as session:
        replayed = platform.credit.applications.replay(session, application_id)

    assert replayed.differences == []
    assert replayed.again.outcome == replayed.stored.outcome == "pass"
    assert replayed.again.stages == replayed.stored.stages


@pytest.mark.parametrize("scorer", [FakeScorecard(points=500)])
def test_a_decline_replays_to_the_same_decline(customer: ApiCustomer, platform: Platform) -> None:
    application_id = apply(customer).json()["id"]

    with platform.transaction() as session:
        replayed = platform.credit.applications.replay(session, application_id)

    assert replayed.differences == []
    assert replayed.again.outcome == "decline"


def test_a_stored_outcome_changed_afterwards_shows_in_the_replay(
    customer: ApiCustomer, platform: Platform
) -> None:
    application_id = apply(customer).json()["id"]
    with platform.transaction() as session:
        session.execute(
            text(
                "UPDATE lending_decision_stage SET outputs = jsonb_set(outputs, '{points}', "
                "'700') WHERE application_id = :a AND stage = 'scorecard'"
            ),
            {"a": application_id},
        )

    with platform.transaction() as session:
        replayed = platform.credit.applications.replay(session, application_id)

    assert replayed.differences == ["scorecard.outputs"]


def test_replaying_under_other_rules_or_another_model_is_refused(
    customer: ApiCustomer, platform: Platform
) -> None:
    application_id = apply(customer).json()["id"]
    credit = platform.credit.applications

    credit.rules = dataclasses.replace(credit.rules, version="2027-01-r1")
    with platform.transaction() as session, pytest.raises(ReplayRefused) as other_rules:
        credit.replay(session, application_id)
    credit.rules = dataclasses.replace(credit.rules, version="2026-12-r1")
    newer = FakeScorecard()
    newer.model_version = "fake-scorecard-2"
    credit.scorer = lambda: newer
    with platform.transaction() as session, pytest.raises(ReplayRefused) as other_model:
        credit.replay(session, application_id)

    assert other_rules.value.details["rules_version"] == "2026-12-r1"
    assert other_model.value.details["current_model"] == "fake-scorecard-2"
