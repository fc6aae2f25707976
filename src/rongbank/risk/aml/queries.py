"""The AML batch's statements: set-based, one pass over the ledger per step.

A run over the Beijing days ``first`` .. ``last`` works in temporary tables dropped
at commit:

1. ``aml_account``: every ledger account, classed: a customer's e-account (with the
   customer and their kind), cash, cross-border, exempt (the bank's own movements,
   第七条) or other (the clearing account, merchants' payables, wealth custody...).
2. ``aml_movement``: each posted (not pending) posting on a customer's account from
   ``lookback`` days before ``first`` (for the windows) to the end of ``last``, with
   its counterparty (the entry's largest posting on the other side), less those
   against an exempt account or another account of the same customer. One scan of
   the postings by time (the BRIN index of 0034) and one hash join on the entry.
3. The large-value reports: one GROUP BY over the days' movements and the rules.
4. The patterns, each one statement into ``aml_candidate``: counts in a sliding window
   of days (structuring, round amounts: window functions over per-day counts; fan-in
   and fan-out: the same count as a bound, then distinct counterparties only for the
   customers the bound lets through), the outflows within hours of each large
   inflow (an index scan per such inflow), and the last movement before a large one
   (an index scan per such movement).

Window lengths are validated integers from the configuration, written into the SQL
(a window frame's offset cannot be a per-row value); everything else is bound.
"""

from __future__ import annotations

DAY_START = "CAST(CAST({day} AS timestamp) AT TIME ZONE 'Asia/Shanghai' AS timestamptz)"

ACCOUNTS = """
CREATE TEMP TABLE aml_account ON COMMIT DROP AS
SELECT a.id, e.customer_id, c.kind AS customer_kind, e.opened_at,
       CASE WHEN e.id IS NOT NULL THEN 'customer'
            WHEN a.code LIKE ANY (CAST(:cash AS text[])) THEN 'cash'
            WHEN a.code LIKE ANY (CAST(:cross_border AS text[])) THEN 'cross_border'
            WHEN a.code LIKE ANY (CAST(:exempt AS text[])) THEN 'exempt'
            ELSE 'other' END AS class
  FROM ledger_account a
  LEFT JOIN e_account e ON e.ledger_account_id = a.id
  LEFT JOIN customer c ON c.id = e.customer_id;
ALTER TABLE aml_account ADD PRIMARY KEY (id);
"""

MOVEMENTS = """
CREATE TEMP TABLE aml_movement ON COMMIT DROP AS
WITH p AS MATERIALIZED (
    SELECT id, entry_id, account_id, amount, currency, created_at FROM ledger_posting
     WHERE created_at >= :since AND created_at < :until AND NOT pending
), mine AS (
    SELECT p.*, a.customer_id, a.customer_kind FROM p JOIN aml_account a ON a.id = p.account_id
     WHERE a.class = 'customer'
), picked AS (
    SELECT DISTINCT ON (m.id) m.id AS posting_id, m.entry_id, m.customer_id, m.customer_kind,
           m.account_id, m.currency,
           CASE WHEN m.amount > 0 THEN 'out' ELSE 'in' END AS direction,
           abs(m.amount) AS amount, m.created_at,
           CAST(m.created_at AT TIME ZONE 'Asia/Shanghai' AS date) AS day,
           o.account_id AS counterparty, c.class AS cp_class, c.customer_id AS cp_customer
      FROM mine m
      JOIN p o ON o.entry_id = m.entry_id AND (o.amount > 0) <> (m.amount > 0)
      JOIN aml_account c ON c.id = o.account_id
     ORDER BY m.id, abs(o.amount) DESC, o.id
)
SELECT * FROM picked
 WHERE cp_class <> 'exempt' AND cp_customer IS DISTINCT FROM customer_id;
CREATE INDEX ON aml_movement (customer_id, created_at);
ANALYZE aml_movement;
"""

COUNT_MOVEMENTS = """
SELECT day, count(*) FROM aml_movement WHERE day BETWEEN :first AND :last GROUP BY day
"""

# The rules of 第五条 as a relation, and which movements each counts.
RULES = """
rules AS (
    SELECT * FROM unnest(CAST(:r_rule AS text[]), CAST(:r_customers AS text[]),
                         CAST(:r_channel AS text[]), CAST(:r_cny AS bigint[]),
                         CAST(:r_usd AS bigint[])) AS r(rule, customers, channel, cny, usd)
)"""

