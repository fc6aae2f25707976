"""Account numbers and class limits, pure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.accounts.errors import BalanceCapExceeded, DailyLimitExceeded, YearlyLimitExceeded
from rongbank.accounts.rules import (
    Usage,
    account_number,
    check_inflow,
    check_outflow,
    inflow_room,
    load_class_limits,
    luhn_check_digit,
    luhn_valid,
)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("79927398713", True),  # the classic example of ISO/IEC 7812-1's Luhn check
        ("4111111111111111", True),  # test card numbers published by the card schemes
        ("5555555555554444", True),
        ("79927398710", False),
        ("4111111111111112", False),
    ],
)
def test_luhn_against_known_numbers(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_account_numbers_are_19_digits_and_catch_any_single_typo(sequence: int) -> None:
    number = account_number("628888", sequence)
    assert len(number) == 19
    assert luhn_valid(number)
    for position in range(19):
        for digit in "0123456789":
            if digit != number[position]:
                typo = number[:position] + digit + number[position + 1 :]
                assert not luhn_valid(typo)


def test_luhn_check_digit_of_the_classic_example() -> None:
    assert luhn_check_digit("7992739871") == "3"


def test_limits_are_loaded_from_configuration() -> None:
    limits = load_class_limits()
    assert limits[2].daily_outflow == 10_000_00
    assert limits[2].yearly_outflow == 200_000_00
    assert limits[3].balance_cap == 2_000_00
    assert limits[3].yearly_outflow == 50_000_00
    assert limits[1].daily_outflow is None


@given(st.integers(0, 20_000_00), st.integers(1, 20_000_00))
def test_outflow_is_refused_exactly_past_the_daily_limit(used: int, amount: int) -> None:
    limits = load_class_limits()[2]
    if used + amount <= 10_000_00:
        check_outflow(limits, Usage(day=used, year=used), amount)
    else:
        with pytest.raises(DailyLimitExceeded):
            check_outflow(limits, Usage(day=used, year=used), amount)


def test_yearly_limit_counts_the_whole_year() -> None:
    limits = load_class_limits()[3]
    with pytest.raises(YearlyLimitExceeded):
        check_outflow(limits, Usage(day=0, year=49_999_00), 2_00)


def test_balance_cap_applies_to_money_in() -> None:
    limits = load_class_limits()[3]
    check_inflow(limits, Usage(), 100_00, balance_after=2_000_00)
    with pytest.raises(BalanceCapExceeded):
        check_inflow(limits, Usage(), 100_00, balance_after=2_000_01)


@given(
    st.sampled_from([1, 2, 3]),
    st.integers(0, 1_200_000),
    st.integers(0, 6_000_000),
    st.integers(0, 300_000),
)
def test_the_inflow_room_is_exactly_what_check_inflow_lets_in(
    account_class: int, day: int, year: int, balance: int
) -> None:
    """What an e-Pay settlement may pay into an account today, and what a transfer in
    may bring, are one rule."""
    limits = load_class_limits()[account_class]
    used = Usage(day=day, year=max(year, day))
    room = inflow_room(limits, used, balance)
    if room is None:
        check_inflow(limits, used, 10**12, balance + 10**12)
        return
    if room:  # nothing at all may come in once a limit is reached or passed
        check_inflow(limits, used, room, balance + room)
    with pytest.raises((DailyLimitExceeded, YearlyLimitExceeded, BalanceCapExceeded)):
        check_inflow(limits, used, room + 1, balance + room + 1)
