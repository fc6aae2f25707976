"""Liquidity risk: the daily ratios, the intraday outflow alerts, the last simulations.

- ``risk_liquidity_day``: the LCR and NSFR of one Beijing day, from the ledger's
  balances at its end (``rongbank risk liquidity report``), with the lines they are
  made of (``lines``: each class's balance, factor and weighted amount); a day
  computed again is replaced. Ratios are NULL when their denominator is zero.
- ``risk_liquidity_alert``: a window of the intraday monitor in which the net outflow
  from customer deposits crossed a threshold (``threshold``: ``deposits`` or
  ``hqla``), at most one per window start (the monitor runs in several processes).
- ``ledger_posting_created_brin``: a BRIN index of postings by time, for the monitor
  to read the last few minutes' movements (postings are appended in time order, so
  a block range summary is exact enough and costs next to nothing at insert, unlike
  a B-tree on the money path).
- ``risk_liquidity_simulation``: a bank-run simulation's parameters and its result
  (survival, the LCR path) as JSON, for the risk page.

Revision ID: 0034_risk_liquidity
"""

from alembic import op

revision = "0034_risk_liquidity"
down_revision = "0033_risk_watchlist"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE risk_liquidity_day (
    day          date PRIMARY KEY,
    hqla         bigint NOT NULL,
    outflows     bigint NOT NULL,
    inflows      bigint NOT NULL,
    net_outflows bigint NOT NULL,
    lcr          numeric(14, 4),
    asf          bigint NOT NULL,
    rsf          bigint NOT NULL,
    nsfr         numeric(14, 4),
    deposits     bigint NOT NULL,
    lines        jsonb NOT NULL,
    computed_at  timestamptz NOT NULL
);

CREATE TABLE risk_liquidity_alert (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    window_start timestamptz NOT NULL UNIQUE,
    window_end   timestamptz NOT NULL,
    outflow      bigint NOT NULL CHECK (outflow >= 0),
    inflow       bigint NOT NULL CHECK (inflow >= 0),
    deposits     bigint NOT NULL,
    hqla         bigint NOT NULL,
    threshold    text NOT NULL CHECK (threshold IN ('deposits', 'hqla')),
    raised_at    timestamptz NOT NULL,
    CHECK (window_end > window_start)
);

CREATE INDEX ledger_posting_created_brin ON ledger_posting USING brin (created_at);

CREATE TABLE risk_liquidity_simulation (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ran_at  timestamptz NOT NULL,
    params  jsonb NOT NULL,
    result  jsonb NOT NULL
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE risk_liquidity_simulation, risk_liquidity_alert, risk_liquidity_day;"
        "DROP INDEX ledger_posting_created_brin"
    )
