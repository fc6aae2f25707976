"""e-Pay hardening: settlement covers every movement exactly once, whatever the order
days are settled in and however late a movement commits; the merchant payable never
goes below zero; merchant logins can be revoked.

- ``payment.settled_day`` and ``payment_refund.settled_day``: the business day of the
  settlement run that took the movement (NULL until one does). A run for day D takes
  every paid payment and refund of days up to D that no run has taken yet: a day
  settled out of order, or a payment that committed after its day was settled, is
  taken by the next run instead of being lost. Movements of already settled days are
  marked as taken by that day's run.
- ``merchant_settlement.fees_charged``: the fees the run took (no more than the
  payable held; the rest stays owed). ``brought_forward`` and ``carried_forward`` may
  now be positive: money held back (over the settlement account's class limit, or
  not in the payable yet) is still owed to the merchant.
- The merchants' payable ledger accounts get the rule "debits must not exceed
  credits", so a refund or a settlement can never take out more than is held. A
  payable already below zero (a refund after settlement, before this change) gets
  that deficit as its overdraft limit, so that the rule holds as it is; the next
  settlements net it against new payments.
- ``merchant_user.revoked_at``: when the login was revoked (``active`` false).

Revision ID: 0018_epay
"""

from alembic import op

revision = "0018_epay"
down_revision = "0017_outbox"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE payment ADD COLUMN settled_day date;
ALTER TABLE payment_refund ADD COLUMN settled_day date;
UPDATE payment p SET settled_day = p.business_day FROM merchant_settlement s
 WHERE s.merchant_id = p.merchant_id AND s.business_day = p.business_day
   AND p.status = 'paid';
UPDATE payment_refund r SET settled_day = r.business_day
  FROM payment p, merchant_settlement s
 WHERE p.id = r.payment_id AND s.merchant_id = p.merchant_id
   AND s.business_day = r.business_day;
CREATE INDEX payment_unsettled ON payment (merchant_id, business_day)
    WHERE settled_day IS NULL AND status = 'paid';
CREATE INDEX payment_settled ON payment (merchant_id, settled_day)
    WHERE settled_day IS NOT NULL;
CREATE INDEX payment_refund_unsettled ON payment_refund (payment_id)
    WHERE settled_day IS NULL;
CREATE INDEX payment_refund_settled ON payment_refund (settled_day, payment_id)
    WHERE settled_day IS NOT NULL;

ALTER TABLE merchant_settlement
    DROP CONSTRAINT merchant_settlement_brought_forward_check,
    DROP CONSTRAINT merchant_settlement_carried_forward_check,
    ADD COLUMN fees_charged bigint;
UPDATE merchant_settlement SET fees_charged = fees;
ALTER TABLE merchant_settlement
    ALTER COLUMN fees_charged SET NOT NULL,
    ADD CONSTRAINT merchant_settlement_fees_charged CHECK (fees_charged >= 0);

UPDATE ledger_account a
   SET rule = 'debits_must_not_exceed_credits',
       overdraft_limit = greatest(a.debits_posted + a.debits_pending - a.credits_posted, 0)
  FROM merchant m
 WHERE m.payable_account_id = a.id;

ALTER TABLE merchant_user ADD COLUMN revoked_at timestamptz;
UPDATE merchant_user SET revoked_at = now() WHERE NOT active;
ALTER TABLE merchant_user
    ADD CONSTRAINT merchant_user_revoked CHECK (active = (revoked_at IS NULL));
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE merchant_user DROP CONSTRAINT merchant_user_revoked,
            DROP COLUMN revoked_at;
        UPDATE ledger_account a SET rule = 'none', overdraft_limit = 0
          FROM merchant m WHERE m.payable_account_id = a.id;
        ALTER TABLE merchant_settlement DROP COLUMN fees_charged;
        DROP INDEX payment_unsettled, payment_settled, payment_refund_unsettled,
            payment_refund_settled;
        ALTER TABLE payment_refund DROP COLUMN settled_day;
        ALTER TABLE payment DROP COLUMN settled_day;
        """
    )
