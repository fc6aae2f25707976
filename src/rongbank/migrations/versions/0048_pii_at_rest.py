"""Personal data at rest (``rongbank.pii``), and a BRIN index on the audit trail's time.

- ``customer``: each mobile and identity number (a person's own, an enterprise's legal
  representative's) sealed (``*_enc``: AES-GCM under a key kept apart from the
  database, bound to its row and column), its keyed hash (``*_hash``: logins,
  uniqueness, "who has this number") and the search tokens of its first and last
  digits (``number_tokens``, a GIN index: the staff search). The plaintext columns stay
  for the rows written before this migration: a migration cannot hold the keys, so
  ``rongbank pii encrypt-existing`` (which ``rongbank up`` runs before it serves)
  seals them and clears the plaintext; a later migration drops the columns. Until then
  exactly one of a number's plaintext and sealed form is set (the checks below).
- ``auth_credential.username`` holds a keyed hash of the login name (a customer's is
  their mobile) from now on; ``encrypt-existing`` converts the older ones.
- ``lending_blacklist``: its identity numbers by keyed hash too.
- ``audit_log_at``: BRIN over ``at``, which only grows with the rows' physical order:
  time-range reads of a large trail for a few pages of index.

Revision ID: 0048_pii_at_rest
"""

from alembic import op

revision = "0048_pii_at_rest"
down_revision = "0047_invest_ops"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE customer
    ADD COLUMN mobile_enc bytea,
    ADD COLUMN mobile_hash bytea UNIQUE CHECK (length(mobile_hash) = 32),
    ADD COLUMN resident_id_enc bytea,
    ADD COLUMN resident_id_hash bytea UNIQUE CHECK (length(resident_id_hash) = 32),
    ADD COLUMN legal_rep_id_enc bytea,
    ADD COLUMN legal_rep_id_hash bytea CHECK (length(legal_rep_id_hash) = 32),
    ADD COLUMN number_tokens bytea[] NOT NULL DEFAULT '{}',
    ALTER COLUMN mobile DROP NOT NULL,
    DROP CONSTRAINT customer_check,
    ADD CONSTRAINT customer_person_id
        CHECK ((kind = 'person') = (coalesce(resident_id, resident_id_hash::text) IS NOT NULL)),
    ADD CONSTRAINT customer_mobile_once
        CHECK ((mobile IS NULL) <> (mobile_enc IS NULL)),
    ADD CONSTRAINT customer_mobile_sealed CHECK ((mobile_enc IS NULL) = (mobile_hash IS NULL)),
    ADD CONSTRAINT customer_resident_id_once
        CHECK (resident_id IS NULL OR resident_id_enc IS NULL),
    ADD CONSTRAINT customer_resident_id_sealed
        CHECK ((resident_id_enc IS NULL) = (resident_id_hash IS NULL)),
    ADD CONSTRAINT customer_legal_rep_id_once
        CHECK (legal_rep_id IS NULL OR legal_rep_id_enc IS NULL),
    ADD CONSTRAINT customer_legal_rep_id_sealed
        CHECK ((legal_rep_id_enc IS NULL) = (legal_rep_id_hash IS NULL));
CREATE INDEX customer_number_tokens ON customer USING gin (number_tokens);
CREATE INDEX customer_legal_rep_id_hash ON customer (legal_rep_id_hash);
-- Ranges over plaintext that is cleared: the search goes by number_tokens now.
DROP INDEX customer_mobile_start, customer_mobile_end, customer_resident_id_start,
    customer_resident_id_end;

ALTER TABLE lending_blacklist
    ADD COLUMN resident_id_hash bytea CHECK (length(resident_id_hash) = 32);
CREATE INDEX lending_blacklist_hash ON lending_blacklist (resident_id_hash);

CREATE INDEX audit_log_at ON audit_log USING brin (at);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    # Back to plaintext only where nothing was sealed yet: sealed numbers cannot be read
    # here (no keys), and the old schema needs every mobile.
    op.execute(
        """
        DROP INDEX audit_log_at;
        DROP INDEX lending_blacklist_hash;
        ALTER TABLE lending_blacklist DROP COLUMN resident_id_hash;
        CREATE INDEX customer_mobile_start ON customer ((mobile COLLATE "C"));
        CREATE INDEX customer_mobile_end ON customer ((reverse(mobile) COLLATE "C"));
        CREATE INDEX customer_resident_id_start ON customer ((resident_id COLLATE "C"));
        CREATE INDEX customer_resident_id_end ON customer ((reverse(resident_id) COLLATE "C"));
        ALTER TABLE customer
            DROP CONSTRAINT customer_person_id,
            DROP CONSTRAINT customer_mobile_once,
            DROP CONSTRAINT customer_mobile_sealed,
            DROP CONSTRAINT customer_resident_id_once,
            DROP CONSTRAINT customer_resident_id_sealed,
            DROP CONSTRAINT customer_legal_rep_id_once,
            DROP CONSTRAINT customer_legal_rep_id_sealed,
            DROP COLUMN number_tokens,
            DROP COLUMN legal_rep_id_hash,
            DROP COLUMN legal_rep_id_enc,
            DROP COLUMN resident_id_hash,
            DROP COLUMN resident_id_enc,
            DROP COLUMN mobile_hash,
            DROP COLUMN mobile_enc,
            ALTER COLUMN mobile SET NOT NULL,
            ADD CONSTRAINT customer_check CHECK ((kind = 'person') = (resident_id IS NOT NULL));
        """
    )
