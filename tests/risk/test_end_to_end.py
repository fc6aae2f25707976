"""The risk centre's parts together, no event faked: the engine holds a transfer, the
``risk.cases`` job files its alert and asks the customer, the answer or the analysts
decide, and the engine's reader releases or voids the hold, each exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.platform import Platform
from rongbank.risk.cases.labels import labelled_rows
from tests.factories.people import V1, People
from tests.support.risk import Staff, answer_question, raise_alert, staff_member
from tests.support.risk_engine import YUAN, in_force, transfer


@pytest.fixture
def people(api: TestClient, platform: Platform) -> People:
    return People(api, platform)


@pytest.fixture
def held(
    api: TestClient, platform: Platform, people: People
) -> tuple[dict[str, Any], dict[str, Any]]:
    """爱丽丝's transfer of ¥40 to 鲍勃 sent to review by a live rule, its alert filed."""
    alice, bob = people.register("爱丽丝"), people.register("鲍勃")
    people.fund(alice, 1_000 * YUAN)
    in_force(platform, name="review_big", condition="amount >= 4000", action="review", reason="big")
    made = transfer(api, alice, bob, "40.00", "r1")
    assert (made.status_code, made.json()["status"]) == (201, "held")
    assert platform.risk_desk.file(platform.transaction).questions == 1
    return alice, bob


def available(api: TestClient, person: dict[str, Any]) -> str:
    [account] = api.get(f"{V1}/me/accounts", headers=person["headers"]).json()
    return str(account["available"])


def the_question(api: TestClient, person: dict[str, Any]) -> dict[str, Any]:
    [question] = api.get(f"{V1}/me/risk/questions", headers=person["headers"]).json()
    return dict(question)


def run_the_jobs(platform: Platform, times: int = 2) -> None:
    """The server's risk jobs and the notices', each run more than once: a second run
    changes nothing."""
    for _ in range(times):
        platform.risk_desk.file(platform.transaction)
        platform.resolve_risk_holds()
        platform.push.deliver(platform.transaction)


def money_received(api: TestClient, person: dict[str, Any]) -> list[str]:
    """The amounts of the "money received" notices in the person's 融e联 notice box."""
    chat = f"{V1}/me/chat/conversations"
    boxes = [c for c in api.get(chat, headers=person["headers"]).json() if c["kind"] == "notice"]
    if not boxes:
        return []
    messages = api.get(f"{chat}/{boxes[0]['id']}/messages", headers=person["headers"]).json()
    bodies = [json.loads(m["body"]) for m in messages]
    return [b["data"]["amount"] for b in bodies if b["kind"] == "money_received"]


def holds(platform: Platform) -> list[tuple[str, str | None]]:
    with platform.transaction() as session:
        rows = session.execute(text("SELECT state, resolved_by FROM risk_hold")).all()
    return [(str(r[0]), r[1]) for r in rows]


