"""Every query of the ledger.

The write path talks to psycopg directly, inside the SQLAlchemy session's own
transaction: it sends its locking reads pipelined (one network round trip) and
writes a whole batch (entries, postings, holds, account totals) in one statement
built on ``unnest`` arrays. That is what lets one commit carry thousands of
transfers. Reads use the same connection through plain SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from rongbank.db import text_array
from rongbank.ledger.rules import AccountState, AccountType, BalanceRule, PostingPlan

# ---------------------------------------------------------------------------
# Locking reads for the write path

ADVISORY_LOCKS = "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k"

LOCK_HOLDS = """
SELECT h.entry_id, e.client_id, h.debit_account_id, h.credit_account_id, h.amount,
       h.state, h.expires_at
  FROM ledger_hold h JOIN ledger_entry e ON e.id = h.entry_id
 WHERE h.entry_id = ANY(%s::bigint[]) OR e.client_id = ANY(%s::text[])
 ORDER BY h.entry_id
   FOR UPDATE OF h
"""

LOCK_ACCOUNTS = """
SELECT id, code, currency, type, rule, overdraft_limit,
       debits_posted, credits_posted, debits_pending, credits_pending, frozen
  FROM ledger_account
 WHERE id = ANY(%b::bigint[]) OR code = ANY(%b::text[])
 ORDER BY id
   FOR UPDATE
"""

# What each client id answered before: its entry, or its refusal (remembered under
# the ledger's scope of the shared idempotency records).
EXISTING_ENTRIES = """
SELECT client_id, id, request_hash, NULL::jsonb FROM ledger_entry
 WHERE client_id = ANY(%b::text[])
UNION ALL
SELECT key, NULL, fingerprint, refusal FROM idempotency_record
 WHERE scope = 'ledger' AND key = ANY(%b::text[])
"""

WRITE_REFUSALS = """
INSERT INTO idempotency_record (scope, key, fingerprint, refusal, created_at)
SELECT 'ledger', x.key, x.fingerprint, x.refusal, %s::timestamptz
  FROM unnest(%s::text[], %s::bytea[], %s::jsonb[]) AS x(key, fingerprint, refusal)
    ON CONFLICT (scope, key) DO NOTHING
"""

REVERSED_ALREADY = """
SELECT reverses_id, id FROM ledger_entry WHERE reverses_id = ANY(%s::bigint[])
"""

REVERSAL_TARGETS = """
SELECT e.id, e.client_id, e.kind, p.account_id, p.amount, p.pending
  FROM ledger_entry e LEFT JOIN ledger_posting p ON p.entry_id = e.id
 WHERE e.id = ANY(%s::bigint[]) OR e.client_id = ANY(%s::text[])
 ORDER BY e.id, p.id
