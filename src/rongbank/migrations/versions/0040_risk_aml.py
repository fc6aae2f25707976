"""Anti-money-laundering over the ledger, in batch (``rongbank.risk.aml``).

- ``risk_aml_report``: a large-value transaction report (大额交易报告): one customer's
  money in, or out, on one Beijing day under one rule of the PBoC's thresholds, in
  yuan (``currency_class`` CNY, fen) or in foreign currency (FX, US cents at the
  configured rates); the ledger entries behind it. One per day, customer, rule,
  direction and class: a day run again adds nothing.
- ``risk_aml_finding``: a suspicious pattern found, with the entries behind it, what
  was measured (``details``) and the sentence an analyst reads, in both languages.
  ``finding_key`` says what makes it one (the pattern, customer and day, or the
  incoming posting for rapid in-and-out): a rerun finds nothing new. Each is raised
  to the risk centre as ``risk.alert_raised`` (source ``aml``) in the same
  transaction.
- ``risk_aml_run``: the days run, for the daily job to know which remain.

Revision ID: 0040_risk_aml
"""

from alembic import op

revision = "0040_risk_aml"
down_revision = "0039_risk_cases"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE risk_aml_report (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day            date NOT NULL,
    customer_id    bigint NOT NULL REFERENCES customer (id),
    rule           text NOT NULL CHECK (rule IN ('cash', 'non_natural_transfer',
        'natural_domestic_transfer', 'natural_cross_border_transfer')),
    direction      text NOT NULL CHECK (direction IN ('in', 'out')),
    currency_class text NOT NULL CHECK (currency_class IN ('CNY', 'FX')),
    total          bigint NOT NULL CHECK (total > 0),
    threshold      bigint NOT NULL CHECK (threshold > 0),
    movements      integer NOT NULL CHECK (movements > 0),
    entry_ids      bigint[] NOT NULL,
    explanation_zh text NOT NULL,
    explanation_en text NOT NULL,
    created_at     timestamptz NOT NULL,
    UNIQUE (day, customer_id, rule, direction, currency_class)
);
CREATE INDEX risk_aml_report_customer ON risk_aml_report (customer_id);

CREATE TABLE risk_aml_finding (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_key    text NOT NULL UNIQUE,
    pattern        text NOT NULL CHECK (pattern IN ('structuring', 'rapid_in_out', 'fan_in',
        'fan_out', 'dormant_woken', 'round_amounts')),
    day            date NOT NULL,
    customer_id    bigint NOT NULL REFERENCES customer (id),
    amount         bigint NOT NULL CHECK (amount > 0),
    entry_ids      bigint[] NOT NULL CHECK (cardinality(entry_ids) > 0),
    details        jsonb NOT NULL,
    explanation_zh text NOT NULL,
    explanation_en text NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX risk_aml_finding_day ON risk_aml_finding (day);
CREATE INDEX risk_aml_finding_customer ON risk_aml_finding (customer_id);

CREATE TABLE risk_aml_run (
    day        date PRIMARY KEY,
    ran_at     timestamptz NOT NULL,
    movements  bigint NOT NULL,
    reports    integer NOT NULL,
    findings   integer NOT NULL
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE risk_aml_run, risk_aml_finding, risk_aml_report")