def staff_post(api: TestClient, who: Staff, path: str, body: dict[str, Any]) -> Any:
    response = api.post(f"{V1}/staff/risk{path}", headers=who.headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_yes_releases_the_held_transfer_once(
    api: TestClient, platform: Platform, held: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    alice, bob = held
    assert (available(api, alice), available(api, bob)) == ("960.00", "0.00")
    platform.push.deliver(platform.transaction)
    assert money_received(api, bob) == []  # held: nothing received yet
    question = the_question(api, alice)
    assert question["status"] == "asked"

    said = answer_question(api, platform, alice, question["id"], "yes")
    assert said.status_code == 200, said.text
    run_the_jobs(platform)

    assert (available(api, alice), available(api, bob)) == ("960.00", "40.00")
    assert holds(platform) == [("released", f"decision:answer:{question['id']}")]
    assert money_received(api, bob) == ["40.00"]  # told when the money moved, once
    # Said again, and the transfer retried: nothing moves twice.
    assert answer_question(api, platform, alice, question["id"], "yes").status_code == 409
    assert transfer(api, alice, bob, "40.00", "r1").status_code == 200
    run_the_jobs(platform)
    assert (available(api, alice), available(api, bob)) == ("960.00", "40.00")
    assert money_received(api, bob) == ["40.00"]


def test_no_voids_it_blocks_the_tools_and_the_analysts_confirm_fraud(
    api: TestClient, platform: Platform, held: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    alice, bob = held
    question = the_question(api, alice)
    assert answer_question(api, platform, alice, question["id"], "no").status_code == 200
    run_the_jobs(platform)

    assert (available(api, alice), available(api, bob)) == ("1000.00", "0.00")
    assert holds(platform) == [("voided", f"decision:answer:{question['id']}")]
    tools = api.get(f"{V1}/me/tools", headers=alice["headers"]).json()
    assert {t["status"] for t in tools} == {"blocked"}

    first = staff_member(platform, username="alice-analyst", role="risk_analyst")
    second = staff_member(platform, username="bob-analyst", role="risk_analyst")
    [waiting] = api.get(f"{V1}/staff/risk/cases", headers=first.headers).json()
    assert (waiting["case"]["status"], waiting["case"]["customer_denied"]) == ("open", True)
    # The rule's 50 points, on the contract's 0-1 scale that screening and the charts use.
    assert waiting["top_score"] == 0.5
    case_id = waiting["case"]["id"]
    staff_post(api, first, f"/cases/{case_id}/take", {})
    proposed = staff_post(
        api, first, f"/cases/{case_id}/decide", {"outcome": "fraud", "note": "客户否认"}
    )
    assert proposed["final"] is False
    confirmed = staff_post(api, second, f"/cases/{case_id}/confirm", {"note": "同意"})
    assert (confirmed["final"], confirmed["case"]["outcome"]) == (True, "fraud")
    run_the_jobs(platform)

    # Voided once, by the customer's answer; the analysts' decision moved nothing more.
    assert holds(platform) == [("voided", f"decision:answer:{question['id']}")]
    assert (available(api, alice), available(api, bob)) == ("1000.00", "0.00")
    assert money_received(api, bob) == []
    accounts = api.get(f"{V1}/me/accounts", headers=alice["headers"]).json()
    assert [a["status"] for a in accounts] == ["frozen"]


def test_the_case_and_the_labels_carry_the_engines_features(
    api: TestClient, platform: Platform, held: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    alice, _bob = held
    # An AML finding has no features of its own: cases keeps its snapshot for it.
    raise_alert(platform, alice["customer_id"], ref="f1", source="aml", action="report")
    analyst = staff_member(platform, username="alice-analyst", role="risk_analyst")
    [item] = api.get(f"{V1}/staff/risk/cases", headers=analyst.headers).json()
    case_id = item["case"]["id"]
    case = api.get(f"{V1}/staff/risk/cases/{case_id}", headers=analyst.headers).json()
    features = {a["source"]: a["features"] for a in case["alerts"]}
    # What the engine's rules saw, by their names: the amount, a first payment to 鲍勃.
    assert (features["engine"]["amount"], features["engine"]["new_payee"]) == (4000, True)
    assert "cust_n_10m" in features["engine"]
    assert "movements_24h" not in features["engine"]
    assert "movements_24h" in features["aml"]

    staff_post(api, analyst, f"/cases/{case_id}/take", {})
    staff_post(api, analyst, f"/cases/{case_id}/decide", {"outcome": "genuine", "note": "本人"})
    with platform.transaction() as session:
        rows = {r["source"]: r for r in labelled_rows(session)}
    assert (rows["engine"]["feature_amount"], rows["engine"]["feature_new_payee"]) == (4000, 1)
    assert rows["engine"]["label"] == 0
    assert "feature_movements_24h" in rows["aml"]


@pytest.mark.parametrize("said", ["yes", "no"])
def test_a_held_chat_card_is_paid_only_when_released(
    api: TestClient, platform: Platform, people: People, said: str
) -> None:
    alice, bob = people.register("爱丽丝"), people.register("鲍勃")
    people.fund(alice, 1_000 * YUAN)
    chat = f"{V1}/me/chat/conversations"
    asked = api.post(f"{chat}/direct", headers=alice["headers"], json={"mobile": bob["login_name"]})
    conversation = asked.json()["id"]
    assert api.post(f"{chat}/{conversation}/accept", headers=bob["headers"]).status_code == 200
    body = {"kind": "transfer", "client_id": "c1", "account": alice["account"]["number"]}
    sent = api.post(
        f"{chat}/{conversation}/cards", headers=alice["headers"], json=body | {"amount": "40.00"}
    )
    card = sent.json()["card"]
    in_force(platform, name="review_big", condition="amount >= 4000", action="review", reason="big")
    url = f"{chat}/{conversation}/cards/{card['id']}"
    acted = api.post(f"{url}/act", headers=alice["headers"], json={"client_id": "c1"})
    assert acted.status_code == 200, acted.text
    assert acted.json()["status"] == "open"  # held, not paid
    again = api.post(f"{url}/act", headers=alice["headers"], json={"client_id": "c2"})
    assert again.json()["error"]["code"] == "chat_card_used"
    run_the_jobs(platform)
    assert api.get(url, headers=bob["headers"]).json()["status"] == "open"

    said_it = answer_question(api, platform, alice, the_question(api, alice)["id"], said)
    assert said_it.status_code == 200, said_it.text
    run_the_jobs(platform)
    state = api.get(url, headers=bob["headers"]).json()
    assert state["status"] == ("paid" if said == "yes" else "failed")
    assert available(api, bob) == ("40.00" if said == "yes" else "0.00")
