"""Operations: the request id on audit rows, and the record of the periodic jobs' runs.

- ``audit_log.request_id``: the HTTP request that wrote the row (the load balancer's
  ``X-Request-Id`` or the API's own; ``rongbank.logs``), so that a log line, the load
  balancer's log and the audit trail meet. Sealed into the chain where set. The
  append-only guard now also keeps sealing from changing it.
- ``job_runs``: each periodic job's last run (one row a job, whichever process ran
  it), for its lag in ``/metrics`` and on the staff operations page.

Revision ID: 0045_ops
"""

from alembic import op

revision = "0045_ops"
down_revision = "0044_invest"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE audit_log ADD COLUMN request_id text CHECK (length(request_id) <= 64);

CREATE OR REPLACE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.seal_seq IS NULL
       AND (OLD.id, OLD.at, OLD.actor_kind, OLD.actor_id, OLD.action, OLD.target, OLD.result,
            OLD.ip, OLD.details, OLD.request_id)
           IS NOT DISTINCT FROM
           (NEW.id, NEW.at, NEW.actor_kind, NEW.actor_id, NEW.action, NEW.target, NEW.result,
            NEW.ip, NEW.details, NEW.request_id) THEN
        RETURN NEW;  -- sealing, once
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TABLE job_runs (
    name             text PRIMARY KEY,
    interval_seconds double precision NOT NULL,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    ok               boolean NOT NULL,
    error            text,
    host             text NOT NULL,
    pid              integer NOT NULL,
    last_ok_at       timestamptz
);
"""

PREVIOUS_GUARD = """
CREATE OR REPLACE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE job_runs")
    op.execute(PREVIOUS_GUARD)
    op.execute("ALTER TABLE audit_log DROP COLUMN request_id")
