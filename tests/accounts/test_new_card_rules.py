"""The arithmetic of a payout card's first days (``NewCardLimit``): pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.accounts.errors import NewCardLimitExceeded
from rongbank.accounts.rules import NewCardLimit
from rongbank.money import format_amount

NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
THREE_DAYS = NewCardLimit(period=timedelta(days=3), daily=100_000)


@pytest.mark.parametrize(
    ("bound_ago", "new"),
    [
        (timedelta(0), True),
        (timedelta(days=3) - timedelta(microseconds=1), True),
        (timedelta(days=3), False),  # exactly the period: its full limits apply
        (timedelta(days=30), False),
        (-timedelta(seconds=1), True),  # bound "after now" on a clock that stepped back
    ],
)
def test_a_card_is_new_for_exactly_its_period(bound_ago: timedelta, new: bool) -> None:
    assert THREE_DAYS.is_new(NOW - bound_ago, NOW) is new


def test_a_period_of_zero_makes_no_card_new() -> None:
    assert not NewCardLimit(period=timedelta(0), daily=0).is_new(NOW, NOW)


@pytest.mark.parametrize(
    ("used", "amount", "allowed", "remaining"),
    [
        (0, 100_000, True, None),
        (0, 100_001, False, "1000.00"),
        (99_999, 1, True, None),
        (99_999, 2, False, "0.01"),
        (100_000, 1, False, "0.00"),
        (150_000, 1, False, "0.00"),  # over already (the limit lowered since): nothing left
    ],
)
def test_the_daily_figure_counts_what_went_today(
    used: int, amount: int, allowed: bool, remaining: str | None
) -> None:
    if allowed:
        THREE_DAYS.check(used_today=used, amount=amount, full_from=NOW)
        return
    with pytest.raises(NewCardLimitExceeded) as refused:
        THREE_DAYS.check(used_today=used, amount=amount, full_from=NOW)
    assert refused.value.details["remaining"] == remaining
    assert refused.value.details["limit"] == "1000.00"
    assert refused.value.details["full_limits_from"] == NOW.isoformat()


@given(
    daily=st.integers(min_value=0, max_value=10**9),
    amounts=st.lists(st.integers(min_value=1, max_value=10**9), max_size=30),
)
def test_what_goes_out_in_a_day_never_passes_the_figure(daily: int, amounts: list[int]) -> None:
    """Withdrawals tried one after another: each goes exactly when it fits in what is
    left, and a refusal says what is left, to the fen."""
    limit = NewCardLimit(period=timedelta(days=3), daily=daily)
    used = 0
    for amount in amounts:
        if used + amount <= daily:
            limit.check(used_today=used, amount=amount, full_from=NOW)
            used += amount
        else:
            with pytest.raises(NewCardLimitExceeded) as refused:
                limit.check(used_today=used, amount=amount, full_from=NOW)
            assert refused.value.details["remaining"] == format_amount(daily - used, scale=2)
    assert used <= daily
