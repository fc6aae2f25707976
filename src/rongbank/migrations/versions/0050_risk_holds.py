"""Review holds on e-Pay payments.

- ``payment.status`` gains ``held`` (the fraud engine sent it to review: the money is a
  pending ledger transfer to the merchant's payable, not the merchant's yet) and
  ``declined`` (the review voided it: the money went back to the customer). A held
  payment is found by its entry when the hold is decided (``payment_held``).
- ``risk_hold.keep_pending``: a release leaves the pending transfer to its owner
  rather than posting it (an e-Pay payment with manual capture, which the merchant
  then captures or voids as any authorisation).
- ``scheduled_transfer_run.status`` gains ``held``: a run the engine sent to review,
  its money pending (``entry_id``) until the review decides.

Revision ID: 0050_risk_holds
"""

from alembic import op

revision = "0050_risk_holds"
down_revision = "0049_mall_finish"
branch_labels = None
depends_on = None
serves_older_code = False  # new payment statuses older code does not know


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE payment DROP CONSTRAINT payment_status_check;
        ALTER TABLE payment ADD CONSTRAINT payment_status_check CHECK (status IN
            ('created', 'authorised', 'paid', 'voided', 'expired', 'held', 'declined'));
        CREATE INDEX payment_held ON payment (entry_id) WHERE status = 'held';
        ALTER TABLE risk_hold ADD COLUMN keep_pending boolean NOT NULL DEFAULT false;
        ALTER TABLE scheduled_transfer_run DROP CONSTRAINT scheduled_transfer_run_status_check;
        ALTER TABLE scheduled_transfer_run DROP CONSTRAINT scheduled_transfer_run_check;
        ALTER TABLE scheduled_transfer_run ADD CONSTRAINT scheduled_transfer_run_status_check
            CHECK (status IN ('paid', 'failed', 'held'));
        ALTER TABLE scheduled_transfer_run ADD CONSTRAINT scheduled_transfer_run_check
            CHECK ((status = 'failed') = (entry_id IS NULL));
        CREATE INDEX scheduled_transfer_run_held ON scheduled_transfer_run (entry_id)
            WHERE status = 'held';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX scheduled_transfer_run_held;
        UPDATE scheduled_transfer_run SET status = 'paid' WHERE status = 'held';
        ALTER TABLE scheduled_transfer_run DROP CONSTRAINT scheduled_transfer_run_status_check;
        ALTER TABLE scheduled_transfer_run DROP CONSTRAINT scheduled_transfer_run_check;
        ALTER TABLE scheduled_transfer_run ADD CONSTRAINT scheduled_transfer_run_status_check
            CHECK (status IN ('paid', 'failed'));
        ALTER TABLE scheduled_transfer_run ADD CONSTRAINT scheduled_transfer_run_check
            CHECK ((status = 'paid') = (entry_id IS NOT NULL));
        ALTER TABLE risk_hold DROP COLUMN keep_pending;
        DROP INDEX payment_held;
        UPDATE payment SET status = 'voided' WHERE status = 'declined';
        UPDATE payment SET status = 'authorised' WHERE status = 'held';
        ALTER TABLE payment DROP CONSTRAINT payment_status_check;
        ALTER TABLE payment ADD CONSTRAINT payment_status_check CHECK (status IN
            ('created', 'authorised', 'paid', 'voided', 'expired'));
        """
    )
