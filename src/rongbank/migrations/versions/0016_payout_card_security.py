"""Payout cards as a security matter: notices of kind ``security``.

A card bound or unbound, and money withdrawn to a card, are told to the customer in a
融e联 notice of kind ``security`` (``rongbank.chat.notices``). Customers cannot switch
that kind off, so it joins the kinds a delivery may have and not those a preference may
name.

Revision ID: 0016_payout_cards
"""

from alembic import op

revision = "0016_payout_cards"
down_revision = "0015"
branch_labels = None
depends_on = None
serves_older_code = False

KINDS = "'announcement', 'promotion', 'money_received', 'payment_made', 'due_soon'"


def _kinds(kinds: str) -> str:
    return (
        "ALTER TABLE chat_push_delivery DROP CONSTRAINT chat_push_delivery_kind_check, "
        f"ADD CONSTRAINT chat_push_delivery_kind_check CHECK (kind IN ({kinds}));"
    )


def upgrade() -> None:
    op.execute(_kinds(f"{KINDS}, 'security'"))


def downgrade() -> None:
    op.execute("DELETE FROM chat_push_delivery WHERE kind = 'security';")
    op.execute(_kinds(KINDS))
