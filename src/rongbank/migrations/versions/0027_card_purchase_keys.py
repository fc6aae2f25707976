"""A wealth holding says whose key made it once only: the customer's own, or a
融e联 card's.

``wealth_holding.keyed_by``: ``customer`` (an API client's key, a web form's) or
``chat_card`` (a purchase made from a card, whose key is the card itself). A holding
is unique per customer, ``keyed_by`` and ``client_id``, so that a customer's key that
reads like a card's (``card:7``) can neither block nor answer the card's purchase.
Holdings bought before keep ``customer``: a card bought from before is closed and
refuses a second use by its own status. See ``rongbank.ledger.client_ids``.

Revision ID: 0027_card_purchase_keys
"""

from alembic import op

revision = "0027_card_purchase_keys"
down_revision = "0026_principal_disabled"
branch_labels = None
depends_on = None
serves_older_code = False


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE wealth_holding
            ADD COLUMN keyed_by text NOT NULL DEFAULT 'customer'
                CHECK (keyed_by IN ('customer', 'chat_card')),
            DROP CONSTRAINT wealth_holding_customer_id_client_id_key,
            ADD CONSTRAINT wealth_holding_key UNIQUE (customer_id, keyed_by, client_id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE wealth_holding
            DROP CONSTRAINT wealth_holding_key,
            ADD CONSTRAINT wealth_holding_customer_id_client_id_key
                UNIQUE (customer_id, client_id),
            DROP COLUMN keyed_by;
        """
    )
