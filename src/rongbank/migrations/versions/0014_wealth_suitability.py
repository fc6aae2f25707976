"""Wealth products: suitability (risk assessment), redemption, maturity.

- ``wealth_product.maturity_date``: the day a fixed-term product matures (Beijing
  date); NULL for an open-ended product, which its holders redeem when they wish.
- ``wealth_holding``: ``value_date`` (起息日, from which yield accrues),
  ``redeemed`` (principal paid back so far, never more than ``amount``: checked
  here as well as in Python) and ``status`` (``held``; ``redeemed`` when all of it
  was redeemed; ``matured`` when the maturity job has paid it out).
- ``wealth_payout``: each redemption or maturity payment of a holding, with the
  principal and yield it paid and their ledger entries; unique per customer's
  client id, and at most one maturity per holding, so a job run twice cannot pay
  twice.
- ``wealth_assessment``: each risk-tolerance assessment a customer submitted
  (history kept, append-only by the service): the answers, score, level C1-C5,
  when it was made and until when it is valid.

Revision ID: 0014
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE wealth_product ADD COLUMN maturity_date date;

ALTER TABLE wealth_holding
    ADD COLUMN value_date date,
    ADD COLUMN redeemed bigint NOT NULL DEFAULT 0,
    ADD COLUMN status text NOT NULL DEFAULT 'held'
        CHECK (status IN ('held', 'redeemed', 'matured')),
    ADD CONSTRAINT wealth_holding_redeemed_check CHECK (redeemed BETWEEN 0 AND amount);
UPDATE wealth_holding SET value_date = CAST(created_at AT TIME ZONE 'Asia/Shanghai' AS date);
ALTER TABLE wealth_holding ALTER COLUMN value_date SET NOT NULL;
-- what the maturity job scans
CREATE INDEX wealth_holding_held ON wealth_holding (product_id) WHERE status = 'held';

CREATE TABLE wealth_payout (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    holding_id   bigint NOT NULL REFERENCES wealth_holding (id),
    customer_id  bigint NOT NULL REFERENCES customer (id),
    kind         text NOT NULL CHECK (kind IN ('redemption', 'maturity')),
    client_id    text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 100),
    principal    bigint NOT NULL CHECK (principal > 0),
    yield_amount bigint NOT NULL CHECK (yield_amount >= 0),
    days         integer NOT NULL CHECK (days >= 0),
    entry_id     bigint NOT NULL,
    -- the yield's own ledger entry; NULL when there was no yield to pay
    yield_entry_id bigint,
    created_at   timestamptz NOT NULL,
    UNIQUE (customer_id, kind, client_id),
    CHECK ((yield_amount > 0) = (yield_entry_id IS NOT NULL))
);
CREATE INDEX wealth_payout_holding ON wealth_payout (holding_id);
CREATE UNIQUE INDEX wealth_payout_one_maturity ON wealth_payout (holding_id)
    WHERE kind = 'maturity';

CREATE TABLE wealth_assessment (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id   bigint NOT NULL REFERENCES customer (id),
    questionnaire text NOT NULL,
    answers       jsonb NOT NULL,
    score         integer NOT NULL CHECK (score >= 0),
    level         smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
    assessed_at   timestamptz NOT NULL,
    valid_until   timestamptz NOT NULL,
    CHECK (valid_until > assessed_at)
);
CREATE INDEX wealth_assessment_customer
    ON wealth_assessment (customer_id, assessed_at DESC, id DESC);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE wealth_assessment, wealth_payout; "
        "DROP INDEX wealth_holding_held; "
        "ALTER TABLE wealth_holding DROP COLUMN status, DROP COLUMN redeemed, "
        "DROP COLUMN value_date; "
        "ALTER TABLE wealth_product DROP COLUMN maturity_date"
    )
