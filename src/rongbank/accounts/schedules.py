"""When a scheduled transfer falls due: the pure rules (no I/O, no clock).

A schedule names how it repeats and the first day it may fall on (``start_on``):

- ``once``: on ``start_on`` only;
- ``weekly``: every ``weekday`` (ISO: 1 Monday ... 7 Sunday) from ``start_on`` on;
- ``monthly``: on ``day_of_month`` of every month from ``start_on`` on. A month too
  short for the day asked pays on its last day (the 31st asked: 30 April, 28 or 29
  February), and the month after is back on the day asked (31 May, 31 March): the
  day is always the one asked, never the one a short month moved it to.

``end_on``, when given, is the last day an occurrence may fall on. Days are calendar
dates in Beijing (``rongbank.clock.BUSINESS_TIME_ZONE``), and an occurrence is due
from the start of its day there. Weekends and holidays are not skipped: a transfer
between e-accounts settles on any day.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from rongbank.errors import InvalidRequest

MAX_LEAD_DAYS = 366
"""The first occurrence may be at most this far ahead (a year, leap years too)."""


class Frequency(StrEnum):
    ONCE = "once"
    """A one-off transfer on a later day."""
    WEEKLY = "weekly"
    """Every week on the same weekday."""
    MONTHLY = "monthly"
    """Every month on the same day (its last day in a month too short for it)."""


class ScheduleInvalid(InvalidRequest):
    code = "schedule_invalid"
    message = (
        "The schedule is not valid: a weekly transfer needs a weekday (1 Monday to 7 "
        "Sunday), a monthly one a day of the month (1 to 31), a one-off neither; the end "
        "may not come before the first day."
    )


class ScheduleDateInvalid(InvalidRequest):
    code = "schedule_date_invalid"
    message = (
        f"The first transfer must fall after today and at most {MAX_LEAD_DAYS} days "
        "ahead (Beijing time), and on or before the end date."
    )


@dataclass(frozen=True, slots=True)
class Schedule:
    frequency: Frequency
    start_on: date
    day_of_month: int | None = None
    weekday: int | None = None
    end_on: date | None = None

    def __post_init__(self) -> None:
        monthly = self.frequency is Frequency.MONTHLY
        weekly = self.frequency is Frequency.WEEKLY
        if (self.day_of_month is not None) != monthly or (self.weekday is not None) != weekly:
            raise ScheduleInvalid(frequency=self.frequency.value)
        if self.day_of_month is not None and not 1 <= self.day_of_month <= 31:
            raise ScheduleInvalid(day_of_month=self.day_of_month)
        if self.weekday is not None and not 1 <= self.weekday <= 7:
            raise ScheduleInvalid(weekday=self.weekday)
        if self.end_on is not None and self.end_on < self.start_on:
            raise ScheduleInvalid(end_on=self.end_on.isoformat())


def day_in_month(year: int, month: int, day_of_month: int) -> date:
    """``day_of_month`` of that month, or its last day when it has fewer days."""
    return date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))


def _month_after(day: date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def first_on_or_after(schedule: Schedule, day: date) -> date | None:
    """The schedule's first occurrence on or after ``day``; None when it has none."""
    earliest = max(day, schedule.start_on)
    found: date | None
    if schedule.frequency is Frequency.ONCE:
        found = schedule.start_on if schedule.start_on >= day else None
    elif schedule.frequency is Frequency.WEEKLY:
        assert schedule.weekday is not None
        found = earliest + timedelta(days=(schedule.weekday - earliest.isoweekday()) % 7)
    else:
        assert schedule.day_of_month is not None
        found = day_in_month(earliest.year, earliest.month, schedule.day_of_month)
        if found < earliest:
            found = day_in_month(*_month_after(earliest), schedule.day_of_month)
    if found is None or (schedule.end_on is not None and found > schedule.end_on):
        return None
    return found


def following(schedule: Schedule, occurrence: date) -> date | None:
    """The occurrence after ``occurrence``; None when there is no more."""
    return first_on_or_after(schedule, occurrence + timedelta(days=1))


def first_occurrence(schedule: Schedule, today: date) -> date:
    """The first day a new schedule pays: after ``today`` (a transfer for today is a
    transfer now) and within :data:`MAX_LEAD_DAYS`, or :class:`ScheduleDateInvalid`."""
    first = first_on_or_after(schedule, today + timedelta(days=1))
    if first is None or first > today + timedelta(days=MAX_LEAD_DAYS):
        raise ScheduleDateInvalid(start_on=schedule.start_on.isoformat())
    return first


def describe(schedule: Schedule, first: date) -> str:
    """The schedule in the words an SMS code confirms it with (``on 2026-04-30``,
    ``monthly on day 31 from 2026-04-30 until 2026-12-31``)."""
    if schedule.frequency is Frequency.ONCE:
        return f"on {first.isoformat()}"
    if schedule.frequency is Frequency.WEEKLY:
        assert schedule.weekday is not None
        when = f"every {calendar.day_name[schedule.weekday - 1]} from {first.isoformat()}"
    else:
        when = f"monthly on day {schedule.day_of_month} from {first.isoformat()}"
    return when + (f" until {schedule.end_on.isoformat()}" if schedule.end_on else "")
