"""A payee's counters spread over rows, one per shard of the paying customers, and
read back as one window: many customers paying one payee at once (a wealth product
on sale) do not wait for one row, and the engine sees the same counts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from rongbank.auth.tools import PaymentRequest
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.risk.engine import features
from tests.factories.liquidity import Books


def payment(n: int, amount: int) -> PaymentRequest:
    return PaymentRequest("wealth_purchase", "acct", "wealth:GYLC", amount, "CNY", f"p{n}")


def count(platform: Platform, customer_id: int, n: int, amount: int) -> None:
    """The engine decides and counts a payment of ``customer_id`` (allowed)."""
    now = platform.clock.now()
    with platform.transaction() as session:
        found, decision_id = features.read(session, customer_id, payment(n, amount), None, now)
        decided = features.Recorded("allow", 0.0, (), [])
        features.write(
            session, decision_id, customer_id, payment(n, amount), None, found, decided, now
        )


def test_a_payees_window_sums_the_rows_of_every_payers_shard(platform: Platform) -> None:
    with platform.transaction() as session:
        books = Books(platform, session)
        payers = [books.person() for _ in range(3)]
    assert len({p.customer_id % features.COUNTER_SHARDS for p in payers}) == 3
    for n, (payer, amount) in enumerate(zip(payers, (100, 250, 400), strict=True)):
        count(platform, payer.customer_id, n, amount)
    now = platform.clock.now()
    with platform.transaction() as session:
        seen, _ = features.read(session, payers[0].customer_id, payment(9, 1), None, now)
        rows = session.execute(
            text("SELECT count(*) FROM risk_counter WHERE subject = 'p:wealth:GYLC'")
        ).scalar_one()
    assert (seen["payee_n_10m"], seen["payee_sum_10m"], seen["payee_n_30d"]) == (3, 750, 3)
    assert seen["cust_n_10m"] == 1  # the customer's own counters: their payment alone
    assert rows == 3 * 3  # three shards, each with a minute, an hour and a day bucket


def test_pruning_folds_the_shards_of_closed_buckets_into_one_row(
    platform: Platform, clock: FrozenClock
) -> None:
    with platform.transaction() as session:
        books = Books(platform, session)
        payers = [books.person() for _ in range(3)]
    for n, payer in enumerate(payers):
        count(platform, payer.customer_id, n, 100 * (n + 1))
    clock.advance(timedelta(minutes=2))  # the minute is over; the hour and day are not
    with platform.transaction() as session:
        features.prune(session, clock.now())
    count(platform, payers[1].customer_id, 9, 1_000)  # the hour goes on being counted
    with platform.transaction() as session:
        seen, _ = features.read(session, payers[0].customer_id, payment(10, 1), None, clock.now())
        rows: dict[str, int] = dict(
            session.execute(
                text(
                    "SELECT grain, count(*) FROM risk_counter "
                    "WHERE subject = 'p:wealth:GYLC' GROUP BY grain"
                )
            ).all()
        )
    assert (seen["payee_n_1h"], seen["payee_sum_1h"], seen["payee_n_10m"]) == (4, 1_600, 4)
    assert rows == {"m": 2, "h": 3, "d": 3}  # the closed minute folded; a new one begun
