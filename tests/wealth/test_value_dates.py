"""Value dates and the cut-off of open-ended wealth products, on the bank's clock: a
purchase earns from the business day it counts for (before 15:00 Beijing time on a
business day: that day; else the next business day); a redemption counts for a
business day the same way, earns up to it and is paid on it (at once when that is
today, else by the payout job). The clock starts on Monday 2 March 2026, 09:30."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from rongbank.clock import FrozenClock
from rongbank.ledger.service import LedgerService, balance_of
from rongbank.platform import Platform
from rongbank.settings import Settings
from rongbank.wealth import rules
from rongbank.wealth.service import WealthService
from tests.conftest import session_factory_on
from tests.wealth.test_payouts import (
    bought,
    ledger_is_sound,
    notices,
    redeem,
    shop,
)
from tests.wealth.test_wealth import PRODUCT, V1, available, client, custody

__all__ = ["client", "shop"]  # the fixtures


def at(clock: FrozenClock, shop: dict[str, Any], *args: int) -> dict[str, Any]:
    """The clock moved on to a Beijing time, the customer logged in again."""
    target = datetime(*args, tzinfo=rules.BUSINESS_TIME_ZONE)
    assert target >= clock.now()
    clock.advance(target - clock.now())
    who = shop["customer"]
    who["headers"] = {"Authorization": f"Bearer {shop['people'].login(who['login_name'])}"}
    return dict(who)


def payout_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    payout: dict[str, Any] = response.json()["payout"]
    return {k: payout[k] for k in ("status", "value_date", "days", "principal", "yield_amount")}


def on_sale(client: TestClient, who: dict[str, Any]) -> dict[str, Any]:
    listed = client.get(f"{V1}/me/wealth/products", headers=who["headers"]).json()
    return {p["code"]: (p["value_date"], p["cutoff"]) for p in listed}


def yield_paid(platform: Platform) -> int:
    with platform.transaction() as session:
        account = platform.ledger.account(session, f"wealth:{PRODUCT['code']}:yield")
        return balance_of(account).posted


class TestAcrossMidnight:
    def test_two_seconds_held_across_midnight_earn_nothing(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        who = at(clock, shop, 2026, 3, 2, 23, 59, 59)
        start = available(platform, who)
        holding = bought(client, platform, who, amount="3000.00")
        assert holding["value_date"] == "2026-03-03"  # after Monday's cut-off
        clock.advance(timedelta(seconds=2))  # Tuesday 00:00:01
        assert payout_of(redeem(client, who, holding["id"])) == {
            "status": "paid",
            "value_date": "2026-03-03",
            "days": 0,
            "principal": "3000.00",
            "yield_amount": "0.00",
        }
        assert available(platform, who) == start
        assert custody(platform) == 0
        ledger_is_sound(platform)

    def test_bought_before_the_cutoff_earns_for_the_night_it_was_held(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        who = at(clock, shop, 2026, 3, 2, 14, 59, 59)
        holding = bought(client, platform, who, amount="3000.00")
        assert holding["value_date"] == "2026-03-02"
        who = at(clock, shop, 2026, 3, 3, 9, 0)
        # 3,000.00 × 2.85% × 1 / 365 = 0.234... -> 0.23
        assert payout_of(redeem(client, who, holding["id"]))["yield_amount"] == "0.23"


class TestRedemptionAfterTheCutoff:
    def test_is_paid_on_the_next_business_day_with_the_yield_up_to_it(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        holding = bought(client, platform, who, amount="3000.00")  # Monday 09:30
        before = available(platform, who)
        who = at(clock, shop, 2026, 3, 6, 16, 0)  # Friday, after the cut-off
        asked = redeem(client, who, holding["id"])
        # Friday's night and the weekend are still held: 7 days from Monday 2 March.
        # 3,000.00 × 2.85% × 7 / 365 = 1.639... -> 1.63
        assert payout_of(asked) == {
            "status": "pending",
            "value_date": "2026-03-09",
            "days": 7,
            "principal": "3000.00",
            "yield_amount": "1.63",
        }
        assert (asked.json()["holding"]["left"], asked.json()["holding"]["status"]) == (
            "0.00",
            "redeemed",
        )
        assert available(platform, who) == before  # nothing paid yet
        assert custody(platform) == 300_000  # the money is still invested
        again = redeem(client, who, holding["id"])
        assert (again.status_code, again.json()["payout"]["id"]) == (
            200,
            asked.json()["payout"]["id"],
        )
        twice = redeem(client, who, holding["id"], client_id="r2")
        assert twice.json()["error"]["details"] == {"reason": "nothing_left"}

        at(clock, shop, 2026, 3, 8, 23, 59)  # Sunday: not yet
        assert platform.mature_wealth().redemptions == 0
        who = at(clock, shop, 2026, 3, 9, 0, 0, 30)  # Monday
        run = platform.mature_wealth()
        assert (run.redemptions, run.principal, run.yield_amount) == (1, 300_000, 163)
        assert platform.mature_wealth().redemptions == 0
        assert available(platform, who) == before + 300_000 + 163
        assert custody(platform) == 0
        detail = client.get(f"{V1}/me/wealth/holdings/{holding['id']}", headers=who["headers"])
        (payout,) = detail.json()["payouts"]
        assert (payout["status"], payout["total"]) == ("paid", "3001.63")
        assert payout["paid_at"] is not None
        ledger_is_sound(platform)
        platform.deliver_push()
        assert [n["title"] for n in notices(platform, who)] == ["理财赎回"]

    def test_on_a_holiday_it_waits_for_the_first_business_day_after(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        who = shop["customer"]
        holding = bought(client, platform, who, amount="3000.00")
        who = at(clock, shop, 2026, 4, 4, 10, 0)  # Saturday of Qingming (4-6 April)
        assert payout_of(redeem(client, who, holding["id"]))["value_date"] == "2026-04-07"


class TestAcrossAWeekend:
    def test_bought_after_fridays_cutoff_earns_from_monday(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        who = at(clock, shop, 2026, 3, 6, 15, 0)  # Friday, at the cut-off
        assert on_sale(client, who)["GYLC2026A"] == ("2026-03-09", "15:00")
        start = available(platform, who)
        holding = bought(client, platform, who, amount="3000.00")
        assert holding["value_date"] == "2026-03-09"
        who = at(clock, shop, 2026, 3, 8, 12, 0)  # Sunday: redeemed before its value date
        assert payout_of(redeem(client, who, holding["id"])) == {
            "status": "pending",
            "value_date": "2026-03-09",
            "days": 0,
            "principal": "3000.00",
            "yield_amount": "0.00",
        }
        at(clock, shop, 2026, 3, 9, 8, 0)
        assert platform.mature_wealth().yield_amount == 0
        assert available(platform, who) == start
        ledger_is_sound(platform)

    def test_bought_before_fridays_cutoff_earns_the_weekend(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        who = at(clock, shop, 2026, 3, 6, 14, 0)
        assert on_sale(client, who)["GYLC2026A"] == ("2026-03-06", "15:00")
        holding = bought(client, platform, who, amount="3000.00")
        who = at(clock, shop, 2026, 3, 9, 10, 0)  # Monday before the cut-off: paid at once
        # Friday, Saturday, Sunday: 3,000.00 × 2.85% × 3 / 365 = 0.702... -> 0.70
        assert payout_of(redeem(client, who, holding["id"])) == {
            "status": "paid",
            "value_date": "2026-03-09",
            "days": 3,
            "principal": "3000.00",
            "yield_amount": "0.70",
        }


class TestCutoffOfAProduct:
    def test_a_product_may_close_its_day_earlier(
        self, client: TestClient, platform: Platform, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        operations = shop["people"].staff("administrator")
        early = PRODUCT | {"code": "GYZS1130", "cutoff": "11:30"}
        created = client.post(f"{V1}/staff/wealth/products", headers=operations, json=early)
        assert created.status_code == 201, created.text
        who = at(clock, shop, 2026, 3, 2, 12, 0)
        assert on_sale(client, who)["GYZS1130"] == ("2026-03-03", "11:30")
        assert on_sale(client, who)["GYLC2026A"] == ("2026-03-02", "15:00")
        holding = bought(client, platform, who, product_code="GYZS1130", amount="3000.00")
        assert holding["value_date"] == "2026-03-03"

    @pytest.mark.parametrize("cutoff", ["11:30:15", "11:30+08:00", "25:00"])
    def test_a_cutoff_is_hours_and_minutes(
        self, client: TestClient, shop: dict[str, Any], cutoff: str
    ) -> None:
        operations = shop["people"].staff("administrator")
        body = PRODUCT | {"code": "GYZSBAD", "cutoff": cutoff}
        refused = client.post(f"{V1}/staff/wealth/products", headers=operations, json=body)
        assert refused.status_code == 422, refused.text
        listed = client.get(f"{V1}/staff/wealth/products", headers=operations).json()
        assert "GYZSBAD" not in [p["code"] for p in listed]


class TestCutoffOfTheBank:
    def test_is_a_setting(
        self, platform: Platform, connection: Connection, clock: FrozenClock, shop: dict[str, Any]
    ) -> None:
        settings = Settings(wealth_cutoff="10:00")  # as it comes from the environment
        bank = Platform(
            settings=settings,
            session_factory=session_factory_on(connection),
            clock=clock,
            ledger=LedgerService(clock),
        )
        with bank.transaction() as session:
            product = bank.wealth.product(session, PRODUCT["code"])
        assert bank.wealth.value_date(product) == date(2026, 3, 2)  # 09:30
        clock.advance(timedelta(minutes=30))
        assert bank.wealth.value_date(product) == date(2026, 3, 3)  # 10:00
        assert platform.wealth.value_date(product) == date(2026, 3, 2)  # the default 15:00

    def test_has_no_time_zone(self, platform: Platform) -> None:
        with pytest.raises(ValueError, match="Beijing time"):
            WealthService(
                platform.ledger,
                platform.accounts,
                platform.clock,
                calendar=platform.calendar,
                cutoff=time(15, 0, tzinfo=UTC),
            )


def test_many_holdings_pay_what_their_payouts_say_and_no_fen_more(
    platform: Platform, clock: FrozenClock, shop: dict[str, Any]
) -> None:
    """Holdings bought and redeemed in parts at all hours over three weeks: the yield
    account paid out exactly the payouts' yields, each the stated rule (ACT/365 from
    value date to value date, rounded down once), and custody holds what is left."""
    who = shop["customer"]
    holdings = []
    for n in range(8):
        clock.advance(timedelta(hours=7, minutes=13))
        with platform.transaction() as session:
            holding, _ = platform.wealth.buy(
                session,
                customer_id=who["customer_id"],
                code=PRODUCT["code"],
                account_number=who["account"]["number"],
                amount=100_000 + 10_000 * (n % 3),
                client_id=f"h{n}",
            )
        holdings.append(holding)
    for step in range(3):
        clock.advance(timedelta(days=5, hours=5, minutes=29))
        for holding in holdings:
            with platform.transaction() as session:
                platform.wealth.redeem(
                    session,
                    customer_id=who["customer_id"],
                    holding_id=holding.id,
                    amount=None if step == 2 else 10_000 + 700 * holding.id % 9_000,
                    client_id=f"r{holding.id}-{step}",
                )
    clock.advance(timedelta(days=4))
    platform.mature_wealth()
    with platform.transaction() as session:
        payouts = [
            p
            for h in holdings
            for p in platform.wealth.payouts(
                session, customer_id=who["customer_id"], holding_id=h.id
            )
        ]
    assert len(payouts) == 24
    assert all(p.paid for p in payouts)
    # some were paid when asked, some waited for their value date
    assert {p.paid_at == p.created_at for p in payouts} == {True, False}
    for p in payouts:
        exact = Fraction(p.principal * PRODUCT["yield_bps"] * p.days, 10_000 * 365)
        assert p.yield_amount <= exact < p.yield_amount + 1
    assert yield_paid(platform) == sum(p.yield_amount for p in payouts) > 0
    assert sum(p.principal for p in payouts) == sum(h.amount for h in holdings)
    assert custody(platform) == 0
    ledger_is_sound(platform)
