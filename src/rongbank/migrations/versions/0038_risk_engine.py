"""The inline fraud engine (``rongbank.risk.engine``): its rules, decisions, features
and review holds.

- ``risk_rule``: declarative rules, versioned by name; a condition over feature
  names (``rule-engine`` syntax, never Python), an action, a reason code and points
  for the score. Switched on (live or shadow) by one risk analyst, approved by
  another (the CHECK keeps the four eyes); the shipped baseline rules are loaded
  here as approved by the migration itself (``origin = 'baseline'``).
- ``risk_decision``: every decision on a payment, with the features it saw, so that
  a rule can be backtested over what really happened.
- ``risk_counter``: rolling windows per subject (customer, device, payee, merchant)
  as buckets of a minute, an hour and a day, upserted in the payment's transaction.
- ``risk_seen``: payees and devices a customer has used, the first time each.
- ``risk_hold``: a payment held for review (a pending ledger transfer) until a case
  decision or its timeout releases or voids it, exactly once.
- the ``risk.engine`` reader of the outbox: case decisions (``RiskCaseDecided``).

Revision ID: 0038_risk_engine
"""

from alembic import op

revision = "0038_risk_engine"
down_revision = "0037_mall_catalogue"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE risk_rule (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    version         integer NOT NULL CHECK (version >= 1),
    condition       text NOT NULL CHECK (length(condition) BETWEEN 1 AND 2000),
    action          text NOT NULL CHECK (action IN ('allow', 'challenge', 'review', 'block')),
    reason          text NOT NULL CHECK (reason ~ '^[a-z][a-z0-9_]{0,63}$'),
    score           smallint NOT NULL DEFAULT 0 CHECK (score BETWEEN 0 AND 100),
    description     text NOT NULL DEFAULT '',
    mode            text NOT NULL CHECK (mode IN ('live', 'shadow')),
    status          text NOT NULL CHECK (status IN ('pending', 'active', 'disabled', 'superseded')),
    origin          text NOT NULL DEFAULT 'analyst' CHECK (origin IN ('analyst', 'baseline')),
    created_by      bigint REFERENCES staff (id),
    created_at      timestamptz NOT NULL,
    switched_on_by  bigint REFERENCES staff (id),
    approved_by     bigint REFERENCES staff (id),
    approved_at     timestamptz,
    disabled_by     bigint REFERENCES staff (id),
    disabled_at     timestamptz,
    UNIQUE (name, version),
    CHECK (approved_by IS NULL OR approved_by <> switched_on_by),
    CHECK (status <> 'active' OR origin = 'baseline' OR approved_by IS NOT NULL)
);
CREATE UNIQUE INDEX risk_rule_one_live_version ON risk_rule (name) WHERE status = 'active';

CREATE TABLE risk_decision (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customer (id),
    purpose     text NOT NULL,
    payer       text NOT NULL,
    payee       text NOT NULL,
    amount      bigint NOT NULL CHECK (amount >= 0),
    client_id   text NOT NULL,
    device      text,
    action      text NOT NULL CHECK (action IN ('allow', 'challenge', 'review', 'block')),
    score       real NOT NULL,
    reasons     text[] NOT NULL DEFAULT '{}',
    rules       jsonb NOT NULL DEFAULT '[]',
    features    jsonb NOT NULL,
    hold_ref    text,
    decided_at  timestamptz NOT NULL
);
CREATE INDEX risk_decision_at ON risk_decision (decided_at);
CREATE INDEX risk_decision_customer ON risk_decision (customer_id, decided_at);

-- Counters only grow and are read by subject and recent bucket: a fill factor leaves
-- room for the updates to stay on their page (HOT).
CREATE TABLE risk_counter (
    subject     text NOT NULL,
    grain       "char" NOT NULL CHECK (grain IN ('m', 'h', 'd')),
    bucket      timestamptz NOT NULL,
    n           integer NOT NULL,
    amount      bigint NOT NULL,
    max_amount  bigint NOT NULL,
    new_payees  integer NOT NULL,
    PRIMARY KEY (subject, grain, bucket)
) WITH (fillfactor = 80);
-- For the pruning of old buckets (the ``risk-counters`` job); neither column changes
-- on update, so the upserts stay HOT.
CREATE INDEX risk_counter_age ON risk_counter (grain, bucket);

CREATE TABLE risk_seen (
    customer_id bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('payee', 'device')),
    value       text NOT NULL,
    first_at    timestamptz NOT NULL,
    PRIMARY KEY (customer_id, kind, value)
);

CREATE TABLE risk_hold (
    hold_ref     text PRIMARY KEY,
    entry_id     bigint NOT NULL,
    decision_id  bigint NOT NULL REFERENCES risk_decision (id),
    customer_id  bigint NOT NULL REFERENCES customer (id),
    amount       bigint NOT NULL CHECK (amount > 0),
    state        text NOT NULL DEFAULT 'held'
                 CHECK (state IN ('held', 'released', 'voided')),
    expires_at   timestamptz NOT NULL,
    resolved_at  timestamptz,
    resolved_by  text
);
CREATE INDEX risk_hold_due ON risk_hold (expires_at) WHERE state = 'held';

INSERT INTO risk_rule (name, version, condition, action, reason, score, description, mode,
                       status, origin, created_at)
VALUES
  ('new_payee_large', 1, 'new_payee and not to_bank and amount >= 500000', 'challenge',
   'new_payee', 40,
   'A first payment of 5,000 yuan or more to a payee the customer has never paid: '
   'the classic pattern of a scam, confirmed with a tool that binds payee and amount.',
   'live', 'active', 'baseline', now());

INSERT INTO outbox_reader (name) VALUES ('risk.engine');
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DELETE FROM outbox_pending WHERE reader = 'risk.engine'")
    op.execute("DELETE FROM outbox_reader WHERE name = 'risk.engine'")
    op.execute("DROP TABLE risk_hold, risk_seen, risk_counter, risk_decision, risk_rule")
