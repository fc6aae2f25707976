"""The transactional outbox that belongs to no domain (``rongbank.outbox``).

- ``outbox_event``: one row per event a domain recorded in the transaction that
  made it (a payment, a transfer, a payout), unique by its key; kept as the record.
- ``outbox_reader``: who reads the events (``chat.push``; ``risk`` adds itself when
  it lands). A reader added later hears of the events recorded from then on.
- ``outbox_pending``: each reader's queue, one row per event it has not handled;
  the reader deletes the row in the transaction that handles the event.

No foreign key from ``outbox_pending.reader``: every money movement would take a
share lock on the reader's row, and many transactions sharing one row's lock make
PostgreSQL write a multixact for each. The event and its queue rows are written by
one statement, so they cannot part.

Revision ID: 0017_outbox
"""

from alembic import op

revision = "0017_outbox"
down_revision = "0016_payout_cards"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE outbox_event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (name ~ '^[a-z_]+\\.[a-z_]+$'),
    event_key   text NOT NULL UNIQUE CHECK (length(event_key) BETWEEN 1 AND 200),
    payload     jsonb NOT NULL,
    occurred_at timestamptz NOT NULL
);

CREATE TABLE outbox_reader (
    name  text PRIMARY KEY CHECK (name ~ '^[a-z_]+(\\.[a-z_]+)?$'),
    since timestamptz NOT NULL DEFAULT now()
);
INSERT INTO outbox_reader (name) VALUES ('chat.push');

CREATE TABLE outbox_pending (
    reader   text NOT NULL,
    event_id bigint NOT NULL REFERENCES outbox_event (id),
    PRIMARY KEY (reader, event_id)
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE outbox_pending, outbox_reader, outbox_event")
