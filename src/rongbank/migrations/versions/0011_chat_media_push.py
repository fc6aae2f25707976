"""融e联 attachments (images and files in messages) and push notices.

- ``chat_message.kind`` admits ``image``, ``file`` and ``notice``.
- ``chat_conversation.kind`` admits ``notice``: each customer's own notice box,
  where the bank's notices to them arrive (one per customer, ``pair_key``
  ``notice:<customer id>``); the customer reads it, no one writes into it but the
  bank's push job.
- ``chat_attachment``: the content of an image or file message, kept in the
  database (never under a name the sender chose), one per message, with its
  SHA-256; images are stored re-encoded (metadata gone) with a thumbnail. Kept for
  the record like the messages: no UPDATE, DELETE or TRUNCATE.
- ``chat_push_broadcast``: a notice written by staff for a segment of customers;
  ``chat_push_delivery``: one row per notice to deliver to one customer, either of
  a broadcast or of an event (money received, payment made, a due date coming)
  written by the money paths in their own transaction (the outbox), delivered into
  the notice box by a background job; ``chat_push_preference``: what a customer
  switched off (no row: on).

Revision ID: 0011
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None
serves_older_code = False

NOTICE_KINDS = "('announcement', 'promotion', 'money_received', 'payment_made', 'due_soon')"

SCHEMA = f"""
ALTER TABLE chat_message DROP CONSTRAINT IF EXISTS chat_message_kind_check;
ALTER TABLE chat_message ADD CONSTRAINT chat_message_kind_check
    CHECK (kind IN ('text', 'system', 'recall', 'hide', 'card', 'image', 'file', 'notice'));
ALTER TABLE chat_conversation DROP CONSTRAINT chat_conversation_kind_check;
ALTER TABLE chat_conversation ADD CONSTRAINT chat_conversation_kind_check
    CHECK (kind IN ('direct', 'bank', 'group', 'channel', 'notice'));

CREATE TABLE chat_attachment (
    conversation_id bigint NOT NULL,
    seq             bigint NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('image', 'file')),
    content_type    text NOT NULL,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    size            bigint NOT NULL CHECK (size > 0),
    sha256          bytea NOT NULL CHECK (length(sha256) = 32),
    width           integer CHECK (width > 0),
    height          integer CHECK (height > 0),
    content         bytea NOT NULL,
    thumbnail       bytea,
    thumbnail_type  text,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    FOREIGN KEY (conversation_id, seq) REFERENCES chat_message (conversation_id, seq),
    CHECK (octet_length(content) = size),
    CHECK ((kind = 'image') = (width IS NOT NULL AND height IS NOT NULL
                               AND thumbnail IS NOT NULL AND thumbnail_type IS NOT NULL))
);
-- Images and office files are compressed already: store them out of line as they are.
ALTER TABLE chat_attachment ALTER COLUMN content SET STORAGE EXTERNAL;

CREATE FUNCTION chat_attachment_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'chat attachments are kept: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER chat_attachment_guard BEFORE UPDATE OR DELETE ON chat_attachment
    FOR EACH ROW EXECUTE FUNCTION chat_attachment_guard();
CREATE TRIGGER chat_attachment_no_truncate BEFORE TRUNCATE ON chat_attachment
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE TABLE chat_push_broadcast (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id   bigint NOT NULL REFERENCES staff (id),
    client_id  text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 100),
    segment    text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('announcement', 'promotion')),
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    recipients integer NOT NULL CHECK (recipients >= 0),
    created_at timestamptz NOT NULL,
    UNIQUE (staff_id, client_id)
);

CREATE TABLE chat_push_delivery (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customer (id),
    kind            text NOT NULL CHECK (kind IN {NOTICE_KINDS}),
    broadcast_id    bigint REFERENCES chat_push_broadcast (id),
    -- an event's own key (e.g. the ledger entry), so that it is noticed once
    event_key       text UNIQUE,
    payload         jsonb NOT NULL DEFAULT '{{}}',
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'skipped', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    conversation_id bigint,
    seq             bigint,
    created_at      timestamptz NOT NULL,
    done_at         timestamptz,
    UNIQUE (broadcast_id, customer_id),
    FOREIGN KEY (conversation_id, seq) REFERENCES chat_message (conversation_id, seq),
    CHECK ((broadcast_id IS NULL) <> (event_key IS NULL)),
    CHECK ((status = 'delivered') = (seq IS NOT NULL))
);
CREATE INDEX chat_push_delivery_pending ON chat_push_delivery (id) WHERE status = 'pending';
CREATE INDEX chat_push_delivery_broadcast ON chat_push_delivery (broadcast_id)
    WHERE broadcast_id IS NOT NULL;

-- The push job looks for authorisations falling due every few seconds.
CREATE INDEX payment_authorised ON payment (id) WHERE status = 'authorised';

CREATE TABLE chat_push_preference (
    customer_id bigint NOT NULL REFERENCES customer (id),
    kind        text NOT NULL CHECK (kind IN {NOTICE_KINDS}),
    enabled     boolean NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (customer_id, kind)
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE chat_push_preference, chat_push_delivery, chat_push_broadcast, "
        "chat_attachment; DROP FUNCTION chat_attachment_guard(); "
        "DROP INDEX payment_authorised;"
        "ALTER TABLE chat_conversation DROP CONSTRAINT chat_conversation_kind_check;"
        "ALTER TABLE chat_conversation ADD CONSTRAINT chat_conversation_kind_check "
        "CHECK (kind IN ('direct', 'bank', 'group', 'channel'));"
        # 'card' stays: it belongs to migration 0010.
        "ALTER TABLE chat_message DROP CONSTRAINT chat_message_kind_check;"
        "ALTER TABLE chat_message ADD CONSTRAINT chat_message_kind_check "
        "CHECK (kind IN ('text', 'system', 'recall', 'hide', 'card'));"
    )
