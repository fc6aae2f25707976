"""融e联 direct chats start as requests, so that a mobile number does not give away
who (if anyone) banks with it.

- ``chat_conversation.request`` (direct chats only): ``pending`` (the other customer
  is asked and has not answered), ``accepted`` (both see each other's name and
  presence) or ``closed`` (nobody will answer: declined, blocked, or no customer has
  the number; to the customer who asked it looks pending for ever).
  ``requested_by``: the customer who asked. Direct chats made before are accepted.
- ``chat_lookup_bucket``: each customer's token bucket for opening chats by mobile
  number, under its row lock like the send limit.

Revision ID: 0025_chat_requests
"""

from alembic import op

revision = "0025_chat_requests"
down_revision = "0024_staff_supervisor"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE chat_conversation
    ADD COLUMN request text CHECK (request IN ('pending', 'accepted', 'closed')),
    ADD COLUMN requested_by bigint REFERENCES customer (id);
UPDATE chat_conversation SET request = 'accepted' WHERE kind = 'direct';
ALTER TABLE chat_conversation ADD CONSTRAINT chat_conversation_request
    CHECK ((kind = 'direct') = (request IS NOT NULL)
           AND (requested_by IS NULL OR kind = 'direct'));

CREATE TABLE chat_lookup_bucket (
    customer_id bigint PRIMARY KEY REFERENCES customer (id),
    tokens      double precision NOT NULL,
    at          timestamptz NOT NULL
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE chat_lookup_bucket; "
        "ALTER TABLE chat_conversation DROP CONSTRAINT chat_conversation_request, "
        "DROP COLUMN requested_by, DROP COLUMN request"
    )
