"""Risk alerts become cases that analysts take, note and decide, with four eyes on
the decisions that act against a customer; each decision tells the engine (an event)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank import outbox
from rongbank.platform import Platform
from rongbank.risk.watchlist.events import ScreeningHit
from tests.factories.people import V1, People
from tests.support.risk import Staff, decisions, raise_alert, staff_member


@pytest.fixture
def people(api: TestClient, platform: Platform) -> People:
    return People(api, platform)


@pytest.fixture
def alice(platform: Platform) -> Staff:
    return staff_member(platform, username="alice", role="risk_analyst")


@pytest.fixture
def bob(platform: Platform) -> Staff:
    return staff_member(platform, username="bob", role="risk_analyst")


def post(api: TestClient, who: Staff, path: str, body: dict[str, Any] | None = None) -> Any:
    return api.post(f"{V1}/staff/risk{path}", headers=who.headers, json=body or {})


def get(api: TestClient, who: Staff, path: str) -> Any:
    return api.get(f"{V1}/staff/risk{path}", headers=who.headers)


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def only_case(api: TestClient, who: Staff) -> dict[str, Any]:
    [item] = get(api, who, "/cases").json()
    return dict(item)


class TestAlertsBecomeCases:
    def test_a_customers_alerts_gather_in_one_case(
        self, api: TestClient, platform: Platform, people: People, alice: Staff
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1", score=0.7)
        raise_alert(platform, customer["customer_id"], ref="d2", score=0.95, action="block")
        raise_alert(platform, customer["customer_id"], ref="d2", score=0.95, action="block")

        item = only_case(api, alice)
        assert (item["alerts"], item["open_alerts"], item["top_score"]) == (2, 2, 0.95)
        assert item["held"] == "1200.00"  # the review alert's hold only
        case = get(api, alice, f"/cases/{item['case']['id']}").json()
        assert [a["source_ref"] for a in case["alerts"]] == ["d1", "d2"]
        assert case["alerts"][0]["reasons"] == ["new_device", "fan_out"]
        assert case["alerts"][0]["features"]["account_age_days"] == 0

    def test_each_customer_has_their_own_case_and_a_watchlist_hit_is_an_alert(
        self, api: TestClient, platform: Platform, people: People, alice: Staff
    ) -> None:
        one, two = people.register("张一"), people.register("张二")
        raise_alert(platform, one["customer_id"], ref="d1")
        with platform.transaction() as session:
            outbox.record(
                session,
                ScreeningHit(
                    occurred_at=platform.clock.now(),
                    hit_id=7,
                    subject="payee",
                    subject_id=3,
                    customer_id=two["customer_id"],
                    list_name="sanctions",
                    score=93.5,
                ),
            )
        platform.risk_desk.file(platform.transaction)

        queue = get(api, alice, "/cases").json()
        assert sorted(i["customer_name"] for i in queue) == ["张一", "张二"]
        alerts = get(api, alice, "/alerts").json()
        assert [(a["source"], a["action"], a["score"]) for a in alerts] == [
            ("screening", "report", 0.935),
            ("engine", "review", 0.91),
        ]

    def test_an_alert_after_the_decision_opens_a_new_case(
        self, api: TestClient, platform: Platform, people: People, alice: Staff
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1")
        case_id = only_case(api, alice)["case"]["id"]
        post(api, alice, f"/cases/{case_id}/take")
        post(api, alice, f"/cases/{case_id}/decide", {"outcome": "genuine", "note": "客户来电确认"})
        raise_alert(platform, customer["customer_id"], ref="d2")

        assert only_case(api, alice)["case"]["id"] != case_id

    def test_only_risk_analysts_work_cases(
        self, api: TestClient, platform: Platform, people: People
    ) -> None:
        customer = people.register()
        ops = staff_member(platform, username="ops", role="operations")
        assert error(get(api, ops, "/cases")) == (403, "forbidden")
        response = api.get(f"{V1}/staff/risk/cases", headers=customer["headers"])
        assert response.status_code == 403


class TestAssignment:
    def test_one_analyst_at_a_time_until_a_supervisor_reassigns(
        self, api: TestClient, platform: Platform, people: People, alice: Staff, bob: Staff
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1", amount=5_000)
        case_id = only_case(api, alice)["case"]["id"]

        assert error(
            post(api, bob, f"/cases/{case_id}/decide", {"outcome": "genuine", "note": "x"})
        ) == (
            409,
            "risk_case_not_taken",
        )
        taken = post(api, alice, f"/cases/{case_id}/take")
        assert (taken.json()["status"], taken.json()["assigned_to"]) == ("assigned", alice.id)
        assert error(post(api, bob, f"/cases/{case_id}/take")) == (
            409,
            "risk_case_assigned_elsewhere",
        )
        refused = post(api, bob, f"/cases/{case_id}/decide", {"outcome": "genuine", "note": "x"})
        assert error(refused) == (409, "risk_case_assigned_elsewhere")
        # Bob may still write what he knows.
        assert (
            post(api, bob, f"/cases/{case_id}/notes", {"body": "同一设备昨天也有告警"}).status_code
            == 201
        )

        assert error(post(api, bob, f"/cases/{case_id}/assign", {"staff_id": bob.id})) == (
            403,
            "forbidden",
        )
        supervisor = staff_member(platform, username="lead", role="supervisor")
        ops = staff_member(platform, username="ops", role="operations")
        assert error(post(api, supervisor, f"/cases/{case_id}/assign", {"staff_id": ops.id})) == (
            422,
            "risk_case_assignee_invalid",
        )
        moved = post(api, supervisor, f"/cases/{case_id}/assign", {"staff_id": bob.id})
        assert moved.json()["assigned_to"] == bob.id

        decided = post(api, bob, f"/cases/{case_id}/decide", {"outcome": "genuine", "note": "误报"})
        assert decided.status_code == 200, decided.text
        assert (decided.json()["final"], decided.json()["case"]["status"]) == (True, "closed")
        case = get(api, alice, f"/cases/{case_id}").json()
        assert [n["body"] for n in case["notes"]] == ["同一设备昨天也有告警", "误报"]

    def test_a_closed_case_takes_no_more_decisions(
        self, api: TestClient, platform: Platform, people: People, alice: Staff
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1", amount=5_000)
        case_id = only_case(api, alice)["case"]["id"]
        post(api, alice, f"/cases/{case_id}/take")
        post(api, alice, f"/cases/{case_id}/decide", {"outcome": "no_action", "note": "ok"})
        again = post(api, alice, f"/cases/{case_id}/decide", {"outcome": "fraud", "note": "x"})
        assert error(again) == (409, "risk_case_closed")
        assert error(post(api, alice, "/cases/999999/take")) == (404, "risk_case_not_found")

    @pytest.mark.parametrize(
        "body",
        [
            {"outcome": "maybe", "note": "x"},
            {"outcome": "fraud", "note": "  "},
            {"outcome": "fraud"},
        ],
        ids=["unknown-outcome", "blank-note", "no-note"],
    )
    def test_a_bad_decision_is_refused_and_changes_nothing(
        self,
        api: TestClient,
        platform: Platform,
        people: People,
        alice: Staff,
        body: dict[str, str],
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1")
        case_id = only_case(api, alice)["case"]["id"]
        post(api, alice, f"/cases/{case_id}/take")
        assert post(api, alice, f"/cases/{case_id}/decide", body).status_code == 422
        assert get(api, alice, f"/cases/{case_id}").json()["case"]["status"] == "assigned"
        assert decisions(platform) == []


class TestDecisions:
    def test_a_false_positive_releases_the_hold(
        self, api: TestClient, platform: Platform, people: People, alice: Staff
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1", hold_ref="pending:42")
        case_id = only_case(api, alice)["case"]["id"]
        post(api, alice, f"/cases/{case_id}/take")
        post(api, alice, f"/cases/{case_id}/decide", {"outcome": "genuine", "note": "客户确认"})

        [decided] = decisions(platform)
        assert {k: decided[k] for k in ("outcome", "hold_ref", "decided_by", "source_ref")} == {
            "outcome": "genuine",
            "hold_ref": "pending:42",
            "decided_by": alice.id,
            "source_ref": "d1",
        }
        assert get(api, alice, "/cases").json() == []
        [closed] = get(api, alice, "/cases?closed=true").json()
        assert closed["case"]["outcome"] == "genuine"
        with platform.transaction() as session:
            audited = (
                session.execute(
                    text("SELECT action FROM audit_log WHERE actor_id = :a ORDER BY id"),
                    {"a": alice.id},
                )
                .scalars()
                .all()
            )
        assert audited == ["risk.case.take", "risk.case.decide"]

    def test_fraud_needs_a_second_analyst_then_blocks_and_freezes(
        self, api: TestClient, platform: Platform, people: People, alice: Staff, bob: Staff
    ) -> None:
        customer = people.register()
        people.fund(customer, 50_000)
        raise_alert(platform, customer["customer_id"], ref="d1", hold_ref="pending:7")
        case_id = only_case(api, alice)["case"]["id"]
        post(api, alice, f"/cases/{case_id}/take")

        proposed = post(
            api, alice, f"/cases/{case_id}/decide", {"outcome": "fraud", "note": "设备被盗"}
        )
        assert (proposed.json()["final"], proposed.json()["case"]["status"]) == (
            False,
            "awaiting_second",
        )
        assert decisions(platform) == []  # nothing happens on one analyst's word
        assert error(post(api, alice, f"/cases/{case_id}/confirm", {"note": "确认"})) == (
            403,
            "risk_case_second_analyst_required",
        )
        refused = post(api, bob, f"/cases/{case_id}/decide", {"outcome": "genuine", "note": "x"})
        assert error(refused) == (409, "risk_case_awaiting_second")

        confirmed = post(api, bob, f"/cases/{case_id}/confirm", {"note": "同意"})
        assert confirmed.status_code == 200, confirmed.text
        body = confirmed.json()
        assert (body["final"], body["case"]["outcome"], body["case"]["decided_by"]) == (
            True,
            "fraud",
            bob.id,
        )
        assert body["frozen"]["accounts"] == [customer["account"]["number"]]
        [decided] = decisions(platform)
        assert (decided["outcome"], decided["hold_ref"]) == ("fraud", "pending:7")

        accounts = api.get(f"{V1}/me/accounts", headers=customer["headers"]).json()
        assert [a["status"] for a in accounts] == ["frozen"]
        tools = api.get(f"{V1}/me/tools", headers=customer["headers"]).json()
        assert [t["status"] for t in tools] == ["blocked"]  # the SMS tool every customer has

    def test_the_second_analyst_may_send_it_back(
        self, api: TestClient, platform: Platform, people: People, alice: Staff, bob: Staff
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1")
        case_id = only_case(api, alice)["case"]["id"]
        post(api, alice, f"/cases/{case_id}/take")
        post(api, alice, f"/cases/{case_id}/decide", {"outcome": "suspicious", "note": "可疑"})
        back = post(api, bob, f"/cases/{case_id}/send-back", {"note": "证据不足"})
        assert (back.json()["status"], back.json()["assigned_to"]) == ("assigned", alice.id)
        assert error(post(api, bob, f"/cases/{case_id}/confirm", {"note": "x"})) == (
            409,
            "risk_case_not_awaiting_second",
        )

    def test_releasing_a_large_hold_needs_four_eyes(
        self, api: TestClient, platform: Platform, people: People, alice: Staff, bob: Staff
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1", amount=5_000_000)
        case_id = only_case(api, alice)["case"]["id"]
        post(api, alice, f"/cases/{case_id}/take")
        decided = post(api, alice, f"/cases/{case_id}/decide", {"outcome": "genuine", "note": "ok"})
        assert decided.json()["final"] is False
        post(api, bob, f"/cases/{case_id}/confirm", {"note": "ok"})
        assert [d["outcome"] for d in decisions(platform)] == ["genuine"]
