"""融e联 flight cards: who is confirming a paid card with the airline, and until when.

A paid flight card (``booking``) is confirmed with the airline outside any database
transaction. To finish it once only, the process about to call the airline first
claims the card in a short transaction: ``confirming_by`` (a token of its own) and
``confirming_until`` (when the claim lapses, should that process stop). Another
process, or the recovery job, takes the card only when it carries no claim or a
lapsed one; the airline's answer is recorded only while the claim is still the
recorder's. Closing the card clears the claim.

Revision ID: 0015
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE chat_card
    ADD COLUMN confirming_by text,
    ADD COLUMN confirming_until timestamptz,
    ADD CONSTRAINT chat_card_confirming
        CHECK ((confirming_by IS NULL) = (confirming_until IS NULL)),
    ADD CONSTRAINT chat_card_confirming_booking
        CHECK (confirming_by IS NULL OR status = 'booking');
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "ALTER TABLE chat_card DROP CONSTRAINT chat_card_confirming_booking, "
        "DROP CONSTRAINT chat_card_confirming, "
        "DROP COLUMN confirming_until, DROP COLUMN confirming_by"
    )