"""


@dataclass(slots=True)
class HoldRow:
    entry_id: int
    client_id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    state: str
    expires_at: datetime | None


@dataclass(slots=True)
class ReversalTarget:
    id: int
    client_id: str
    kind: str
    legs: list[tuple[int, int]] = field(default_factory=list)  # (account_id, amount) posted


@dataclass(slots=True)
class Locked:
    accounts: dict[int, AccountState]
    codes: dict[str, int]
    existing: dict[str, tuple[int, bytes]]
    refused: dict[str, tuple[bytes, dict[str, Any]]]
    """Client ids refused before: the fingerprint and the refusal."""
    reversed_by: dict[int, int]


def lock_holds(
    conn: psycopg.Connection[Any], advisory_keys: list[int], ids: list[int], client_ids: list[str]
) -> list[HoldRow]:
    with conn.pipeline():
        conn.execute(ADVISORY_LOCKS, [advisory_keys])
        cur = conn.cursor(row_factory=tuple_row)
        cur.execute(LOCK_HOLDS, [ids, client_ids])
    return [HoldRow(*row) for row in cur.fetchall()]


def reversal_targets(
    conn: psycopg.Connection[Any], ids: list[int], client_ids: list[str]
) -> list[ReversalTarget]:
    targets: dict[int, ReversalTarget] = {}
    for entry_id, client_id, kind, account_id, amount, pending in conn.execute(
        REVERSAL_TARGETS, [ids, client_ids]
    ):
        target = targets.setdefault(entry_id, ReversalTarget(entry_id, client_id, kind))
        if account_id is not None and not pending:
            target.legs.append((account_id, amount))
    return list(targets.values())


# By value, without the enum constructors' lookup (thousands of accounts a batch).
_TYPES = {t.value: t for t in AccountType}
_RULES = {r.value: r for r in BalanceRule}


def lock_accounts(
    conn: psycopg.Connection[Any],
    *,
    advisory_keys: list[int] | None,
    ids: list[int],
    codes: list[str],
    client_ids: list[str],
    reversal_ids: list[int],
) -> Locked:
    """Take the client-id locks unless already taken (``advisory_keys`` None),
    lock the accounts (in id order, so that concurrent batches never deadlock)
    and, in the same round trip, read what was committed before us for these client
    ids and reversal targets. Each read starts after the locks it relies on are
    granted: what a client id answered before is read once its lock is ours (every
    writer of a client id holds that lock until it commits, so an earlier duplicate
    is visible), and before the account locks, whose wait is the contended stretch
    of concurrent batches; the reversals are read once the accounts are ours."""
    with conn.pipeline():
        if advisory_keys is not None:
            conn.execute(ADVISORY_LOCKS, [advisory_keys])
        ex_cur = conn.cursor(row_factory=tuple_row)
        ex_cur.execute(EXISTING_ENTRIES, [client_ids, client_ids])
        acc_cur = conn.cursor(row_factory=tuple_row)
        acc_cur.execute(LOCK_ACCOUNTS, [ids, codes])
        rev_cur = None
        if reversal_ids:
            rev_cur = conn.cursor(row_factory=tuple_row)
            rev_cur.execute(REVERSED_ALREADY, [reversal_ids])
    accounts: dict[int, AccountState] = {}
    by_code: dict[str, int] = {}
    for row in acc_cur.fetchall():
        account_id, code, currency, type_, rule, overdraft, dp, cp, dpe, cpe, frozen = row
        accounts[account_id] = AccountState(
            account_id,
            currency,
            _TYPES[type_],
            _RULES[rule],
            overdraft,
            dp,
            cp,
            dpe,
            cpe,
            frozen,
        )
        by_code[code] = account_id
    existing: dict[str, tuple[int, bytes]] = {}
    refused: dict[str, tuple[bytes, dict[str, Any]]] = {}
    for cid, eid, h, refusal in ex_cur.fetchall():
        if refusal is None:
            existing[cid] = (eid, bytes(h))
        else:
            refused[cid] = (bytes(h), refusal)
    reversed_by: dict[int, int] = dict(rev_cur.fetchall()) if rev_cur is not None else {}
    return Locked(accounts, by_code, existing, refused, reversed_by)


# ---------------------------------------------------------------------------
# The one statement that stores a batch


@dataclass(slots=True)
class EntryWrite:
    client_id: str
    request_hash: bytes
    kind: str
    created_at: datetime
    pending_id: int | None = None
    reverses_id: int | None = None
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    postings: list[PostingPlan] = field(default_factory=list)
    new_hold: tuple[int, int, int, datetime | None] | None = None  # debit, credit, amount, expiry
    hold_update: tuple[int, str, int | None] | None = None  # hold id, new state, posted amount


_CTE_IDS = """
    SELECT nextval(pg_get_serial_sequence('ledger_entry', 'id')) AS id, x.*
      FROM unnest(%(cid)s::text[], %(hash)s::bytea[], %(kind)s::text[],
                  %(pending)s::bigint[], %(reverses)s::bigint[], %(desc)s::text[],
                  %(meta)s::jsonb[]) WITH ORDINALITY
           AS x(client_id, request_hash, kind, pending_id, reverses_id, description,
                metadata, ord)
"""
_CTE_ENTRIES = """
    INSERT INTO ledger_entry (id, client_id, request_hash, kind, pending_id, reverses_id,
                              description, metadata, created_at)
    SELECT id, client_id, request_hash, kind, pending_id, reverses_id, description,
           metadata, %(now)s::timestamptz
      FROM ids ORDER BY ord
"""
_CTE_POSTINGS = """
    INSERT INTO ledger_posting (entry_id, account_id, currency, amount, pending,
                                balance_after, created_at)
    SELECT ids.id, x.account_id, x.currency, x.amount, x.pending, x.balance_after,
           %(now)s::timestamptz
      FROM unnest(%(p_entry)s::bigint[], %(p_account)s::bigint[], %(p_currency)s::text[],
                  %(p_amount)s::bigint[], %(p_pending)s::boolean[], %(p_after)s::bigint[])
           WITH ORDINALITY AS x(entry, account_id, currency, amount, pending,
                                balance_after, ord)
      JOIN ids ON ids.ord = x.entry
     ORDER BY x.ord
