"""e-Pay's pure rules."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from rongbank.payments import rules


@given(st.integers(0, 10**12), st.integers(0, 1000))
def test_a_fee_is_the_rate_rounded_half_up_to_the_fen(amount: int, bps: int) -> None:
    fee = rules.fee(amount, bps)
    exact = amount * bps / 10_000
    assert abs(fee - exact) <= 0.5
    assert 0 <= fee <= amount


def test_half_a_fen_is_charged() -> None:
    assert rules.fee(8333, 6) == 5  # 4.9998 → 5
    assert rules.fee(2500, 2) == 1  # 0.5 → 1


def test_the_back_off_grows_then_gives_up() -> None:
    waits = [rules.next_attempt_after(n) for n in range(1, len(rules.NOTIFY_BACKOFF) + 2)]
    assert waits[-1] is None
    assert all(a < b for a, b in itertools.pairwise(waits[:-1]))  # type: ignore[operator]


def test_a_signature_binds_the_body_and_key() -> None:
    header = rules.sign(b"k" * 32, 1_700_000_000, '{"a":1}')
    assert rules.verify(b"k" * 32, header, '{"a":1}')
    assert not rules.verify(b"k" * 32, header, '{"a":2}')
    assert not rules.verify(b"x" * 32, header, '{"a":1}')
    assert not rules.verify(b"k" * 32, "garbage", '{"a":1}')


def test_the_shipped_barcode_limits_follow_the_pboc_levels() -> None:
    limits = rules.load_barcode_limits()
    assert (limits.static_daily, limits.dynamic_daily) == (50_000, 500_000)
    assert limits.code_ttl.total_seconds() <= 60


def test_our_payment_codes_start_where_no_wallet_routes() -> None:
    """A cashier system sends a code by its first two digits: ours must not look like
    WeChat Pay's, Alipay's or UnionPay's, or the customer's payment goes to them."""
    taken = {p for prefixes in rules.WALLET_CODE_PREFIXES.values() for p in prefixes}
    assert {"10", "15", "25", "29", "30", "62"} <= taken
    assert rules.PAYMENT_CODE_PREFIX not in taken
    assert len(rules.PAYMENT_CODE_PREFIX) == 2
