"""工银e投资 e-Invest: quotes, positions, pending orders, trades and the journal.

- ``invest_quote``: each quote given to a customer (reference, bid, ask, contract
  month), accepted by a trade before it expires.
- ``invest_position``: a customer's long (buy-first) and short (sell-first) position in
  a product, kept apart; quantity, cost (a short: its proceeds) and frozen margin mirror
  the customer's ledger accounts ``invest:<customer>:{long,short,margin}:...``.
- ``invest_order``: pending orders and the money each sets aside (``reserve``).
- ``invest_trade``: every trade, at a quote, by a pending order, or forced.
- ``invest_journal``: the tick engine's inputs (orders, cancels, trades, ticks) and
  outputs (fills, expiries, roll-overs, margin warnings, forced closes) in commit
  order (writers hold one advisory lock), replayable from the start.
- The ledger currencies of the products quoted in ounces and kilograms.

Revision ID: 0044_invest
"""

from alembic import op

revision = "0044_invest"
down_revision = "0043_mall_orders"
branch_labels = None
depends_on = None
serves_older_code = False


def upgrade() -> None:
    op.execute(
        """
        INSERT INTO ledger_currency (code, scale, kind, name) VALUES
            ('AU_OZ', 2, 'commodity', 'Account gold, troy ounces'),
            ('AG_OZ', 2, 'commodity', 'Account silver, troy ounces'),
            ('PT_OZ', 2, 'commodity', 'Account platinum, troy ounces'),
            ('PD_OZ', 2, 'commodity', 'Account palladium, troy ounces'),
            ('COFFEE_KG', 2, 'commodity', 'Account coffee (arabica), kilograms'),
            ('SUGAR_KG', 2, 'commodity', 'Account sugar, kilograms');

        CREATE TABLE invest_quote (
            id          text PRIMARY KEY,
            customer_id bigint NOT NULL REFERENCES customer (id),
            product     text NOT NULL,
            contract    date,
            ref         bigint NOT NULL,
            bid         bigint NOT NULL,
            ask         bigint NOT NULL,
            issued_at   timestamptz NOT NULL,
            expires_at  timestamptz NOT NULL
        );
        CREATE INDEX invest_quote_customer ON invest_quote (customer_id, issued_at);

        CREATE TABLE invest_position (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id  bigint NOT NULL REFERENCES customer (id),
            product      text NOT NULL,
            side         text NOT NULL CHECK (side IN ('long', 'short')),
            e_account_id bigint NOT NULL REFERENCES e_account (id),
            quantity     bigint NOT NULL DEFAULT 0 CHECK (quantity >= 0),
            cost         bigint NOT NULL DEFAULT 0 CHECK (cost >= 0),
            margin       bigint NOT NULL DEFAULT 0 CHECK (margin >= 0),
            updated_at   timestamptz NOT NULL,
            UNIQUE (customer_id, product, side)
        );

        CREATE TABLE invest_order (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id  bigint NOT NULL REFERENCES customer (id),
            product      text NOT NULL,
            kind         text NOT NULL,
            side         text NOT NULL CHECK (side IN ('long', 'short')),
            spec         jsonb NOT NULL,
            e_account_id bigint NOT NULL REFERENCES e_account (id),
            reserve      bigint NOT NULL CHECK (reserve >= 0),
            client_id    text NOT NULL,
            status       text NOT NULL CHECK (status IN ('pending', 'filled', 'cancelled',
                                                          'expired', 'nothing_to_close')),
            fills        integer NOT NULL DEFAULT 0,
            created_at   timestamptz NOT NULL,
            expires_at   timestamptz NOT NULL,
            UNIQUE (customer_id, client_id)
        );
        CREATE INDEX invest_order_pending ON invest_order (customer_id) WHERE status = 'pending';

        CREATE TABLE invest_trade (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id bigint NOT NULL REFERENCES customer (id),
            product     text NOT NULL,
            side        text NOT NULL CHECK (side IN ('long', 'short')),
            action      text NOT NULL CHECK (action IN ('open', 'close')),
            quantity    bigint NOT NULL CHECK (quantity > 0),
            price       bigint NOT NULL,
            cash        bigint NOT NULL,
            margin_in   bigint NOT NULL,
            margin_out  bigint NOT NULL,
            pnl         bigint NOT NULL,
            shortfall   bigint NOT NULL,
            reason      text NOT NULL CHECK (reason IN ('quote', 'order', 'forced')),
            quote_id    text REFERENCES invest_quote (id),
            order_id    bigint REFERENCES invest_order (id),
            client_id   text,
            entry_id    bigint NOT NULL,
            why         text NOT NULL DEFAULT '',
            created_at  timestamptz NOT NULL
        );
        CREATE UNIQUE INDEX invest_trade_client ON invest_trade (customer_id, client_id)
            WHERE client_id IS NOT NULL;
        CREATE INDEX invest_trade_customer ON invest_trade (customer_id, id);

        CREATE TABLE invest_journal (
            seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind    text NOT NULL,
            input   boolean NOT NULL,
            payload jsonb NOT NULL,
            at      timestamptz NOT NULL
        );
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE invest_journal, invest_trade, invest_order, invest_position, invest_quote;"
        "DELETE FROM ledger_currency WHERE code IN "
        "('AU_OZ', 'AG_OZ', 'PT_OZ', 'PD_OZ', 'COFFEE_KG', 'SUGAR_KG');"
    )
