"""Staff: the ``supervisor`` role, which publishes the canned chat replies shared by
every account manager (an account manager writes only their own). Given with
``rongbank staff create --role supervisor``.

Revision ID: 0024_staff_supervisor
"""

from alembic import op

revision = "0024_staff_supervisor"
down_revision = "0023_ledger_freeze"
branch_labels = None
depends_on = None
serves_older_code = False

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
