"""Risk alerts, the cases analysts work them in, and "was this you?".

- ``risk_alert``: each alert a source raised (``RiskAlertRaised`` from the inline
  engine or the AML batch, ``ScreeningHit`` from watch-list screening), once per
  source and source id, with the features the cases side saw when it arrived (the
  event carries none: ``rongbank.risk.cases.intake``), and where it stands.
- ``risk_case``: one open case per customer gathers their open alerts (at most one
  ``open`` or ``assigned`` per customer); an analyst takes it, decides, and a second
  analyst confirms the decisions that need four eyes (``awaiting_second``).
- ``risk_case_note``: what analysts wrote on a case, kept as written.
- ``risk_question``: the "was this you?" card sent to the customer for a held payment,
  answered once.
- the ``risk.cases`` reader of the outbox.

Revision ID: 0039_risk_cases
"""

from alembic import op

revision = "0039_risk_cases"
down_revision = "0038_risk_engine"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE risk_case (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id      bigint NOT NULL REFERENCES customer (id),
    status           text NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'assigned', 'awaiting_second', 'closed')),
    assigned_to      bigint REFERENCES staff (id),
    customer_denied  boolean NOT NULL DEFAULT false,
    proposed_outcome text
                     CHECK (proposed_outcome IN ('fraud', 'genuine', 'suspicious', 'no_action')),
    proposed_by      bigint REFERENCES staff (id),
    outcome          text CHECK (outcome IN ('fraud', 'genuine', 'suspicious', 'no_action')),
    decided_by       bigint REFERENCES staff (id),
    frozen           jsonb NOT NULL DEFAULT '{}',
    opened_at        timestamptz NOT NULL,
    closed_at        timestamptz,
    CHECK ((status = 'assigned') <= (assigned_to IS NOT NULL)),
    CHECK ((status = 'awaiting_second') = (proposed_outcome IS NOT NULL)),
    CHECK ((status = 'closed') = (outcome IS NOT NULL AND closed_at IS NOT NULL))
);
CREATE UNIQUE INDEX risk_case_one_open ON risk_case (customer_id)
    WHERE status IN ('open', 'assigned');
CREATE INDEX risk_case_queue ON risk_case (opened_at) WHERE status <> 'closed';
CREATE INDEX risk_case_closed ON risk_case (closed_at) WHERE status = 'closed';

CREATE TABLE risk_alert (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL CHECK (source IN ('engine', 'aml', 'screening')),
    source_ref  text NOT NULL CHECK (length(source_ref) BETWEEN 1 AND 200),
    customer_id bigint NOT NULL REFERENCES customer (id),
    action      text NOT NULL CHECK (action IN ('review', 'block', 'shadow', 'report')),
    score       double precision,
    reasons     text[] NOT NULL DEFAULT '{}',
    amount      bigint,
    hold_ref    text,
    features    jsonb NOT NULL DEFAULT '{}',
    case_id     bigint NOT NULL REFERENCES risk_case (id),
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'decided')),
    outcome     text CHECK (outcome IN ('fraud', 'genuine', 'suspicious', 'no_action')),
    raised_at   timestamptz NOT NULL,
    UNIQUE (source, source_ref),
    CHECK ((status = 'open') = (outcome IS NULL))
);
CREATE INDEX risk_alert_case ON risk_alert (case_id);
CREATE INDEX risk_alert_raised ON risk_alert (raised_at);

CREATE TABLE risk_case_note (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id  bigint NOT NULL REFERENCES risk_case (id),
    staff_id bigint REFERENCES staff (id),
    body     text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    at       timestamptz NOT NULL
);
CREATE INDEX risk_case_note_case ON risk_case_note (case_id, id);

CREATE TABLE risk_question (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id        bigint NOT NULL UNIQUE REFERENCES risk_alert (id),
    customer_id     bigint NOT NULL REFERENCES customer (id),
    status          text NOT NULL DEFAULT 'asked'
                    CHECK (status IN ('asked', 'yes', 'no', 'closed')),
    conversation_id bigint,
    seq             bigint,
    asked_at        timestamptz NOT NULL,
    answered_at     timestamptz
);
CREATE INDEX risk_question_customer ON risk_question (customer_id, id);

INSERT INTO outbox_reader (name) VALUES ('risk.cases');
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DELETE FROM outbox_pending WHERE reader = 'risk.cases'")
    op.execute("DELETE FROM outbox_reader WHERE name = 'risk.cases'")
    op.execute("DROP TABLE risk_question, risk_case_note, risk_alert, risk_case")
