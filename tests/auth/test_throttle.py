"""Login throttling's pure rules: what a source is, and what wrong passwords cost it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.auth import throttle
from rongbank.auth.throttle import SourceCounter, after_failure, current, source_of

NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ip", "source"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2::99", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # an IPv4 client seen by a dual stack
        ("testclient", "unknown"),
        (None, "unknown"),
    ],
)
def test_a_source_is_the_address_or_its_ipv6_64(ip: str | None, source: str) -> None:
    assert source_of(ip) == source


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("198.51.100.7", "198.51.*.*"),
        ("2001:db8:1:2::/64", "2001:db8:*"),
        ("2001::/64", "2001:0:*"),
        ("unknown", "unknown"),
    ],
)
def test_a_source_is_shown_to_the_customer_masked(source: str, shown: str) -> None:
    assert throttle.masked(source) == shown


def test_five_tries_then_a_lockout_and_the_count_starts_again() -> None:
    counter = SourceCounter()
    for n in range(1, 5):
        counter = after_failure(counter, now=NOW, wide_failures=0)
        assert (counter.failures, counter.locked_until) == (n, None)
    counter = after_failure(counter, now=NOW, wide_failures=0)
    assert counter == SourceCounter(0, 1, NOW + timedelta(minutes=15), NOW)


def test_a_login_under_attack_leaves_each_source_one_try() -> None:
    locked = after_failure(SourceCounter(), now=NOW, wide_failures=throttle.WIDE_THRESHOLD - 1)
    assert locked.locked_until == NOW + throttle.LOCKOUT
    assert throttle.remaining(SourceCounter(), wide_failures=throttle.WIDE_THRESHOLD) == 1


def test_a_source_is_forgotten_a_day_after_its_last_lockout_ends() -> None:
    locked = SourceCounter(0, 3, NOW + timedelta(hours=2), NOW)
    assert current(locked, NOW + timedelta(hours=25)) == locked
    assert current(locked, NOW + timedelta(hours=26)) == SourceCounter()


@given(rounds=st.integers(min_value=1, max_value=40), wide=st.integers(min_value=0, max_value=99))
def test_lockouts_in_a_row_grow_and_never_pass_a_day(rounds: int, wide: int) -> None:
    counter, now, waits = SourceCounter(), NOW, []
    for _ in range(rounds):
        while counter.locked_until is None or counter.locked_until <= now:
            counter = after_failure(current(counter, now), now=now, wide_failures=wide)
            wide += 1
        waits.append(counter.locked_until - now)
        now = counter.locked_until
    assert waits == sorted(waits)
    assert waits[0] == throttle.LOCKOUT
    assert max(waits) <= throttle.MAX_LOCKOUT
