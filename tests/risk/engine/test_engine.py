"""The inline fraud engine on a customer's transfer, as the customer sees it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank import outbox
from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.risk.engine import store
from rongbank.risk.engine.rules import RuleSpec
from rongbank.risk.events import RiskCaseDecided
from tests.factories.people import V1, People
from tests.support.risk_engine import YUAN, analysts, decisions, in_force, transfer


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


def alerts(platform: Platform) -> list[dict[str, Any]]:
    with platform.transaction() as session:
        return [
            dict(r[0])
            for r in session.execute(
                text(
                    "SELECT payload FROM outbox_event WHERE name = 'risk.alert_raised' ORDER BY id"
                )
            ).all()
        ]


def balance(client: TestClient, person: dict[str, Any]) -> str:
    return str(client.get(f"{V1}/me/accounts", headers=person["headers"]).json()[0]["available"])


@pytest.fixture
def pair(people: People) -> tuple[dict[str, Any], dict[str, Any]]:
    alice, bob = people.register("爱丽丝"), people.register("鲍勃")
    people.fund(alice, 100_000 * YUAN)
    return alice, bob


def test_every_payment_is_decided_and_recorded_with_its_features(client, platform, pair):
    alice, bob = pair
    assert (
        transfer(client, alice, bob, "10.00", "t1", **{"X-Device-Id": "phone-0001"}).status_code
        == 201
    )
    assert (
        transfer(client, alice, bob, "20.00", "t2", **{"X-Device-Id": "phone-0001"}).status_code
        == 201
    )
    first, second = decisions(platform)
    assert (first.action, first.score, first.reasons) == ("allow", 0.0, [])
    assert first.features["new_payee"] is True
    assert second.features["new_payee"] is False
    assert second.features["cust_n_10m"] == 1
    assert second.features["cust_sum_24h"] == 1000
    assert second.features["payee_n_1h"] == 1
    assert second.features["device_n_30d"] == 1
    assert second.features["new_payees_1h"] == 1


def test_a_large_first_payment_to_a_new_payee_needs_a_binding_tool(client, platform, pair):
    alice, bob = pair  # the baseline rule: the new-payee check the bank had before
    refused = transfer(client, alice, bob, "6000.00", "big")
    assert refused.json()["error"]["code"] == "stronger_tool_required"
    assert balance(client, bob) == "0.00"


def test_a_new_device_is_told_from_a_known_one(client, platform, pair):
    alice, bob = pair
    transfer(client, alice, bob, "1.00", "a", **{"X-Device-Id": "phone-0001"})
    transfer(client, alice, bob, "1.00", "b", **{"X-Device-Id": "phone-0001"})
    transfer(client, alice, bob, "1.00", "c", **{"X-Device-Id": "stolen-0002"})
    assert [d.features["new_device"] for d in decisions(platform)] == [False, False, True]


def test_a_block_rule_refuses_and_writes_nothing_but_its_decision(client, platform, pair):
    alice, bob = pair
    in_force(
        platform, name="too_fast", condition="cust_n_10m >= 2", action="block", reason="velocity"
    )
    assert transfer(client, alice, bob, "1.00", "a").status_code == 201
    assert transfer(client, alice, bob, "1.00", "b").status_code == 201
    refused = transfer(client, alice, bob, "1.00", "c")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "payment_refused_risk")
    assert balance(client, bob) == "2.00"
    last = decisions(platform)[-1]
    assert (last.action, last.reasons, last.score) == ("block", ["velocity"], 50.0)
    assert [a["action"] for a in alerts(platform)] == ["block"]
    # The refusal counted nothing: the next is judged on two payments, not three.
    assert decisions(platform)[-1].features["cust_n_10m"] == 2


def test_a_shadow_rule_is_recorded_and_alerted_not_enforced(client, platform, pair):
    alice, bob = pair
    in_force(
        platform,
        mode="shadow",
        name="any_night",
        condition="amount > 0",
        action="block",
        reason="shadow_test",
    )
    assert transfer(client, alice, bob, "1.00", "a").status_code == 201
    last = decisions(platform)[-1]
    assert last.action == "allow"
    assert last.rules[0]["mode"] == "shadow"
    assert [(a["action"], a["reasons"]) for a in alerts(platform)] == [("shadow", "shadow_test")]


def test_approval_needs_a_second_analyst(platform):
    first, _ = analysts(platform)
    spec = RuleSpec.from_mapping(
        {"name": "x", "condition": "amount > 1", "action": "block", "reason": "x"}
    )
    with platform.transaction() as session:
        added = store.add(session, spec, by=first, now=platform.clock.now())
    with pytest.raises(store.SameAnalyst), platform.transaction() as session:
        store.approve(session, added.id, by=first, now=platform.clock.now())


def review(client: TestClient, platform: Platform, pair: Any) -> tuple[Any, str]:
    alice, bob = pair
    in_force(
        platform, name="review_all", condition="amount >= 4000", action="review", reason="large"
    )
    held = transfer(client, alice, bob, "40.00", "r1")
    assert (held.status_code, held.json()["status"]) == (201, "held")
    (alert,) = alerts(platform)
    assert (alert["action"], alert["source"], alert["reasons"]) == ("review", "engine", "large")
    return held, alert["hold_ref"]


def decide(platform: Platform, hold_ref: str, outcome: str, ref: str = "case:1") -> None:
    with platform.transaction() as session:
        outbox.record(
            session,
            RiskCaseDecided(
                occurred_at=platform.clock.now(),
                decision_ref=ref,
                customer_id=1,
                outcome=outcome,
                source="engine",
                source_ref="1",
                hold_ref=hold_ref,
            ),
        )


def test_a_review_holds_the_money_until_a_genuine_decision_releases_it_once(client, platform, pair):
    alice, bob = pair
    _, hold_ref = review(client, platform, pair)
    assert balance(client, alice) == "99960.00"
    assert balance(client, bob) == "0.00"
    decide(platform, hold_ref, "genuine")
    decide(platform, hold_ref, "genuine", ref="answer:7")  # said twice: acted on once
    assert platform.resolve_risk_holds().released == 1
    assert platform.resolve_risk_holds().released == 0
    assert balance(client, bob) == "40.00"
    assert balance(client, alice) == "99960.00"
    # A retry of the held transfer answers it, moving nothing more.
    assert transfer(client, alice, bob, "40.00", "r1").status_code == 200
    assert balance(client, alice) == "99960.00"


def test_fraud_voids_the_hold_once(client, platform, pair):
    alice, bob = pair
    _, hold_ref = review(client, platform, pair)
    decide(platform, hold_ref, "fraud")
    decide(platform, hold_ref, "genuine", ref="late")  # too late: voided already
    assert platform.resolve_risk_holds().voided == 1
    assert platform.resolve_risk_holds() == type(platform.resolve_risk_holds())()
    assert balance(client, alice) == "100000.00"
    assert balance(client, bob) == "0.00"


def test_an_undecided_hold_times_out_by_policy(client, platform, pair, clock: FrozenClock):
    alice, _bob = pair
    review(client, platform, pair)
    assert platform.resolve_risk_holds().voided == 0
    clock.advance(timedelta(hours=25))
    assert platform.resolve_risk_holds().voided == 1
    with platform.transaction() as session:
        assert session.execute(text("SELECT state, resolved_by FROM risk_hold")).one() == (
            "voided",
            "timeout",
        )
        account = platform.accounts.account(session, alice["account"]["number"])
        assert platform.accounts.available(session, account) == 100_000 * YUAN


def test_fan_out_night_and_a_recent_password_change_are_seen(
    client, platform, people: People, clock: FrozenClock
):
    alice = people.register("爱丽丝")
    people.fund(alice, 100_000 * YUAN)
    payees = [people.register(f"收款{n}") for n in range(3)]
    # The tests' clock starts at 09:30 in Beijing.
    for n, payee in enumerate(payees):
        assert transfer(client, alice, payee, "10.00", f"f{n}").status_code == 201
    fanned = decisions(platform)[-1].features
    assert (fanned["new_payees_1h"], fanned["new_payee"], fanned["night"]) == (2, True, False)
    assert fanned["amount_ratio"] == 1.0
    assert fanned["account_age_days"] < 1
    # Past midnight in Beijing, with a password changed a moment ago.
    clock.advance(timedelta(hours=15))  # 00:30 in Beijing
    alice["headers"] = {"Authorization": f"Bearer {people.login(alice['login_name'])}"}
    changed = client.put(
        f"{V1}/me/password",
        headers=alice["headers"],
        json={"current_password": "Mima-2026-secure", "new_password": "Xin-mima-2026-ok"},
    )
    assert changed.status_code in (200, 204), changed.text
    alice["headers"] = {
        "Authorization": f"Bearer {people.login(alice['login_name'], 'Xin-mima-2026-ok')}"
    }
    in_force(
        platform,
        name="night_after_change",
        condition="night and password_changed_hours < 1 and amount >= 5 * cust_avg_30d",
        action="block",
        reason="takeover",
    )
    assert transfer(client, alice, payees[0], "10.00", "g1").status_code == 201  # not 5x
    refused = transfer(client, alice, payees[0], "50.00", "g2")
    assert refused.json()["error"]["code"] == "payment_refused_risk"
    last = decisions(platform)[-1]
    assert (last.action, last.reasons) == ("block", ["takeover"])
    assert last.features["night"] is True
    assert last.features["hour"] == 0
    assert last.features["password_changed_hours"] < 1