"""
_CTE_NEW_HOLDS = """
    INSERT INTO ledger_hold (entry_id, debit_account_id, credit_account_id, amount, state,
                             expires_at)
    SELECT ids.id, x.debit, x.credit, x.amount, 'pending', x.expires_at
      FROM unnest(%(h_entry)s::bigint[], %(h_debit)s::bigint[], %(h_credit)s::bigint[],
                  %(h_amount)s::bigint[], %(h_expires)s::timestamptz[])
           AS x(entry, debit, credit, amount, expires_at)
      JOIN ids ON ids.ord = x.entry
"""
_CTE_HOLD_UPDATES = """
    UPDATE ledger_hold AS hold
       SET state = x.state, resolved_by = ids.id, posted_amount = x.posted_amount
      FROM unnest(%(u_entry)s::bigint[], %(u_hold)s::bigint[], %(u_state)s::text[],
                  %(u_posted)s::bigint[]) AS x(entry, hold_id, state, posted_amount)
      JOIN ids ON ids.ord = x.entry
     WHERE hold.entry_id = x.hold_id
"""
_CTE_ACCOUNTS = """
    UPDATE ledger_account AS acc
       SET debits_posted = x.dp, credits_posted = x.cp,
           debits_pending = x.dpe, credits_pending = x.cpe
      FROM unnest(%(a_id)s::bigint[], %(a_dp)s::bigint[], %(a_cp)s::bigint[],
                  %(a_dpe)s::bigint[], %(a_cpe)s::bigint[]) AS x(id, dp, cp, dpe, cpe)
     WHERE acc.id = x.id
"""


def _write_statement(new_holds: bool, hold_updates: bool) -> str:
    """The batch write, without the hold parts a batch does not need (a plain
    transfer then runs a smaller statement)."""
    ctes = [("ids", _CTE_IDS), ("e", _CTE_ENTRIES), ("p", _CTE_POSTINGS)]
    if new_holds:
        ctes.append(("h", _CTE_NEW_HOLDS))
    if hold_updates:
        ctes.append(("u", _CTE_HOLD_UPDATES))
    ctes.append(("a", _CTE_ACCOUNTS))
    return (
        "WITH "
        + ",\n".join(f"{name} AS ({sql})" for name, sql in ctes)
        + "\nSELECT id FROM ids ORDER BY ord"
    )


WRITE_STATEMENTS = {
    (holds, updates): _write_statement(holds, updates)
    for holds in (False, True)
    for updates in (False, True)
}


def _ints(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers. Building the literal with
    ``str.join`` costs a fraction of dumping a list element by element, and the
    batch write sends tens of thousands of numbers."""
    return "{" + ",".join(map(str, values)) + "}"


def _nullable_ints(values: Iterable[int | None]) -> str:
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def _bools(values: Iterable[bool]) -> str:
    return "{" + ",".join("t" if v else "f" for v in values) + "}"


