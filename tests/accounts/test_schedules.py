"""When scheduled transfers fall due: the pure rules, by example and by property."""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.accounts.schedules import (
    MAX_LEAD_DAYS,
    Frequency,
    Schedule,
    ScheduleDateInvalid,
    ScheduleInvalid,
    day_in_month,
    describe,
    first_occurrence,
    first_on_or_after,
    following,
)

days = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))


def occurrences(schedule: Schedule, *, since: date, count: int) -> Iterator[date]:
    found = first_on_or_after(schedule, since)
    while found is not None and count:
        yield found
        count -= 1
        found = following(schedule, found)


def monthly(day_of_month: int, start_on: date, end_on: date | None = None) -> Schedule:
    return Schedule(Frequency.MONTHLY, start_on, day_of_month=day_of_month, end_on=end_on)


class TestMonthEnd:
    def test_the_31st_is_the_last_day_of_a_shorter_month_and_the_31st_again_after(
        self,
    ) -> None:
        rent = monthly(31, date(2027, 1, 1))
        assert list(occurrences(rent, since=rent.start_on, count=5)) == [
            date(2027, 1, 31),
            date(2027, 2, 28),
            date(2027, 3, 31),
            date(2027, 4, 30),
            date(2027, 5, 31),
        ]

    def test_the_29th_in_february_of_a_leap_year_and_of_another(self) -> None:
        leap = monthly(29, date(2028, 1, 30))
        assert first_on_or_after(leap, leap.start_on) == date(2028, 2, 29)
        other = monthly(29, date(2027, 2, 1))
        assert list(occurrences(other, since=other.start_on, count=2)) == [
            date(2027, 2, 28),
            date(2027, 3, 29),
        ]

    def test_a_start_after_this_months_day_begins_next_month(self) -> None:
        assert first_on_or_after(monthly(5, date(2026, 3, 6)), date(2026, 3, 1)) == date(2026, 4, 5)


class TestWeeklyAndOnce:
    def test_weekly_is_the_first_weekday_from_the_start_then_every_seven_days(self) -> None:
        fridays = Schedule(Frequency.WEEKLY, date(2026, 3, 2), weekday=5)  # from a Monday
        assert list(occurrences(fridays, since=fridays.start_on, count=3)) == [
            date(2026, 3, 6),
            date(2026, 3, 13),
            date(2026, 3, 20),
        ]

    def test_once_falls_on_its_day_only(self) -> None:
        once = Schedule(Frequency.ONCE, date(2026, 4, 1))
        assert first_on_or_after(once, date(2026, 3, 2)) == date(2026, 4, 1)
        assert following(once, date(2026, 4, 1)) is None
        assert first_on_or_after(once, date(2026, 4, 2)) is None

    def test_nothing_falls_after_the_end(self) -> None:
        short = monthly(15, date(2026, 3, 1), end_on=date(2026, 5, 14))
        assert list(occurrences(short, since=short.start_on, count=10)) == [
            date(2026, 3, 15),
            date(2026, 4, 15),
        ]


class TestRefusals:
    @pytest.mark.parametrize(
        ("frequency", "day_of_month", "weekday"),
        [
            (Frequency.MONTHLY, None, None),
            (Frequency.MONTHLY, 32, None),
            (Frequency.MONTHLY, 0, None),
            (Frequency.WEEKLY, None, None),
            (Frequency.WEEKLY, None, 8),
            (Frequency.ONCE, 5, None),
            (Frequency.MONTHLY, 5, 1),
        ],
    )
    def test_a_schedule_must_say_exactly_what_its_frequency_needs(
        self, frequency: Frequency, day_of_month: int | None, weekday: int | None
    ) -> None:
        with pytest.raises(ScheduleInvalid):
            Schedule(frequency, date(2026, 4, 1), day_of_month, weekday)

    def test_the_end_may_not_come_before_the_start(self) -> None:
        with pytest.raises(ScheduleInvalid):
            monthly(1, date(2026, 4, 1), end_on=date(2026, 3, 31))

    def test_the_first_date_must_be_after_today_and_within_a_year(self) -> None:
        today = date(2026, 3, 2)
        with pytest.raises(ScheduleDateInvalid):
            first_occurrence(Schedule(Frequency.ONCE, today), today)
        with pytest.raises(ScheduleDateInvalid):
            first_occurrence(Schedule(Frequency.ONCE, today + timedelta(days=367)), today)
        # A monthly schedule whose day today is: next month's.
        assert first_occurrence(monthly(2, today), today) == date(2026, 4, 2)

    def test_describe_names_the_schedule_as_the_code_confirms_it(self) -> None:
        rent = monthly(31, date(2026, 4, 1), end_on=date(2026, 12, 31))
        assert describe(rent, date(2026, 4, 30)) == (
            "monthly on day 31 from 2026-04-30 until 2026-12-31"
        )
        fridays = Schedule(Frequency.WEEKLY, date(2026, 3, 2), weekday=5)
        assert describe(fridays, date(2026, 3, 6)) == "every Friday from 2026-03-06"


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    frequency = draw(st.sampled_from(Frequency))
    start = draw(days)
    end = draw(st.none() | st.integers(0, 800).map(lambda n: start + timedelta(days=n)))
    return Schedule(
        frequency,
        start,
        day_of_month=draw(st.integers(1, 31)) if frequency is Frequency.MONTHLY else None,
        weekday=draw(st.integers(1, 7)) if frequency is Frequency.WEEKLY else None,
        end_on=end,
    )