COUNTS_UNDER = """
(r.customers = 'any' OR r.customers = m.customer_kind)
AND CASE r.channel WHEN 'cash' THEN m.cp_class = 'cash'
                   WHEN 'transfer' THEN m.cp_class <> 'cash'
                   WHEN 'domestic' THEN m.cp_class NOT IN ('cash', 'cross_border')
                   ELSE m.cp_class = 'cross_border' END"""

REPORTS = f"""
CREATE TEMP TABLE aml_report_candidate ON COMMIT DROP AS
WITH {RULES},
fx AS (
    SELECT * FROM unnest(CAST(:fx_currency AS text[]), CAST(:fx_rate AS numeric[]))
        AS f(currency, rate)
), m AS (
    SELECT m.*, CASE WHEN m.currency = 'CNY' THEN 'CNY' ELSE 'FX' END AS currency_class,
           CASE WHEN m.currency = 'CNY' THEN m.amount
                ELSE CAST(round(m.amount * fx.rate * 100 / power(10, lc.scale)) AS bigint)
           END AS value
      FROM aml_movement m
      JOIN ledger_currency lc ON lc.code = m.currency
      LEFT JOIN fx ON fx.currency = m.currency
     WHERE m.day BETWEEN :first AND :last AND (m.currency = 'CNY' OR fx.currency IS NOT NULL)
), found AS (
    SELECT r.rule, m.day, m.customer_id, m.direction, m.currency_class,
           sum(m.value) AS total,
           CASE WHEN m.currency_class = 'CNY' THEN r.cny ELSE r.usd END AS threshold,
           count(*) AS movements,
           array_agg(m.entry_id ORDER BY m.created_at, m.posting_id) AS entry_ids
      FROM m JOIN rules r ON {COUNTS_UNDER}
     GROUP BY r.rule, m.day, m.customer_id, m.direction, m.currency_class, r.cny, r.usd
    HAVING sum(m.value) >= CASE WHEN m.currency_class = 'CNY' THEN r.cny ELSE r.usd END
)
SELECT row_number() OVER () AS n, f.* FROM found f
 WHERE NOT EXISTS (
    SELECT 1 FROM risk_aml_report x
     WHERE x.day = f.day AND x.customer_id = f.customer_id AND x.rule = f.rule
       AND x.direction = f.direction AND x.currency_class = f.currency_class)
"""  # noqa: S608 (composed of this module's constants)

CANDIDATES = """
CREATE TEMP TABLE aml_candidate (
    pattern     text NOT NULL,
    finding_key text NOT NULL,
    day         date NOT NULL,
    customer_id bigint NOT NULL,
    amount      bigint NOT NULL,
    entry_ids   bigint[] NOT NULL,
    details     jsonb NOT NULL
) ON COMMIT DROP
"""

# Structuring and round amounts: movements flagged one by one, counted per customer,
# direction and day, summed over a sliding window of days; a day in the run whose
# window holds enough (and which has one itself) is a finding, with the window's
# flagged movements behind it.
WINDOWED = f"""
INSERT INTO aml_candidate
WITH {RULES},
flag AS (
    SELECT 'structuring' AS pattern, m.customer_id, m.direction, m.day, m.amount,
           m.entry_id, m.created_at, m.posting_id, r.cny AS threshold, r.rule
      FROM aml_movement m JOIN rules r ON {COUNTS_UNDER}
     WHERE m.currency = 'CNY' AND m.amount < r.cny AND m.amount >= r.cny - r.cny * :band
    UNION ALL
    SELECT 'round_amounts', m.customer_id, m.direction, m.day, m.amount,
           m.entry_id, m.created_at, m.posting_id, NULL, NULL
      FROM aml_movement m
     WHERE m.currency = 'CNY' AND m.amount >= :round_min AND m.amount % :round_unit = 0
), daily AS (
    SELECT pattern, customer_id, direction, day, day - DATE '2000-01-01' AS dn, count(*) AS n
      FROM flag GROUP BY pattern, customer_id, direction, day
), windowed AS (
    SELECT *, CASE pattern WHEN 'structuring' THEN sum(n) OVER s ELSE sum(n) OVER r END AS wn
      FROM daily
    WINDOW s AS (PARTITION BY pattern, customer_id, direction ORDER BY dn
                 RANGE BETWEEN {{structuring_days}} PRECEDING AND CURRENT ROW),
           r AS (PARTITION BY pattern, customer_id, direction ORDER BY dn
                 RANGE BETWEEN {{round_days}} PRECEDING AND CURRENT ROW)
), hit AS (
    SELECT * FROM windowed
     WHERE day BETWEEN :first AND :last
       AND wn >= CASE pattern WHEN 'structuring' THEN :structuring_count ELSE :round_count END
)
SELECT h.pattern, h.pattern || ':' || h.customer_id || ':' || h.direction || ':' || h.day,
       h.day, h.customer_id, sum(f.amount),
       array_agg(f.entry_id ORDER BY f.created_at, f.posting_id),
       jsonb_build_object(
           'direction', h.direction, 'count', count(*),
           'window_days', CASE h.pattern WHEN 'structuring' THEN :structuring_window
                                         ELSE :round_window END,
           'threshold', max(f.threshold), 'rule', max(f.rule), 'unit', :round_unit,
           'amounts', array_agg(f.amount ORDER BY f.created_at, f.posting_id),
           'first_day', min(f.day), 'last_day', max(f.day))
  FROM hit h
  JOIN flag f ON f.pattern = h.pattern AND f.customer_id = h.customer_id
   AND f.direction = h.direction AND f.day <= h.day
   AND f.day > h.day - CASE h.pattern WHEN 'structuring' THEN :structuring_window
                                      ELSE :round_window END
 GROUP BY h.pattern, h.customer_id, h.direction, h.day
"""  # noqa: S608 (composed of this module's constants)

