"""Interest on demand deposits: daily accruals, quarterly postings, end-of-day runs.

Amounts of interest below the fen are integer counts of accrual units of
1/(360 × 10^8) fen (see ``rongbank.accounts.interest``), in ``numeric`` because a
balance times a rate can pass bigint's range. The database checks what the code
promises: a day's accrual is exactly its balance times its rate, and a posting
pays plus carries exactly what was owed.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
-- One row per e-account and business date: the end-of-day balance (fen), the
-- annual rate in force, and the day's interest in accrual units. The primary key
-- makes a second run of the same date a no-op.
CREATE TABLE interest_accrual (
    e_account_id  bigint NOT NULL REFERENCES e_account (id),
    business_date date NOT NULL,
    balance       bigint NOT NULL,
    annual_rate   numeric(12, 8) NOT NULL CHECK (annual_rate >= 0),
    accrued       numeric(38, 0) NOT NULL,
    PRIMARY KEY (e_account_id, business_date),
    CHECK (accrued = greatest(balance, 0) * annual_rate * 100000000)
);

-- One row per e-account and settlement date (结息日): what was carried in from the
-- previous period, what accrued since, the fen paid, and the remainder carried on.
CREATE TABLE interest_posting (
    e_account_id bigint NOT NULL REFERENCES e_account (id),
    period_end   date NOT NULL,
    carried_in   numeric(38, 0) NOT NULL,
    accrued      numeric(38, 0) NOT NULL CHECK (accrued >= 0),
    paid         bigint NOT NULL CHECK (paid >= 0),
    carried_out  numeric(38, 0) NOT NULL,
    entry_id     bigint UNIQUE REFERENCES ledger_entry (id),
    PRIMARY KEY (e_account_id, period_end),
    CHECK (carried_in + accrued = paid * 36000000000 + carried_out),
    CHECK (2 * abs(carried_out) <= 36000000000),
    CHECK ((entry_id IS NULL) = (paid = 0))
);

-- One row per business date whose end of day has run.
CREATE TABLE interest_eod_run (
    business_date date PRIMARY KEY,
    finished_at   timestamptz NOT NULL,
    rate          numeric(12, 8) NOT NULL,
    accounts      integer NOT NULL CHECK (accounts >= 0),
    accrued       numeric(38, 0) NOT NULL,
    settled       boolean NOT NULL,
    accounts_paid integer NOT NULL CHECK (accounts_paid >= 0),
    paid          bigint NOT NULL CHECK (paid >= 0)
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE interest_eod_run, interest_posting, interest_accrual;")
