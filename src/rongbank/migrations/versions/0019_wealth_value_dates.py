"""Wealth products: dealing days, the cut-off, and redemptions paid on their day.

- ``wealth_product.cutoff``: the product's own cut-off (Beijing time of day) for
  orders to count for the day they are placed; NULL: the bank's (the
  ``wealth_cutoff`` setting, 15:00).
- ``wealth_payout.value_date``: the business day the payout counts for (T): the yield
  runs up to it (excluded), and the money is paid on it.
- ``wealth_payout.paid_at``: when the money moved; NULL while a redemption placed
  after the cut-off (or on a day off) waits for its day, in which case it has no
  ledger entries yet. Its principal counts in the holding's ``redeemed`` from the
  request on, so that it cannot be redeemed twice.

Revision ID: 0019_wealth_value_dates
"""

from alembic import op

revision = "0019_wealth_value_dates"
down_revision = "0018_epay"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE wealth_product ADD COLUMN cutoff time;

ALTER TABLE wealth_payout
    ADD COLUMN value_date date,
    ADD COLUMN paid_at timestamptz;
UPDATE wealth_payout
    SET value_date = CAST(created_at AT TIME ZONE 'Asia/Shanghai' AS date), paid_at = created_at;
ALTER TABLE wealth_payout
    ALTER COLUMN value_date SET NOT NULL,
    ALTER COLUMN entry_id DROP NOT NULL,
    DROP CONSTRAINT wealth_payout_check,
    ADD CONSTRAINT wealth_payout_paid CHECK ((paid_at IS NULL) = (entry_id IS NULL)),
    ADD CONSTRAINT wealth_payout_yield_entry CHECK (
        CASE WHEN paid_at IS NULL THEN yield_entry_id IS NULL
             ELSE (yield_amount > 0) = (yield_entry_id IS NOT NULL) END
    );
-- what the payout job scans
CREATE INDEX wealth_payout_due ON wealth_payout (value_date) WHERE paid_at IS NULL;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        # Redemptions still waiting for their day are given back to their holdings.
        "UPDATE wealth_holding h SET redeemed = h.redeemed - w.principal, status = 'held' "
        "FROM (SELECT holding_id, sum(principal) AS principal FROM wealth_payout "
        "WHERE paid_at IS NULL GROUP BY holding_id) w WHERE w.holding_id = h.id; "
        "DELETE FROM wealth_payout WHERE paid_at IS NULL; "
        "DROP INDEX wealth_payout_due; "
        "ALTER TABLE wealth_payout DROP CONSTRAINT wealth_payout_yield_entry, "
        "DROP CONSTRAINT wealth_payout_paid, "
        "ADD CONSTRAINT wealth_payout_check "
        "CHECK ((yield_amount > 0) = (yield_entry_id IS NOT NULL)), "
        "ALTER COLUMN entry_id SET NOT NULL, DROP COLUMN paid_at, DROP COLUMN value_date; "
        "ALTER TABLE wealth_product DROP COLUMN cutoff"
    )
