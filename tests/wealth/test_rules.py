"""Pure rules of wealth products."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.wealth import rules
from rongbank.wealth.errors import (
    AmountBelowMinimum,
    AmountNotInSteps,
    ProductInvalid,
    ProductNotOnSale,
)

START = datetime(2026, 3, 1, tzinfo=UTC)
TERMS = rules.Terms(
    risk_level=2,
    yield_bps=285,
    min_amount=100_000,
    step_amount=10_000,
    sale_start=START,
    sale_end=START + timedelta(days=9),
)
DURING = START + timedelta(days=1)


class TestCheckPurchase:
    def test_the_minimum_and_whole_steps_above_it_are_accepted(self) -> None:
        rules.check_purchase(TERMS, 100_000, DURING)
        rules.check_purchase(TERMS, 150_000, DURING)

    def test_below_the_minimum_is_refused(self) -> None:
        with pytest.raises(AmountBelowMinimum) as refused:
            rules.check_purchase(TERMS, 99_999, DURING)
        assert refused.value.details == {"minimum": "1000.00"}

    def test_between_steps_is_refused(self) -> None:
        with pytest.raises(AmountNotInSteps):
            rules.check_purchase(TERMS, 105_000, DURING)

    @pytest.mark.parametrize("at", [START - timedelta(seconds=1), START + timedelta(days=9)])
    def test_outside_the_sale_window_is_refused(self, at: datetime) -> None:
        with pytest.raises(ProductNotOnSale):
            rules.check_purchase(TERMS, 100_000, at)

    @given(st.integers(min_value=0, max_value=10_000_000))
    def test_accepted_exactly_on_the_step_grid(self, amount: int) -> None:
        on_grid = amount >= TERMS.min_amount and (amount - TERMS.min_amount) % 10_000 == 0
        try:
            rules.check_purchase(TERMS, amount, DURING)
        except (AmountBelowMinimum, AmountNotInSteps):
            assert not on_grid
        else:
            assert on_grid


class TestTerms:
    def test_a_sale_window_must_end_after_it_starts(self) -> None:
        with pytest.raises(ProductInvalid):
            rules.check_terms(
                rules.Terms(
                    risk_level=1,
                    yield_bps=100,
                    min_amount=1,
                    step_amount=1,
                    sale_start=START,
                    sale_end=START,
                )
            )

    def test_risk_levels_are_pr1_to_pr5(self) -> None:
        with pytest.raises(ProductInvalid):
            rules.check_terms(
                rules.Terms(
                    risk_level=6,
                    yield_bps=100,
                    min_amount=1,
                    step_amount=1,
                    sale_start=START,
                    sale_end=START + timedelta(days=1),
                )
            )

    def test_yield_is_shown_in_percent(self) -> None:
        assert rules.format_yield(285) == "2.85%"
        assert rules.format_yield(1000) == "10.00%"
