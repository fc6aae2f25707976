"""Large-value transaction reports at the PBoC's thresholds (2016 Order No. 3, art. 5),
over constructed histories: at each threshold and one fen under it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.risk.aml.batch import AmlBatch
from rongbank.risk.aml.config import load_config
from tests.factories.aml import YUAN, History, clearing, foreign_account, send_foreign


@pytest.fixture
def history(platform: Platform, clock: FrozenClock):  # type: ignore[no-untyped-def]
    with platform.transaction() as session:
        yield History(platform, session, clock)


def summary(history: History) -> list[tuple[str, str, str, int]]:
    return [
        (str(r["rule"]), str(r["direction"]), str(r["currency_class"]), int(r["total"]))  # type: ignore[call-overload]
        for r in history.reports()
    ]


CASES = [
    # (customer kind, channel, direction, threshold in yuan, rule)
    ("person", "cash", "in", 50_000, "cash"),
    ("enterprise", "cash", "out", 50_000, "cash"),
    ("person", "clearing", "in", 500_000, "natural_domestic_transfer"),
    ("person", "cross_border", "out", 200_000, "natural_cross_border_transfer"),
    ("enterprise", "clearing", "out", 2_000_000, "non_natural_transfer"),
    ("enterprise", "cross_border", "in", 2_000_000, "non_natural_transfer"),
]


class TestThresholds:
    @pytest.mark.parametrize(("kind", "via", "direction", "threshold", "rule"), CASES)
    def test_a_movement_at_the_threshold_is_reported_and_one_fen_under_is_not(
        self, history: History, kind: str, via: str, direction: str, threshold: int, rule: str
    ) -> None:
        at, under = history.person(0), history.person(0)
        if kind == "enterprise":
            at, under = history.enterprise(0), history.enterprise(0)
        money = threshold * YUAN
        if direction == "in":
            entry = history.pay_in(at, money, via)
            history.pay_in(under, money - 1, via)
        else:
            history.pay_in(at, money, "interest" if via != "interest" else via)
            history.pay_in(under, money, "interest")
            entry = history.pay_out(at, money, via)
            history.pay_out(under, money - 1, via)
        run = history.run()
        reports = history.reports()
        assert [(r["customer_id"], r["rule"], r["direction"]) for r in reports] == [
            (at.customer_id, rule, direction)
        ]
        assert reports[0]["entry_ids"] == [entry]
        assert reports[0]["total"] == money
        assert run.reports == 1
        assert f"#{entry}" in str(reports[0]["explanation_en"])

    def test_the_day_s_movements_are_summed_per_customer_and_direction(
        self, history: History
    ) -> None:
        person, other = history.person(0), history.person(0)
        history.pay_in(other, 600_000 * YUAN, "interest")  # the bank's own: not counted
        first = history.pay_in(person, 200_000 * YUAN)
        history.later(hours=2)
        second = history.between(other, person, 300_000 * YUAN)
        history.pay_out(person, 400_000 * YUAN)  # out is summed apart: 400,000 < 500,000
        history.run()
        reports = history.reports()
        assert summary(history) == [("natural_domestic_transfer", "in", "CNY", 500_000 * YUAN)]
        assert reports[0]["entry_ids"] == [first, second]
        assert reports[0]["movements"] == 2

    def test_movements_on_two_days_are_not_summed(self, history: History) -> None:
        person = history.person(0)
        history.pay_in(person, 300_000 * YUAN)
        history.later(days=1)
        history.pay_in(person, 300_000 * YUAN)
        history.run(history.today() - timedelta(days=1), history.today())
        assert summary(history) == []

    def test_the_bank_s_own_movements_and_own_accounts_are_not_counted(
        self, history: History
    ) -> None:
        person = history.person(0)
        history.pay_in(person, 600_000 * YUAN, "interest")
        second = history.platform.accounts.open_account(
            history.session, customer_id=person.customer_id, account_class=2
        )
        history.between(person, second, 600_000 * YUAN)
        history.run()
        assert summary(history) == []


class TestRerun:
    def test_a_day_run_again_reports_nothing_new(self, history: History) -> None:
        person = history.person(0)
        history.pay_in(person, 500_000 * YUAN)
        assert history.run().reports == 1
        again = history.run()
        assert again.reports == 0
        assert len(history.reports()) == 1
        runs = history.session.execute(text("SELECT day, reports FROM risk_aml_run")).all()
        assert [(d, n) for d, n in runs] == [(history.today(), 1)]


class TestForeignCurrency:
    @pytest.mark.parametrize(
        ("currency", "amount", "reported"),
        [
            ("USD", 100_000_00, True),
            ("USD", 100_000_00 - 1, False),
            ("HKD", 781_250_00, True),  # at 0.128: USD 100,000.00
            ("HKD", 781_242_00, False),  # USD 99,998.98
        ],
    )
    def test_a_person_s_foreign_currency_at_the_usd_equivalent(
        self, history: History, currency: str, amount: int, reported: bool
    ) -> None:
        person = history.person(0)
        deposit = foreign_account(history, person, currency)
        entry = send_foreign(history, clearing(history, currency), deposit, amount, currency)
        history.run()
        expected = [("natural_domestic_transfer", "in", "FX", 100_000_00)] if reported else []
        assert summary(history) == expected
        if reported:
            assert history.reports()[0]["entry_ids"] == [entry]
            assert "USD 100,000.00 equivalent" in str(history.reports()[0]["explanation_en"])


class TestDailyJob:
    def test_the_job_runs_yesterday_once_then_the_next_day(
        self, history: History, platform: Platform, clock: FrozenClock
    ) -> None:
        person = history.person(0)
        history.pay_in(person, 500_000 * YUAN)
        batch = AmlBatch(load_config(), clock)
        before = batch.run_due(platform.transaction)  # yesterday: nothing happened
        assert before is not None
        assert (before.last, before.movements, before.reports) == (
            history.today() - timedelta(days=1),
            0,
            0,
        )
        history.later(days=1)
        done = batch.run_due(platform.transaction)
        assert done is not None
        assert (done.first, done.last, done.reports) == (
            history.today() - timedelta(days=1),
            history.today() - timedelta(days=1),
            1,
        )
        assert batch.run_due(platform.transaction) is None
        history.later(days=3)
        again = batch.run_due(platform.transaction)
        assert again is not None
        assert (again.first, again.last) == (
            history.today() - timedelta(days=3),
            history.today() - timedelta(days=1),
        )


class TestSummedAsTheRuleCounts:
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        moves=st.lists(
            st.tuples(
                st.integers(0, 2),  # the day
                st.sampled_from(["in", "out"]),
                st.integers(1, 400_000 * YUAN),
            ),
            min_size=1,
            max_size=6,
        )
    )
    def test_a_report_for_each_day_and_direction_whose_sum_reaches_the_threshold(
        self, history: History, moves: list[tuple[int, str, int]]
    ) -> None:
        person = history.person(0)
        history.later(days=3)  # a fresh three days for each example
        first = history.today()
        history.pay_in(person, 3_000_000 * YUAN, "interest")  # not counted
        expected: dict[tuple[int, str], list[int]] = {}
        totals: dict[tuple[int, str], int] = {}
        for day, direction, amount in sorted(moves, key=lambda m: m[0]):
            when = first + timedelta(days=day)
            history.later(seconds=(when - history.today()).days * 86_400 + 60)
            entry = (history.pay_in if direction == "in" else history.pay_out)(person, amount)
            expected.setdefault((day, direction), []).append(entry)
            totals[(day, direction)] = totals.get((day, direction), 0) + amount
        history.run(first, first + timedelta(days=2))
        got = {
            ((r["day"] - first).days, r["direction"]): (r["entry_ids"], r["total"])  # type: ignore[operator]
            for r in history.reports()
            if r["customer_id"] == person.customer_id
        }
        assert got == {
            key: (expected[key], total) for key, total in totals.items() if total >= 500_000 * YUAN
        }
