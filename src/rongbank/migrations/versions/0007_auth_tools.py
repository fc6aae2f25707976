"""The authentication tools, their challenges, and the per-tool usage counters.

- ``auth_tool``: one row per tool a customer holds (SMS to their mobile, a grid
  card, an OCRA token, a U盾 certificate), with its consecutive failure count: five
  wrong answers in a row block it. Secrets are never stored in clear: grid codes as
  keyed hashes (``grid_card_code``), the token's key encrypted under the bank's tool
  key, the U盾 as its certificate (public data).
- ``grid_card_combination`` / ``token_use``: what a tool has already answered, so a
  position combination is never asked twice and a token code is accepted once.
- ``auth_challenge``: one challenge per money-moving request, bound to the SHA-256
  of that request's content, single use, short-lived.
- ``auth_usage``: what each customer has moved per day under each tool (and
  without one, ``password_free``), counted in the payment's own transaction.
- ``auth_limit``: limits a customer has lowered for themselves.
- ``bank_ca``: the bank's customer CA (its key encrypted under the tool key).

Revision ID: 0007
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE auth_tool (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customer (id),
    kind         text NOT NULL CHECK (kind IN ('sms', 'grid_card', 'token', 'ukey')),
    serial       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('active', 'blocked', 'revoked', 'expired')),
    failures     integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    uses         integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    max_uses     integer CHECK (max_uses > 0),
    secret       bytea,
    certificate  text,
    created_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    UNIQUE (kind, serial)
);
-- A customer holds at most one live tool of each kind; a new one replaces it.
CREATE UNIQUE INDEX auth_tool_live ON auth_tool (customer_id, kind)
    WHERE status IN ('active', 'blocked');
CREATE SEQUENCE ukey_certificate_serial START 1000;

CREATE TABLE grid_card_code (
    tool_id   bigint NOT NULL REFERENCES auth_tool (id),
    position  text NOT NULL,
    code_hash bytea NOT NULL CHECK (length(code_hash) = 32),
    PRIMARY KEY (tool_id, position)
);

CREATE TABLE grid_card_combination (
    tool_id     bigint NOT NULL REFERENCES auth_tool (id),
    combination text NOT NULL,
    PRIMARY KEY (tool_id, combination)
);

CREATE TABLE token_use (
    tool_id   bigint NOT NULL REFERENCES auth_tool (id),
    time_step bigint NOT NULL,
    question  text NOT NULL,
    PRIMARY KEY (tool_id, time_step, question)
);

CREATE TABLE auth_challenge (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id      text NOT NULL UNIQUE,
    customer_id    bigint NOT NULL REFERENCES customer (id),
    tool_id        bigint NOT NULL REFERENCES auth_tool (id),
    request_digest bytea NOT NULL CHECK (length(request_digest) = 32),
    amount         bigint NOT NULL CHECK (amount >= 0),  -- 0: a security change
    shown          text NOT NULL,
    question       text NOT NULL DEFAULT '',
    code_hash      bytea,
    status         text NOT NULL CHECK (status IN ('open', 'passed', 'used', 'failed')),
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX auth_challenge_customer ON auth_challenge (customer_id, created_at);

CREATE TABLE auth_usage (
    customer_id bigint NOT NULL REFERENCES customer (id),
    day         date NOT NULL,
    kind        text NOT NULL,
    amount      bigint NOT NULL DEFAULT 0 CHECK (amount >= 0),
    count       integer NOT NULL DEFAULT 0 CHECK (count >= 0),
    PRIMARY KEY (customer_id, kind, day)
);

CREATE TABLE auth_limit (
    customer_id bigint NOT NULL REFERENCES customer (id),
    kind        text NOT NULL,
    per_payment bigint CHECK (per_payment >= 0),
    daily       bigint CHECK (daily >= 0),
    PRIMARY KEY (customer_id, kind)
);

-- Stands in for the SMS operator (see rongbank.auth.sms.FakeSmsGateway): the
-- messages a real gateway would deliver, readable by tests and `rongbank device sms`.
CREATE TABLE fake_sms_outbox (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mobile  text NOT NULL,
    body    text NOT NULL,
    sent_at timestamptz NOT NULL
);

CREATE TABLE bank_ca (
    id          integer PRIMARY KEY CHECK (id = 1),
    key_sealed  bytea NOT NULL,
    certificate text NOT NULL,
    created_at  timestamptz NOT NULL
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE bank_ca, fake_sms_outbox, auth_limit, auth_usage, auth_challenge, token_use, "
        "grid_card_combination, grid_card_code, auth_tool; DROP SEQUENCE ukey_certificate_serial;"
    )
