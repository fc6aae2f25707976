"""Authentication: credentials, login failure counters, sessions.

- ``auth_credential``: one login name and password hash per principal (a customer or
  a member of staff), with the count of consecutive failed logins and the end of a
  lockout. ``principal_id`` has no foreign key: it points at customers or staff
  depending on ``principal_kind``.
- ``auth_failed_login``: the same counters for login names that have no credential,
  keyed by the SHA-256 of the name. Unknown names then count down and lock exactly
  like real ones, so the answers never tell who has a login; and whatever was typed
  in the name field (sometimes a password) is not kept in clear.
- ``auth_session``: a login's bearer session. Only the SHA-256 of the token is
  stored: a copy of this table opens no session.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE auth_credential (
    username            text PRIMARY KEY CHECK (length(username) BETWEEN 1 AND 128),
    principal_kind      text NOT NULL CHECK (principal_kind IN ('customer', 'staff')),
    principal_id        bigint NOT NULL,
    password_hash       text NOT NULL,
    failed_attempts     integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL,
    password_changed_at timestamptz NOT NULL,
    UNIQUE (principal_kind, principal_id)
);

CREATE TABLE auth_failed_login (
    name_hash       bytea PRIMARY KEY CHECK (length(name_hash) = 32),
    failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    timestamptz
);

-- last_seen_at changes on requests while no index covers it: the free space per
-- page lets PostgreSQL update those rows in place (HOT).
CREATE TABLE auth_session (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash     bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    principal_kind text NOT NULL CHECK (principal_kind IN ('customer', 'staff')),
    principal_id   bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    client         text NOT NULL DEFAULT '' CHECK (length(client) <= 200),
    ip             inet,
    CHECK (expires_at > created_at)
) WITH (fillfactor = 80);
CREATE INDEX auth_session_principal ON auth_session (principal_kind, principal_id);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE auth_session, auth_failed_login, auth_credential;")
