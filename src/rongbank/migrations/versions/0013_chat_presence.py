"""融e联 presence shared by every gateway process.

- ``chat_gateway``: one row per running gateway (API process), with a lease it
  renews every third of its length. A gateway whose lease has run out is taken
  for dead (crashed, killed, cut off): its connections no longer count, and a live
  gateway sweeps its rows away, announcing offline whoever was only there.
- ``chat_presence``: how many connections one member has open to one gateway.
  A member is online while any row of theirs belongs to a gateway whose lease
  holds. No foreign key to ``chat_gateway``: it would lock the gateway's row on
  every connect, and a row whose gateway is unknown counts as stale anyway.

Revision ID: 0013
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE chat_gateway (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) <= 200),  -- host and process, for operators
    started_at  timestamptz NOT NULL,
    lease_until timestamptz NOT NULL
);
CREATE INDEX chat_gateway_lease ON chat_gateway (lease_until);

CREATE TABLE chat_presence (
    member_kind text NOT NULL CHECK (member_kind IN ('customer', 'staff')),
    member_id   bigint NOT NULL,
    gateway_id  uuid NOT NULL,
    connections integer NOT NULL CHECK (connections > 0),
    PRIMARY KEY (member_kind, member_id, gateway_id)
);
CREATE INDEX chat_presence_gateway ON chat_presence (gateway_id);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE chat_presence, chat_gateway;")
