"""Rule conditions: parsed by rule-engine's grammar against the feature names, never
run as Python; each rule kind fires and does not fire."""

from __future__ import annotations

from typing import Any

import pytest

from rongbank.risk.engine.rules import Rule, RuleInvalid, RuleSpec, compiled, evaluate

BASE: dict[str, Any] = {
    "amount": 600_000,
    "purpose": "transfer",
    "new_payee": True,
    "to_bank": False,
    "night": False,
    "new_device": False,
    "cust_avg_30d": 10_000.0,
    "new_payees_1h": 0,
    "security_change_hours": 100_000.0,
}


def rule(condition: str, action: str = "block", mode: str = "live", score: int = 30) -> Rule:
    compiled(condition)
    return Rule(1, "r", 1, condition, action, f"{action}_{mode}", score, mode)


@pytest.mark.parametrize(
    ("condition", "hit", "miss"),
    [
        ("new_payee and amount >= 500000", {}, {"new_payee": False}),
        ("night or new_device", {"night": True}, {}),
        ("not to_bank", {}, {"to_bank": True}),
        ("amount > 10 * cust_avg_30d", {}, {"cust_avg_30d": 100_000.0}),
        ("purpose == 'transfer'", {}, {"purpose": "merchant_payment"}),
        ("purpose != 'loan'", {}, {"purpose": "loan"}),
        ("new_payees_1h >= 3", {"new_payees_1h": 3}, {}),
        ("security_change_hours < 24 and amount > 100000", {"security_change_hours": 2.0}, {}),
        ("amount in [600000, 700000]", {}, {"amount": 1}),
    ],
)
def test_each_operator_fires_and_does_not(condition: str, hit: dict, miss: dict) -> None:
    r = rule(condition)
    assert r.matches(BASE | hit)
    assert not r.matches(BASE | miss)


@pytest.mark.parametrize(
    ("condition", "says"),
    [
        ("amout > 1", "no feature called 'amout'"),
        ("__import__('os').system('true')", "no feature"),
        ("amount + 1", "true or false"),
        ("new_payee and", "cannot be read"),
        ("night > 3", "cannot be read"),
    ],
)
def test_a_bad_condition_is_refused_when_added(condition: str, says: str) -> None:
    with pytest.raises(RuleInvalid) as refused:
        RuleSpec("r", condition, "block", "r")
    assert says in refused.value.detail_message


def test_a_bad_action_name_or_score_is_refused() -> None:
    with pytest.raises(RuleInvalid):
        RuleSpec("r", "night", "freeze", "r")
    with pytest.raises(RuleInvalid):
        RuleSpec("Bad Name", "night", "block", "r")
    with pytest.raises(RuleInvalid):
        RuleSpec("r", "night", "block", "r", score=101)
    with pytest.raises(RuleInvalid):
        RuleSpec.from_mapping({"name": "r", "condition": "night", "action": "block", "x": 1})


def test_the_strongest_live_action_wins_and_points_add_up_to_100() -> None:
    verdict = evaluate(
        [
            rule("new_payee", "challenge", score=40),
            rule("amount > 100", "review", score=50),
            rule("amount > 1", "allow", score=30),
            rule("night", "block", score=90),  # not met
        ],
        BASE,
    )
    assert (verdict.action, verdict.score, verdict.challenge) == ("review", 100.0, True)
    assert verdict.reasons == ("challenge_live", "review_live", "allow_live")


def test_a_shadow_rule_is_recorded_not_enforced() -> None:
    verdict = evaluate([rule("amount > 1", "block", mode="shadow")], BASE)
    assert (verdict.action, verdict.score, verdict.reasons) == ("allow", 0.0, ())
    assert verdict.shadow == ("block_shadow",)
    assert verdict.hits[0]["mode"] == "shadow"


def test_a_feature_an_old_snapshot_lacks_makes_a_rule_not_match() -> None:
    assert not rule("new_device").matches({"amount": 1})
