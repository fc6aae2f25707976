"""The decision's rules, pure: the form mapped onto the scorecard's features as the
configuration says, the eligibility rules, and the scorecard's absence refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from rongbank.lending.bureau import FakeCreditBureau
from rongbank.lending.decision import DECLINE, PASS, eligibility, load_rules, scorecard_features
from rongbank.lending.scoring import ScorecardMissing, ShippedScorecard

RULES = load_rules()

FACTS = {
    "age": 30,
    "term_months": 12,
    "borrower": "person",
    "identity_verified": True,
    "account_active": True,
    "blacklisted": False,
    "amount": 50_000_00,
    "outstanding_loans": 0,
    "pending_offers": 0,
    "outstanding": 0,
    "min_amount": 1_000_00,
    "max_amount": 200_000_00,
    "personal_cap": 200_000_00,
}


def test_money_is_read_in_the_data_sets_unit_and_levels_mapped() -> None:
    features = scorecard_features(
        RULES.features,
        {
            "form.years_with_employer": 2,
            "form.housing": "employer",
            "application.term_months": 24,
            "identity.age": 41,
            "bureau.overdue_records": 2,
            "form.employment": "self_employed",
            "form.monthly_expenses": 2_500_00,
            "form.monthly_income": 12_500_00,
            "form.assets": 0,
            "form.debts": 10_000_00,
            "bureau.debt_elsewhere": 30_000_00,
            "application.amount": 100_000_00,
            "form.price": None,
        },
        yuan_per_unit=RULES.yuan_per_unit,
    )

    assert features == {
        "Seniority": 2,
        "Home": "priv",
        "Time": 24,
        "Age": 41,
        "Records": "yes",
        "Job": "freelance",
        "Expenses": 50.0,
        "Income": 250.0,
        "Assets": 0.0,
        "Debt": 600.0,  # the larger of what was declared and what the bureau says
        "Amount": 2000.0,
        "Price": 2000.0,  # no price given: the amount
    }


def test_what_nobody_knows_reaches_the_scorecard_as_missing() -> None:
    features = scorecard_features(RULES.preapproval_features, {}, yuan_per_unit=50)

    assert features["Home"] is None
    assert features["Job"] is None


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({}, []),
        ({"age": 17}, ["age_below_minimum"]),
        ({"age": 63, "term_months": 36}, ["age_above_maximum"]),
        ({"identity_verified": False}, ["identity_not_verified"]),
        ({"account_active": False}, ["account_not_active"]),
        ({"blacklisted": True}, ["blacklisted"]),
        ({"outstanding": 150_000_00 + 1}, ["personal_cap_exceeded"]),
        ({"outstanding": 150_000_00}, []),
        ({"personal_cap": None, "outstanding": 10**12}, []),
    ],
)
def test_eligibility(changes: dict[str, object], reasons: list[str]) -> None:
    stage = eligibility(FACTS | changes, RULES)

    assert stage.reasons == reasons
    assert stage.outcome == (DECLINE if reasons else PASS)


def test_the_fake_bureau_answers_the_same_for_the_same_identity() -> None:
    bureau = FakeCreditBureau()
    reports = [bureau.report(f"11010519900307{n:03d}X") for n in range(200)]

    assert reports == [bureau.report(f"11010519900307{n:03d}X") for n in range(200)]
    assert 0 < sum(r.overdue_now for r in reports) < 40
    assert all(r.overdue_records >= r.overdue_now for r in reports)


def test_without_the_shipped_scorecard_the_bank_refuses_to_decide(tmp_path: Path) -> None:
    with pytest.raises(ScorecardMissing):
        ShippedScorecard(tmp_path / "application_scorecard.json").scorer()