def write_batch(
    conn: psycopg.Connection[Any],
    entries: Sequence[EntryWrite],
    accounts: Sequence[AccountState],
    now: datetime,
) -> list[int]:
    """Store the entries, their postings and hold changes, and the accounts' new
    totals, in one statement; return the new entries' ids, in order. Postings and
    holds refer to their entry by its position in the batch (1-based)."""
    postings = [(n, plan) for n, entry in enumerate(entries, 1) for plan in entry.postings]
    new_holds = [(n, e.new_hold) for n, e in enumerate(entries, 1) if e.new_hold is not None]
    updates = [(n, e.hold_update) for n, e in enumerate(entries, 1) if e.hold_update is not None]
    params: dict[str, str | datetime] = {
        "now": now,
        "cid": text_array(e.client_id for e in entries),
        "hash": text_array("\\x" + e.request_hash.hex() for e in entries),
        "kind": text_array(e.kind for e in entries),
        "pending": _nullable_ints(e.pending_id for e in entries),
        "reverses": _nullable_ints(e.reverses_id for e in entries),
        "desc": text_array(e.description for e in entries),
        "meta": text_array(json.dumps(e.metadata) if e.metadata else "{}" for e in entries),
        "p_entry": _ints(n for n, _ in postings),
        "p_account": _ints(plan.account_id for _, plan in postings),
        "p_currency": text_array(plan.currency for _, plan in postings),
        "p_amount": _ints(plan.amount for _, plan in postings),
        "p_pending": _bools(plan.pending for _, plan in postings),
        "p_after": _ints(plan.balance_after for _, plan in postings),
        "h_entry": _ints(n for n, _ in new_holds),
        "h_debit": _ints(hold[0] for _, hold in new_holds),
        "h_credit": _ints(hold[1] for _, hold in new_holds),
        "h_amount": _ints(hold[2] for _, hold in new_holds),
        "h_expires": text_array(
            None if hold[3] is None else hold[3].isoformat() for _, hold in new_holds
        ),
        "u_entry": _ints(n for n, _ in updates),
        "u_hold": _ints(update[0] for _, update in updates),
        "u_state": text_array(update[1] for _, update in updates),
        "u_posted": _nullable_ints(update[2] for _, update in updates),
        "a_id": _ints(a.id for a in accounts),
        "a_dp": _ints(a.debits_posted for a in accounts),
        "a_cp": _ints(a.credits_posted for a in accounts),
        "a_dpe": _ints(a.debits_pending for a in accounts),
        "a_cpe": _ints(a.credits_pending for a in accounts),
    }
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(WRITE_STATEMENTS[bool(new_holds), bool(updates)], params)
    return [row[0] for row in cur.fetchall()]


def write_refusals(
    conn: psycopg.Connection[Any],
    refusals: Sequence[tuple[str, bytes, dict[str, Any]]],
    now: datetime,
) -> None:
    """Remember refused client ids (client id, request hash, refusal), in one statement."""
    conn.execute(
        WRITE_REFUSALS,
        [
            now,
            [cid for cid, _, _ in refusals],
            [h for _, h, _ in refusals],
            [json.dumps(r, ensure_ascii=False) for _, _, r in refusals],
        ],
    )


def due_holds(conn: psycopg.Connection[Any], now: datetime, limit: int) -> list[int]:
    rows = conn.execute(
        "SELECT entry_id FROM ledger_hold WHERE state = 'pending' AND expires_at <= %s "
        "ORDER BY entry_id LIMIT %s",
        [now, limit],
    ).fetchall()
    return [r[0] for r in rows]


# ---------------------------------------------------------------------------
# Reads

ACCOUNT_COLUMNS = (
    "id, code, name, currency, type, rule, overdraft_limit, debits_posted, credits_posted, "
    "debits_pending, credits_pending, created_at, frozen"
)


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    code: str
    name: str
    currency: str
    type: str
    rule: str
    overdraft_limit: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    created_at: datetime
    frozen: bool


def currencies(conn: psycopg.Connection[Any]) -> list[tuple[str, int, str, str]]:
    return conn.execute(
        "SELECT code, scale, kind, name FROM ledger_currency ORDER BY code"
    ).fetchall()


def insert_account(
    conn: psycopg.Connection[Any],
    *,
    code: str,
    name: str,
    currency: str,
    type_: str,
    rule: str,
    overdraft_limit: int,
    now: datetime,
) -> AccountRow | None:
    """Insert, or return None if the code is taken (the caller compares)."""
    row = conn.execute(
        f"INSERT INTO ledger_account (code, name, currency, type, rule, overdraft_limit, "  # noqa: S608
        f"created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING "
        f"RETURNING {ACCOUNT_COLUMNS}",
        [code, name, currency, type_, rule, overdraft_limit, now],
    ).fetchone()
    return AccountRow(*row) if row else None


def find_account(conn: psycopg.Connection[Any], ref: int | str) -> AccountRow | None:
    column = "code" if isinstance(ref, str) else "id"
    row = conn.execute(
        f"SELECT {ACCOUNT_COLUMNS} FROM ledger_account WHERE {column} = %s",  # noqa: S608
        [ref],
    ).fetchone()
    return AccountRow(*row) if row else None


