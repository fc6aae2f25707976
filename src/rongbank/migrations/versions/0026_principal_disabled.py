"""A login that is disabled, and when its owner was last told of a lockout.

- ``auth_credential.disabled_at``: set while the principal may not log in (a
  merchant login revoked, a member of staff deactivated); its sessions were ended
  when it was set. See ``AuthService.disable``.
- ``auth_credential.lockout_noticed_at``: when the customer was last sent a notice
  that a source was locked out of their login (at most one an hour).

Logins revoked or deactivated before this runs are disabled now, and their sessions
ended (until now only the merchant routes refused them).

Revision ID: 0026_principal_disabled
"""

from alembic import op

revision = "0026_principal_disabled"
down_revision = "0025_chat_requests"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE auth_credential
    ADD COLUMN disabled_at timestamptz,
    ADD COLUMN lockout_noticed_at timestamptz;

UPDATE auth_credential c SET disabled_at = u.revoked_at
FROM merchant_user u
WHERE c.principal_kind = 'merchant' AND c.principal_id = u.id AND NOT u.active;

UPDATE auth_credential c SET disabled_at = now()
FROM staff s
WHERE c.principal_kind = 'staff' AND c.principal_id = s.id AND NOT s.active;

UPDATE auth_session s SET revoked_at = now()
FROM auth_credential c
WHERE s.revoked_at IS NULL AND c.disabled_at IS NOT NULL
  AND s.principal_kind = c.principal_kind AND s.principal_id = c.principal_id;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "ALTER TABLE auth_credential DROP COLUMN lockout_noticed_at, DROP COLUMN disabled_at"
    )
