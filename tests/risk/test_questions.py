""" "Was this you?": a payment held for review asks its customer in 融e联; the answer,
once and only theirs, releases the hold or stops it and blocks their tools."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.chat.schemas import NoticeBody
from rongbank.platform import Platform
from tests.factories.people import V1, People
from tests.support.risk import Staff, answer_question, decisions, raise_alert, staff_member
from tests.support.sms import sms_code, sms_texts

CHAT = f"{V1}/me/chat"


@pytest.fixture
def people(api: TestClient, platform: Platform) -> People:
    return People(api, platform)


@pytest.fixture
def analyst(platform: Platform) -> Staff:
    return staff_member(platform, username="alice", role="risk_analyst")


def notices(api: TestClient, who: dict[str, Any]) -> list[dict[str, Any]]:
    """The customer's notice box as they see it, oldest first."""
    listed = api.get(f"{CHAT}/conversations", headers=who["headers"]).json()
    boxes = [c for c in listed if c["kind"] == "notice"]
    if not boxes:
        return []
    messages = api.get(
        f"{CHAT}/conversations/{boxes[0]['id']}/messages", headers=who["headers"]
    ).json()
    for m in messages:
        NoticeBody.model_validate_json(m["body"])  # the shape the pages are promised
    return [json.loads(m["body"]) for m in messages]


def question_of(api: TestClient, who: dict[str, Any]) -> int:
    [question] = api.get(f"{V1}/me/risk/questions", headers=who["headers"]).json()
    assert question["status"] == "asked"
    return int(question["id"])


def case_of(api: TestClient, analyst: Staff, *, closed: bool = False) -> dict[str, Any]:
    [item] = api.get(
        f"{V1}/staff/risk/cases", params={"closed": closed}, headers=analyst.headers
    ).json()
    return dict(item)


