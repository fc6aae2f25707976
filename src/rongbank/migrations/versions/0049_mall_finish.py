"""融e购 finished: shops suspended, reinstated and closed; returns after the seller
was paid.

- ``mall_shop_event``: each suspension and reinstatement by operations (the member of
  staff and the reason) and each closure by the shop's owner (the merchant user), with
  the status before: the shop's own row keeps only the latest reason, which its seller
  reads (``mall_shop.decided_reason``).
- ``mall_return.commission_back`` and ``clawback_entry_id``: a return refunded after
  the order's money was released to its seller takes the money back first, in one
  ledger entry (the commission from the bank's income, pro rata; the seller's part
  owed by the seller and taken from its next e-Pay settlements).

Revision ID: 0049_mall_finish
"""

from alembic import op

revision = "0049_mall_finish"
down_revision = "0048_pii_at_rest"
branch_labels = None
depends_on = None
serves_older_code = (
    True  # adds a table and a column with a default: nothing older code uses changes
)

SCHEMA = """
CREATE TABLE mall_shop_event (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id       bigint NOT NULL REFERENCES mall_shop (id),
    action        text NOT NULL CHECK (action IN ('suspend', 'reinstate', 'close')),
    status_before text NOT NULL,
    staff_id      bigint REFERENCES staff (id),
    user_id       bigint REFERENCES merchant_user (id),
    reason        text NOT NULL CHECK (length(reason) <= 500),
    at            timestamptz NOT NULL,
    CHECK ((staff_id IS NULL) <> (user_id IS NULL))
);
CREATE INDEX mall_shop_event_shop ON mall_shop_event (shop_id, id);

ALTER TABLE mall_return
    ADD COLUMN commission_back bigint NOT NULL DEFAULT 0 CHECK (commission_back >= 0),
    ADD COLUMN clawback_entry_id bigint REFERENCES ledger_entry (id);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "ALTER TABLE mall_return DROP COLUMN clawback_entry_id, DROP COLUMN commission_back; "
        "DROP TABLE mall_shop_event;"
    )
