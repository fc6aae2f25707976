"""Money back from wealth products: a customer redeems an open-ended holding (part
or all, with its yield); the maturity job pays out fixed-term holdings on their date,
once. The ledger balances throughout."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.chat.service import CUSTOMER, Member
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.accounts.test_endpoints import People
from tests.wealth.helpers import assessed
from tests.wealth.test_wealth import PRODUCT, V1, available, buy, client, custody

__all__ = ["client"]  # the fixture

FIXED = PRODUCT | {"code": "GYDQ90", "name": "工银理财·定期90天", "maturity_date": "2026-06-08"}
"""Sale closes 2026-03-10 08:00 Beijing (value date 3/10); matures 90 days later."""


@pytest.fixture
def shop(client: TestClient, platform: Platform) -> dict[str, Any]:
    """An open-ended product (GYLC2026A) and a fixed-term one (GYDQ90), and an
    assessed customer with 10,000.00."""
    people = People(client, platform)
    operations = people.staff("operations")
    for product in (PRODUCT, FIXED):
        created = client.post(f"{V1}/staff/wealth/products", headers=operations, json=product)
        assert created.status_code == 201, created.text
    customer = people.register()
    people.fund(customer, 1_000_000)
    assessed(platform, customer["customer_id"], level=3)
    return {"people": people, "customer": customer}


def redeem(client: TestClient, who: dict[str, Any], holding: int, **body: Any) -> Any:
    return client.post(
        f"{V1}/me/wealth/holdings/{holding}/redemptions",
        headers=who["headers"],
        json={"client_id": "r1"} | body,
    )


def later(shop: dict[str, Any], clock: FrozenClock, days: int) -> dict[str, Any]:
    """``days`` on, logged in again (a login does not last that long)."""
    clock.advance(timedelta(days=days))
    who = shop["customer"]
    who["headers"] = {"Authorization": f"Bearer {shop['people'].login(who['login_name'])}"}
    return dict(who)


def bought(client: TestClient, platform: Platform, who: dict[str, Any], **body: Any) -> Any:
    response = buy(client, platform, who, **body)
    assert response.status_code == 201, response.text
    return response.json()


def notices(platform: Platform, who: dict[str, Any]) -> list[dict[str, Any]]:
    member = Member(CUSTOMER, who["customer_id"])
    with platform.transaction() as session:
        box = platform.push.notice_box(session, who["customer_id"])
        messages = platform.chat.history(session, member, conversation_id=box.id)
    return [json.loads(m.body) for m in messages]


def ledger_is_sound(platform: Platform) -> None:
    with platform.transaction() as session:
        assert platform.ledger.verify(session) == {}


class TestRedemption:
    def test_part_then_the_rest_with_yield_back_to_the_paying_account(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        holding = bought(client, platform, who, amount="3000.00")["id"]
        who = later(shop, clock, 30)
        part = redeem(client, who, holding, amount="1000.00")
        assert part.status_code == 201, part.text
        # 1,000.00 × 2.85% × 30 / 365 = 2.342... -> 2.34 (rounded down)
        assert {k: part.json()["payout"][k] for k in ("principal", "yield_amount", "days")} == {
            "principal": "1000.00", "yield_amount": "2.34", "days": 30
        }  # fmt: skip
        assert (part.json()["holding"]["left"], part.json()["holding"]["status"]) == (
            "2000.00", "held"
        )  # fmt: skip
        rest = redeem(client, who, holding, client_id="r2")
        assert rest.status_code == 201, rest.text
        assert (rest.json()["payout"]["principal"], rest.json()["payout"]["yield_amount"]) == (
            "2000.00", "4.68"
        )  # fmt: skip
        assert rest.json()["holding"]["status"] == "redeemed"
        assert available(platform, who) == 1_000_000 + 234 + 468
        assert custody(platform) == 0
        detail = client.get(f"{V1}/me/wealth/holdings/{holding}", headers=who["headers"]).json()
        assert [(p["kind"], p["total"]) for p in detail["payouts"]] == [
            ("redemption", "1002.34"), ("redemption", "2004.68")
        ]  # fmt: skip
        ledger_is_sound(platform)
        platform.deliver_push()  # the customer is told in their notice box
        assert [n["title"] for n in notices(platform, who)] == ["理财赎回"] * 2
        assert "1,002.34元" in notices(platform, who)[0]["text"]

    def test_a_retry_answers_the_same_redemption_and_pays_nothing_more(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        holding = bought(client, platform, who, amount="3000.00")["id"]
        first = redeem(client, who, holding, amount="1000.00")
        again = redeem(client, who, holding, amount="1000.00")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["payout"]["id"] == first.json()["payout"]["id"]
        assert custody(platform) == 200_000
        changed = redeem(client, who, holding, amount="1500.00")
        assert changed.status_code == 409
        assert changed.json()["error"]["code"] == "wealth_redemption_conflict"

    def test_never_more_than_is_held_and_a_refusal_changes_nothing(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        holding = bought(client, platform, who, amount="3000.00")["id"]
        redeem(client, who, holding, amount="2000.00")
        over = redeem(client, who, holding, client_id="r2", amount="1000.01")
        assert over.status_code == 422, over.text
        error = over.json()["error"]
        assert (error["code"], error["details"]) == (
            "wealth_redemption_exceeds_holding", {"left": "1000.00"}
        )  # fmt: skip
        assert custody(platform) == 100_000
        redeem(client, who, holding, client_id="r3")
        done = redeem(client, who, holding, client_id="r4")
        assert done.status_code == 409
        assert done.json()["error"]["details"] == {"reason": "nothing_left"}
        assert custody(platform) == 0
        ledger_is_sound(platform)

    def test_a_fixed_term_holding_waits_for_its_maturity(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        holding = bought(client, platform, who, product_code="GYDQ90", amount="3000.00")
        assert (holding["value_date"], holding["maturity_date"]) == ("2026-03-10", "2026-06-08")
        refused = redeem(client, who, holding["id"])
        assert refused.status_code == 409
        assert refused.json()["error"]["details"] == {
            "reason": "fixed_term", "maturity_date": "2026-06-08"
        }  # fmt: skip

    def test_nobody_redeems_or_sees_another_customers_holding(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        holding = bought(client, platform, shop["customer"], amount="3000.00")["id"]
        thief = shop["people"].register("路人")
        assert redeem(client, thief, holding).status_code == 404
        seen = client.get(f"{V1}/me/wealth/holdings/{holding}", headers=thief["headers"])
        assert seen.status_code == 404
        assert custody(platform) == 300_000


class TestMaturity:
    def test_pays_principal_and_yield_on_the_date_and_only_once(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        holding = bought(client, platform, who, product_code="GYDQ90", amount="3000.00")
        before = available(platform, who)
        clock.advance(timedelta(days=97, hours=14))  # 2026-06-07 23:30 Beijing
        assert platform.mature_wealth().holdings == 0
        clock.advance(timedelta(hours=1))  # 2026-06-08 00:30 Beijing: the maturity date
        run = platform.mature_wealth()
        # 3,000.00 × 2.85% × 90 / 365 = 21.082... -> 21.08
        assert (run.holdings, run.principal, run.yield_amount) == (1, 300_000, 2_108)
        assert available(platform, who) == before + 300_000 + 2_108
        assert platform.mature_wealth().holdings == 0
        assert available(platform, who) == before + 300_000 + 2_108
        with platform.transaction() as session:
            (paid,) = platform.wealth.holdings(session, who["customer_id"])
            (payout,) = platform.wealth.payouts(
                session, customer_id=who["customer_id"], holding_id=holding["id"]
            )
        assert (paid.status, paid.left) == ("matured", 0)
        assert (payout.kind, payout.days, payout.yield_amount) == ("maturity", 90, 2_108)
        assert custody(platform) == 0
        ledger_is_sound(platform)
        platform.deliver_push()
        (notice,) = notices(platform, who)  # one notice, though the job ran again
        assert notice["title"] == "理财到期"
        assert "3,021.08元" in notice["text"]

    def test_open_ended_holdings_never_mature(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        bought(client, platform, shop["customer"], amount="3000.00")
        clock.advance(timedelta(days=3650))
        assert platform.mature_wealth().holdings == 0
        assert custody(platform) == 300_000
