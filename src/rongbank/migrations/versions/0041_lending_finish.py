"""Lending, finished (issue 18):

- ``payment_code.instalments``: a 逸贷 payment code (逸贷付款码), whose payment the
  cashier scans always waits for the customer, who pays it by instalments on their
  phone (or by e-Pay);
- ``lending_settlement_share_request``: a settlement share asked for by one member of
  the credit staff and approved (or declined) by another (four eyes); an approved
  one is the ``lending_settlement_share`` it asked for;
- the staff role ``credit_manager``: reads the lending portfolio and its reports, and
  approves settlement shares; credit officers keep the review queue.

Revision ID: 0041_lending_finish
"""

from alembic import op

revision = "0041_lending_finish"
down_revision = "0040_risk_aml"
branch_labels = None
depends_on = None
serves_older_code = False

ROLES = (
    "'account_manager', 'operations', 'credit_officer', 'risk_analyst', 'administrator', "
    "'supervisor'"
)


def upgrade() -> None:
    op.execute(
        f"""
        ALTER TABLE payment_code ADD COLUMN instalments boolean NOT NULL DEFAULT false;

        CREATE TABLE lending_settlement_share_request (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            loan_id     bigint NOT NULL REFERENCES loans (id),
            merchant_id bigint NOT NULL REFERENCES merchant (id),
            share_bps   integer NOT NULL CHECK (share_bps > 0 AND share_bps <= 10000),
            reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
            status      text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'approved', 'declined')),
            asked_by    bigint NOT NULL REFERENCES staff (id),
            decided_by  bigint REFERENCES staff (id),
            asked_at    timestamptz NOT NULL,
            decided_at  timestamptz,
            CHECK (decided_by <> asked_by),
            CHECK ((status = 'pending') = (decided_by IS NULL))
        );
        CREATE UNIQUE INDEX lending_settlement_share_request_pending
            ON lending_settlement_share_request (loan_id) WHERE status = 'pending';

        ALTER TABLE staff DROP CONSTRAINT staff_role_check, ADD CONSTRAINT staff_role_check
            CHECK (role IN ({ROLES}, 'credit_manager'));
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        ALTER TABLE staff DROP CONSTRAINT staff_role_check, ADD CONSTRAINT staff_role_check
            CHECK (role IN ({ROLES}));
        DROP TABLE lending_settlement_share_request;
        ALTER TABLE payment_code DROP COLUMN instalments;
        """
    )