# Fan-in and fan-out: the window's count of movements bounds its count of distinct
# counterparties (a sliding window cannot count distinct values), so only the
# customer-days whose count reaches the minimum are looked at closely.
FAN = """
INSERT INTO aml_candidate
WITH daily AS (
    SELECT customer_id, direction, day, day - DATE '2000-01-01' AS dn, count(*) AS n
      FROM aml_movement
     WHERE currency = 'CNY' AND customer_kind = ANY (CAST(:fan_kinds AS text[]))
     GROUP BY customer_id, direction, day
), bound AS (
    SELECT *, sum(n) OVER (PARTITION BY customer_id, direction ORDER BY dn
                           RANGE BETWEEN {fan_days} PRECEDING AND CURRENT ROW) AS wn
      FROM daily
), hit AS (
    SELECT * FROM bound WHERE day BETWEEN :first AND :last AND wn >= :fan_count
)
SELECT 'fan_' || h.direction, 'fan_' || h.direction || ':' || h.customer_id || ':' || h.day,
       h.day, h.customer_id, sum(m.amount),
       array_agg(m.entry_id ORDER BY m.created_at, m.posting_id),
       jsonb_build_object('direction', h.direction, 'count', count(*),
                          'counterparties', count(DISTINCT m.counterparty),
                          'window_days', :fan_window,
                          'first_day', min(m.day), 'last_day', max(m.day))
  FROM hit h
  JOIN aml_movement m ON m.customer_id = h.customer_id AND m.direction = h.direction
   AND m.currency = 'CNY' AND m.day <= h.day AND m.day > h.day - :fan_window
 GROUP BY h.customer_id, h.direction, h.day
HAVING count(DISTINCT m.counterparty) >= :fan_count AND sum(m.amount) >= :fan_total
"""

# Rapid in-and-out: each large inflow that may still have its outflows in the run
# (from ``hours`` before the first day), and what left the customer's accounts in the
# ``hours`` after it, up to the end of the run.
RAPID = """
INSERT INTO aml_candidate
SELECT 'rapid_in_out', 'rapid_in_out:' || i.posting_id, o.last_day, i.customer_id, i.amount,
       i.entry_id || o.entry_ids,
       jsonb_build_object('in', i.amount, 'out', o.total, 'hours', :rapid_hours,
                          'outflows', cardinality(o.entry_ids), 'in_at', i.created_at,
                          'last_out_at', o.last_at)
  FROM aml_movement i
 CROSS JOIN LATERAL (
    SELECT sum(x.amount) AS total, max(x.day) AS last_day, max(x.created_at) AS last_at,
           array_agg(x.entry_id ORDER BY x.created_at, x.posting_id) AS entry_ids
      FROM aml_movement x
     WHERE x.customer_id = i.customer_id AND x.direction = 'out' AND x.currency = 'CNY'
       AND x.created_at > i.created_at
       AND x.created_at <= i.created_at + make_interval(hours => :rapid_hours)
) o
 WHERE i.direction = 'in' AND i.currency = 'CNY' AND i.amount >= :rapid_min
   AND i.customer_kind = ANY (CAST(:rapid_kinds AS text[]))
   AND i.created_at >= :start - make_interval(hours => :rapid_hours)
   AND o.total >= i.amount * :rapid_share AND o.last_day BETWEEN :first AND :last
"""

