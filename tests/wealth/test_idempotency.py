"""Purchases and redemptions refused under a client id stay refused under it, even
after money arrives; the id for another request is a conflict."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from rongbank.platform import Platform
from tests.wealth.helpers import assessed
from tests.wealth.test_payouts import bought, redeem, shop
from tests.wealth.test_wealth import available, buy, client, custody

__all__ = ["client", "shop"]  # the fixtures


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


class TestPurchase:
    def test_a_refused_purchase_stays_refused_under_its_client_id(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        who = shop["people"].register("李雷")
        shop["people"].fund(who, 100_000)  # 1,000.00
        assessed(platform, who["customer_id"], level=3)
        refused = buy(client, platform, who, client_id="p1", amount="1500.00")
        shop["people"].fund(who, 200_000)
        again = buy(client, platform, who, client_id="p1", amount="1500.00")
        other = buy(client, platform, who, client_id="p1", amount="1000.00")

        assert error(refused) == error(again) == (422, "insufficient_funds")
        assert refused.json() == again.json()
        assert error(other) == (409, "wealth_purchase_conflict")
        assert custody(platform) == 0
        assert buy(client, platform, who, client_id="p2", amount="1500.00").status_code == 201
        assert available(platform, who) == 150_000


class TestRedemption:
    def test_a_refused_redemption_stays_refused_under_its_client_id(
        self, client: TestClient, platform: Platform, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        holding = bought(client, platform, who, amount="3000.00")["id"]

        refused = redeem(client, who, holding, client_id="r1", amount="3000.01")
        again = redeem(client, who, holding, client_id="r1", amount="3000.01")
        other = redeem(client, who, holding, client_id="r1", amount="1000.00")

        assert error(refused) == error(again) == (422, "wealth_redemption_exceeds_holding")
        assert error(other) == (409, "wealth_redemption_conflict")
        assert custody(platform) == 300_000
        assert redeem(client, who, holding, client_id="r2", amount="1000.00").status_code == 201
        assert custody(platform) == 200_000
