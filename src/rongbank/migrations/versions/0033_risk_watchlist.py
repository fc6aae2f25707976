"""Watch lists, and the hits of screening customers and payees against them.

- ``watchlist``: one row per list (``rongbank risk watchlist import``); ``import_id``
  changes at every import, which tells each process to rebuild its screening index.
- ``watchlist_entry``: the names on a list, with their aliases, the identity number
  when the source gives one, the source and the day it listed the name.
- ``screening_hits``: a screened name (a customer at onboarding, a payee when saved)
  that scored at or above the threshold against an entry: for an analyst to clear or
  confirm. The customer is not refused; the listed name is copied, so that the hit
  still says what matched after the list is imported again.
- the ``risk.screening`` reader of the outbox: registrations and saved payees reach
  screening as events (``rongbank.risk.watchlist.screening``), so that accounts
  never calls up into risk.

Revision ID: 0033_risk_watchlist
"""

from alembic import op

revision = "0033_risk_watchlist"
down_revision = "0032_lending_applications"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE watchlist (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    import_id   uuid NOT NULL,
    entries     integer NOT NULL CHECK (entries >= 0),
    imported_at timestamptz NOT NULL
);

CREATE TABLE watchlist_entry (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_name       text NOT NULL REFERENCES watchlist (name) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    aliases         text[] NOT NULL DEFAULT '{}',
    identity_number text CHECK (length(identity_number) BETWEEN 1 AND 64),
    source          text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
    listed_on       date
);
CREATE INDEX watchlist_entry_list ON watchlist_entry (list_name);

CREATE TABLE screening_hits (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject       text NOT NULL CHECK (subject IN ('customer', 'payee')),
    subject_id    bigint NOT NULL,
    customer_id   bigint NOT NULL REFERENCES customer (id),
    screened_name text NOT NULL,
    list_name     text NOT NULL,
    entry_id      bigint REFERENCES watchlist_entry (id) ON DELETE SET NULL,
    listed_name   text NOT NULL,
    matched_name  text NOT NULL,
    score         numeric(5, 2) NOT NULL CHECK (score BETWEEN 0 AND 100),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cleared', 'confirmed')),
    created_at    timestamptz NOT NULL,
    UNIQUE (subject, subject_id, list_name, listed_name, screened_name)
);
CREATE INDEX screening_hits_open ON screening_hits (created_at) WHERE status = 'open';
CREATE INDEX screening_hits_customer ON screening_hits (customer_id);

INSERT INTO outbox_reader (name) VALUES ('risk.screening');
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DELETE FROM outbox_pending WHERE reader = 'risk.screening'")
    op.execute("DELETE FROM outbox_reader WHERE name = 'risk.screening'")
    op.execute("DROP TABLE screening_hits, watchlist_entry, watchlist")
