"""The staff console: its search, the day's work it counts, what moderators and
settlement leave behind.

- Search (``rongbank.accounts.search``): the beginnings and ends of mobile numbers,
  resident identity numbers and e-account numbers, and the beginning of names in any
  case, each indexed in code-point order (``COLLATE "C"``), so that a range over
  them is an index scan in a generic plan, whatever the database's collation.
- The day's work, counted cheaply: tools blocked, merchants waiting for approval,
  reports no moderator has acted on, the days settlement ran.
- ``chat_report.closed_at/closed_by/outcome``: a moderator hid the message
  (``hidden``) or found nothing wrong with it (``dismissed``); either closes every
  report of the message. Reports of messages already hidden are closed as hidden.
- ``merchant_settlement_failure``: a merchant's settlement that failed, kept until a
  run of that day or a later one settles the merchant.
- ``wealth_product``: a sale closed before it began has an empty window
  (``sale_end = sale_start``); new products still need a real one.

Revision ID: 0029_staff_console
"""

from alembic import op

revision = "0029_staff_console"
down_revision = "0028_payees_schedules"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE INDEX customer_name_start ON customer ((lower(name) COLLATE "C"));
CREATE INDEX customer_mobile_start ON customer ((mobile COLLATE "C"));
CREATE INDEX customer_mobile_end ON customer ((reverse(mobile) COLLATE "C"));
CREATE INDEX customer_resident_id_start ON customer ((resident_id COLLATE "C"));
CREATE INDEX customer_resident_id_end ON customer ((reverse(resident_id) COLLATE "C"));
CREATE INDEX e_account_number_start ON e_account ((number COLLATE "C"));
CREATE INDEX e_account_number_end ON e_account ((reverse(number) COLLATE "C"));

CREATE INDEX auth_tool_blocked ON auth_tool (id) WHERE status = 'blocked';
CREATE INDEX merchant_pending ON merchant (id) WHERE status = 'pending';
CREATE INDEX merchant_settlement_day ON merchant_settlement (business_day);

ALTER TABLE chat_report
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN closed_by bigint REFERENCES staff (id),
    ADD COLUMN outcome text CHECK (outcome IN ('hidden', 'dismissed')),
    ADD CHECK ((closed_at IS NULL) = (outcome IS NULL));
UPDATE chat_report r SET closed_at = m.hidden_at, closed_by = m.hidden_by, outcome = 'hidden'
FROM chat_message m
WHERE m.conversation_id = r.conversation_id AND m.seq = r.seq AND m.hidden_at IS NOT NULL;
CREATE INDEX chat_report_open ON chat_report (id) WHERE closed_at IS NULL;

CREATE TABLE merchant_settlement_failure (
    merchant_id  bigint NOT NULL REFERENCES merchant (id),
    business_day date NOT NULL,
    error        text NOT NULL,
    message      text NOT NULL,
    failed_at    timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, business_day)
);

ALTER TABLE wealth_product DROP CONSTRAINT wealth_product_check;
ALTER TABLE wealth_product ADD CONSTRAINT wealth_product_check CHECK (sale_end >= sale_start);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE wealth_product DROP CONSTRAINT wealth_product_check;
        UPDATE wealth_product SET sale_end = sale_start + interval '1 microsecond'
            WHERE sale_end = sale_start;
        ALTER TABLE wealth_product ADD CONSTRAINT wealth_product_check
            CHECK (sale_end > sale_start);
        DROP TABLE merchant_settlement_failure;
        DROP INDEX chat_report_open;
        ALTER TABLE chat_report DROP COLUMN outcome, DROP COLUMN closed_by,
            DROP COLUMN closed_at;
        DROP INDEX merchant_settlement_day, merchant_pending, auth_tool_blocked,
            e_account_number_end, e_account_number_start, customer_resident_id_end,
            customer_resident_id_start, customer_mobile_end, customer_mobile_start,
            customer_name_start;
        """
    )
