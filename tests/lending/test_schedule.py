"""Repayment schedules and the APR: known cases and properties."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rongbank.lending.schedule import (
    Fees,
    RepaymentMethod,
    add_months,
    apr_bps,
    build_schedule,
    schedule_totals,
)

START = date(2026, 1, 15)
AMORTISING = [m for m in RepaymentMethod if m is not RepaymentMethod.BULLET]

principals = st.integers(min_value=100, max_value=500_000_000)
# From 1,000 yuan the fen rounding of interest moves the APR by well under a basis point.
loan_sized = st.integers(min_value=100_000, max_value=500_000_000)
rates = st.integers(min_value=0, max_value=3600)
terms = st.integers(min_value=1, max_value=60)
starts = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
fees = st.builds(
    Fees,
    upfront_bps=st.integers(min_value=0, max_value=500),
    monthly_bps=st.integers(min_value=0, max_value=150),
)


class TestKnownCases:
    def test_twelve_instalments_with_a_monthly_flat_fee_of_0_6_percent_is_13_03_percent(self):
        # The case regulators and the press quote: "0.6% a month" looks like 7.2% a
        # year, but on a principal that falls month by month it costs about 13%.
        schedule = build_schedule(
            1_000_000,
            0,
            12,
            RepaymentMethod.EQUAL_PRINCIPAL,
            start=START,
            fees=Fees(monthly_bps=60),
        )
        assert [i.fee for i in schedule] == [6000] * 12
        assert apr_bps(1_000_000, schedule, start=START) == 1303

    def test_equal_instalment_of_12_percent_over_a_year(self):
        schedule = build_schedule(
            1_000_000, 1200, 12, RepaymentMethod.EQUAL_INSTALMENT, start=START
        )
        # 10,000 yuan at 1% a month: the textbook payment is 888.49 yuan.
        assert {i.principal + i.interest for i in schedule[:-1]} == {88849}
        assert schedule[0].interest == 10000
        assert schedule[-1].principal + schedule[-1].interest == 88847
        assert apr_bps(1_000_000, schedule, start=START) == 1200

    def test_equal_principal_interest_falls_each_month(self):
        schedule = build_schedule(1_200_000, 1200, 12, RepaymentMethod.EQUAL_PRINCIPAL, start=START)
        assert [i.principal for i in schedule] == [100_000] * 12
        assert [i.interest for i in schedule] == [12_000 - 1000 * k for k in range(12)]

    def test_interest_first_repays_the_principal_at_the_end(self):
        schedule = build_schedule(1_000_000, 600, 6, RepaymentMethod.INTEREST_FIRST, start=START)
        assert [i.principal for i in schedule] == [0] * 5 + [1_000_000]
        assert {i.interest for i in schedule} == {5000}

    def test_bullet_pays_everything_once_at_the_end_of_the_term(self):
        (only,) = build_schedule(1_000_000, 1200, 6, RepaymentMethod.BULLET, start=START)
        assert (only.due_date, only.principal, only.interest) == (
            date(2026, 7, 15),
            1_000_000,
            60_000,
        )

    def test_bullet_longer_than_a_year_is_refused(self):
        with pytest.raises(ValueError, match="12 months"):
            build_schedule(1_000_000, 1200, 13, RepaymentMethod.BULLET, start=START)

    def test_upfront_fee_raises_the_apr(self):
        schedule = build_schedule(
            1_000_000, 1200, 12, RepaymentMethod.EQUAL_INSTALMENT, start=START
        )
        upfront = Fees(upfront_bps=100).upfront(1_000_000)
        assert upfront == 10_000
        assert apr_bps(1_000_000, schedule, upfront_fee_fen=upfront, start=START) == 1391

    def test_last_instalment_absorbs_the_rounding(self):
        schedule = build_schedule(100_000, 0, 3, RepaymentMethod.EQUAL_PRINCIPAL, start=START)
        assert [i.principal for i in schedule] == [33_333, 33_333, 33_334]


class TestDueDates:
    @pytest.mark.parametrize(
        ("anchor", "months", "expected"),
        [
            (date(2026, 1, 31), 1, date(2026, 2, 28)),
            (date(2026, 1, 31), 2, date(2026, 3, 31)),
            (date(2028, 1, 30), 1, date(2028, 2, 29)),
            (date(2026, 2, 28), 1, date(2026, 3, 31)),  # a month-end anchor stays at month end
            (date(2026, 4, 30), 1, date(2026, 5, 31)),
            (date(2026, 1, 15), 12, date(2027, 1, 15)),
            (date(2026, 3, 31), -1, date(2026, 2, 28)),
        ],
    )
    def test_month_end_rule(self, anchor: date, months: int, expected: date):
        assert add_months(anchor, months) == expected

    def test_dates_come_from_the_anchor_not_from_each_other(self):
        schedule = build_schedule(
            300_000, 1000, 3, RepaymentMethod.EQUAL_PRINCIPAL, start=date(2026, 1, 31)
        )
        assert [i.due_date for i in schedule] == [
            date(2026, 2, 28),
            date(2026, 3, 31),
            date(2026, 4, 30),
        ]

    def test_a_chosen_first_due_date_anchors_the_rest(self):
        schedule = build_schedule(
            300_000,
            1000,
            3,
            RepaymentMethod.EQUAL_INSTALMENT,
            start=START,
            first_due=date(2026, 2, 28),
        )
        assert [i.due_date for i in schedule] == [
            date(2026, 2, 28),
            date(2026, 3, 31),
            date(2026, 4, 30),
        ]


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(principals, rates, terms, st.sampled_from(list(RepaymentMethod)), starts, fees)
    def test_principal_sums_to_the_loan_and_nothing_is_negative(
        self, principal, rate, term, method, start, loan_fees
    ):
        if method is RepaymentMethod.BULLET:
            term = min(term, 12)
        schedule = build_schedule(principal, rate, term, method, start=start, fees=loan_fees)
        total_principal, _, _ = schedule_totals(schedule)
        assert total_principal == principal
        assert all(i.principal >= 0 and i.interest >= 0 and i.fee >= 0 for i in schedule)
        assert [i.number for i in schedule] == list(range(1, len(schedule) + 1))
        dates = [i.due_date for i in schedule]
        assert dates == sorted(dates)
        assert len(set(dates)) == len(dates)
        assert dates[0] > start

    @settings(max_examples=200, deadline=None)
    @given(loan_sized, rates, terms, st.sampled_from(AMORTISING), fees)
    def test_apr_is_at_least_the_nominal_rate_when_there_are_fees(
        self, principal, rate, term, method, loan_fees
    ):
        if loan_fees.upfront_bps == 0 and loan_fees.monthly_bps == 0:
            loan_fees = Fees(monthly_bps=1)
        schedule = build_schedule(principal, rate, term, method, start=START, fees=loan_fees)
        apr = apr_bps(
            principal, schedule, upfront_fee_fen=loan_fees.upfront(principal), start=START
        )
        assert apr >= rate

    @settings(max_examples=200, deadline=None)
    @given(loan_sized, rates, terms, st.sampled_from(AMORTISING))
    def test_apr_of_a_fee_free_amortising_loan_is_its_nominal_rate(
        self, principal, rate, term, method
    ):
        schedule = build_schedule(principal, rate, term, method, start=START)
        assert abs(apr_bps(principal, schedule, start=START) - rate) <= 1

    @settings(max_examples=100, deadline=None)
    @given(
        principals,
        rates,
        st.integers(min_value=1, max_value=12),
        st.sampled_from(list(RepaymentMethod)),
        fees,
    )
    def test_fees_always_cost_more(self, principal, rate, term, method, loan_fees):
        assume(loan_fees.upfront(principal) > 0 or loan_fees.monthly_bps > 0)
        plain = build_schedule(principal, rate, term, method, start=START)
        with_fees = build_schedule(principal, rate, term, method, start=START, fees=loan_fees)
        assert apr_bps(
            principal, with_fees, upfront_fee_fen=loan_fees.upfront(principal), start=START
        ) >= apr_bps(principal, plain, start=START)
