"""Whatever a customer trades, the ledger balances: metal held equals the positions,
the bank's book is their mirror, and money only moves between the customer's accounts
and the bank's dealing account."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rongbank.errors import DomainError
from rongbank.platform import Platform
from tests.factories.accounts import People
from tests.support.invest import ScriptedPrices, available, investor

GRAM = 1000
FUND = 50_000_00

operations = st.lists(
    st.tuples(
        st.sampled_from(["long", "short"]),
        st.sampled_from(["open", "open", "close"]),
        st.integers(min_value=1, max_value=6),
        st.integers(min_value=-3000, max_value=3000),
    ),
    min_size=1,
    max_size=12,
)


def _balance(platform: Platform, code: str) -> int:
    """Credits minus debits posted (what the bank owes on the account)."""
    with platform.transaction() as session:
        rows = platform.ledger.accounts(session, code_prefix=code)
    return sum(r.credits_posted - r.debits_posted for r in rows if r.code == code)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_the_ledger_balances_after_any_sequence_of_trades(
    platform: Platform, people: People, prices: ScriptedPrices, ops: list[tuple[str, str, int, int]]
) -> None:
    me = investor(platform, people, fund=FUND)
    c = me.customer_id
    prices.prices["AU_CNY"] = 500_00
    book_before = _balance(platform, "invest:book:AU_G")
    dealing_before = _balance(platform, "invest:dealing:CNY")
    statuses: list[int] = []
    for n, (side, action, grams, move) in enumerate(ops):
        prices.prices["AU_CNY"] = max(100_00, prices.prices["AU_CNY"] + move)
        with platform.transaction() as session:
            quote = platform.invest.quote(session, customer_id=c, code="AU_CNY")
        try:
            with platform.transaction() as session:
                platform.invest.trade(
                    session,
                    customer_id=c,
                    quote_id=quote.id,
                    side=side,  # type: ignore[arg-type]
                    action=action,  # type: ignore[arg-type]
                    quantity=grams * GRAM,
                    account_number=me.number,
                    client_id=f"t{n}",
                )
        except DomainError as refused:
            statuses.append(refused.status)
    assert all(400 <= status < 500 for status in statuses)
    with platform.transaction() as session:
        held = {(p.side): p for p in platform.invest.positions(session, c)}
        assert platform.ledger.verify(session) == {}
    long_q = held["long"].quantity if "long" in held else 0
    short_q = held["short"].quantity if "short" in held else 0
    margin = held["short"].margin if "short" in held else 0
    assert _balance(platform, f"invest:{c}:long:AU_G") == long_q
    assert _balance(platform, f"invest:{c}:short:AU_G") == -short_q
    assert _balance(platform, f"invest:{c}:margin:CNY") == margin
    assert _balance(platform, "invest:book:AU_G") - book_before == short_q - long_q
    dealing = _balance(platform, "invest:dealing:CNY") - dealing_before
    assert available(platform, me) + margin + dealing == FUND
