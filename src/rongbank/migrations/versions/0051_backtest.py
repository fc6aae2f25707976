"""Rule backtests as background work (``rongbank.risk.engine.backtests``).

A backtest asked for in the console is a row: who asked, the rule's version, the
Beijing days; the leader's job replays it a day per transaction, keeping the figures
so far (``figures``, ``done_through``) so that a run cut off resumes where it
stopped. ``attempt`` fences the runs: a run whose attempt is no longer the row's has
been taken over and writes nothing more. One backtest per rule version and days is
waiting or running at a time (``risk_backtest_waiting``): asking again is that one.

Revision ID: 0051_backtest
"""

from alembic import op

revision = "0051_backtest"
down_revision = "0050_risk_holds"
branch_labels = None
depends_on = None
serves_older_code = True  # adds a table only


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE risk_backtest (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            rule_id         bigint NOT NULL REFERENCES risk_rule (id),
            first_day       date NOT NULL,
            last_day        date NOT NULL CHECK (last_day >= first_day),
            asked_by        bigint NOT NULL REFERENCES staff (id),
            asked_at        timestamptz NOT NULL,
            status          text NOT NULL DEFAULT 'queued'
                            CHECK (status IN ('queued', 'running', 'done', 'failed')),
            attempt         integer NOT NULL DEFAULT 0,
            beat_at         timestamptz,
            done_through    date,
            figures         jsonb,
            finished_at     timestamptz,
            failure         text,
            failure_day     date,
            CHECK ((status = 'failed') = (failure IS NOT NULL)),
            CHECK (status <> 'done' OR (done_through = last_day AND finished_at IS NOT NULL))
        );
        CREATE UNIQUE INDEX risk_backtest_waiting ON risk_backtest (rule_id, first_day, last_day)
            WHERE status IN ('queued', 'running');
        CREATE INDEX risk_backtest_rule ON risk_backtest (rule_id, id);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE risk_backtest")
