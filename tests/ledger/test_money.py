"""Amounts at the edge: decimal strings in, integer minor units inside, strings out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.money import (
    MAX_AMOUNT_MINOR,
    AmountNotPositive,
    AmountOutOfRange,
    AmountPrecisionExceeded,
    InvalidAmount,
    format_amount,
    parse_amount,
    parse_positive_amount,
)

scales = st.integers(min_value=0, max_value=8)
amounts = st.integers(min_value=0, max_value=MAX_AMOUNT_MINOR)


class TestParseAmount:
    @pytest.mark.parametrize(
        ("text", "minor"),
        [("12", 1200), ("12.3", 1230), ("12.30", 1230), ("0.01", 1), ("0", 0), ("12.300", 1230)],
    )
    def test_reads_yuan_as_fen(self, text: str, minor: int) -> None:
        assert parse_amount(text, scale=2, currency="CNY") == minor

    def test_yen_has_no_minor_unit(self) -> None:
        assert parse_amount("1500", scale=0, currency="JPY") == 1500

    def test_yen_refuses_decimals(self) -> None:
        with pytest.raises(AmountPrecisionExceeded) as raised:
            parse_amount("1500.5", scale=0, currency="JPY")
        assert raised.value.code == "amount_precision_exceeded"

    def test_yen_accepts_zero_decimals(self) -> None:
        assert parse_amount("1500.00", scale=0, currency="JPY") == 1500

    def test_refuses_more_decimals_than_the_currency_has(self) -> None:
        with pytest.raises(AmountPrecisionExceeded) as raised:
            parse_amount("12.301", scale=2, currency="CNY")
        assert raised.value.code == "amount_precision_exceeded"
        assert raised.value.details["scale"] == 2

    @pytest.mark.parametrize(
        "text",
        [
            "-1",
            "+1",
            "1e3",
            " 1",
            "1 ",
            "1,000",
            "",
            ".5",
            "5.",
            "01",
            "1.2.3",
            "１",
            "NaN",
            "0x10",
        ],
    )
    def test_refuses_what_is_not_a_plain_decimal(self, text: str) -> None:
        with pytest.raises(InvalidAmount) as raised:
            parse_amount(text, scale=2, currency="CNY")
        assert raised.value.code == "invalid_amount"

    def test_refuses_a_non_string(self) -> None:
        with pytest.raises(InvalidAmount):
            parse_amount(12, scale=2)  # type: ignore[arg-type]

    def test_accepts_the_largest_amount(self) -> None:
        text = format_amount(MAX_AMOUNT_MINOR, scale=2)
        assert parse_amount(text, scale=2) == MAX_AMOUNT_MINOR

    @pytest.mark.parametrize("text", ["10000000000000.01", "9999999999999999999"])
    def test_refuses_a_huge_amount(self, text: str) -> None:
        with pytest.raises(AmountOutOfRange) as raised:
            parse_amount(text, scale=2, currency="CNY")
        assert raised.value.code == "amount_out_of_range"

    def test_refuses_an_integer_part_too_long_to_be_an_amount(self) -> None:
        with pytest.raises(InvalidAmount):
            parse_amount("1" * 40, scale=2)


class TestParsePositiveAmount:
    def test_refuses_zero(self) -> None:
        with pytest.raises(AmountNotPositive) as raised:
            parse_positive_amount("0", scale=2, currency="CNY")
        assert raised.value.code == "amount_not_positive"

    def test_refuses_zero_with_decimals(self) -> None:
        with pytest.raises(AmountNotPositive):
            parse_positive_amount("0.00", scale=2, currency="CNY")

    def test_accepts_one_fen(self) -> None:
        assert parse_positive_amount("0.01", scale=2, currency="CNY") == 1


class TestFormatAmount:
    @pytest.mark.parametrize(
        ("minor", "scale", "text"),
        [(1230, 2, "12.30"), (5, 2, "0.05"), (-5, 2, "-0.05"), (1500, 0, "1500"), (1, 3, "0.001")],
    )
    def test_renders_exactly_scale_decimals(self, minor: int, scale: int, text: str) -> None:
        assert format_amount(minor, scale=scale) == text

    @given(minor=amounts, scale=scales)
    def test_round_trips_through_parse(self, minor: int, scale: int) -> None:
        assert parse_amount(format_amount(minor, scale=scale), scale=scale) == minor

    @given(minor=amounts, scale=scales, extra_zeros=st.integers(min_value=0, max_value=3))
    def test_trailing_zeros_do_not_change_the_amount(
        self, minor: int, scale: int, extra_zeros: int
    ) -> None:
        text = format_amount(minor, scale=scale)
        if extra_zeros:
            text += ("" if "." in text else ".") + "0" * extra_zeros
        assert parse_amount(text, scale=scale) == minor

    @given(
        units=st.integers(min_value=0, max_value=10**6),
        frac=st.integers(min_value=1, max_value=9),
        scale=scales,
    )
    def test_parse_never_rounds(self, units: int, frac: int, scale: int) -> None:
        # One more significant decimal than the currency has is always refused.
        text = f"{units}." + "0" * scale + str(frac)
        with pytest.raises(AmountPrecisionExceeded):
            parse_amount(text, scale=scale)