# A dormant account woken: the first large movement of a day on an account whose
# last movement before that day (not counting the bank's own, exempt, postings such
# as interest) is ``months`` old, or which never moved since it was opened that long
# ago.
DORMANT = f"""
INSERT INTO aml_candidate
WITH big AS (
    SELECT DISTINCT ON (account_id, day) *
      FROM aml_movement
     WHERE day BETWEEN :first AND :last AND currency = 'CNY' AND amount >= :dormant_min
     ORDER BY account_id, day, created_at, posting_id
)
SELECT 'dormant_woken', 'dormant_woken:' || b.account_id || ':' || b.day, b.day,
       b.customer_id, b.amount, ARRAY[b.entry_id],
       jsonb_build_object('direction', b.direction, 'months', :dormant_months,
                          'last_movement', prev.created_at, 'opened_at', a.opened_at)
  FROM big b
  JOIN aml_account a ON a.id = b.account_id
  LEFT JOIN LATERAL (
    SELECT p.created_at FROM ledger_posting p
     WHERE p.account_id = b.account_id AND NOT p.pending
       AND p.created_at < {DAY_START.format(day="b.day")}
       AND EXISTS (SELECT 1 FROM ledger_posting o JOIN aml_account c ON c.id = o.account_id
                    WHERE o.entry_id = p.entry_id AND o.account_id <> p.account_id
                      AND c.class <> 'exempt')
     ORDER BY p.created_at DESC, p.id DESC LIMIT 1
  ) prev ON true
 WHERE coalesce(prev.created_at, a.opened_at)
       <= {DAY_START.format(day="b.day")} - make_interval(months => :dormant_months)
"""  # noqa: S608 (composed of this module's constants)

NEW_CANDIDATES = """
SELECT row_number() OVER (ORDER BY c.day, c.pattern, c.finding_key) AS n, c.pattern,
       c.finding_key, c.day, c.customer_id, c.amount, c.entry_ids, c.details
  FROM aml_candidate c
 WHERE NOT EXISTS (SELECT 1 FROM risk_aml_finding f WHERE f.finding_key = c.finding_key)
 ORDER BY n
"""

INSERT_FINDINGS = """
INSERT INTO risk_aml_finding (finding_key, pattern, day, customer_id, amount, entry_ids,
                              details, explanation_zh, explanation_en, created_at)
SELECT c.finding_key, c.pattern, c.day, c.customer_id, c.amount, c.entry_ids, c.details,
       x.zh, x.en, :at
  FROM aml_candidate c
  JOIN unnest(CAST(:keys AS text[]), CAST(:zh AS text[]), CAST(:en AS text[])) AS x(key, zh, en)
    ON x.key = c.finding_key
ON CONFLICT (finding_key) DO NOTHING
RETURNING id, pattern, day, customer_id, amount
"""

INSERT_REPORTS = """
INSERT INTO risk_aml_report (day, customer_id, rule, direction, currency_class, total,
                             threshold, movements, entry_ids, explanation_zh,
                             explanation_en, created_at)
SELECT c.day, c.customer_id, c.rule, c.direction, c.currency_class, c.total, c.threshold,
       c.movements, c.entry_ids, x.zh, x.en, :at
  FROM aml_report_candidate c
  JOIN unnest(CAST(:n AS bigint[]), CAST(:zh AS text[]), CAST(:en AS text[])) AS x(n, zh, en)
    ON x.n = c.n
ON CONFLICT DO NOTHING
RETURNING day
"""

RECORD_RUN = """
INSERT INTO risk_aml_run (day, ran_at, movements, reports, findings)
SELECT * FROM unnest(CAST(:days AS date[]), CAST(:at_ AS timestamptz[]),
                     CAST(:movements AS bigint[]), CAST(:reports AS int[]),
                     CAST(:findings AS int[]))
ON CONFLICT (day) DO UPDATE SET ran_at = excluded.ran_at, movements = excluded.movements,
    reports = risk_aml_run.reports + excluded.reports,
    findings = risk_aml_run.findings + excluded.findings
"""
