"""A payee's counters spread over rows, one per shard of the paying customers, and
read back as one window: many customers paying one payee at once (a wealth product
on sale) do not wait for one row, and the engine sees the same counts."""

from __future__ import annotations

from sqlalchemy import text

from rongbank.auth.tools import PaymentRequest
from rongbank.platform import Platform
from rongbank.risk.engine import features
from tests.factories.liquidity import Books


def test_a_payees_window_sums_the_rows_of_every_payers_shard(platform: Platform) -> None:
    with platform.transaction() as session:
        books = Books(platform, session)
        payers = [books.person() for _ in range(3)]
    assert len({p.customer_id % features.COUNTER_SHARDS for p in payers}) == 3
    now = platform.clock.now()

    def payment(n: int, amount: int) -> PaymentRequest:
        return PaymentRequest("wealth_purchase", "acct", "wealth:GYLC", amount, "CNY", f"p{n}")

    with platform.transaction() as session:
        for n, (payer, amount) in enumerate(zip(payers, (100, 250, 400), strict=True)):
            found, decision_id = features.read(
                session, payer.customer_id, payment(n, amount), None, now
            )
            decided = features.Recorded("allow", 0.0, (), [])
            features.write(
                session, decision_id, payer.customer_id, payment(n, amount), None, found,
                decided, now,
            )  # fmt: skip
        seen, _ = features.read(session, payers[0].customer_id, payment(9, 1), None, now)
        rows = session.execute(
            text("SELECT count(*) FROM risk_counter WHERE subject = 'p:wealth:GYLC'")
        ).scalar_one()
    assert (seen["payee_n_10m"], seen["payee_sum_10m"], seen["payee_n_30d"]) == (3, 750, 3)
    assert seen["cust_n_10m"] == 1  # the customer's own counters: their payment alone
    assert rows == 3 * 3  # three shards, each with a minute, an hour and a day bucket
