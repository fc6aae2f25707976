"""Suitability (理财适当性) end to end: the customer takes the risk-tolerance
assessment; no purchase without a valid one, and none of a product above their level,
whether bought in the API or from the account manager's card in chat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.chat.conftest import Chat
from tests.chat.test_cards import Cards
from tests.wealth.helpers import ANSWERS, assessed
from tests.wealth.test_wealth import PRODUCT, V1, available, buy, client, custody

__all__ = ["client"]  # the fixture

WEALTH = f"{V1}/me/wealth"


@pytest.fixture
def shop(client: TestClient, platform: Platform) -> dict[str, Any]:
    """A PR2 product (GYLC2026A) and a PR4 one (GYJQ2026) on sale for two years, and
    a customer with 10,000.00 who has not been assessed yet."""
    people = Chat(client, platform)
    operations = people.staff_member("ops", role="operations")["headers"]
    long_sale = {"sale_end": "2028-03-01T00:00:00Z"}
    for extra in ({}, {"code": "GYJQ2026", "name": "工银理财·进取", "risk_level": 4}):
        created = client.post(
            f"{V1}/staff/wealth/products", headers=operations, json=PRODUCT | long_sale | extra
        )
        assert created.status_code == 201, created.text
    customer = people.customer()
    people.fund(customer, 1_000_000)
    return {"people": people, "customer": customer}


def assess(client: TestClient, who: dict[str, Any], level: int) -> Any:
    return client.post(
        f"{WEALTH}/assessments", headers=who["headers"], json={"answers": ANSWERS[level]}
    )


class TestAssessment:
    def test_the_questionnaire_shows_questions_and_options_not_scores(
        self, client: TestClient, shop: dict[str, Any]
    ) -> None:
        asked = client.get(f"{WEALTH}/questionnaire", headers=shop["customer"]["headers"]).json()
        assert asked["valid_months"] == 12
        assert [q["id"] for q in asked["questions"]] == [
            "age", "experience", "income", "share", "horizon", "loss", "goal"
        ]  # fmt: skip
        assert asked["questions"][5]["options"][0] == {
            "id": "a", "zh": "不能接受任何本金亏损", "en": "no loss at all"
        }  # fmt: skip

    def test_answers_give_a_level_valid_for_twelve_months(
        self, client: TestClient, shop: dict[str, Any]
    ) -> None:
        done = assess(client, shop["customer"], 3)
        assert done.status_code == 201, done.text
        result = done.json()
        assert (result["level"], result["level_label"], result["score"]) == (3, "C3 平衡型", 49)
        assert result["highest_product_level"] == "PR3 平衡型"
        assert (result["assessed_at"], result["valid_until"], result["valid"]) == (
            "2026-03-02T01:30:00Z",
            "2027-03-02T01:30:00Z",
            True,
        )

    def test_history_is_kept_and_the_newest_counts(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        none = client.get(f"{WEALTH}/assessments/latest", headers=who["headers"])
        assert none.status_code == 404
        assert none.json()["error"]["code"] == "wealth_assessment_not_found"
        clock.advance(timedelta(days=-30))  # (logins expire: the past moves, not now)
        assessed(platform, who["customer_id"], level=4)
        clock.advance(timedelta(days=30))
        assess(client, who, 2)
        history = client.get(f"{WEALTH}/assessments", headers=who["headers"]).json()
        assert [a["level"] for a in history] == [2, 4]
        latest = client.get(f"{WEALTH}/assessments/latest", headers=who["headers"]).json()
        assert latest["id"] == history[0]["id"]

    def test_incomplete_answers_are_refused_and_nothing_is_kept(
        self, client: TestClient, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        answers = {k: v for k, v in ANSWERS[5].items() if k != "loss"}
        refused = client.post(
            f"{WEALTH}/assessments", headers=who["headers"], json={"answers": answers}
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "wealth_assessment_answers_invalid"
        assert refused.json()["error"]["details"] == {"unanswered": ["loss"]}
        assert client.get(f"{WEALTH}/assessments", headers=who["headers"]).json() == []

    def test_the_account_manager_sees_a_customers_level(
        self, client: TestClient, shop: dict[str, Any]
    ) -> None:
        who, people = shop["customer"], shop["people"]
        assess(client, who, 3)
        m1 = people.staff_member("m1")
        with people.platform.transaction() as session:  # the customer's own manager
            people.platform.accounts.reassign_manager(
                session, customer_id=who["customer_id"], manager_id=m1["id"]
            )
        manager = m1["headers"]
        seen = client.get(
            f"{V1}/staff/wealth/customers/{who['customer_id']}/assessments", headers=manager
        )
        assert [a["level_label"] for a in seen.json()] == ["C3 平衡型"]
        missing = client.get(f"{V1}/staff/wealth/customers/999999/assessments", headers=manager)
        assert missing.status_code == 404


class TestSuitability:
    def test_no_purchase_without_an_assessment_and_no_code_is_asked_first(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        body = {"client_id": "p1", "product_code": "GYLC2026A",
                "account": who["account"]["number"], "amount": "1500.00"}  # fmt: skip
        refused = client.post(f"{WEALTH}/purchases", headers=who["headers"], json=body)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert (error["code"], error["details"]) == (
            "wealth_assessment_required",
            {"reason": "none"},
        )
        assert "risk-tolerance assessment" in error["message"]
        assert custody(platform) == 0
        assert available(platform, who) == 1_000_000

    def test_up_to_the_customers_level_and_not_above(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        assess(client, who, 3)
        above = buy(client, platform, who, product_code="GYJQ2026")
        assert above.status_code == 409, above.text
        assert above.json()["error"]["code"] == "wealth_risk_level_exceeded"
        assert above.json()["error"]["details"] == {
            "product_level": "PR4 进取型", "customer_level": "C3 平衡型"
        }  # fmt: skip
        # A new purchase, so a new client id (the refused one stays refused).
        assert buy(client, platform, who, client_id="p2").status_code == 201
        assert available(platform, who) == 1_000_000 - 150_000

    def test_an_assessment_older_than_twelve_months_no_longer_allows_buying(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        clock.advance(timedelta(days=-365))  # assessed exactly 12 months ago
        assessed(platform, who["customer_id"], level=5)
        clock.advance(timedelta(days=365))
        refused = buy(client, platform, who)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["details"] == {
            "reason": "expired", "expired_at": "2026-03-02T01:30:00+00:00"
        }  # fmt: skip
        latest = client.get(f"{WEALTH}/assessments/latest", headers=who["headers"]).json()
        assert latest["valid"] is False
        assess(client, who, 5)
        assert buy(client, platform, who).status_code == 409  # that request's answer
        assert buy(client, platform, who, client_id="p2").status_code == 201

    def test_the_chat_cards_buy_button_is_held_to_the_same_rules(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        people, who = shop["people"], shop["customer"]
        manager = people.staff_member("m1")
        conversation = client.post(f"{V1}/me/chat/conversations/bank", headers=who["headers"])
        assert conversation.status_code == 201, conversation.text
        cards = Cards(people)
        card = cards.sent(
            manager,
            conversation.json()["id"],
            {"kind": "wealth", "client_id": "w1", "product_code": "GYJQ2026"},
        )
        # Offered before the customer was assessed; assessed C2 since, below PR4.
        assessed(platform, who["customer_id"], level=2)
        refused = cards.act_confirmed(who, card, account=who["account"]["number"], amount="1500")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "wealth_risk_level_exceeded"
        assert cards.state(who, card)["status"] == "open"
        assert available(platform, who) == 1_000_000