class TestProperties:
    @given(schedules(), days)
    def test_the_first_on_or_after_a_day_is_an_occurrence_and_none_is_skipped(
        self, schedule: Schedule, day: date
    ) -> None:
        found = first_on_or_after(schedule, day)
        if found is None:
            return
        assert found >= max(day, schedule.start_on)
        assert schedule.end_on is None or found <= schedule.end_on
        # No occurrence between the day asked and the one found: walking from the
        # schedule's own start lands on it.
        walked = first_on_or_after(schedule, schedule.start_on)
        while walked is not None and walked < found:
            assert walked < day
            walked = following(schedule, walked)
        assert walked == found

    @given(schedules())
    def test_occurrences_rise_strictly_and_stay_within_start_and_end(
        self, schedule: Schedule
    ) -> None:
        dates = list(occurrences(schedule, since=schedule.start_on, count=40))
        assert dates == sorted(set(dates))
        assert all(d >= schedule.start_on for d in dates)
        assert schedule.end_on is None or all(d <= schedule.end_on for d in dates)
        if schedule.frequency is Frequency.ONCE:
            assert dates == [schedule.start_on]

    @given(st.integers(1, 31), days, st.integers(1, 60))
    def test_monthly_pays_once_in_every_month_on_the_day_asked_or_the_months_last(
        self, day_of_month: int, start: date, count: int
    ) -> None:
        dates = list(occurrences(monthly(day_of_month, start), since=start, count=count))
        assert len(dates) == count
        months = [(d.year, d.month) for d in dates]
        for (y1, m1), (y2, m2) in itertools.pairwise(months):
            assert (y2, m2) == ((y1 + 1, 1) if m1 == 12 else (y1, m1 + 1))
        for d in dates:
            last = calendar.monthrange(d.year, d.month)[1]
            assert d.day == min(day_of_month, last)
            assert d == day_in_month(d.year, d.month, day_of_month)

    @given(st.integers(1, 7), days, st.integers(2, 30))
    def test_weekly_is_seven_days_apart_on_its_weekday(
        self, weekday: int, start: date, count: int
    ) -> None:
        schedule = Schedule(Frequency.WEEKLY, start, weekday=weekday)
        dates = list(occurrences(schedule, since=start, count=count))
        assert dates[0] - start < timedelta(days=7)
        assert all(d.isoweekday() == weekday for d in dates)
        assert all(b - a == timedelta(days=7) for a, b in itertools.pairwise(dates))

    @given(schedules(), days)
    def test_a_new_schedule_starts_after_today_and_within_the_lead_or_is_refused(
        self, schedule: Schedule, today: date
    ) -> None:
        try:
            first = first_occurrence(schedule, today)
        except ScheduleDateInvalid:
            found = first_on_or_after(schedule, today + timedelta(days=1))
            assert found is None or found > today + timedelta(days=MAX_LEAD_DAYS)
            return
        assert today < first <= today + timedelta(days=MAX_LEAD_DAYS)
        assert first == first_on_or_after(schedule, today + timedelta(days=1))
