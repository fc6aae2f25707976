"""Outbox readers queue only the kinds of event they handle.

- ``outbox_reader.kinds``: the event names (``outbox_event.name``) the reader handles,
  as its :class:`rongbank.outbox.Reader` declares them. An event is queued in
  ``outbox_pending`` only for the readers of its kind: until now every event was
  queued for every reader, and each reader decoded and acknowledged the others' (a
  payment's event three times for nothing, in the API process that serves payments).
- The rows already queued for a reader that does not handle their kind are deleted:
  the reader would have taken them only to skip them.

No default: a reader added later names its kinds (``tests/test_outbox.py`` checks
that each row lists what its code declares).

Revision ID: 0052_outbox
"""

from alembic import op

revision = "0052_outbox"
down_revision = "0051_backtest"
branch_labels = None
depends_on = None
serves_older_code = False  # outbox_reader.kinds NOT NULL without a default

KINDS = {
    "chat.push": [
        "accounts.payout_card_bound",
        "accounts.payout_card_unbound",
        "accounts.scheduled_transfer_failed",
        "accounts.transfer_made",
        "accounts.withdrawal_made",
        "auth.login_locked_out",
        "auth.password_changed",
        "invest.margin_call",
        "lending.credit_offered",
        "lending.instalment_due_soon",
        "lending.loan_disbursed",
        "lending.loan_overdue",
        "lending.loan_reduced_by_refund",
        "payments.payment_made",
        "payments.payment_refunded",
        "wealth.payout_made",
    ],
    "risk.screening": ["accounts.customer_registered", "accounts.payee_saved"],
    "risk.engine": ["risk.case_decided"],
    "risk.cases": ["risk.alert_raised", "risk.screening_hit"],
}


def upgrade() -> None:
    op.execute("ALTER TABLE outbox_reader ADD COLUMN kinds text[] NOT NULL DEFAULT '{}'")
    op.execute("ALTER TABLE outbox_reader ALTER COLUMN kinds DROP DEFAULT")
    for reader, kinds in KINDS.items():
        literal = ", ".join(f"'{kind}'" for kind in kinds)
        op.execute(f"UPDATE outbox_reader SET kinds = ARRAY[{literal}] WHERE name = '{reader}'")  # noqa: S608
    op.execute(
        "DELETE FROM outbox_pending p USING outbox_event e, outbox_reader r "
        "WHERE e.id = p.event_id AND r.name = p.reader AND NOT e.name = ANY(r.kinds)"
    )


def downgrade() -> None:
    # The skipped rows deleted above were never going to be handled: not restored.
    op.execute("ALTER TABLE outbox_reader DROP COLUMN kinds")
