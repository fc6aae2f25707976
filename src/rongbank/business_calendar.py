"""The bank's business days: Monday to Friday, less the public holidays listed in a
TOML file (``holidays.toml``, shipped with the State Council's notice for each year
it covers; the ``holidays_file`` setting replaces it). A bank keeps such a calendar
of its own rather than computing holidays: the State Council sets them anew every
year, bridging days included.

The weekend days that a notice makes working days (调休上班) are not business days
here: what this calendar serves, wealth products' dealing days, follows the
exchanges, which close every weekend. A year the file does not cover counts
weekends only, and the log says so once, so that an operator adds the year.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from importlib.resources import files
from pathlib import Path

logger = logging.getLogger(__name__)

SATURDAY = 5


class BusinessCalendar:
    def __init__(self, closed: Iterable[date], *, covers: Iterable[int]) -> None:
        self.closed = frozenset(closed)
        """Weekdays and weekend days alike on which the bank does no business."""
        self.covers = frozenset(covers)
        """Years whose holidays are all listed."""
        self._warned: set[int] = set()

    def is_business_day(self, day: date) -> bool:
        if day.year not in self.covers and day.year not in self._warned:
            self._warned.add(day.year)
            logger.warning(
                "no holidays configured for %d: counting weekends only (add the year's "
                "State Council notice to the holidays file)",
                day.year,
            )
        return day.weekday() < SATURDAY and day not in self.closed

    def next_business_day(self, day: date) -> date:
        """The first business day after ``day``."""
        following = day + timedelta(days=1)
        while not self.is_business_day(following):
            following += timedelta(days=1)
        return following


def load_business_calendar(path: Path | None = None) -> BusinessCalendar:
    """The calendar of ``path``, or of the ``holidays.toml`` shipped."""
    source = (
        path.read_text() if path is not None else (files("rongbank") / "holidays.toml").read_text()
    )
    raw = tomllib.loads(source)
    covers = raw.get("covers", [])
    if not all(isinstance(year, int) for year in covers):
        raise ValueError("covers must list years, such as [2026]")
    closed: set[date] = set()
    for entry in raw.get("closed", []):
        first, last = _toml_date(entry.get("first")), _toml_date(entry.get("last"))
        if last < first or first.year not in covers or last.year not in covers:
            raise ValueError(f"closed {first} to {last}: out of order, or a year not covered")
        closed.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return BusinessCalendar(closed, covers=covers)


def _toml_date(value: object) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError("each closed range has a first and a last TOML date, such as 2026-10-01")
    return value