def set_frozen(conn: psycopg.Connection[Any], ref: int | str, frozen: bool) -> bool:
    column = "code" if isinstance(ref, str) else "id"
    cur = conn.execute(
        f"UPDATE ledger_account SET frozen = %s WHERE {column} = %s",  # noqa: S608 (a column name)
        [frozen, ref],
    )
    return cur.rowcount == 1


def list_accounts(
    conn: psycopg.Connection[Any],
    *,
    currency: str | None,
    type_: str | None,
    code_prefix: str | None,
    after_id: int,
    limit: int,
) -> list[AccountRow]:
    rows = conn.execute(
        f"SELECT {ACCOUNT_COLUMNS} FROM ledger_account "  # noqa: S608
        "WHERE id > %s AND (%s::text IS NULL OR currency = %s) AND (%s::text IS NULL OR type = %s) "
        "AND (%s::text IS NULL OR starts_with(code, %s)) ORDER BY id LIMIT %s",
        [after_id, currency, currency, type_, type_, code_prefix, code_prefix, limit],
    ).fetchall()
    return [AccountRow(*r) for r in rows]


def net_posted_at(conn: psycopg.Connection[Any], account_id: int, at: datetime) -> int:
    """Posted debits minus credits of an account as of ``at`` (inclusive)."""
    row = conn.execute(
        "SELECT balance_after FROM ledger_posting WHERE account_id = %s AND created_at <= %s "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        [account_id, at],
    ).fetchone()
    return int(row[0]) if row else 0


def net_posted_before(conn: psycopg.Connection[Any], account_id: int, at: datetime) -> int:
    row = conn.execute(
        "SELECT balance_after FROM ledger_posting WHERE account_id = %s AND created_at < %s "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        [account_id, at],
    ).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True, slots=True)
class StatementRow:
    posting_id: int
    entry_id: int
    client_id: str
    kind: str
    description: str
    created_at: datetime
    amount: int
    balance_after: int


