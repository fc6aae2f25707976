"""Password resets through the registered mobile, and login history from the audit trail.

- ``password_reset``: one reset a customer (or anyone typing a mobile number and an
  identity number) started. ``customer_id`` is set when the two matched a customer
  with a login, and only then was a code sent (``code_hash``, keyed as SMS codes
  are); a reset that matched nobody is kept alike, so that its answers are the same.
  ``mobile_hash`` (SHA-256 of the mobile number as typed, normalised) and ``source``
  (the client's network, ``rongbank.auth.throttle.source_of``) count how many resets
  are started, per hour. ``password_hash`` is the new password, once the code was
  right, until the reset finishes (after the U盾's or token's challenge, for a
  customer who holds one). See ``rongbank.auth.reset``.
- ``audit_log_login_of``: the login rows of one principal's login name, refused ones
  included (their actor is anonymous; ``details.login_of`` says whose login was
  tried), newest first, for the login history the principal is shown.

Revision ID: 0030_password_reset
"""

from alembic import op

revision = "0030_password_reset"
down_revision = "0029_staff_console"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE password_reset (
    public_id     text PRIMARY KEY CHECK (length(public_id) BETWEEN 16 AND 64),
    mobile_hash   bytea NOT NULL CHECK (length(mobile_hash) = 32),
    source        text NOT NULL CHECK (length(source) BETWEEN 1 AND 64),
    customer_id   bigint REFERENCES customer (id),
    code_hash     bytea,
    failures      integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    status        text NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'verified', 'done', 'failed')),
    password_hash text,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    CHECK (expires_at > created_at),
    CHECK ((customer_id IS NULL) = (code_hash IS NULL)),
    CHECK (status <> 'verified' OR customer_id IS NOT NULL)
);
CREATE INDEX password_reset_mobile ON password_reset (mobile_hash, created_at);
CREATE INDEX password_reset_source ON password_reset (source, created_at);

CREATE INDEX audit_log_login_of ON audit_log ((details ->> 'login_of'), at)
    WHERE action = 'login';
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP INDEX audit_log_login_of; DROP TABLE password_reset;")
