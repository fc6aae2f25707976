"""Every query of the overview. One statement, :data:`_MOVEMENTS`, says what a
movement of a customer's e-accounts is: the posting, its entry, the account on the
other side and so its category and counterparty, and its status. The history, a
movement's page and spending by category and month all read it, so the three never
disagree."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.overview.categories import MCC_GROUPS, Category

_MOVEMENTS = """
WITH own AS (
    SELECT number, ledger_account_id FROM e_account
     WHERE customer_id = :customer
       AND (CAST(:account AS text) IS NULL OR number = CAST(:account AS text))
), movement AS (
    SELECT p.id AS posting_id,
           p.entry_id,
           p.created_at AS at,
           own.number AS account,
           -- e-accounts are liabilities: a credit is money in
           -p.amount AS amount,
           CASE WHEN p.pending THEN NULL ELSE -p.balance_after END AS balance,
           e.description,
           -- the bank's own name of it: rongbank.accounts.statements.bank_memo, here
           -- so that the history's word filter finds what the page shows
           CASE WHEN ns.name = 'interest' THEN 'interest'
                WHEN ns.name = 'funding' THEN
                    CASE substring(e.client_id FROM '[^:]*$')
                         WHEN 'credit' THEN 'top_up' WHEN 'void' THEN 'withdrawal_returned'
                         ELSE 'withdrawal' END
                WHEN ns.name = 'demo' THEN 'opening_balance'
                WHEN e.description <> '' THEN ''
                WHEN e.kind = 'reversal' THEN 'reversal'
                WHEN p.amount < 0 THEN 'money_in'
                ELSE 'money_out' END AS memo,
           CASE WHEN p.pending THEN 'pending'
                WHEN EXISTS (SELECT 1 FROM ledger_entry r WHERE r.reverses_id = e.id)
                    THEN 'reversed'
                ELSE 'completed' END AS status,
           CASE WHEN oa.customer_id = :customer THEN 'own_transfer'
                WHEN oa.id IS NOT NULL THEN 'transfer'
                WHEN m.id IS NOT NULL AND p.amount < 0 THEN 'refund'
                WHEN m.id IS NOT NULL THEN coalesce(mcc.grp, 'merchant_other')
                WHEN wp.id IS NOT NULL AND p.amount < 0 THEN 'wealth_payout'
                WHEN wp.id IS NOT NULL THEN 'wealth'
                WHEN ns.name = 'funding' AND p.amount < 0 THEN 'topup'
                WHEN ns.name = 'funding' THEN 'withdrawal'
                WHEN ns.name = 'interest' THEN 'interest'
                WHEN la.type = 'income' AND p.amount > 0 THEN 'fee'
                ELSE 'other' END AS category,
           oa.number AS other_account,
           oc.name AS other_name,
           coalesce(m.name, wp.name, bc.bank_name) AS other_party,
           bc.masked AS card
      FROM own
      JOIN ledger_posting p ON p.account_id = own.ledger_account_id
      JOIN ledger_entry e ON e.id = p.entry_id
      CROSS JOIN LATERAL (SELECT split_part(e.client_id, ':', 1) AS name) ns
      LEFT JOIN ledger_hold h ON p.pending AND h.entry_id = p.entry_id
      LEFT JOIN LATERAL (
          SELECT o.account_id FROM ledger_posting o
           WHERE o.entry_id = p.entry_id AND o.account_id <> p.account_id
           ORDER BY o.id LIMIT 1
      ) other ON true
      LEFT JOIN ledger_account la ON la.id = other.account_id
      LEFT JOIN e_account oa ON oa.ledger_account_id = other.account_id
      LEFT JOIN customer oc ON oc.id = oa.customer_id
      LEFT JOIN merchant m ON m.payable_account_id = other.account_id
      LEFT JOIN LATERAL (
          SELECT g.grp FROM unnest(CAST(:mcc_low AS int[]), CAST(:mcc_high AS int[]),
                                   CAST(:mcc_group AS text[]))
                 WITH ORDINALITY AS g(low, high, grp, n)
           WHERE CAST(m.mcc AS int) BETWEEN g.low AND g.high
           ORDER BY g.n LIMIT 1
      ) mcc ON m.id IS NOT NULL
      LEFT JOIN wealth_product_custody wc ON wc.account_id = other.account_id
      LEFT JOIN wealth_product wp
             ON wp.id = wc.product_id
             OR la.code = 'wealth:' || wp.code || '\\:yield'  -- (\\: escapes a bind)
      LEFT JOIN funding_request fr
             ON ns.name = 'funding'
            AND fr.id = CASE WHEN ns.name = 'funding'
                             THEN CAST(split_part(e.client_id, ':', 2) AS bigint) END
      LEFT JOIN bound_card bc ON bc.id = fr.card_id
     -- a hold shows while it holds; once posted, its posting shows instead
     WHERE NOT p.pending OR h.state = 'pending'
)
"""


@dataclass(frozen=True, slots=True)
class MovementRow:
    posting_id: int
    entry_id: int
    at: datetime
    account: str
    amount: int
    balance: int | None
    description: str
    memo: str
    """The key of ``BANK_MEMOS`` the bank names it by; "" for a description given."""
    status: str
    category: str
    other_account: str | None
    other_name: str | None
    other_party: str | None
    card: str | None


_COLUMNS = ", ".join(f.name for f in fields(MovementRow))


@dataclass(frozen=True, slots=True)
class MovementQuery:
    """What narrows the movements; None leaves that side open."""

    account: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    """``at`` in [start, end)."""
    min_amount: int | None = None
    max_amount: int | None = None
    """Fen, compared with the size of the movement whatever its direction."""
    direction: str | None = None
    category: str | None = None
    text: str | None = None
    """Found in the memo, the merchant's or product's name, or the other account's
    number (a customer's name is not searched: it would tell it)."""
    memos: tuple[str, ...] = ()
    """With ``text``: the bank's own names (keys of ``BANK_MEMOS``) the words are
    found in, in any language; the movements it names so match too."""


def _like(words: str) -> str:
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _params(customer_id: int, query: MovementQuery) -> dict[str, object]:
    return {
        "customer": customer_id,
        "account": query.account,
        "mcc_low": [low for low, _, _ in MCC_GROUPS],
        "mcc_high": [high for _, high, _ in MCC_GROUPS],
        "mcc_group": [str(group) for _, _, group in MCC_GROUPS],
        "start": query.start,
        "end": query.end,
        "min": query.min_amount,
        "max": query.max_amount,
        "direction": query.direction,
        "category": query.category,
        "text": None if not query.text else _like(query.text),
        "memos": list(query.memos),
    }


_FILTERS = """
 WHERE (CAST(:start AS timestamptz) IS NULL OR at >= CAST(:start AS timestamptz))
   AND (CAST(:end AS timestamptz) IS NULL OR at < CAST(:end AS timestamptz))
   AND (CAST(:min AS bigint) IS NULL OR abs(amount) >= CAST(:min AS bigint))
   AND (CAST(:max AS bigint) IS NULL OR abs(amount) <= CAST(:max AS bigint))
   AND (CAST(:direction AS text) IS NULL
        OR (CAST(:direction AS text) = 'in') = (amount > 0))
   AND (CAST(:category AS text) IS NULL OR category = CAST(:category AS text))
   AND (CAST(:text AS text) IS NULL
        OR description ILIKE CAST(:text AS text)
        OR other_party ILIKE CAST(:text AS text)
        OR other_account LIKE CAST(:text AS text)
        OR memo = ANY(CAST(:memos AS text[])))
"""


def movements(
    session: Session,
    customer_id: int,
    query: MovementQuery,
    *,
    before: int | None,
    limit: int,
) -> list[MovementRow]:
    """The matching movements, newest first, ``limit`` of them from just before the
    movement ``before`` (a posting id from an earlier page; None: the newest)."""
    rows = session.execute(
        text(
            f"{_MOVEMENTS} SELECT {_COLUMNS} FROM movement {_FILTERS}"  # noqa: S608 (constants)
            " AND (CAST(:before AS bigint) IS NULL OR (at, posting_id) < "
            "(SELECT created_at, id FROM ledger_posting WHERE id = CAST(:before AS bigint)))"
            " ORDER BY at DESC, posting_id DESC LIMIT :limit"
        ),
        {**_params(customer_id, query), "before": before, "limit": limit},
    ).all()
    return [MovementRow(*row) for row in rows]


def movement(session: Session, customer_id: int, posting_id: int) -> MovementRow | None:
    """One of the customer's movements; None for anyone else's."""
    row = session.execute(
        text(
            f"{_MOVEMENTS} SELECT {_COLUMNS} FROM movement WHERE posting_id = :posting"  # noqa: S608
        ),
        {**_params(customer_id, MovementQuery()), "posting": posting_id},
    ).first()
    return MovementRow(*row) if row else None


@dataclass(frozen=True, slots=True)
class SpendingRow:
    month: str
    """``YYYY-MM``, Beijing time."""
    category: Category
    amount: int
    """Fen spent: money out, completed and not reversed."""


def spending(
    session: Session, customer_id: int, *, start: datetime, spent: frozenset[Category]
) -> list[SpendingRow]:
    """Money out of the customer's accounts since ``start`` in the categories
    ``spent``, by Beijing calendar month and category, in one query."""
    rows = session.execute(
        text(
            f"{_MOVEMENTS} SELECT to_char(at AT TIME ZONE :tz, 'YYYY-MM') AS month, "  # noqa: S608
            "category, sum(-amount) FROM movement "
            "WHERE at >= :start AND amount < 0 AND status = 'completed' "
            "AND category = ANY(CAST(:spent AS text[])) "
            "GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2"
        ),
        {
            **_params(customer_id, MovementQuery()),
            "start": start,
            "tz": BUSINESS_TIME_ZONE.key,
            "spent": sorted(str(c) for c in spent),
        },
    ).all()
    return [SpendingRow(str(m), Category(c), int(a)) for m, c, a in rows]
