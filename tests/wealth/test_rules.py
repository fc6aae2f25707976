"""Pure rules of wealth products."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.business_calendar import BusinessCalendar, load_business_calendar
from rongbank.money import format_amount
from rongbank.wealth import rules
from rongbank.wealth.errors import (
    AmountBelowMinimum,
    AmountNotInSteps,
    AssessmentAnswersInvalid,
    AssessmentRequired,
    NotRedeemable,
    ProductInvalid,
    ProductNotOnSale,
    RedemptionExceedsHolding,
    RiskLevelExceeded,
)
from tests.wealth.helpers import ANSWERS

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
CALENDAR = load_business_calendar()
CUTOFF = rules.DEFAULT_CUTOFF


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


class TestYield:
    def test_act_365_rounded_down_to_the_fen(self) -> None:
        # 100,000.00 at 2.85% for 90 days: 702.739... -> 702.73
        assert rules.yield_for(10_000_000, 285, 90) == 70_273
        # a leap year still divides by 365: a full 366 days earn a day more than the rate
        assert rules.yield_for(10_000_000, 300, 366) == 300_821

    def test_nothing_is_earned_on_the_value_date_itself(self) -> None:
        day = datetime(2026, 3, 10, tzinfo=UTC).date()
        assert rules.days_held(day, day) == 0
        assert rules.days_held(day, day - timedelta(days=3)) == 0
        assert rules.days_held(day, day + timedelta(days=91)) == 91

    @given(
        principal=st.integers(min_value=0, max_value=10**13),
        bps=st.integers(min_value=0, max_value=10_000),
        days=st.integers(min_value=0, max_value=3650),
    )
    def test_never_more_than_the_exact_yield_and_less_by_under_a_fen(
        self, principal: int, bps: int, days: int
    ) -> None:
        earned = rules.yield_for(principal, bps, days)
        exact = Fraction(principal * bps * days, 10_000 * 365)
        assert isinstance(earned, int)
        assert earned <= exact < earned + 1

    @given(
        parts=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=10),
        bps=st.integers(min_value=0, max_value=10_000),
        days=st.integers(min_value=0, max_value=3650),
    )
    def test_redeeming_in_parts_never_pays_more_than_at_once(
        self, parts: list[int], bps: int, days: int
    ) -> None:
        assert sum(rules.yield_for(p, bps, days) for p in parts) <= rules.yield_for(
            sum(parts), bps, days
        )

    @given(
        holdings=st.lists(
            st.tuples(
                st.integers(min_value=1, max_value=10**10), st.integers(min_value=0, max_value=400)
            ),
            min_size=1,
            max_size=200,
        ),
        bps=st.integers(min_value=0, max_value=10_000),
    )
    def test_across_many_holdings_rounding_loses_under_a_fen_each_and_creates_none(
        self, holdings: list[tuple[int, int]], bps: int
    ) -> None:
        """The stated rule is one rounding down per payout: over many holdings the
        bank pays no more than the exact yield, and less by under one fen a payout."""
        paid = sum(rules.yield_for(principal, bps, days) for principal, days in holdings)
        exact = sum(Fraction(p * bps * d, 10_000 * 365) for p, d in holdings)
        assert paid <= exact < paid + len(holdings)
        assert exact - paid == sum(
            Fraction(p * bps * d % (10_000 * 365), 10_000 * 365) for p, d in holdings
        )

    @given(
        principal=st.integers(min_value=0, max_value=10**12),
        bps=st.integers(min_value=0, max_value=10_000),
        days=st.integers(min_value=0, max_value=3650),
        more=st.integers(min_value=0, max_value=365),
    )
    def test_more_days_never_earn_less(
        self, principal: int, bps: int, days: int, more: int
    ) -> None:
        assert rules.yield_for(principal, bps, days + more) >= rules.yield_for(principal, bps, days)

    def test_fixed_term_products_earn_from_the_close_of_sale(self) -> None:
        fixed = replace(TERMS, maturity_date=date(2026, 6, 8))
        assert rules.value_date(fixed, DURING, cutoff=CUTOFF, calendar=CALENDAR) == date(
            2026, 3, 10
        )
        # open-ended: from the day bought, a Beijing date (17:00 UTC is 01:00 there)
        bought = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
        assert rules.value_date(TERMS, bought, cutoff=CUTOFF, calendar=CALENDAR) == date(2026, 3, 3)


def beijing(*args: int) -> datetime:
    return datetime(*args, tzinfo=rules.BUSINESS_TIME_ZONE)


def midnight(day: date) -> datetime:
    """The start of a Beijing day."""
    return datetime.combine(day, time(), rules.BUSINESS_TIME_ZONE)


class TestDealingDays:
    """Orders of open-ended products count for a business day (T) under the cut-off
    (15:00 Beijing time unless the product says otherwise)."""

    @pytest.mark.parametrize(
        ("at", "day"),
        [
            (beijing(2026, 3, 2, 9, 30), date(2026, 3, 2)),  # Monday morning: that day
            (beijing(2026, 3, 2, 14, 59, 59), date(2026, 3, 2)),
            (beijing(2026, 3, 2, 15, 0), date(2026, 3, 3)),  # at the cut-off: the next day
            (beijing(2026, 3, 2, 23, 59, 58), date(2026, 3, 3)),
            (beijing(2026, 3, 6, 16, 0), date(2026, 3, 9)),  # Friday after it: Monday
            (beijing(2026, 3, 7, 10, 0), date(2026, 3, 9)),  # Saturday: Monday
            (beijing(2026, 9, 30, 15, 30), date(2026, 10, 8)),  # before National Day
            (beijing(2026, 10, 3, 10, 0), date(2026, 10, 8)),  # in it
            (datetime(2026, 3, 2, 6, 59, tzinfo=UTC), date(2026, 3, 2)),  # 14:59 Beijing
        ],
    )
    def test_the_day_an_order_counts_for(self, at: datetime, day: date) -> None:
        assert rules.order_date(at, cutoff=CUTOFF, calendar=CALENDAR) == day

    def test_a_product_may_have_a_cutoff_of_its_own(self) -> None:
        early = replace(TERMS, cutoff=time(11, 30))
        rules.check_terms(early)
        noon = beijing(2026, 3, 2, 12, 0)
        assert rules.value_date(early, noon, cutoff=time(11, 30), calendar=CALENDAR) == date(
            2026, 3, 3
        )
        with pytest.raises(ProductInvalid):
            rules.check_terms(replace(TERMS, cutoff=time(11, 30, 15)))

    def test_two_seconds_across_midnight_earn_nothing(self) -> None:
        bought = beijing(2026, 3, 2, 23, 59, 59)
        asked = bought + timedelta(seconds=2)  # 00:00:01 on Tuesday, before the cut-off
        held_from = rules.value_date(TERMS, bought, cutoff=CUTOFF, calendar=CALENDAR)
        paid_on = rules.order_date(asked, cutoff=CUTOFF, calendar=CALENDAR)
        assert (held_from, paid_on) == (date(2026, 3, 3), date(2026, 3, 3))
        assert rules.days_held(held_from, paid_on) == 0

    def test_a_purchase_after_fridays_cutoff_earns_nothing_over_the_weekend(self) -> None:
        bought = beijing(2026, 3, 6, 15, 0, 1)
        held_from = rules.value_date(TERMS, bought, cutoff=CUTOFF, calendar=CALENDAR)
        assert held_from == date(2026, 3, 9)
        sunday = beijing(2026, 3, 8, 20, 0)  # redeemed before the value date: counts Monday
        paid_on = rules.order_date(sunday, cutoff=CUTOFF, calendar=CALENDAR)
        assert rules.days_held(held_from, paid_on) == 0
        # bought before Friday's cut-off, redeemed on Sunday: Friday, Saturday and
        # Sunday nights held, the money paid on Monday
        held_from = rules.value_date(
            TERMS, beijing(2026, 3, 6, 14, 0), cutoff=CUTOFF, calendar=CALENDAR
        )
        assert rules.days_held(held_from, paid_on) == 3

    @given(
        bought=st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20), timezones=st.just(UTC)
        ),
        held=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
        cutoff=st.times(min_value=time(0, 1), max_value=time(23, 59)).map(
            lambda t: t.replace(second=0, microsecond=0)
        ),
        days_off=st.sets(
            st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)), max_size=60
        ),
    )
    def test_a_day_earns_exactly_when_its_dealing_point_found_the_money_invested(
        self, bought: datetime, held: timedelta, cutoff: time, days_off: set[date]
    ) -> None:
        """Whatever the times, cut-off and holidays: a day earns yield if and only if
        the money was invested at that day's dealing point (its cut-off; for a weekend
        or holiday, the cut-off of the business day before), that is bought before it
        and the redemption asked at or after it; and the money stays in custody until
        every day it earns for has ended."""
        calendar = BusinessCalendar(set(CALENDAR.closed) | days_off, covers=[2026, 2027])

        def dealing_point(day: date) -> datetime:
            while not calendar.is_business_day(day):
                day -= timedelta(days=1)
            return datetime.combine(day, cutoff, rules.BUSINESS_TIME_ZONE)

        asked = bought + held
        held_from = rules.value_date(TERMS, bought, cutoff=cutoff, calendar=calendar)
        paid_on = rules.order_date(asked, cutoff=cutoff, calendar=calendar)
        paid_at = asked if paid_on == rules.beijing_date(asked) else midnight(paid_on)
        days = rules.days_held(held_from, paid_on)
        earning = {held_from + timedelta(days=n) for n in range(days)}
        first = rules.beijing_date(bought) - timedelta(days=1)
        for day in (first + timedelta(days=n) for n in range(held.days + 20)):
            assert (day in earning) == (bought < dealing_point(day) <= asked), day
        for day in earning:
            assert midnight(day + timedelta(days=1)) <= paid_at
        if asked < midnight(held_from):  # redeemed before the value date
            assert days == 0


class TestRedemption:
    @given(
        held=st.integers(min_value=1, max_value=10**10),
        asks=st.lists(st.integers(min_value=-5, max_value=10**10), max_size=12),
    )
    def test_redeemed_never_exceeds_held(self, held: int, asks: list[int]) -> None:
        """Whatever amounts are asked, in whatever order, what the rules let through
        adds up to at most what was bought, and each refusal says what is left."""
        redeemed = 0
        for amount in asks:
            refusal: Exception | None = None
            try:
                rules.check_redemption(TERMS, amount=amount, held=held, redeemed=redeemed)
            except (RedemptionExceedsHolding, NotRedeemable) as error:
                refusal = error
            if refusal is None:
                redeemed += amount
            elif isinstance(refusal, NotRedeemable):
                assert redeemed == held
            else:
                assert amount <= 0 or amount > held - redeemed
                assert isinstance(refusal, RedemptionExceedsHolding)
                assert refusal.details["left"] == format_amount(held - redeemed, scale=2)
            assert 0 <= redeemed <= held

    def test_a_fixed_term_product_is_not_redeemed_before_maturity(self) -> None:
        fixed = replace(TERMS, maturity_date=date(2026, 6, 8))
        with pytest.raises(NotRedeemable) as refused:
            rules.check_redemption(fixed, amount=1, held=100, redeemed=0)
        assert refused.value.details["reason"] == "fixed_term"

    def test_a_maturity_date_must_come_after_the_sale(self) -> None:
        with pytest.raises(ProductInvalid):
            rules.check_terms(replace(TERMS, maturity_date=date(2026, 3, 10)))
        rules.check_terms(replace(TERMS, maturity_date=date(2026, 3, 11)))


class TestAssessment:
    @pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
    def test_the_sample_answers_reach_their_level(self, level: int) -> None:
        assert rules.score_answers(ANSWERS[level]).level == level

    def test_who_cannot_bear_any_loss_is_c1_whatever_the_score(self) -> None:
        answers = ANSWERS[5] | {"loss": "a"}
        assert rules.score_answers(answers) == rules.Scored(score=60, level=1)

    @given(st.fixed_dictionaries({q.id: st.sampled_from("abcd") for q in rules.QUESTIONNAIRE}))
    def test_every_complete_answer_set_gets_a_level(self, answers: dict[str, str]) -> None:
        scored = rules.score_answers(answers)
        assert 0 <= scored.score <= 70
        assert scored.level in rules.CUSTOMER_LEVELS

    def test_an_unanswered_question_is_refused(self) -> None:
        answers = dict(ANSWERS[3])
        del answers["goal"]
        with pytest.raises(AssessmentAnswersInvalid) as refused:
            rules.score_answers(answers)
        assert refused.value.details == {"unanswered": ["goal"]}

    def test_an_unknown_option_is_refused(self) -> None:
        with pytest.raises(AssessmentAnswersInvalid):
            rules.score_answers(ANSWERS[3] | {"goal": "z"})

    def test_valid_for_twelve_calendar_months(self) -> None:
        assert rules.valid_until(datetime(2026, 3, 2, 1, 30, tzinfo=UTC)) == datetime(
            2027, 3, 2, 1, 30, tzinfo=UTC
        )
        assert rules.valid_until(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(
            2029, 2, 28, tzinfo=UTC
        )

    def test_a_customer_buys_up_to_their_level_and_not_above(self) -> None:
        until = DURING + timedelta(days=1)
        rules.check_suitable(3, customer_level=3, valid_until=until, now=DURING)
        rules.check_suitable(1, customer_level=3, valid_until=until, now=DURING)
        with pytest.raises(RiskLevelExceeded) as refused:
            rules.check_suitable(4, customer_level=3, valid_until=until, now=DURING)
        assert refused.value.details == {
            "product_level": "PR4 进取型",
            "customer_level": "C3 平衡型",
        }

    def test_no_assessment_or_an_expired_one_buys_nothing(self) -> None:
        with pytest.raises(AssessmentRequired) as never:
            rules.check_suitable(1, customer_level=None, valid_until=None, now=DURING)
        assert never.value.details == {"reason": "none"}
        with pytest.raises(AssessmentRequired) as expired:
            rules.check_suitable(1, customer_level=5, valid_until=DURING, now=DURING)
        assert expired.value.details["reason"] == "expired"
