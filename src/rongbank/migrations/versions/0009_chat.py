"""融e联 e-Link: conversations, their members and the ordered message log.

Each conversation is an ordered log: a message takes the next ``seq`` of its
conversation under the conversation row's lock, so sequence numbers have no gaps
and commit in order (a client that has seen ``seq`` n has seen everything before
it). Every message is chained to the one before it by SHA-256 (``hash``), over a
hash of its content, so that recall and moderation (which only set
``recalled_at``/``hidden_at``) leave the chain intact while any edit of content or
order is found. The database refuses DELETE and TRUNCATE of messages and of bank
conversations, and any UPDATE of a message other than recalling or hiding it once.

Revision ID: 0009
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = r"""
CREATE TABLE chat_conversation (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('direct', 'bank', 'group', 'channel')),
    title             text NOT NULL DEFAULT '' CHECK (length(title) <= 100),
    -- direct: two customer ids, low first; bank: the customer; one conversation per pair
    pair_key          text UNIQUE,
    -- bank: the customer served; group: the enterprise whose staff it joins
    customer_id       bigint REFERENCES customer (id),
    last_seq          bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    last_hash         bytea NOT NULL
                      DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    assigned_staff_id bigint REFERENCES staff (id),
    routing           text CHECK (routing IN ('manager', 'colleague', 'queued')),
    waiting_since     timestamptz,
    away_sent         boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL,
    CHECK ((kind = 'bank') = (routing IS NOT NULL))
);
CREATE INDEX chat_conversation_assigned ON chat_conversation (assigned_staff_id)
    WHERE kind = 'bank';
CREATE INDEX chat_conversation_waiting ON chat_conversation (waiting_since)
    WHERE waiting_since IS NOT NULL;

CREATE TABLE chat_member (
    conversation_id    bigint NOT NULL REFERENCES chat_conversation (id),
    member_kind        text NOT NULL CHECK (member_kind IN ('customer', 'staff')),
    member_id          bigint NOT NULL,
    role               text NOT NULL DEFAULT 'member'
                       CHECK (role IN ('owner', 'member', 'subscriber')),
    active             boolean NOT NULL DEFAULT true,
    joined_at          timestamptz NOT NULL,
    last_delivered_seq bigint NOT NULL DEFAULT 0,
    last_read_seq      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, member_kind, member_id),
    CHECK (0 <= last_read_seq AND last_read_seq <= last_delivered_seq)
);
CREATE INDEX chat_member_of ON chat_member (member_kind, member_id) WHERE active;

CREATE TABLE chat_message (
    id              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    conversation_id bigint NOT NULL REFERENCES chat_conversation (id),
    seq             bigint NOT NULL CHECK (seq > 0),
    sender_kind     text NOT NULL CHECK (sender_kind IN ('customer', 'staff', 'system')),
    sender_id       bigint,
    client_id       text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 100),
    kind            text NOT NULL CHECK (kind IN ('text', 'system', 'recall', 'hide')),
    body            text NOT NULL DEFAULT '' CHECK (length(body) <= 4000),
    reply_to        bigint,
    ref_seq         bigint,
    masked          text[] NOT NULL DEFAULT '{}',
    at              timestamptz NOT NULL,
    content_hash    bytea NOT NULL,
    hash            bytea NOT NULL,
    recalled_at     timestamptz,
    hidden_at       timestamptz,
    hidden_by       bigint REFERENCES staff (id),
    search          tsvector NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (conversation_id, sender_kind, sender_id, client_id)
);
CREATE INDEX chat_message_search ON chat_message USING gin (search);

CREATE FUNCTION chat_message_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (OLD.id, OLD.conversation_id, OLD.seq, OLD.sender_kind, OLD.sender_id,
            OLD.client_id, OLD.kind, OLD.body, OLD.reply_to, OLD.ref_seq, OLD.masked, OLD.at,
            OLD.content_hash, OLD.hash)
           IS NOT DISTINCT FROM
           (NEW.id, NEW.conversation_id, NEW.seq, NEW.sender_kind, NEW.sender_id,
            NEW.client_id, NEW.kind, NEW.body, NEW.reply_to, NEW.ref_seq, NEW.masked, NEW.at,
            NEW.content_hash, NEW.hash)
       AND (OLD.recalled_at IS NULL OR OLD.recalled_at IS NOT DISTINCT FROM NEW.recalled_at)
       AND (OLD.hidden_at IS NULL OR OLD.hidden_at IS NOT DISTINCT FROM NEW.hidden_at) THEN
        RETURN NEW;  -- recalling or hiding, once
    END IF;
    RAISE EXCEPTION 'chat messages are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER chat_message_guard BEFORE UPDATE OR DELETE ON chat_message
    FOR EACH ROW EXECUTE FUNCTION chat_message_guard();
CREATE TRIGGER chat_message_no_truncate BEFORE TRUNCATE ON chat_message
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- Conversations between the bank and a customer are kept (record-keeping rules);
-- no one deletes them, staff included.
CREATE FUNCTION chat_conversation_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'conversations are kept: DELETE refused'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER chat_conversation_guard BEFORE DELETE ON chat_conversation
    FOR EACH ROW EXECUTE FUNCTION chat_conversation_guard();

CREATE TABLE chat_profile (
    member_kind      text NOT NULL CHECK (member_kind IN ('customer', 'staff')),
    member_id        bigint NOT NULL,
    presence_visible boolean NOT NULL DEFAULT true,
    PRIMARY KEY (member_kind, member_id)
);

CREATE TABLE chat_block (
    blocker_id bigint NOT NULL REFERENCES customer (id),
    blocked_id bigint NOT NULL REFERENCES customer (id),
    at         timestamptz NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);

CREATE TABLE chat_report (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint NOT NULL,
    seq             bigint NOT NULL,
    reporter_id     bigint NOT NULL REFERENCES customer (id),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    at              timestamptz NOT NULL,
    FOREIGN KEY (conversation_id, seq) REFERENCES chat_message (conversation_id, seq),
    UNIQUE (conversation_id, seq, reporter_id)
);

-- Token buckets of the send rate limit, one per sender, updated under the row lock
-- by the sending transaction (so the limit holds across processes).
CREATE TABLE chat_rate_bucket (
    member_kind text NOT NULL,
    member_id   bigint NOT NULL,
    tokens      double precision NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (member_kind, member_id)
);

CREATE TABLE chat_transfer (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES chat_conversation (id),
    from_staff_id   bigint REFERENCES staff (id),
    to_staff_id     bigint NOT NULL REFERENCES staff (id),
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    at              timestamptz NOT NULL
);

-- One row per answered wait: how long a customer waited for the bank's first reply.
CREATE TABLE chat_response (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES chat_conversation (id),
    staff_id        bigint NOT NULL REFERENCES staff (id),
    waited_ms       bigint NOT NULL CHECK (waited_ms >= 0),
    at              timestamptz NOT NULL
);
CREATE INDEX chat_response_staff ON chat_response (staff_id, at);

CREATE TABLE chat_canned_reply (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id   bigint REFERENCES staff (id),  -- NULL: shared by every manager
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    created_at timestamptz NOT NULL
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE chat_canned_reply, chat_response, chat_transfer, chat_rate_bucket, "
        "chat_report, chat_block, chat_profile, chat_message, chat_member, chat_conversation; "
        "DROP FUNCTION chat_message_guard(); DROP FUNCTION chat_conversation_guard();"
    )
