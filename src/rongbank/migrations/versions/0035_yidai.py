"""逸贷 at checkout: which credit application pays which e-Pay order.

- ``lending_checkout``: an application for instalments made from an e-Pay order's pay
  page (the order's amount is the application's), and once its offer is accepted,
  the loan that paid the order. At most one loan per order (a partial unique index):
  an order is paid by instalments once, whatever retries or races there are.
  ``refunded``: what the order's refunds have taken off the loan's principal so far.
- ``lending_settlement_share``: a merchant operating loan repaid by a share (basis
  points) of each of the merchant's e-Pay settlement payouts.

Revision ID: 0035_yidai
"""

from alembic import op

revision = "0035_yidai"
down_revision = "0034_risk_liquidity"
branch_labels = None
depends_on = None
serves_older_code = False


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE lending_checkout (
            application_id bigint PRIMARY KEY REFERENCES lending_application (id),
            payment_id     bigint NOT NULL REFERENCES payment (id),
            customer_id    bigint NOT NULL REFERENCES customer (id),
            loan_id        bigint REFERENCES loans (id),
            refunded       bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0)
        );
        CREATE UNIQUE INDEX lending_checkout_paid ON lending_checkout (payment_id)
            WHERE loan_id IS NOT NULL;
        CREATE INDEX lending_checkout_payment ON lending_checkout (payment_id);
        CREATE TABLE lending_settlement_share (
            loan_id     bigint PRIMARY KEY REFERENCES loans (id),
            merchant_id bigint NOT NULL REFERENCES merchant (id),
            share_bps   integer NOT NULL CHECK (share_bps > 0 AND share_bps <= 10000)
        );
        CREATE INDEX lending_settlement_share_merchant ON lending_settlement_share (merchant_id);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE lending_settlement_share; DROP TABLE lending_checkout")
