"""The audit trail: append-only, sealed into a hash chain.

Rows are written by every request in its own transaction (no lock shared across
requests); a sealer then links the committed rows, in the order it finds them, into
a SHA-256 chain (``seal_seq``, ``prev_hash``, ``hash``). Sealing order, not id order,
is the chain's order, so a transaction that commits late with a low id is simply
sealed in a later pass. The database refuses DELETE and TRUNCATE, and allows an
UPDATE only to seal a row once; anything done around those rules (a superuser
disabling triggers) is found by ``rongbank audit verify``.

Revision ID: 0006
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_kind  text NOT NULL CHECK (actor_kind IN ('customer', 'staff', 'operator',
                                                    'anonymous', 'system')),
    actor_id    bigint,
    action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    target      text NOT NULL DEFAULT '',
    result      text NOT NULL CHECK (result IN ('ok', 'refused', 'error')),
    ip          text,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    seal_seq    bigint UNIQUE,
    prev_hash   bytea,
    hash        bytea,
    CHECK ((seal_seq IS NULL) = (hash IS NULL))
);
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seal_seq IS NULL;
CREATE INDEX audit_log_actor ON audit_log (actor_kind, actor_id, at);

CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.seal_seq IS NULL
       AND (OLD.id, OLD.at, OLD.actor_kind, OLD.actor_id, OLD.action, OLD.target, OLD.result,
            OLD.ip, OLD.details)
           IS NOT DISTINCT FROM
           (NEW.id, NEW.at, NEW.actor_kind, NEW.actor_id, NEW.action, NEW.target, NEW.result,
            NEW.ip, NEW.details) THEN
        RETURN NEW;  -- sealing, once
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE audit_log; DROP FUNCTION audit_log_guard();")
