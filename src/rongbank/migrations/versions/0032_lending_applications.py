"""Lending decisions: applications, the stages of each decision, offers, the credit
officers' reviews, and the lending blacklist.

- ``lending_application``: what a customer asked for (product, amount, term, method,
  purpose, ``form``: the application data the scorecard needs) or what the
  pre-approval batch offers them (``source = 'preapproval'``), and how it was decided:
  ``status``, the scorecard's ``points``/``grade`` and the ``rules_version`` and
  ``model_version`` it was decided under, so that ``rongbank lending decision replay``
  can run it again and get the same answer.
- ``lending_decision_stage``: every stage of a decision (eligibility, bureau, fraud,
  scorecard, pricing) with what it read (``inputs``), its ``outcome``, ``reasons`` and what it
  found (``outputs``: the score, the limit and price).
- ``lending_offer``: what the bank offers for an application: amount, term, method,
  rate, fees and the APR the customer is shown before signing; accepting it disburses
  the loan (``loan_id``).
- ``lending_review``: an application the decision referred to a credit officer (grey
  zone, large amount, elevated fraud risk); maker-checker above a limit: a second
  officer, another than the first, approves too.
- ``lending_blacklist``: identity numbers the bank does not lend to, with why.

Revision ID: 0032_lending_applications
"""

from alembic import op

revision = "0032_lending_applications"
down_revision = "0031_lending_loans"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE lending_application (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id    bigint NOT NULL REFERENCES customer (id),
    source         text NOT NULL CHECK (source IN ('application', 'preapproval')),
    client_id      text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 64),
    product        text NOT NULL CHECK (length(product) BETWEEN 1 AND 64),
    purpose        text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 32),
    amount         bigint NOT NULL CHECK (amount > 0),
    term_months    integer NOT NULL CHECK (term_months > 0),
    method         text NOT NULL,
    form           jsonb NOT NULL,
    status         text NOT NULL
                   CHECK (status IN ('declined', 'review', 'offered', 'accepted', 'expired')),
    points         integer,
    grade          text CHECK (grade IN ('A', 'B', 'C', 'D', 'E')),
    rules_version  text NOT NULL,
    model_version  text,
    created_at     timestamptz NOT NULL,
    UNIQUE (customer_id, source, client_id)
);
CREATE INDEX lending_application_customer ON lending_application (customer_id, created_at);
CREATE INDEX lending_application_day ON lending_application (created_at);

CREATE TABLE lending_decision_stage (
    application_id bigint NOT NULL REFERENCES lending_application (id),
    seq            smallint NOT NULL CHECK (seq >= 0),
    stage          text NOT NULL,
    inputs         jsonb NOT NULL,
    outcome        text NOT NULL CHECK (outcome IN ('pass', 'decline', 'refer')),
    reasons        jsonb NOT NULL,
    outputs        jsonb NOT NULL,
    PRIMARY KEY (application_id, seq)
);

CREATE TABLE lending_offer (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id  bigint NOT NULL UNIQUE REFERENCES lending_application (id),
    customer_id     bigint NOT NULL REFERENCES customer (id),
    product         text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    term_months     integer NOT NULL CHECK (term_months > 0),
    method          text NOT NULL,
    rate_bps        integer NOT NULL CHECK (rate_bps >= 0),
    upfront_fee_bps integer NOT NULL CHECK (upfront_fee_bps >= 0),
    monthly_fee_bps integer NOT NULL CHECK (monthly_fee_bps >= 0),
    apr_bps         integer NOT NULL CHECK (apr_bps >= 0),
    status          text NOT NULL CHECK (status IN ('open', 'accepted', 'expired', 'withdrawn')),
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    loan_id         bigint REFERENCES loans (id),
    CHECK (expires_at > created_at),
    CHECK ((status = 'accepted') = (accepted_at IS NOT NULL))
);
CREATE INDEX lending_offer_customer ON lending_offer (customer_id, status);

CREATE TABLE lending_review (
    application_id bigint PRIMARY KEY REFERENCES lending_application (id),
    reasons        jsonb NOT NULL,
    needs_second   boolean NOT NULL,
    status         text NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'approved_once', 'approved', 'declined')),
    first_by       bigint REFERENCES staff (id),
    first_at       timestamptz,
    second_by      bigint REFERENCES staff (id),
    second_at      timestamptz,
    note           text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    created_at     timestamptz NOT NULL,
    CHECK (second_by IS NULL OR second_by <> first_by)
);
CREATE INDEX lending_review_open ON lending_review (created_at)
    WHERE status IN ('open', 'approved_once');

CREATE TABLE lending_blacklist (
    resident_id text PRIMARY KEY,
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE lending_blacklist, lending_review, lending_offer, lending_decision_stage, "
        "lending_application;"
    )
