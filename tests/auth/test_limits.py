"""Which authentication a payment needs: the rules, without a database."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.auth.limits import (
    PASSWORD_FREE,
    Decision,
    OwnLimit,
    OwnLimitInvalid,
    Risk,
    RiskRefused,
    StrongerToolRequired,
    ToolKind,
    ToolLimitExceeded,
    Usage,
    check_own_limit,
    decide,
    load_tool_limits,
)

LIMITS = load_tool_limits()
ALL = set(ToolKind)
YUAN = 100


def needs(
    amount: int,
    *,
    held: Collection[ToolKind] = ALL,
    risk: Risk = Risk.LOW,
    usage: Mapping[str, Usage] | None = None,
    own: Mapping[str, OwnLimit] | None = None,
) -> Decision:
    return decide(LIMITS, amount=amount, held=held, usage=usage or {}, own=own or {}, risk=risk)


def test_shipped_limits_rank_stronger_tools_higher() -> None:
    tools = sorted(LIMITS.tools.values(), key=lambda t: t.strength)
    assert [t.strength for t in tools] == sorted(t.strength for t in tools)
    assert LIMITS.tools[ToolKind.GRID_CARD].per_payment < LIMITS.tools[ToolKind.TOKEN].per_payment
    assert LIMITS.tools[ToolKind.TOKEN].per_payment < LIMITS.tools[ToolKind.UKEY].per_payment
    # The PBoC ceilings the file cites: fewer than two elements ≤ 1,000 a day; two
    # elements without a certificate ≤ 5,000 a day.
    assert LIMITS.password_free.daily <= 1_000 * YUAN
    assert LIMITS.tools[ToolKind.SMS].daily <= 5_000 * YUAN


def test_a_small_payment_needs_no_second_factor() -> None:
    assert needs(200 * YUAN).password_free


def test_password_free_stops_at_the_daily_amount_and_count() -> None:
    nearly = {PASSWORD_FREE: Usage(day_amount=900 * YUAN, day_count=3)}
    assert needs(100 * YUAN, usage=nearly).password_free
    assert not needs(101 * YUAN, usage=nearly).password_free
    counted = {PASSWORD_FREE: Usage(day_amount=10 * YUAN, day_count=10)}
    assert not needs(1 * YUAN, usage=counted).password_free


def test_the_weakest_sufficient_tool_comes_first() -> None:
    assert needs(500 * YUAN).tools[0] is ToolKind.GRID_CARD
    assert needs(3_000 * YUAN).tools == (ToolKind.SMS, ToolKind.TOKEN, ToolKind.UKEY)
    assert needs(6_000 * YUAN).tools == (ToolKind.TOKEN, ToolKind.UKEY)
    assert needs(800_000 * YUAN).tools == (ToolKind.UKEY,)


def test_a_payment_over_the_held_tools_names_the_tools_that_would_do() -> None:
    with pytest.raises(StrongerToolRequired) as refused:
        needs(6_000 * YUAN, held={ToolKind.SMS})
    assert refused.value.details["tools"] == ["token", "ukey"]


def test_used_up_limits_say_what_is_left() -> None:
    used = {ToolKind.UKEY.value: Usage(day_amount=4_999_000 * YUAN, year_amount=4_999_000 * YUAN)}
    with pytest.raises(ToolLimitExceeded) as refused:
        needs(2_000 * YUAN, held={ToolKind.UKEY}, usage=used)
    assert refused.value.details["remaining"] == {"ukey": "1000.00"}


def test_elevated_risk_needs_a_tool_bound_to_the_payment() -> None:
    assert needs(100 * YUAN, risk=Risk.ELEVATED).tools == (ToolKind.TOKEN, ToolKind.UKEY)
    with pytest.raises(StrongerToolRequired):
        needs(100 * YUAN, risk=Risk.ELEVATED, held={ToolKind.SMS, ToolKind.GRID_CARD})


def test_high_risk_is_refused_whatever_the_tools() -> None:
    with pytest.raises(RiskRefused):
        needs(1 * YUAN, risk=Risk.HIGH)


def test_a_customer_may_lower_but_not_raise_a_limit() -> None:
    no_free = {PASSWORD_FREE: OwnLimit(per_payment=0)}
    assert not needs(1 * YUAN, own=no_free).password_free
    lower_sms = {ToolKind.SMS.value: OwnLimit(daily=1_000 * YUAN)}
    assert ToolKind.SMS not in needs(2_000 * YUAN, own=lower_sms).tools
    check_own_limit(LIMITS, "sms", OwnLimit(per_payment=0, daily=100 * YUAN))
    with pytest.raises(OwnLimitInvalid):
        check_own_limit(LIMITS, "sms", OwnLimit(daily=LIMITS.tools[ToolKind.SMS].daily + 1))
    with pytest.raises(OwnLimitInvalid):
        check_own_limit(LIMITS, "sms", OwnLimit(per_payment=-1))
    with pytest.raises(OwnLimitInvalid):
        check_own_limit(LIMITS, "fingerprint", OwnLimit())


@given(
    amount=st.integers(1, 10**9),
    held=st.sets(st.sampled_from(list(ToolKind))),
    day=st.integers(0, 10**9),
    risk=st.sampled_from([Risk.LOW, Risk.ELEVATED]),
)
def test_an_allowed_tool_always_covers_the_payment(
    amount: int, held: set[ToolKind], day: int, risk: Risk
) -> None:
    usage = {kind.value: Usage(day_amount=day, year_amount=day) for kind in ToolKind}
    usage[PASSWORD_FREE] = Usage(day_amount=min(day, 10**5))
    try:
        decision = decide(LIMITS, amount=amount, held=held, usage=usage, own={}, risk=risk)
    except (StrongerToolRequired, ToolLimitExceeded):
        return
    if decision.password_free:
        assert risk is Risk.LOW
        assert amount <= LIMITS.password_free.per_payment
        return
    assert decision.tools
    for kind in decision.tools:
        tool = LIMITS.tools[kind]
        assert kind in held
        assert amount <= tool.per_payment
        assert day + amount <= tool.daily
        assert risk is Risk.LOW or tool.strength >= 2
