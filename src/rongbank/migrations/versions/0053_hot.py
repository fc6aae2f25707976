"""Wealth custody in shards: each product's custody is several ledger accounts.

Every purchase of a product credited its one custody account, which the ledger locks
``FOR UPDATE`` until the commit: purchases of a product queued behind each other's
commits (a hot account). Now a product's custody is ``CUSTODY_SHARDS`` accounts:

- ``wealth_product_custody (product_id, shard, account_id)``: shard 0 is the
  product's custody account as it was (``wealth:<code>``); shards 1.. are new ledger
  accounts ``wealth:<code>:<shard>``, of the same type and balance rule (a liability
  whose debits never exceed its credits);
- ``wealth_holding.custody_account_id``: the shard the holding's purchase credited,
  which its payouts debit (the holdings so far: shard 0, which holds their money);
- ``wealth_product.custody_account_id`` goes: the shards say it.

The fraud engine's counters had the same queue (every purchase of a product counts
in its payee's bucket rows): ``risk_counter.shard`` spreads a bucket over rows, one
per shard of the paying customers (``rongbank.risk.engine.features``).

Revision ID: 0053_hot
"""

from alembic import op

revision = "0053_hot"
down_revision = "0052_outbox"
branch_labels = None
depends_on = None
serves_older_code = False  # drops wealth_product.custody_account_id

# Shards 1 to 31: 32 in all, ``rongbank.wealth.service.CUSTODY_SHARDS`` when this
# was written (a migration does not follow the code's later changes).


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE wealth_product_custody (
            product_id bigint NOT NULL REFERENCES wealth_product (id),
            shard      smallint NOT NULL CHECK (shard >= 0),
            account_id bigint NOT NULL UNIQUE REFERENCES ledger_account (id),
            PRIMARY KEY (product_id, shard)
        );
        INSERT INTO wealth_product_custody (product_id, shard, account_id)
        SELECT id, 0, custody_account_id FROM wealth_product;

        INSERT INTO ledger_account (code, name, currency, type, rule, created_at)
        SELECT a.code || ':' || s, a.name || ' (shard ' || s || ')', a.currency, a.type,
               a.rule, now()
          FROM wealth_product p JOIN ledger_account a ON a.id = p.custody_account_id
         CROSS JOIN generate_series(1, 31) AS s
            ON CONFLICT (code) DO NOTHING;  -- left by a downgrade: never used, empty
        INSERT INTO wealth_product_custody (product_id, shard, account_id)
        SELECT p.id, s, a.id
          FROM wealth_product p CROSS JOIN generate_series(1, 31) AS s
          JOIN ledger_account a ON a.code = 'wealth:' || p.code || ':' || s;

        ALTER TABLE wealth_holding ADD COLUMN custody_account_id bigint
            REFERENCES ledger_account (id);
        UPDATE wealth_holding h SET custody_account_id = p.custody_account_id
          FROM wealth_product p WHERE p.id = h.product_id;
        ALTER TABLE wealth_holding ALTER COLUMN custody_account_id SET NOT NULL;

        ALTER TABLE wealth_product DROP COLUMN custody_account_id;

        ALTER TABLE risk_counter ADD COLUMN shard smallint NOT NULL DEFAULT 0;
        ALTER TABLE risk_counter DROP CONSTRAINT risk_counter_pkey;
        ALTER TABLE risk_counter ADD PRIMARY KEY (subject, grain, bucket, shard);
        """
    )


def downgrade() -> None:
    # The money of shards 1.. has nowhere to go in the one-account model: refuse
    # rather than strand it. (The empty shard accounts stay: ledger accounts are
    # never deleted.)
    op.execute(
        """
        WITH merged AS (DELETE FROM risk_counter RETURNING *)
        INSERT INTO risk_counter (subject, grain, bucket, shard, n, amount, max_amount,
                                  new_payees)
        SELECT subject, grain, bucket, 0, sum(n), sum(amount), max(max_amount),
               sum(new_payees)
          FROM merged GROUP BY subject, grain, bucket;
        ALTER TABLE risk_counter DROP CONSTRAINT risk_counter_pkey;
        ALTER TABLE risk_counter DROP COLUMN shard;
        ALTER TABLE risk_counter ADD PRIMARY KEY (subject, grain, bucket);

        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM wealth_product_custody c
                         JOIN ledger_account a ON a.id = c.account_id
                        WHERE c.shard > 0 AND (a.debits_posted, a.credits_posted,
                              a.debits_pending, a.credits_pending) <> (0, 0, 0, 0)) THEN
                RAISE EXCEPTION 'wealth custody shards other than 0 have moved money';
            END IF;
        END $$;
        ALTER TABLE wealth_product ADD COLUMN custody_account_id bigint UNIQUE
            REFERENCES ledger_account (id);
        UPDATE wealth_product p SET custody_account_id = c.account_id
          FROM wealth_product_custody c WHERE c.product_id = p.id AND c.shard = 0;
        ALTER TABLE wealth_product ALTER COLUMN custody_account_id SET NOT NULL;
        ALTER TABLE wealth_holding DROP COLUMN custody_account_id;
        DROP TABLE wealth_product_custody;
        """
    )