def statement_rows(
    conn: psycopg.Connection[Any],
    account_id: int,
    *,
    start: datetime,
    end: datetime,
    after_posting: int,
    limit: int,
) -> list[StatementRow]:
    rows = conn.execute(
        "SELECT p.id, p.entry_id, e.client_id, e.kind, e.description, p.created_at, p.amount, "
        "p.balance_after FROM ledger_posting p JOIN ledger_entry e ON e.id = p.entry_id "
        "WHERE p.account_id = %s AND NOT p.pending AND p.created_at >= %s AND p.created_at < %s "
        "AND p.id > %s ORDER BY p.created_at, p.id LIMIT %s",
        [account_id, start, end, after_posting, limit],
    ).fetchall()
    return [StatementRow(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class PostingRow:
    account_id: int
    account_code: str
    currency: str
    amount: int
    pending: bool


@dataclass(frozen=True, slots=True)
class EntryRow:
    id: int
    client_id: str
    kind: str
    pending_id: int | None
    reverses_id: int | None
    description: str
    metadata: dict[str, Any]
    created_at: datetime
    postings: list[PostingRow]
    hold: HoldView | None
    reversed_by: int | None
    resolved_by: int | None


@dataclass(frozen=True, slots=True)
class HoldView:
    state: str
    amount: int
    currency: str
    expires_at: datetime | None
    posted_amount: int | None
    resolved_by: int | None


def find_entry(conn: psycopg.Connection[Any], ref: int | str) -> EntryRow | None:
    column = "client_id" if isinstance(ref, str) else "id"
    row = conn.execute(
        "SELECT e.id, e.client_id, e.kind, e.pending_id, e.reverses_id, e.description, "  # noqa: S608
        "e.metadata, e.created_at, "
        "(SELECT r.id FROM ledger_entry r WHERE r.reverses_id = e.id), "
        "(SELECT r.id FROM ledger_entry r WHERE r.pending_id = e.id) "
        f"FROM ledger_entry e WHERE e.{column} = %s",
        [ref],
    ).fetchone()
    if row is None:
        return None
    entry_id = row[0]
    postings = [
        PostingRow(*r)
        for r in conn.execute(
            "SELECT p.account_id, a.code, p.currency, p.amount, p.pending FROM ledger_posting p "
            "JOIN ledger_account a ON a.id = p.account_id WHERE p.entry_id = %s ORDER BY p.id",
            [entry_id],
        )
    ]
    hold_row = conn.execute(
        "SELECT h.state, h.amount, a.currency, h.expires_at, h.posted_amount, h.resolved_by "
        "FROM ledger_hold h JOIN ledger_account a ON a.id = h.debit_account_id "
        "WHERE h.entry_id = %s",
        [entry_id],
    ).fetchone()
    hold = HoldView(*hold_row) if hold_row else None
    return EntryRow(
        id=row[0],
        client_id=row[1],
        kind=row[2],
        pending_id=row[3],
        reverses_id=row[4],
        description=row[5],
        metadata=row[6],
        created_at=row[7],
        postings=postings,
        hold=hold,
        reversed_by=row[8],
        resolved_by=row[9],
    )


def entry_exists(conn: psycopg.Connection[Any], client_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM ledger_entry WHERE client_id = %s", [client_id]).fetchone()
        is not None
    )


@dataclass(frozen=True, slots=True)
class TrialBalanceRow:
    currency: str
    accounts: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int


def trial_balance(conn: psycopg.Connection[Any]) -> list[TrialBalanceRow]:
    rows = conn.execute(
        "SELECT currency, count(*), coalesce(sum(debits_posted), 0), "
        "coalesce(sum(credits_posted), 0), coalesce(sum(debits_pending), 0), "
        "coalesce(sum(credits_pending), 0) FROM ledger_account GROUP BY currency ORDER BY currency"
    ).fetchall()
    return [TrialBalanceRow(r[0], r[1], *(int(x) for x in r[2:])) for r in rows]


VERIFY_CHECKS = {
    "entry_unbalanced": """
        SELECT 'entry ' || entry_id || ' ' || currency || ' sums to ' || sum(amount)
          FROM ledger_posting GROUP BY entry_id, currency HAVING sum(amount) <> 0""",
    "posted_totals_mismatch": """
        SELECT 'account ' || a.code || ' posted totals ' || a.debits_posted || '/'
               || a.credits_posted || ' but postings ' || coalesce(p.d, 0) || '/'
               || coalesce(p.c, 0)
          FROM ledger_account a LEFT JOIN (
                SELECT account_id,
                       sum(amount) FILTER (WHERE amount > 0 AND NOT pending) AS d,
                       -sum(amount) FILTER (WHERE amount < 0 AND NOT pending) AS c
                  FROM ledger_posting GROUP BY account_id) p ON p.account_id = a.id
         WHERE a.debits_posted <> coalesce(p.d, 0) OR a.credits_posted <> coalesce(p.c, 0)""",
    "pending_totals_mismatch": """
        SELECT 'account ' || a.code || ' pending totals ' || a.debits_pending || '/'
               || a.credits_pending || ' but open holds ' || coalesce(d.s, 0) || '/'
               || coalesce(c.s, 0)
          FROM ledger_account a
          LEFT JOIN (SELECT debit_account_id AS id, sum(amount) AS s FROM ledger_hold
                      WHERE state = 'pending' GROUP BY 1) d ON d.id = a.id
          LEFT JOIN (SELECT credit_account_id AS id, sum(amount) AS s FROM ledger_hold
                      WHERE state = 'pending' GROUP BY 1) c ON c.id = a.id
         WHERE a.debits_pending <> coalesce(d.s, 0) OR a.credits_pending <> coalesce(c.s, 0)""",
    "running_balance_broken": """
        SELECT 'posting ' || id || ' running balance ' || balance_after || ' expected '
               || expected
          FROM (SELECT id, balance_after,
                       sum(CASE WHEN pending THEN 0 ELSE amount END)
                           OVER (PARTITION BY account_id ORDER BY id) AS expected
                  FROM ledger_posting) x
         WHERE balance_after <> expected""",
    "currency_unbalanced": """
        SELECT currency || ' debits ' || sum(debits_posted) || ' credits ' || sum(credits_posted)
          FROM ledger_account GROUP BY currency
        HAVING sum(debits_posted) <> sum(credits_posted)
            OR sum(debits_pending) <> sum(credits_pending)""",
}


def verify(conn: psycopg.Connection[Any], *, limit: int = 20) -> dict[str, list[str]]:
    """Recompute the ledger from the journal; returns problems by check (empty: sound)."""
    problems: dict[str, list[str]] = {}
    for name, sql in VERIFY_CHECKS.items():
        found = [r[0] for r in conn.execute(f"{sql} LIMIT {int(limit)}").fetchall()]
        if found:
            problems[name] = found
    return problems
