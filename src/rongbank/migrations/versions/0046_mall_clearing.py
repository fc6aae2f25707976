"""融e购's clearing merchant, part of the bank's own set-up.

- ``mall_clearing``: the one e-Pay merchant (the bank's own, fee 0) whose payable is the
  mall's clearing: checkouts are paid into it, sellers are paid out of it by the mall.
  Found here, not from an environment variable, so that every process (and a new
  install after ``rongbank up`` or ``rongbank seed-demo``) finds the same one.
- ``merchant.onboarded_by`` may be NULL: a merchant the bank opens for itself has no
  member of staff who onboarded it; such a merchant is active from the start.

Revision ID: 0046_mall_clearing
"""

from alembic import op

revision = "0046_mall_clearing"
down_revision = "0045_ops"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE merchant ALTER COLUMN onboarded_by DROP NOT NULL;
ALTER TABLE merchant ADD CONSTRAINT merchant_own_active
    CHECK (onboarded_by IS NOT NULL OR (status <> 'pending' AND approved_by IS NULL));

CREATE TABLE mall_clearing (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    merchant_id bigint NOT NULL UNIQUE REFERENCES merchant (id),
    created_at  timestamptz NOT NULL
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE mall_clearing")
    op.execute("ALTER TABLE merchant DROP CONSTRAINT merchant_own_active")
    op.execute("ALTER TABLE merchant ALTER COLUMN onboarded_by SET NOT NULL")
