"""融e行 direct banking: staff, customers, e-accounts and their usage counters.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE staff (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    text NOT NULL UNIQUE,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('account_manager', 'operations', 'credit_officer',
                                              'risk_analyst', 'administrator')),
    on_duty     boolean NOT NULL DEFAULT true,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL
);

-- Personal data (identity numbers, mobiles) is stored because KYC requires it and
-- shown only masked; the columns are candidates for encryption at rest.
CREATE TABLE customer (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                text NOT NULL CHECK (kind IN ('person', 'enterprise')),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    mobile              text NOT NULL UNIQUE,
    resident_id         text UNIQUE,
    birth_date          date,
    sex                 text CHECK (sex IN ('male', 'female')),
    credit_code         text UNIQUE,
    legal_rep_name      text,
    legal_rep_id        text,
    manager_id          bigint REFERENCES staff (id),
    created_at          timestamptz NOT NULL,
    CHECK ((kind = 'person') = (resident_id IS NOT NULL)),
    CHECK ((kind = 'enterprise') = (credit_code IS NOT NULL))
);
CREATE INDEX customer_manager ON customer (manager_id);

CREATE TABLE e_account (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number            text NOT NULL UNIQUE,
    customer_id       bigint NOT NULL REFERENCES customer (id),
    class             smallint NOT NULL CHECK (class IN (1, 2, 3)),
    currency          text NOT NULL REFERENCES ledger_currency (code),
    ledger_account_id bigint NOT NULL UNIQUE REFERENCES ledger_account (id),
    status            text NOT NULL CHECK (status IN ('active', 'frozen', 'dormant', 'closed')),
    status_reason     text NOT NULL DEFAULT '',
    opened_at         timestamptz NOT NULL,
    closed_at         timestamptz
);
CREATE INDEX e_account_customer ON e_account (customer_id);

-- Money moved per account and business day, for the class limits (daily and yearly
-- sums). Written in the same transaction as the movement it counts.
CREATE TABLE e_account_usage (
    e_account_id bigint NOT NULL REFERENCES e_account (id),
    day          date NOT NULL,
    outflow      bigint NOT NULL DEFAULT 0 CHECK (outflow >= 0),
    inflow       bigint NOT NULL DEFAULT 0 CHECK (inflow >= 0),
    PRIMARY KEY (e_account_id, day)
);

CREATE SEQUENCE e_account_number_seq;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE e_account_usage, e_account, customer, staff;DROP SEQUENCE e_account_number_seq;"
    )
