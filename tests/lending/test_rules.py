"""Servicing rules: accrual, the split of a payment, early repayment's new schedule."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rongbank.lending.rules import Period, Split, accrued, allocate, days_past_due, prepay
from rongbank.lending.schedule import RepaymentMethod, build_schedule

START = date(2026, 1, 15)

splits = st.builds(
    Split,
    principal=st.integers(0, 10**7),
    interest=st.integers(0, 10**6),
    fee=st.integers(0, 10**5),
    penalty=st.integers(0, 10**5),
)


def periods_of(principal: int, rate: int, term: int, method: RepaymentMethod) -> list[Period]:
    schedule = build_schedule(principal, rate, term, method, start=START)
    starts = [START, *(i.due_date for i in schedule[:-1])]
    return [
        Period(i.number, s, i.due_date, i.principal, i.interest, i.fee)
        for i, s in zip(schedule, starts, strict=True)
    ]


class TestAccrued:
    def test_by_days_rounded_down(self):
        args = {"period_start": date(2026, 1, 1), "due_date": date(2026, 2, 1)}
        assert accrued(3100, on=date(2026, 1, 1), **args) == 0
        assert accrued(3100, on=date(2026, 1, 11), **args) == 1000
        assert accrued(1000, on=date(2026, 1, 2), **args) == 32  # 1000/31 = 32.26
        assert accrued(3100, on=date(2026, 2, 1), **args) == 3100
        assert accrued(3100, on=date(2026, 5, 1), **args) == 3100

    @given(st.integers(0, 10**7), st.integers(1, 62), st.integers(0, 70), st.integers(0, 70))
    def test_never_falls_and_never_passes_the_amount(self, amount, length, a, b):
        args = {"period_start": START, "due_date": START + timedelta(days=length)}
        early, late = sorted((a, b))
        first = accrued(amount, on=START + timedelta(days=early), **args)
        second = accrued(amount, on=START + timedelta(days=late), **args)
        assert 0 <= first <= second <= amount


class TestAllocate:
    def test_penalty_fee_interest_then_principal(self):
        owed = [(1, Split(principal=100, interest=10, fee=5, penalty=2))]
        assert allocate(owed, 12) == [(1, Split(principal=0, interest=5, fee=5, penalty=2))]

    def test_oldest_instalment_first(self):
        owed = [(1, Split(principal=100, interest=10)), (2, Split(principal=100, interest=10))]
        assert allocate(owed, 150) == [
            (1, Split(principal=100, interest=10)),
            (2, Split(interest=10, principal=30)),
        ]

    @given(st.lists(splits, max_size=6), st.integers(0, 10**8))
    def test_pays_exactly_what_it_can_and_never_more_than_owed(self, dues, amount):
        owed = list(enumerate(dues, start=1))
        parts = allocate(owed, amount)
        total = Split()
        for _, part in parts:
            total += part
        assert total.total == min(amount, sum(d.total for d in dues))
        due = dict(owed)
        for number, part in parts:
            owes = due[number]
            assert part.principal <= owes.principal
            assert part.interest <= owes.interest
            assert part.fee <= owes.fee
            assert part.penalty <= owes.penalty


class TestDaysPastDue:
    def test_counts_from_the_oldest_unsettled_due_date(self):
        periods = periods_of(300_000, 1200, 3, RepaymentMethod.EQUAL_PRINCIPAL)
        assert days_past_due(periods, periods[0].due_date) == 0
        assert days_past_due(periods, periods[0].due_date + timedelta(days=1)) == 1
        assert days_past_due(periods, periods[1].due_date + timedelta(days=1)) == 29  # February


class TestPrepay:
    @settings(max_examples=150, deadline=None)
    @given(
        st.integers(100_000, 10**8),
        st.integers(0, 2400),
        st.integers(2, 36),
        st.sampled_from([m for m in RepaymentMethod if m is not RepaymentMethod.BULLET]),
        st.integers(0, 27),
        st.data(),
    )
    def test_principal_is_kept_whole(self, principal, rate, term, method, days, data):
        periods = periods_of(principal, rate, term, method)
        day = START + timedelta(days=days)
        ahead = sum(p.principal for p in periods)
        early = data.draw(st.integers(1, ahead))
        plan = prepay(
            periods,
            day=day,
            principal=early,
            annual_rate_bps=rate,
            method=method,
            term_months=term,
            monthly_fee_bps=0,
        )
        assert plan.pays.principal == early
        assert plan.settled.principal == early
        assert sum(p.principal for p in plan.following) == ahead - early
        assert [p.due_date for p in plan.following] == (
            [p.due_date for p in periods] if plan.following else []
        )
        assert plan.settled.interest <= periods[0].interest
        assert all(p.interest >= 0 and p.principal >= 0 for p in plan.following)
