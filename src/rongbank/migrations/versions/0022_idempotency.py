"""Idempotency records: what a request's key answered, refusals included.

``idempotency_record`` holds one row per (scope, key): the fingerprint of the request
that first used the key and, when it was refused, the refusal (type, code, status,
message, details) to answer again to a retry. A row without ``refusal`` is a key
taken by a request that succeeded (its result lives in the domain's own tables). See
``rongbank.idempotency``.

Revision ID: 0022_idempotency
"""

from alembic import op

revision = "0022_idempotency"
down_revision = "0021_login_throttle"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE idempotency_record (
    scope       text NOT NULL CHECK (length(scope) BETWEEN 1 AND 100),
    key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    fingerprint bytea NOT NULL CHECK (length(fingerprint) = 32),
    refusal     jsonb,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE idempotency_record")
