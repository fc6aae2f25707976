"""The suspicious patterns over constructed histories: each found where it should be,
naming the transfers behind it, and not found in a near miss."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from rongbank.accounts.service import EAccount
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.aml import YUAN, History


@pytest.fixture
def history(platform: Platform, clock: FrozenClock) -> Iterator[History]:
    with platform.transaction() as session:
        yield History(platform, session, clock)


def funded(history: History, amount: int = 5_000_000 * YUAN) -> EAccount:
    """A person whose money came from the bank itself (interest: not counted)."""
    account = history.person(0)
    history.pay_in(account, amount, "interest")
    return account


def found(history: History, pattern: str) -> list[tuple[int, list[int]]]:
    return [
        (int(f["customer_id"]), list(f["entry_ids"]))  # type: ignore[call-overload]
        for f in history.findings(pattern)
    ]


def names_each(finding: dict[str, object], entries: list[int]) -> None:
    for entry in entries:
        assert f"#{entry}" in str(finding["explanation_en"])
        assert f"#{entry}" in str(finding["explanation_zh"])


class TestStructuring:
    def test_three_amounts_just_under_the_threshold_in_three_days(self, history: History) -> None:
        person = funded(history)
        entries = []
        for amount in (480_000, 495_000, 499_999):
            entries.append(history.pay_out(person, amount * YUAN))
            history.later(days=1)
        history.later(days=-1)
        run = history.run(history.today() - timedelta(days=2), history.today())
        assert run.findings == {"structuring": 1}
        assert found(history, "structuring") == [(person.customer_id, entries)]
        (finding,) = history.findings("structuring")
        names_each(finding, entries)
        assert "500,000.00 yuan" in str(finding["explanation_en"])
        assert finding["day"] == history.today()

    @pytest.mark.parametrize(
        ("amounts", "gap_days"),
        [((480_000, 495_000, 440_000), 1), ((480_000, 495_000, 499_999), 2)],
        ids=["one below the band", "spread over five days"],
    )
    def test_near_misses(self, history: History, amounts: tuple[int, ...], gap_days: int) -> None:
        person = funded(history)
        first = history.today()
        for amount in amounts:
            history.pay_out(person, amount * YUAN)
            history.later(days=gap_days)
        history.later(days=-gap_days)
        history.run(first, history.today())
        assert history.findings("structuring") == []


class TestRapidInOut:
    def test_money_that_leaves_within_hours(self, history: History) -> None:
        person, payee = history.person(0), history.person(0)
        came = history.pay_in(person, 100_000 * YUAN)
        history.later(hours=3)
        left = [history.between(person, payee, 60_000 * YUAN)]
        history.later(hours=5)
        left.append(history.pay_out(person, 35_000 * YUAN))
        history.run()
        assert found(history, "rapid_in_out") == [(person.customer_id, [came, *left])]
        (finding,) = history.findings("rapid_in_out")
        names_each(finding, [came, *left])
        assert "95%" in str(finding["explanation_en"])

    @pytest.mark.parametrize(
        ("out", "hours"), [(85_000, 3), (95_000, 25)], ids=["85 percent", "after a day"]
    )
    def test_near_misses(self, history: History, out: int, hours: int) -> None:
        person = history.person(0)
        history.pay_in(person, 100_000 * YUAN)
        history.later(hours=hours)
        history.pay_out(person, out * YUAN)
        history.run(history.today() - timedelta(days=1), history.today())
        assert history.findings("rapid_in_out") == []

    def test_found_on_the_day_the_money_left_and_not_again(self, history: History) -> None:
        person = history.person(0)
        history.pay_in(person, 100_000 * YUAN)
        history.run()
        history.later(hours=20)
        history.pay_out(person, 100_000 * YUAN)
        assert history.run().findings == {"rapid_in_out": 1}
        assert history.findings("rapid_in_out")[0]["day"] == history.today()
        history.later(days=1)
        assert history.run().found == 0


class TestFan:
    def test_fan_in_from_ten_accounts_in_a_week(self, history: History) -> None:
        person = history.person(0)
        first = history.today()
        entries = []
        for _ in range(10):
            entries.append(history.between(funded(history), person, 6_000 * YUAN))
            history.later(hours=12)
        history.run(first, history.today())
        assert found(history, "fan_in")[-1:] == [(person.customer_id, entries)]
        finding = history.findings("fan_in")[-1]
        assert "10 different accounts" in str(finding["explanation_en"])
        names_each(finding, entries)

    def test_fan_out_to_ten_accounts(self, history: History) -> None:
        person = funded(history)
        entries = [history.between(person, history.person(0), 6_000 * YUAN) for _ in range(10)]
        history.run()
        assert found(history, "fan_out") == [(person.customer_id, entries)]

    def test_near_miss_nine_accounts_in_ten_transfers(self, history: History) -> None:
        person = funded(history)
        payees = [history.person(0) for _ in range(9)]
        for payee in [*payees, payees[0]]:
            history.between(person, payee, 6_000 * YUAN)
        history.run()
        assert history.findings("fan_out") == []

    def test_near_miss_too_little_money(self, history: History) -> None:
        person = funded(history)
        for _ in range(12):
            history.between(person, history.person(0), 4_000 * YUAN)
        history.run()
        assert history.findings("fan_out") == []


class TestDormant:
    @pytest.mark.parametrize(("days", "found_"), [(200, True), (150, False)])
    def test_a_large_movement_after_months_without_one(
        self, history: History, days: int, found_: bool
    ) -> None:
        person = history.person(0)
        history.pay_in(person, 1_000 * YUAN)
        history.later(days=days)
        history.pay_in(person, 1 * YUAN, "interest")  # the bank's interest does not wake it
        history.later(hours=1)
        woke = history.pay_in(person, 80_000 * YUAN)
        history.run()
        expected = [(person.customer_id, [woke])] if found_ else []
        assert found(history, "dormant_woken") == expected

    def test_a_small_movement_does_not_count(self, history: History) -> None:
        person = history.person(0)
        history.pay_in(person, 1_000 * YUAN)
        history.later(days=200)
        history.pay_in(person, 49_999 * YUAN)
        history.run()
        assert history.findings("dormant_woken") == []


class TestRoundAmounts:
    def test_three_round_amounts_in_a_week(self, history: History) -> None:
        person = history.person(0)
        first = history.today()
        entries = []
        for amount in (50_000, 100_000, 70_000):
            entries.append(history.pay_in(person, amount * YUAN))
            history.later(days=2)
        history.later(days=-2)
        history.run(first, history.today())
        assert found(history, "round_amounts")[-1:] == [(person.customer_id, entries)]

    def test_near_miss_an_amount_not_round(self, history: History) -> None:
        person = history.person(0)
        first = history.today()
        for amount in (50_000 * YUAN, 100_000 * YUAN, 70_000 * YUAN + 1):
            history.pay_in(person, amount)
            history.later(days=2)
        history.run(first, history.today())
        assert history.findings("round_amounts") == []


class TestAlerts:
    def test_each_finding_is_raised_once_to_the_risk_centre(self, history: History) -> None:
        person = history.person(0)
        history.pay_in(person, 100_000 * YUAN)
        history.later(minutes=10)
        history.pay_out(person, 100_000 * YUAN)
        history.run()
        history.run()
        (finding,) = history.findings()
        events = (
            history.session.execute(
                text(
                    "SELECT payload FROM outbox_event WHERE name = 'risk.alert_raised' "
                    "AND payload->>'source' = 'aml'"
                )
            )
            .scalars()
            .all()
        )
        assert [
            (e["source_ref"], e["customer_id"], e["action"], e["reasons"], e["amount"])
            for e in events
        ] == [(str(finding["id"]), person.customer_id, "report", "rapid_in_out", 100_000 * YUAN)]
