"""e-Invest operations: snapshots of the tick engine.

- ``invest_snapshot``: the engine's state (``rongbank.invest.snapshot``) after journal
  entry ``seq``, written every ``SNAPSHOT_EVERY`` journal entries by the ticking
  process; a restarted engine loads the latest and replays only the journal after it.
  The journal itself stays whole (disputes replay it from the start).

Revision ID: 0047_invest_ops
"""

from alembic import op

revision = "0047_invest_ops"
down_revision = "0046_mall_clearing"
branch_labels = None
depends_on = None
serves_older_code = False


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE invest_snapshot (
            seq   bigint PRIMARY KEY,
            state jsonb NOT NULL,
            at    timestamptz NOT NULL
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE invest_snapshot;")
