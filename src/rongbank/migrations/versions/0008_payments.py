"""e-Pay (工银e支付): merchants, codes, payments, refunds, notifications, settlement.

- ``merchant``: a customer's merchant profile (name, MCC, settlement e-account, fee
  rate in basis points), onboarded by one member of staff and approved by another;
  ``payable_account_id`` is its own ledger account "merchant payable" where
  customers' payments wait for settlement. ``notify_key_version`` picks the key
  (derived from the bank's payments key, never stored) that signs notifications.
- ``merchant_user``: the merchant's logins (owner, cashier): principals of kind
  ``merchant`` in ``auth_credential``. ``merchant_api_key``: server-to-server keys,
  stored as their SHA-256 only.
- ``merchant_qr``: the merchant's static counter codes.
- ``payment_code``: customer-presented codes (付款码), stored as a keyed hash,
  single use, valid a minute.
- ``payment``: one per merchant order number: what was asked, by which channel,
  who paid, what was captured, refunded and charged as fee, and the ledger entries.
- ``payment_refund``: one per refund number of a payment.
- ``payment_notification``: signed callbacks to the merchant, retried with back-off
  until acknowledged; ``payment_notification_attempt`` keeps each try.
- ``merchant_settlement``: one per merchant and business day, with the netting and
  what was carried forward.

Also admits the new principal kind ``merchant`` to logins, sessions and the audit
trail.

Revision ID: 0008
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE auth_credential DROP CONSTRAINT auth_credential_principal_kind_check;
ALTER TABLE auth_credential ADD CONSTRAINT auth_credential_principal_kind_check
    CHECK (principal_kind IN ('customer', 'staff', 'merchant'));
ALTER TABLE auth_session DROP CONSTRAINT auth_session_principal_kind_check;
ALTER TABLE auth_session ADD CONSTRAINT auth_session_principal_kind_check
    CHECK (principal_kind IN ('customer', 'staff', 'merchant'));
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_kind_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_kind_check
    CHECK (actor_kind IN ('customer', 'staff', 'operator', 'anonymous', 'system', 'merchant'));

CREATE TABLE merchant (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id           bigint NOT NULL REFERENCES customer (id),
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    mcc                   text NOT NULL CHECK (mcc ~ '^[0-9]{4}$'),
    settlement_account_id bigint NOT NULL REFERENCES e_account (id),
    payable_account_id    bigint NOT NULL UNIQUE REFERENCES ledger_account (id),
    fee_bps               integer NOT NULL CHECK (fee_bps BETWEEN 0 AND 1000),
    status                text NOT NULL CHECK (status IN ('pending', 'active', 'suspended')),
    status_reason         text NOT NULL DEFAULT '',
    notify_key_version    integer NOT NULL DEFAULT 1 CHECK (notify_key_version > 0),
    onboarded_by          bigint NOT NULL REFERENCES staff (id),
    approved_by           bigint REFERENCES staff (id),
    created_at            timestamptz NOT NULL,
    approved_at           timestamptz,
    CHECK (approved_by IS NULL OR approved_by <> onboarded_by)
);
CREATE INDEX merchant_customer ON merchant (customer_id);

CREATE TABLE merchant_user (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchant (id),
    role        text NOT NULL CHECK (role IN ('owner', 'cashier')),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL
);
CREATE INDEX merchant_user_merchant ON merchant_user (merchant_id);

CREATE TABLE merchant_api_key (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchant (id),
    key_hash    bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    label       text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE merchant_qr (
    token       text PRIMARY KEY CHECK (length(token) BETWEEN 16 AND 64),
    merchant_id bigint NOT NULL REFERENCES merchant (id),
    label       text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE payment_code (
    code_hash    bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    customer_id  bigint NOT NULL REFERENCES customer (id),
    e_account_id bigint NOT NULL REFERENCES e_account (id),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    CHECK (expires_at > created_at)
);

CREATE TABLE payment (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id      bigint NOT NULL REFERENCES merchant (id),
    order_no         text NOT NULL CHECK (length(order_no) BETWEEN 1 AND 64),
    token            text NOT NULL UNIQUE,
    request_hash     bytea NOT NULL CHECK (length(request_hash) = 32),
    channel          text NOT NULL
        CHECK (channel IN ('static_qr', 'dynamic_qr', 'payment_code', 'online')),
    capture          text NOT NULL CHECK (capture IN ('immediate', 'manual')),
    status           text NOT NULL CHECK (status IN
        ('created', 'authorised', 'paid', 'voided', 'expired')),
    amount           bigint NOT NULL CHECK (amount > 0),
    captured         bigint NOT NULL DEFAULT 0 CHECK (captured BETWEEN 0 AND amount),
    refunded         bigint NOT NULL DEFAULT 0 CHECK (refunded BETWEEN 0 AND captured),
    fee              bigint NOT NULL DEFAULT 0 CHECK (fee BETWEEN 0 AND captured),
    currency         text NOT NULL DEFAULT 'CNY',
    description      text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    return_url       text NOT NULL DEFAULT '' CHECK (length(return_url) <= 500),
    notify_url       text NOT NULL DEFAULT '' CHECK (length(notify_url) <= 500),
    customer_id      bigint REFERENCES customer (id),
    e_account_id     bigint REFERENCES e_account (id),
    challenge_id     text,
    entry_id         bigint REFERENCES ledger_entry (id),
    capture_entry_id bigint REFERENCES ledger_entry (id),
    business_day     date,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    paid_at          timestamptz,
    UNIQUE (merchant_id, order_no)
);
CREATE INDEX payment_customer ON payment (customer_id, created_at) WHERE customer_id IS NOT NULL;
CREATE INDEX payment_day ON payment (merchant_id, business_day) WHERE business_day IS NOT NULL;

CREATE TABLE payment_refund (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id   bigint NOT NULL REFERENCES payment (id),
    refund_no    text NOT NULL CHECK (length(refund_no) BETWEEN 1 AND 64),
    amount       bigint NOT NULL CHECK (amount > 0),
    reason       text NOT NULL DEFAULT '' CHECK (length(reason) <= 200),
    entry_id     bigint NOT NULL REFERENCES ledger_entry (id),
    business_day date NOT NULL,
    created_at   timestamptz NOT NULL,
    UNIQUE (payment_id, refund_no)
);

CREATE TABLE payment_notification (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id      bigint NOT NULL REFERENCES payment (id),
    event           text NOT NULL,
    url             text NOT NULL,
    body            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'abandoned')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);
CREATE INDEX payment_notification_due ON payment_notification (next_attempt_at)
    WHERE status = 'pending';

CREATE TABLE payment_notification_attempt (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id bigint NOT NULL REFERENCES payment_notification (id),
    at              timestamptz NOT NULL,
    http_status     integer,
    acknowledged    boolean NOT NULL,
    error           text NOT NULL DEFAULT ''
);

CREATE TABLE merchant_settlement (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES merchant (id),
    business_day    date NOT NULL,
    payments        bigint NOT NULL,
    refunds         bigint NOT NULL,
    fees            bigint NOT NULL,
    brought_forward bigint NOT NULL CHECK (brought_forward <= 0),
    net             bigint NOT NULL,
    paid            bigint NOT NULL CHECK (paid >= 0),
    carried_forward bigint NOT NULL CHECK (carried_forward <= 0),
    entry_id        bigint REFERENCES ledger_entry (id),
    created_at      timestamptz NOT NULL,
    UNIQUE (merchant_id, business_day),
    CHECK (net = payments - refunds - fees + brought_forward),
    CHECK (paid + carried_forward = net)
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE merchant_settlement, payment_notification_attempt, payment_notification, "
        "payment_refund, payment, payment_code, merchant_qr, merchant_api_key, merchant_user, "
        "merchant;"
        "DELETE FROM auth_session WHERE principal_kind = 'merchant';"
        "DELETE FROM auth_credential WHERE principal_kind = 'merchant';"
        "ALTER TABLE auth_credential DROP CONSTRAINT auth_credential_principal_kind_check;"
        "ALTER TABLE auth_credential ADD CONSTRAINT auth_credential_principal_kind_check "
        "CHECK (principal_kind IN ('customer', 'staff'));"
        "ALTER TABLE auth_session DROP CONSTRAINT auth_session_principal_kind_check;"
        "ALTER TABLE auth_session ADD CONSTRAINT auth_session_principal_kind_check "
        "CHECK (principal_kind IN ('customer', 'staff'));"
    )
