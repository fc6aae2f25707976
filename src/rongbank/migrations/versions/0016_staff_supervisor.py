"""Staff: the ``supervisor`` role, which publishes the canned chat replies shared by
every account manager (an account manager writes only their own). Given with
``rongbank staff create --role supervisor``.

Revision ID: 0016
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ROLES = "'account_manager', 'operations', 'credit_officer', 'risk_analyst', 'administrator'"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE staff DROP CONSTRAINT staff_role_check, ADD CONSTRAINT staff_role_check "
        f"CHECK (role IN ({ROLES}, 'supervisor'))"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE staff DROP CONSTRAINT staff_role_check, ADD CONSTRAINT staff_role_check "
        f"CHECK (role IN ({ROLES}))"
    )
