"""The lending portfolio's history: each loan's days past due at every month end.

- ``loan_month_end``: one row per loan active at the end of a month (``month`` is the
  month's first day), written by the end of day of the month's last date in one
  INSERT ... SELECT over the book: its days past due and principal outstanding. The
  loans table only knows today; the month-on-month roll rates between days-past-due
  buckets and the vintage curves (share of a disbursement month's principal that has
  been 30+ days past due, by months on book) are read from these rows.

Revision ID: 0036_lending_portfolio
"""

from alembic import op

revision = "0036_lending_portfolio"
down_revision = "0035_yidai"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE loan_month_end (
    month                 date NOT NULL CHECK (extract(day FROM month) = 1),
    loan_id               bigint NOT NULL REFERENCES loans (id),
    days_past_due         integer NOT NULL CHECK (days_past_due >= 0),
    principal_outstanding bigint NOT NULL CHECK (principal_outstanding >= 0),
    PRIMARY KEY (month, loan_id)
);
-- The vintage curves look for each loan's first month end at 30+ days past due.
CREATE INDEX loan_month_end_30dpd ON loan_month_end (loan_id, month) WHERE days_past_due >= 30;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE loan_month_end;")
