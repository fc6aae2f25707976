"""Money in and out through cards bound at other banks.

- ``bound_card``: a customer's card at another bank. The number itself is not kept:
  only a masked form to show, a keyed hash (HMAC-SHA256) to spot the same card
  bound twice, and the token its issuer gave at enrolment to name it in clearing
  calls. A card unbound keeps its row (requests refer to it) with ``unbound_at``.
- ``funding_request``: one top-up or withdrawal, unique per customer and client id
  (the idempotency key), with what the network answered. ``network_reference`` is
  the bank's serial number sent with the call, by which the network is asked later
  about a call that timed out; ``deadline`` is when the network stops accepting it.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE bound_card (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id   bigint NOT NULL REFERENCES customer (id),
    card_hash     bytea NOT NULL CHECK (length(card_hash) = 32),
    masked        text NOT NULL CHECK (length(masked) BETWEEN 16 AND 19),
    holder_name   text NOT NULL CHECK (length(holder_name) BETWEEN 1 AND 200),
    bank_name     text,
    network_token text NOT NULL,
    bound_at      timestamptz NOT NULL,
    unbound_at    timestamptz,
    CHECK (unbound_at IS NULL OR unbound_at >= bound_at)
);
CREATE UNIQUE INDEX bound_card_once ON bound_card (customer_id, card_hash)
    WHERE unbound_at IS NULL;

CREATE TABLE funding_request (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id       bigint NOT NULL REFERENCES customer (id),
    client_id         text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 64),
    kind              text NOT NULL CHECK (kind IN ('top_up', 'withdraw')),
    e_account_id      bigint NOT NULL REFERENCES e_account (id),
    card_id           bigint NOT NULL REFERENCES bound_card (id),
    amount            bigint NOT NULL CHECK (amount > 0),
    state             text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed', 'unknown')),
    ledger_entry_id   bigint REFERENCES ledger_entry (id),
    network_reference text NOT NULL UNIQUE,
    deadline          timestamptz NOT NULL,
    reason            text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    UNIQUE (customer_id, client_id),
    CHECK (state <> 'succeeded' OR ledger_entry_id IS NOT NULL)
);
-- What the resolver looks for: open requests past their deadline.
CREATE INDEX funding_request_open ON funding_request (deadline)
    WHERE state IN ('pending', 'unknown');
-- Top-ups under way count towards a class III account's balance cap.
CREATE INDEX funding_request_account ON funding_request (e_account_id)
    WHERE state IN ('pending', 'unknown');
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE funding_request, bound_card;")
