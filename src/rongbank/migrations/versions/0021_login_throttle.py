"""Failed logins lock out the source they come from, not the login name.

- ``auth_login_source``: per login name (the SHA-256 of the normalised name, known
  or not, so the answers never tell who has a login) and source (the client's
  address, an IPv6 client's /64): wrong passwords in a row, lockouts in a row, the
  end of the current lockout. See ``rongbank.auth.throttle``.
- ``auth_login_name``: per login name, the wrong passwords of every source since
  its last successful login.
- ``auth_credential`` loses the name-wide counter (``failed_attempts``,
  ``locked_until``) and keeps what the principal is told at login: the login
  before (``previous_login_at``) and the wrong passwords tried in between
  (``failures_before_login``); ``last_login_at`` is the latest.
- ``auth_failed_login`` (the name-wide counters of unknown names) is dropped.

Lockouts in force when this runs end with it.

Revision ID: 0021_login_throttle
"""

from alembic import op

revision = "0021_login_throttle"
down_revision = "0020_grid_positions"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE auth_login_name (
    name_hash       bytea PRIMARY KEY CHECK (length(name_hash) = 32),
    failures        integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_failure_at timestamptz
);

CREATE TABLE auth_login_source (
    name_hash       bytea NOT NULL CHECK (length(name_hash) = 32),
    source          text NOT NULL CHECK (length(source) BETWEEN 1 AND 64),
    failures        integer NOT NULL CHECK (failures >= 0),
    lockouts        integer NOT NULL CHECK (lockouts >= 0),
    locked_until    timestamptz,
    last_failure_at timestamptz,
    PRIMARY KEY (name_hash, source)
);

ALTER TABLE auth_credential
    DROP COLUMN failed_attempts,
    DROP COLUMN locked_until,
    ADD COLUMN last_login_at timestamptz,
    ADD COLUMN previous_login_at timestamptz,
    ADD COLUMN failures_before_login integer NOT NULL DEFAULT 0
        CHECK (failures_before_login >= 0);

DROP TABLE auth_failed_login;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        """
CREATE TABLE auth_failed_login (
    name_hash       bytea PRIMARY KEY CHECK (length(name_hash) = 32),
    failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    timestamptz
);
ALTER TABLE auth_credential
    DROP COLUMN failures_before_login,
    DROP COLUMN previous_login_at,
    DROP COLUMN last_login_at,
    ADD COLUMN failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    ADD COLUMN locked_until timestamptz;
DROP TABLE auth_login_source, auth_login_name;
"""
    )
