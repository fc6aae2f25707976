"""融e联 flight cards: when a booking was paid, so that one left unfinished is found.

A flight card is ``booking`` from the moment its fare is authorised (held in e-Pay)
until the airline answers. If the process stops in between, nothing else moves the
card on; the recovery job (``rongbank.chat.booking``) finishes cards that have been
``booking`` for longer than a grace period, and needs to know since when.

Revision ID: 0012
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE chat_card ADD COLUMN booking_since timestamptz;
-- Cards left booking by an older version: their recovery starts at once.
UPDATE chat_card SET booking_since = created_at WHERE status = 'booking';
ALTER TABLE chat_card ADD CONSTRAINT chat_card_booking_since
    CHECK (status <> 'booking' OR booking_since IS NOT NULL);
CREATE INDEX chat_card_booking ON chat_card (booking_since) WHERE status = 'booking';
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP INDEX chat_card_booking; "
        "ALTER TABLE chat_card DROP CONSTRAINT chat_card_booking_since, "
        "DROP COLUMN booking_since"
    )
