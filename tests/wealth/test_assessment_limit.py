"""Retaking the risk-tolerance assessment: at most two a Beijing calendar day per
customer, so answers cannot be tried until a higher level comes out; the third is
refused (saying from when) and keeps nothing, and the next Beijing day allows again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.wealth import rules
from rongbank.wealth.errors import AssessmentAnswersInvalid, AssessmentTooFrequent
from rongbank.wealth.service import WealthService
from tests.factories.identity import resident_id
from tests.wealth.helpers import ANSWERS


@pytest.fixture
def customer_id(platform: Platform) -> int:
    with platform.transaction() as session:
        person, _ = platform.accounts.register_person(
            session, name="张三", mobile="13900000901", resident_id=resident_id(901)
        )
    return person.id


def assess(platform: Platform, customer_id: int, level: int) -> int:
    with platform.transaction() as session:
        return platform.wealth.assess(
            session, customer_id=customer_id, answers=ANSWERS[level]
        ).level


def levels(platform: Platform, customer_id: int) -> list[int]:
    with platform.transaction() as session:
        return [a.level for a in platform.wealth.assessments(session, customer_id)]


def test_a_third_assessment_the_same_day_is_refused_and_keeps_nothing(
    platform: Platform, customer_id: int
) -> None:
    assert assess(platform, customer_id, 2) == 2
    assert assess(platform, customer_id, 3) == 3
    with pytest.raises(AssessmentTooFrequent) as refused:
        assess(platform, customer_id, 5)
    assert refused.value.status == 429
    # the clock stands at 2026-03-02 09:30 in Beijing: the next day begins at midnight
    assert refused.value.details == {"limit": 2, "retry_at": "2026-03-03 00:00"}
    assert "2026-03-03 00:00" in refused.value.detail_message
    assert levels(platform, customer_id) == [3, 2]
    with platform.transaction() as session:
        assert platform.wealth.latest_assessment(session, customer_id).level == 3


def test_invalid_answers_do_not_use_up_the_day(platform: Platform, customer_id: int) -> None:
    with pytest.raises(AssessmentAnswersInvalid), platform.transaction() as session:
        platform.wealth.assess(session, customer_id=customer_id, answers={"age": "a"})
    assess(platform, customer_id, 2)
    assess(platform, customer_id, 3)
    assert levels(platform, customer_id) == [3, 2]


def test_the_day_is_the_beijing_calendar_day(
    platform: Platform, clock: FrozenClock, customer_id: int
) -> None:
    # 23:59 in Beijing (15:59 UTC): two assessments use up 2 March
    clock.advance(datetime(2026, 3, 2, 15, 59, tzinfo=UTC) - clock.now())
    assess(platform, customer_id, 2)
    assess(platform, customer_id, 2)
    with pytest.raises(AssessmentTooFrequent):
        assess(platform, customer_id, 3)
    # 00:00 on 3 March in Beijing, still 2 March in UTC: a new day
    clock.advance(timedelta(minutes=1))
    assert assess(platform, customer_id, 3) == 3
    assert assess(platform, customer_id, 4) == 4
    with pytest.raises(AssessmentTooFrequent) as refused:
        assess(platform, customer_id, 5)
    assert refused.value.details["retry_at"] == "2026-03-04 00:00"
    assert levels(platform, customer_id) == [4, 3, 2, 2]


def test_customers_are_counted_apart(platform: Platform, customer_id: int) -> None:
    with platform.transaction() as session:
        other, _ = platform.accounts.register_person(
            session, name="李四", mobile="13900000902", resident_id=resident_id(902)
        )
    assess(platform, customer_id, 2)
    assess(platform, customer_id, 2)
    assert assess(platform, other.id, 3) == 3


def test_the_limit_is_the_services_setting(platform: Platform, customer_id: int) -> None:
    assert platform.settings.wealth_assessments_per_day == 2
    assert platform.wealth.assessments_per_day == 2
    strict = WealthService(
        platform.ledger,
        platform.accounts,
        platform.clock,
        calendar=platform.calendar,
        assessments_per_day=1,
    )
    with platform.transaction() as tx:
        strict.assess(tx, customer_id=customer_id, answers=ANSWERS[2])
    with pytest.raises(AssessmentTooFrequent) as refused, platform.transaction() as tx:
        strict.assess(tx, customer_id=customer_id, answers=ANSWERS[2])
    assert refused.value.details["limit"] == 1


def test_the_rule_counts_what_was_taken_that_day() -> None:
    next_day = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 00:00 on 3 March, Beijing
    rules.check_assessment_allowed(1, limit=2, next_day=next_day)
    with pytest.raises(AssessmentTooFrequent) as refused:
        rules.check_assessment_allowed(2, limit=2, next_day=next_day)
    assert refused.value.details["retry_at"] == "2026-03-03 00:00"
    with pytest.raises(AssessmentTooFrequent):
        rules.check_assessment_allowed(0, limit=0, next_day=next_day)