class TestTheQuestion:
    def test_a_held_payment_asks_its_customer_in_their_notice_box(
        self, api: TestClient, platform: Platform, people: People
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1", amount=880_000)

        [notice] = notices(api, customer)
        assert notice["kind"] == "security"
        assert notice["title"] == "这笔付款是您本人操作的吗？"
        assert "¥8800.00" in notice["text"]
        assert notice["data"]["risk_question"] == question_of(api, customer)

    @pytest.mark.parametrize("action", ["block", "shadow", "report"])
    def test_nothing_held_nothing_asked(
        self, api: TestClient, platform: Platform, people: People, action: str
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1", action=action)
        assert notices(api, customer) == []
        assert api.get(f"{V1}/me/risk/questions", headers=customer["headers"]).json() == []


class TestTheAnswer:
    def test_yes_releases_the_hold_and_closes_the_case(
        self, api: TestClient, platform: Platform, people: People, analyst: Staff
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1", hold_ref="pending:9")
        question_id = question_of(api, customer)

        answered = answer_question(api, platform, customer, question_id, "yes")
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "yes"
        [decided] = decisions(platform)
        assert {k: decided[k] for k in ("outcome", "hold_ref", "decided_by")} == {
            "outcome": "genuine",
            "hold_ref": "pending:9",
            "decided_by": None,
        }
        assert case_of(api, analyst, closed=True)["case"]["outcome"] == "genuine"
        tools = api.get(f"{V1}/me/tools", headers=customer["headers"]).json()
        assert [t["status"] for t in tools] == ["active"]

    def test_no_stops_it_blocks_the_tools_and_raises_the_case(
        self, api: TestClient, platform: Platform, people: People, analyst: Staff
    ) -> None:
        first, customer = people.register("李一"), people.register("李二")
        raise_alert(platform, first["customer_id"], ref="d0", score=0.99, hold_ref="pending:1")
        raise_alert(platform, customer["customer_id"], ref="d1", score=0.6, hold_ref="pending:2")

        answered = answer_question(api, platform, customer, question_of(api, customer), "no")
        assert answered.json()["status"] == "no"
        [decided] = decisions(platform)
        assert (decided["outcome"], decided["hold_ref"], decided["decided_by"]) == (
            "fraud",
            "pending:2",
            None,
        )
        tools = api.get(f"{V1}/me/tools", headers=customer["headers"]).json()
        assert [t["status"] for t in tools] == ["blocked"]
        # Above a higher score: the customer said it was not them.
        queue = api.get(f"{V1}/staff/risk/cases", headers=analyst.headers).json()
        assert [(i["customer_name"], i["case"]["customer_denied"]) for i in queue] == [
            ("李二", True),
            ("李一", False),
        ]

    def test_answered_once(self, api: TestClient, platform: Platform, people: People) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1")
        question_id = question_of(api, customer)
        assert answer_question(api, platform, customer, question_id, "yes").status_code == 200
        again = answer_question(api, platform, customer, question_id, "no")
        assert (again.status_code, again.json()["error"]["code"]) == (
            409,
            "risk_question_answered",
        )
        assert [d["outcome"] for d in decisions(platform)] == ["genuine"]

    def test_only_by_the_customer_concerned(
        self, api: TestClient, platform: Platform, people: People
    ) -> None:
        customer, other = people.register("王一"), people.register("王二")
        raise_alert(platform, customer["customer_id"], ref="d1")
        refused = answer_question(api, platform, other, question_of(api, customer), "yes")
        assert (refused.status_code, refused.json()["error"]["code"]) == (
            404,
            "risk_question_not_found",
        )
        assert decisions(platform) == []

    def test_the_bank_deciding_first_closes_the_question(
        self, api: TestClient, platform: Platform, people: People, analyst: Staff
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1")
        question_id = question_of(api, customer)
        case_id = case_of(api, analyst)["case"]["id"]
        staff = f"{V1}/staff/risk/cases/{case_id}"
        api.post(f"{staff}/take", headers=analyst.headers)
        api.post(
            f"{staff}/decide",
            headers=analyst.headers,
            json={"outcome": "genuine", "note": "客户来电确认"},
        )
        late = answer_question(api, platform, customer, question_id, "no")
        assert late.json()["error"]["code"] == "risk_question_answered"
        assert [d["outcome"] for d in decisions(platform)] == ["genuine"]

    def test_an_answer_is_yes_or_no(
        self, api: TestClient, platform: Platform, people: People
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1")
        assert (
            answer_question(
                api, platform, customer, question_of(api, customer), "maybe"
            ).status_code
            == 422
        )


class TestYesIsConfirmed:
    """Yes releases held money: the session alone (a fraudster's, maybe) cannot say it."""

    def test_yes_asks_for_a_code_sent_to_the_mobile_and_nothing_moves_before(
        self, api: TestClient, platform: Platform, people: People
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1", amount=4_000)
        question_id = question_of(api, customer)

        asked = answer_question(api, platform, customer, question_id, "yes", confirm=False)
        assert (asked.status_code, asked.json()["error"]["code"]) == (403, "challenge_required")
        assert "¥40.00" in sms_texts(platform, customer["login_name"])[0]
        assert decisions(platform) == []
        assert question_of(api, customer) == question_id  # still asked

        path = f"{V1}/me/risk/questions/{question_id}/answer"
        challenge = asked.json()["error"]["details"]["challenge"]["id"]
        wrong = api.post(
            path,
            headers=customer["headers"],
            json={"answer": "yes", "challenge_id": challenge, "response": "000000"},
        )
        assert wrong.status_code in (401, 403, 422), wrong.text
        assert decisions(platform) == []

        confirmed = answer_question(api, platform, customer, question_id, "yes")
        assert (confirmed.status_code, confirmed.json()["status"]) == (200, "yes")
        assert [d["outcome"] for d in decisions(platform)] == ["genuine"]

    def test_a_code_for_one_question_does_not_answer_another(
        self, api: TestClient, platform: Platform, people: People
    ) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1", hold_ref="h1")
        raise_alert(platform, customer["customer_id"], ref="d2", hold_ref="h2")
        second, first = (
            q["id"] for q in api.get(f"{V1}/me/risk/questions", headers=customer["headers"]).json()
        )
        asked = answer_question(api, platform, customer, first, "yes", confirm=False)
        challenge = asked.json()["error"]["details"]["challenge"]["id"]
        code = sms_code(platform, customer["login_name"])
        reused = api.post(
            f"{V1}/me/risk/questions/{second}/answer",
            headers=customer["headers"],
            json={"answer": "yes", "challenge_id": challenge, "response": code},
        )
        assert reused.status_code != 200
        assert decisions(platform) == []

    def test_no_needs_no_code(self, api: TestClient, platform: Platform, people: People) -> None:
        customer = people.register()
        raise_alert(platform, customer["customer_id"], ref="d1")
        said = answer_question(
            api, platform, customer, question_of(api, customer), "no", confirm=False
        )
        assert (said.status_code, said.json()["status"]) == (200, "no")
