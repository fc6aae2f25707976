"""The bank's business days: weekends and the public holidays of the file shipped
(the State Council's notice for 2026), or of one the operator gives."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import holidays
import pytest

from rongbank.business_calendar import load_business_calendar

SHIPPED = load_business_calendar()


def weekdays_off(year: int, closed: set[date]) -> set[date]:
    return {d for d in closed if d.year == year and d.weekday() < 5}


def test_the_shipped_2026_days_off_agree_with_an_independent_source() -> None:
    """python-holidays, kept by others from the same notice: the weekdays the bank is
    closed are exactly those the State Council gave off (holidays and bridging days)."""
    assert 2026 in SHIPPED.covers
    independent = set(holidays.China(years=2026))
    assert weekdays_off(2026, set(SHIPPED.closed)) == weekdays_off(2026, independent)
    assert len(weekdays_off(2026, set(SHIPPED.closed))) == 19


@pytest.mark.parametrize(
    ("day", "next_one"),
    [
        (date(2026, 3, 6), date(2026, 3, 9)),  # Friday -> Monday
        (date(2026, 2, 13), date(2026, 2, 24)),  # before the Spring Festival
        (date(2026, 9, 30), date(2026, 10, 8)),  # before National Day
        (date(2026, 1, 3), date(2026, 1, 5)),  # Sunday 4 January is worked, not traded
        (date(2026, 9, 19), date(2026, 9, 21)),  # so is Sunday 20 September
    ],
)
def test_the_next_business_day(day: date, next_one: date) -> None:
    assert SHIPPED.next_business_day(day) == next_one
    assert SHIPPED.is_business_day(next_one)


def test_a_year_not_covered_counts_weekends_only_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = load_business_calendar()
    with caplog.at_level(logging.WARNING, logger="rongbank.business_calendar"):
        assert calendar.is_business_day(date(2027, 1, 1))  # a Friday; its holiday not known
        assert not calendar.is_business_day(date(2027, 1, 2))
    assert [r.getMessage()[:33] for r in caplog.records] == ["no holidays configured for 2027: "]


def test_an_operator_gives_a_calendar_of_their_own(tmp_path: Path) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text(
        'covers = [2027]\n[[closed]]\nname = "x"\nfirst = 2027-01-01\nlast = 2027-01-01\n'
    )
    calendar = load_business_calendar(path)
    assert not calendar.is_business_day(date(2027, 1, 1))
    assert calendar.next_business_day(date(2026, 12, 31)) == date(2027, 1, 4)


@pytest.mark.parametrize(
    "closed",
    [
        "first = 2026-10-07\nlast = 2026-10-01",  # backwards
        "first = 2025-10-01\nlast = 2025-10-07",  # a year not covered
        'first = "2026-10-01"\nlast = 2026-10-07',  # a string, not a date
        "first = 2026-10-01T00:00:00\nlast = 2026-10-07",  # a time, not a date
    ],
)
def test_a_wrong_file_is_refused(tmp_path: Path, closed: str) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text(f"covers = [2026]\n[[closed]]\n{closed}\n")
    with pytest.raises(ValueError, match=r"closed|first"):
        load_business_calendar(path)
