"""Frozen ledger accounts: no debit without the stated authority to.

``ledger_account.frozen``: the ledger refuses to debit the account (a customer's
deposit frozen by the bank or an authority) unless the request states the authority
(``frozen_debit_reason``, kept in the entry's metadata); credits still arrive, and a
hold taken before may still be posted or released. The direct bank's freeze and
unfreeze set it; e-accounts frozen before this revision are frozen here too.

Revision ID: 0023_ledger_freeze
"""

from alembic import op

revision = "0023_ledger_freeze"
down_revision = "0022_idempotency"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE ledger_account ADD COLUMN frozen boolean NOT NULL DEFAULT false;
UPDATE ledger_account l SET frozen = true
  FROM e_account a WHERE a.ledger_account_id = l.id AND a.status = 'frozen';
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("ALTER TABLE ledger_account DROP COLUMN frozen")
