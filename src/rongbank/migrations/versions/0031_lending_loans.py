"""Loans of the online financing centre, their schedules, repayments and end of day.

- ``loans``: one loan, its contract (product, principal, term, method, the contract
  rate, the APR shown before signing, the penalty rate, grade, fees) and its state:
  principal still owed, days past due, the five-category classification
  (正常/关注/次级/可疑/损失 as ``normal``... ``loss``) and the provision held for it.
  ``idempotency_key`` makes a disbursement once only per customer.
  ``internet_consumer`` marks the loans counted against the 200,000-yuan cap.
- ``loan_instalments``: the schedule, one row a period, with what has accrued on it
  (interest and fee, day by day up to its due date; penalty interest on its overdue
  principal after) and what has been paid. Checks keep paid ≤ owed.
- ``loan_repayments``: each repayment (a customer's, the end of day's auto-debit, an
  early repayment), its split and the ledger entry that moved it; once per
  (loan, client_id).
- ``lending_eod_runs``: one row per business date done, so that a second run of the
  same date changes nothing.

The money itself is on the ledger, on the bank's lending accounts (``lending:*``,
opened on first use): the loans table is the subledger whose sums they carry.

Revision ID: 0031_lending_loans
"""

from alembic import op

revision = "0031_lending_loans"
down_revision = "0030_password_reset"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE loans (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id          bigint NOT NULL REFERENCES customer (id),
    e_account_id         bigint NOT NULL REFERENCES e_account (id),
    product_code         text NOT NULL CHECK (length(product_code) BETWEEN 1 AND 64),
    internet_consumer    boolean NOT NULL,
    application_id       text,
    idempotency_key      text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    principal            bigint NOT NULL CHECK (principal > 0),
    term_months          smallint NOT NULL CHECK (term_months BETWEEN 1 AND 360),
    method               text NOT NULL CHECK (method IN ('equal_instalment', 'equal_principal',
                                                         'interest_first', 'bullet')),
    annual_rate_bps      integer NOT NULL CHECK (annual_rate_bps >= 0),
    apr_bps              integer NOT NULL CHECK (apr_bps >= 0),
    penalty_rate_bps     integer NOT NULL CHECK (penalty_rate_bps >= 0),
    grade                text NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D', 'E')),
    upfront_fee          bigint NOT NULL DEFAULT 0 CHECK (upfront_fee >= 0),
    monthly_fee_bps      integer NOT NULL DEFAULT 0 CHECK (monthly_fee_bps >= 0),
    start_date           date NOT NULL,
    status               text NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'repaid', 'written_off')),
    principal_outstanding bigint NOT NULL CHECK (principal_outstanding >= 0),
    days_past_due        integer NOT NULL DEFAULT 0 CHECK (days_past_due >= 0),
    category             text NOT NULL DEFAULT 'normal'
                         CHECK (category IN ('normal', 'special_mention', 'substandard',
                                             'doubtful', 'loss')),
    provision            bigint NOT NULL DEFAULT 0 CHECK (provision >= 0),
    disbursement_entry_id bigint NOT NULL REFERENCES ledger_entry (id),
    disbursed_at         timestamptz NOT NULL,
    closed_at            timestamptz,
    UNIQUE (customer_id, idempotency_key),
    CHECK ((status = 'active') = (closed_at IS NULL))
);
CREATE INDEX loans_customer ON loans (customer_id, id);
CREATE INDEX loans_active ON loans (id) WHERE status = 'active';
CREATE INDEX loans_overdue ON loans (id)
    WHERE status = 'active' AND (days_past_due > 0 OR category <> 'normal');
CREATE INDEX loans_application ON loans (application_id) WHERE application_id IS NOT NULL;

CREATE TABLE loan_instalments (
    loan_id          bigint NOT NULL REFERENCES loans (id),
    number           smallint NOT NULL CHECK (number >= 1),
    period_start     date NOT NULL,
    due_date         date NOT NULL CHECK (due_date >= period_start),
    principal        bigint NOT NULL CHECK (principal >= 0),
    interest         bigint NOT NULL CHECK (interest >= 0),
    fee              bigint NOT NULL CHECK (fee >= 0),
    interest_accrued bigint NOT NULL DEFAULT 0 CHECK (interest_accrued BETWEEN 0 AND interest),
    fee_accrued      bigint NOT NULL DEFAULT 0 CHECK (fee_accrued BETWEEN 0 AND fee),
    penalty_accrued  bigint NOT NULL DEFAULT 0 CHECK (penalty_accrued >= 0),
    principal_paid   bigint NOT NULL DEFAULT 0 CHECK (principal_paid BETWEEN 0 AND principal),
    interest_paid    bigint NOT NULL DEFAULT 0 CHECK (interest_paid BETWEEN 0 AND interest_accrued),
    fee_paid         bigint NOT NULL DEFAULT 0 CHECK (fee_paid BETWEEN 0 AND fee_accrued),
    penalty_paid     bigint NOT NULL DEFAULT 0 CHECK (penalty_paid BETWEEN 0 AND penalty_accrued),
    paid_at          timestamptz,
    PRIMARY KEY (loan_id, number)
) WITH (fillfactor = 80);
-- The end of day reads the open instalments only: those whose period has begun (to
-- accrue), and those due (to collect, to charge penalty on, to count days past due).
CREATE INDEX loan_instalments_open_started ON loan_instalments (period_start, loan_id)
    WHERE paid_at IS NULL;
CREATE INDEX loan_instalments_open_due ON loan_instalments (due_date, loan_id)
    WHERE paid_at IS NULL;

CREATE TABLE loan_repayments (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loan_id    bigint NOT NULL REFERENCES loans (id),
    kind       text NOT NULL CHECK (kind IN ('repay', 'auto_debit', 'early_full',
                                             'early_partial')),
    client_id  text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 200),
    principal  bigint NOT NULL CHECK (principal >= 0),
    interest   bigint NOT NULL CHECK (interest >= 0),
    fee        bigint NOT NULL CHECK (fee >= 0),
    penalty    bigint NOT NULL CHECK (penalty >= 0),
    entry_id   bigint NOT NULL REFERENCES ledger_entry (id),
    value_date date NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (loan_id, client_id),
    CHECK (principal + interest + fee + penalty > 0)
);

CREATE TABLE lending_eod_runs (
    business_date date PRIMARY KEY,
    figures       jsonb NOT NULL,
    finished_at   timestamptz NOT NULL
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE lending_eod_runs, loan_repayments, loan_instalments, loans;")
