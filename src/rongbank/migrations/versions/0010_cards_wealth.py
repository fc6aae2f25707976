"""Service cards in 融e联 chat, and a minimal wealth-product catalogue.

- ``chat_message.kind`` admits ``card``.
- ``wealth_product``: the bank's wealth products on sale (code, name, risk level
  PR1-PR5, expected annualised yield in basis points, minimum and step amount in
  fen, sale window) with the ledger account that holds their customers' money in
  custody; ``wealth_holding``: one per purchase, unique per customer's client id.
- ``chat_card``: the state of each card sent into a conversation. The card itself
  is a message (append-only, hash-chained); what happens to it (paid, booked,
  declined, expired, failed) is a new message that references it, and the state
  lives here, because messages may not be updated.

Revision ID: 0010
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE chat_message DROP CONSTRAINT IF EXISTS chat_message_kind_check;
ALTER TABLE chat_message ADD CONSTRAINT chat_message_kind_check
    CHECK (kind IN ('text', 'system', 'recall', 'hide', 'card'));

CREATE TABLE wealth_product (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code               text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9]{4,20}$'),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    risk_level         smallint NOT NULL CHECK (risk_level BETWEEN 1 AND 5),
    yield_bps          integer NOT NULL CHECK (yield_bps BETWEEN 0 AND 10000),
    min_amount         bigint NOT NULL CHECK (min_amount > 0),
    step_amount        bigint NOT NULL CHECK (step_amount > 0),
    sale_start         timestamptz NOT NULL,
    sale_end           timestamptz NOT NULL,
    custody_account_id bigint NOT NULL UNIQUE REFERENCES ledger_account (id),
    created_by         bigint NOT NULL REFERENCES staff (id),
    created_at         timestamptz NOT NULL,
    CHECK (sale_end > sale_start)
);

CREATE TABLE wealth_holding (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customer (id),
    product_id   bigint NOT NULL REFERENCES wealth_product (id),
    e_account_id bigint NOT NULL REFERENCES e_account (id),
    amount       bigint NOT NULL CHECK (amount > 0),
    client_id    text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 100),
    entry_id     bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    UNIQUE (customer_id, client_id)
);
CREATE INDEX wealth_holding_customer ON wealth_holding (customer_id);

CREATE TABLE chat_card (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id  bigint NOT NULL,
    seq              bigint NOT NULL,
    sender_kind      text NOT NULL CHECK (sender_kind IN ('customer', 'staff')),
    sender_id        bigint NOT NULL,
    client_id        text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 100),
    kind             text NOT NULL
                     CHECK (kind IN ('transfer', 'request', 'merchant_order', 'wealth', 'flight')),
    -- the one customer who may act on it
    actor_id         bigint NOT NULL REFERENCES customer (id),
    amount           bigint CHECK (amount IS NULL OR amount > 0),
    currency         text NOT NULL DEFAULT 'CNY',
    payer_account_id bigint REFERENCES e_account (id),
    payee_account_id bigint REFERENCES e_account (id),
    merchant_id      bigint REFERENCES merchant (id),
    order_no         text,
    product_id       bigint REFERENCES wealth_product (id),
    offer            jsonb,
    hold_ref         text,
    note             text NOT NULL DEFAULT '' CHECK (length(note) <= 200),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN
                     ('open', 'booking', 'paid', 'booked', 'declined', 'expired', 'failed')),
    outcome          jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    closed_at        timestamptz,
    FOREIGN KEY (conversation_id, seq) REFERENCES chat_message (conversation_id, seq),
    UNIQUE (conversation_id, sender_kind, sender_id, client_id),
    CHECK ((status IN ('open', 'booking')) = (closed_at IS NULL))
);
CREATE INDEX chat_card_open ON chat_card (expires_at) WHERE status = 'open';
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    # The message kind stays: card messages in the log cannot be removed (the log is
    # append-only).
    op.execute("DROP TABLE chat_card, wealth_holding, wealth_product")
