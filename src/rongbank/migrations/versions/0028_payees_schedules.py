"""Saved payees, scheduled and recurring transfers, and the notice of a failed run.

- ``payee``: a customer's saved payees: the name the customer gives and the account
  number, one row per customer and number. The holder's name is not copied here: it
  is read from the account whenever it is shown, so it never goes stale. Recent
  payees are not stored at all: they are read from the customer's own transfers.
- ``scheduled_transfer``: a transfer the bank makes for the customer on a later day,
  once or again and again (``rongbank.accounts.schedules``): ``next_on`` is the next
  Beijing date it falls due (NULL once it has no more), unique per customer and
  ``client_id`` (the request that set it up).
- ``scheduled_transfer_run``: one row per occurrence carried out, paid (its ledger
  entry) or failed (the refusal's code); unique per schedule and date, so an
  occurrence is run at most once whatever runs the job.
- ``chat_push_delivery`` takes the kind ``payment_failed`` (a scheduled transfer the
  bank could not make), which a customer cannot switch off.

Revision ID: 0028_payees_schedules
"""

from alembic import op

revision = "0028_payees_schedules"
down_revision = "0027_card_purchase_keys"
branch_labels = None
depends_on = None
serves_older_code = False

DELIVERY_KINDS = (
    "'announcement', 'promotion', 'money_received', 'payment_made', 'due_soon', 'security'"
)

SCHEMA = """
CREATE TABLE payee (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id    bigint NOT NULL REFERENCES customer (id),
    name           text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 50),
    account_number text NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    UNIQUE (customer_id, account_number)
);

CREATE TABLE scheduled_transfer (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customer (id),
    client_id    text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 64),
    source       text NOT NULL,
    destination  text NOT NULL,
    amount       bigint NOT NULL CHECK (amount > 0),
    currency     text NOT NULL REFERENCES ledger_currency (code),
    description  text NOT NULL DEFAULT '',
    frequency    text NOT NULL CHECK (frequency IN ('once', 'weekly', 'monthly')),
    start_on     date NOT NULL,
    day_of_month smallint CHECK (day_of_month BETWEEN 1 AND 31),
    weekday      smallint CHECK (weekday BETWEEN 1 AND 7),
    end_on       date,
    next_on      date,
    status       text NOT NULL CHECK (status IN ('active', 'paused', 'cancelled', 'finished')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (customer_id, client_id),
    CHECK ((frequency = 'monthly') = (day_of_month IS NOT NULL)),
    CHECK ((frequency = 'weekly') = (weekday IS NOT NULL)),
    CHECK (CASE status WHEN 'active' THEN next_on IS NOT NULL
                       WHEN 'paused' THEN true ELSE next_on IS NULL END)
);
CREATE INDEX scheduled_transfer_customer ON scheduled_transfer (customer_id, id);
CREATE INDEX scheduled_transfer_due ON scheduled_transfer (next_on, id) WHERE status = 'active';

CREATE TABLE scheduled_transfer_run (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id bigint NOT NULL REFERENCES scheduled_transfer (id),
    occurrence  date NOT NULL,
    status      text NOT NULL CHECK (status IN ('paid', 'failed')),
    entry_id    bigint REFERENCES ledger_entry (id),
    error_code  text NOT NULL DEFAULT '',
    ran_at      timestamptz NOT NULL,
    UNIQUE (schedule_id, occurrence),
    CHECK ((status = 'paid') = (entry_id IS NOT NULL))
);
"""


def _delivery_kinds(kinds: str) -> str:
    return (
        "ALTER TABLE chat_push_delivery DROP CONSTRAINT chat_push_delivery_kind_check, "
        f"ADD CONSTRAINT chat_push_delivery_kind_check CHECK (kind IN ({kinds}));"
    )


def upgrade() -> None:
    op.execute(SCHEMA)
    op.execute(_delivery_kinds(f"{DELIVERY_KINDS}, 'payment_failed'"))


def downgrade() -> None:
    op.execute("DELETE FROM chat_push_delivery WHERE kind = 'payment_failed';")
    op.execute(_delivery_kinds(DELIVERY_KINDS))
    op.execute(
        "DROP TABLE scheduled_transfer_run; DROP TABLE scheduled_transfer; DROP TABLE payee;"
    )
