"""The double-entry ledger: currencies, accounts, journal, holds.

The database itself enforces what no code path may break:
- every statement that inserts postings leaves each entry balanced per currency
  (statement-level trigger over the transition table: cheap for batches, and sound
  because the sum of balanced statements is balanced);
- a posting refers to an existing entry and account, in the account's currency
  (checked per statement like the balance, instead of per-row foreign keys, which
  cost more than the rest of a batch's write);
- the journal (entries, postings) is append-only: UPDATE, DELETE and TRUNCATE raise;
- an account's posted and pending totals respect its balance rule (CHECK);
- a pending transfer is resolved (posted, voided, expired) at most once, and an
  entry is reversed at most once (unique indexes).

Revision ID: 0001
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CURRENCIES = [
    # ISO 4217 fiat currencies: code, minor-unit scale, name.
    ("CNY", 2, "fiat", "Chinese yuan renminbi"),
    ("USD", 2, "fiat", "US dollar"),
    ("EUR", 2, "fiat", "Euro"),
    ("HKD", 2, "fiat", "Hong Kong dollar"),
    ("GBP", 2, "fiat", "Pound sterling"),
    ("JPY", 0, "fiat", "Japanese yen"),
    ("AUD", 2, "fiat", "Australian dollar"),
    ("CAD", 2, "fiat", "Canadian dollar"),
    ("SGD", 2, "fiat", "Singapore dollar"),
    ("CHF", 2, "fiat", "Swiss franc"),
    # Commodities traded as account products (工银e投资), each in its trading unit.
    ("AU_G", 3, "commodity", "Account gold, grams"),
    ("AG_G", 3, "commodity", "Account silver, grams"),
    ("PT_G", 3, "commodity", "Account platinum, grams"),
    ("PD_G", 3, "commodity", "Account palladium, grams"),
    ("WTI_BBL", 2, "commodity", "Account crude oil (WTI), barrels"),
    ("BRENT_BBL", 2, "commodity", "Account crude oil (Brent), barrels"),
    ("CU_T", 3, "commodity", "Account copper, tonnes"),
    ("AL_T", 3, "commodity", "Account aluminium, tonnes"),
    ("ZN_T", 3, "commodity", "Account zinc, tonnes"),
    ("SOY_BU", 2, "commodity", "Account soybeans, bushels"),
    ("CORN_BU", 2, "commodity", "Account corn, bushels"),
    ("WHEAT_BU", 2, "commodity", "Account wheat, bushels"),
]

SCHEMA = """
CREATE TABLE ledger_currency (
    code  text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{2,11}$'),
    scale smallint NOT NULL CHECK (scale BETWEEN 0 AND 8),
    kind  text NOT NULL CHECK (kind IN ('fiat', 'commodity')),
    name  text NOT NULL
);

CREATE TABLE ledger_account (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            text NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 64),
    name            text NOT NULL DEFAULT '',
    currency        text NOT NULL REFERENCES ledger_currency (code),
    type            text NOT NULL
        CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
    rule            text NOT NULL DEFAULT 'none'
        CHECK (rule IN ('none', 'debits_must_not_exceed_credits',
                        'credits_must_not_exceed_debits')),
    overdraft_limit bigint NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
    debits_posted   bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_posted  bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    debits_pending  bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    created_at      timestamptz NOT NULL,
    CONSTRAINT ledger_account_balance_rule CHECK (
        CASE rule
            WHEN 'debits_must_not_exceed_credits'
                THEN debits_posted + debits_pending <= credits_posted + overdraft_limit
            WHEN 'credits_must_not_exceed_debits'
                THEN credits_posted + credits_pending <= debits_posted + overdraft_limit
            ELSE true
        END)
) WITH (fillfactor = 70);  -- room for HOT updates of the totals

