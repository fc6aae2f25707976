"""Schema history: each applied revision, and whether code one release older still
works against it.

``/readyz`` of a process whose code is older than the schema cannot read the newer
migration files; it reads this table instead (``rongbank.api.observe``): it is ready
when its own head is applied and every revision after it serves older code (an
*expand* step). The migration environment (``migrations/env.py``) writes a row for
each revision applied from this one on, and deletes it when the revision is
downgraded; the revisions before this one have no rows (their code's ``/readyz``
wants its exact head).

Revision ID: 0054_schema_history
"""

from alembic import op

revision = "0054_schema_history"
down_revision = "0053_hot"
branch_labels = None
depends_on = None
serves_older_code = True  # adds a table only


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE schema_history (
            id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            revision          text NOT NULL UNIQUE,
            serves_older_code boolean NOT NULL,
            applied_at        timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE schema_history")
