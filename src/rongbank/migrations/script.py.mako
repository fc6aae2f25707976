"""${message}

Revision ID: ${up_revision}
"""

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None
# Does code one release older still work against this schema? True only for an
# *expand* step (new tables, nullable columns, indexes); False for a *contract* one
# (drops or renames what older code uses). Decide: /readyz of older code reads it.
serves_older_code = False


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