CREATE TABLE ledger_entry (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    text NOT NULL UNIQUE CHECK (length(client_id) BETWEEN 1 AND 128),
    request_hash bytea NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('transfer', 'pending', 'post_pending',
                                               'void_pending', 'expire_pending', 'entry',
                                               'reversal')),
    pending_id   bigint REFERENCES ledger_entry (id),
    reverses_id  bigint REFERENCES ledger_entry (id),
    description  text NOT NULL DEFAULT '',
    metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL,
    CHECK ((pending_id IS NOT NULL) = (kind IN ('post_pending', 'void_pending', 'expire_pending'))),
    CHECK ((reverses_id IS NOT NULL) = (kind = 'reversal'))
);
CREATE UNIQUE INDEX ledger_entry_resolves_once ON ledger_entry (pending_id)
    WHERE pending_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_entry_reversed_once ON ledger_entry (reverses_id)
    WHERE reverses_id IS NOT NULL;

-- amount > 0 is a debit, amount < 0 a credit. balance_after is the account's posted
-- debits minus posted credits once this posting applied (pending postings leave it
-- unchanged): it gives running balances and balances as of any past instant
-- without summing the history.
CREATE TABLE ledger_posting (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id      bigint NOT NULL,  -- references ledger_entry: checked per statement
    account_id    bigint NOT NULL,  -- references ledger_account: checked per statement
    currency      text NOT NULL,
    amount        bigint NOT NULL CHECK (amount <> 0),
    pending       boolean NOT NULL,
    balance_after bigint NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX ledger_posting_account_time ON ledger_posting (account_id, created_at, id);
CREATE INDEX ledger_posting_entry ON ledger_posting (entry_id);

-- A pending transfer's reservation. Mutable on purpose: it is the state of a
-- two-phase transfer, while the journal rows that create and resolve it never change.
CREATE TABLE ledger_hold (
    entry_id          bigint PRIMARY KEY REFERENCES ledger_entry (id),
    debit_account_id  bigint NOT NULL REFERENCES ledger_account (id),
    credit_account_id bigint NOT NULL REFERENCES ledger_account (id),
    amount            bigint NOT NULL CHECK (amount > 0),
    state             text NOT NULL CHECK (state IN ('pending', 'posted', 'voided', 'expired')),
    expires_at        timestamptz,
    resolved_by       bigint REFERENCES ledger_entry (id),
    posted_amount     bigint CHECK (posted_amount > 0 AND posted_amount <= amount),
    CHECK ((state = 'pending') = (resolved_by IS NULL))
) WITH (fillfactor = 70);
CREATE INDEX ledger_hold_expiry ON ledger_hold (expires_at) WHERE state = 'pending';

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger journal is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'correct a mistake with a reversing entry';
END
$$;

CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entry_no_truncate BEFORE TRUNCATE ON ledger_entry
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_posting_append_only BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_posting_no_truncate BEFORE TRUNCATE ON ledger_posting
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE FUNCTION ledger_check_postings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT entry_id, currency, sum(amount) AS total INTO bad
      FROM new_postings GROUP BY entry_id, currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unbalanced ledger entry %: % postings sum to %',
            bad.entry_id, bad.currency, bad.total USING ERRCODE = 'check_violation';
    END IF;
    SELECT n.id, n.currency, a.currency AS account_currency INTO bad
      FROM new_postings n LEFT JOIN ledger_account a ON a.id = n.account_id
     WHERE a.currency IS DISTINCT FROM n.currency LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'posting % in % to account in %', bad.id, bad.currency,
            coalesce(bad.account_currency, '(no such account)')
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT n.id, n.entry_id INTO bad
      FROM new_postings n LEFT JOIN ledger_entry e ON e.id = n.entry_id
     WHERE e.id IS NULL LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'posting % refers to no entry %', bad.id, bad.entry_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

-- Ledger accounts are never deleted (postings refer to them); they are closed.
CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_account_no_truncate BEFORE TRUNCATE ON ledger_account
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_postings();
"""


def upgrade() -> None:
    op.execute(SCHEMA)
    values = ", ".join(
        f"('{code}', {scale}, '{kind}', '{name}')" for code, scale, kind, name in CURRENCIES
    )
    op.execute(f"INSERT INTO ledger_currency (code, scale, kind, name) VALUES {values}")  # noqa: S608


def downgrade() -> None:
    op.execute(
        "DROP TABLE ledger_hold, ledger_posting, ledger_entry, ledger_account, ledger_currency;"
        "DROP FUNCTION ledger_refuse_change(), ledger_check_postings();"
    )
