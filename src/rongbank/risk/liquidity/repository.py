"""Every query of liquidity: the ledger's balances at an instant, read into a
:class:`~rongbank.risk.liquidity.rules.BalanceSheet`, and the figures stored per day.

What the chart of accounts holds, and how it is read (CNY accounts only; the bank's
commodity and foreign-currency accounts are outside these ratios):

- ``dep:<number>`` (liability): a customer's e-account, joined to ``e_account`` and
  ``customer`` for the depositor and its kind; a merchant's settlement account is
  operational;
- ``mpay:<merchant>`` (liability): what the bank holds for an e-Pay merchant until
  settlement: operational, the merchant's customer's;
- the custody accounts of each wealth product (its shards, ``wealth_product_custody``,
  liabilities): their holdings' outstanding principal by their terms, and what is
  left in each beyond its holdings (redemptions waiting for their value date) as due
  at once;
- any other liability: other liabilities;
- asset accounts: HQLA by the patterns of ``factors.toml`` (``bank:clearing:CNY``
  today), else other assets;
- equity, income and expense accounts: capital (credit balances positive).

Balances are as of an instant from ``ledger_posting.balance_after`` (the account's
posted debits minus credits after each posting), so a past day reads as it was.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.risk.liquidity.config import Factors, HqlaLevel
from rongbank.risk.liquidity.rules import (
    BalanceSheet,
    Depositor,
    DepositorKind,
    Figures,
    LoanPosition,
    WealthPosition,
)
from rongbank.risk.liquidity.simulation import Rails, Runner

CURRENCY = "CNY"

_BALANCES = text(
    "SELECT a.id, a.code, a.type, coalesce(p.balance_after, 0) FROM ledger_account a "
    "LEFT JOIN LATERAL (SELECT balance_after FROM ledger_posting p "
    "  WHERE p.account_id = a.id AND p.created_at < :at "
    "  ORDER BY p.created_at DESC, p.id DESC LIMIT 1) p ON true "
    "WHERE a.currency = :currency AND a.created_at < :at"
)

_E_ACCOUNTS = text(
    "SELECT e.ledger_account_id, e.customer_id, c.kind, "
    "  EXISTS (SELECT 1 FROM merchant m WHERE m.settlement_account_id = e.id) "
    "FROM e_account e JOIN customer c ON c.id = e.customer_id "
    "WHERE e.currency = :currency AND e.opened_at < :at"
)

_PAYABLES = text("SELECT payable_account_id, customer_id FROM merchant WHERE created_at < :at")

# A customer's relationship: their first e-account's age, and their movements lately.
_RELATIONSHIPS = text(
    "SELECT e.customer_id, min(e.opened_at), "
    "  (SELECT count(*) FROM ledger_posting p JOIN e_account f ON f.ledger_account_id = "
    "   p.account_id WHERE f.customer_id = e.customer_id AND NOT p.pending "
    "   AND p.created_at >= :since AND p.created_at < :at) "
    "FROM e_account e JOIN customer c ON c.id = e.customer_id "
    "WHERE c.kind = 'person' AND e.opened_at < :at GROUP BY e.customer_id"
)

# Each holding's principal outstanding at the instant: bought before it, less what
# was paid back before it.
_HOLDINGS = text(
    "SELECT h.custody_account_id, c.kind, p.maturity_date, "
    "  h.amount - coalesce((SELECT sum(o.principal) FROM wealth_payout o "
    "    WHERE o.holding_id = h.id AND o.created_at < :at), 0) "
    "FROM wealth_holding h JOIN wealth_product p ON p.id = h.product_id "
    "JOIN customer c ON c.id = h.customer_id WHERE h.created_at < :at"
)

_CUSTODY = text("SELECT account_id FROM wealth_product_custody")


def _kind(customer_kind: str) -> DepositorKind:
    return DepositorKind.RETAIL if customer_kind == "person" else DepositorKind.CORPORATE


@dataclass(slots=True)
class _Deposits:
    kind: DepositorKind
    deposits: int = 0
    operational: int = 0


def balance_sheet(
    session: Session, *, at: datetime, day: date, factors: Factors, loans: LoanPosition
) -> BalanceSheet:
    """The bank's balances at the instant ``at`` (the end of ``day``), classed."""
    params: dict[str, Any] = {"at": at, "currency": CURRENCY}
    balances = {
        int(account_id): (str(code), str(kind), int(balance))
        for account_id, code, kind, balance in session.execute(_BALANCES, params)
    }
    e_accounts = {
        int(ledger_id): (int(customer), _kind(kind), bool(settles))
        for ledger_id, customer, kind, settles in session.execute(_E_ACCOUNTS, params)
    }
    payables = {int(a): int(c) for a, c in session.execute(_PAYABLES, params)}
    custody = {int(a) for (a,) in session.execute(_CUSTODY)}
    customer_kinds = {customer: kind for customer, kind, _ in e_accounts.values()}

    people: dict[int, _Deposits] = {}
    hqla: dict[HqlaLevel, int] = defaultdict(int)
    other_assets = other_liabilities = capital = 0
    custody_balance: dict[int, int] = {}
    for account_id, (code, kind, debit_balance) in balances.items():
        owed = -debit_balance  # what a liability or equity account holds (credit side)
        if account_id in e_accounts:
            customer, depositor_kind, settles = e_accounts[account_id]
            d = people.setdefault(customer, _Deposits(depositor_kind))
            if settles:
                d.operational += owed
            else:
                d.deposits += owed
        elif account_id in payables:
            customer = payables[account_id]
            d = people.setdefault(
                customer, _Deposits(customer_kinds.get(customer, DepositorKind.CORPORATE))
            )
            d.operational += owed
        elif account_id in custody:
            custody_balance[account_id] = owed
        elif kind == "asset":
            level = factors.hqla_level(code)
            if level is None:
                other_assets += debit_balance
            else:
                hqla[level] += debit_balance
        elif kind == "liability":
            other_liabilities += owed
        else:  # equity, income, expense: what the bank owns of itself
            capital += owed

    established = _established(session, at=at, factors=factors)
    wealth: list[WealthPosition] = []
    for custody_id, kind, maturity, outstanding in session.execute(_HOLDINGS, params):
        if outstanding <= 0:
            continue
        days = None if maturity is None else max((maturity - day).days, 0)
        wealth.append(WealthPosition(_kind(kind), int(outstanding), days))
        custody_balance[int(custody_id)] = custody_balance.get(int(custody_id), 0) - int(
            outstanding
        )
    # What a custody account holds beyond its holdings is owed now (redemptions and
    # maturities waiting to be paid out).
    due = sum(max(left, 0) for left in custody_balance.values())
    if due:
        wealth.append(WealthPosition(DepositorKind.RETAIL, due, 0))

    return BalanceSheet(
        depositors=tuple(
            Depositor(
                customer,
                d.kind,
                d.deposits,
                d.operational,
                established=customer in established,
            )
            for customer, d in sorted(people.items())
        ),
        wealth=tuple(wealth),
        hqla=dict(hqla),
        other_assets=other_assets,
        other_liabilities=other_liabilities,
        capital=capital,
        loans=loans,
    )


def _established(session: Session, *, at: datetime, factors: Factors) -> set[int]:
    """Persons with an established relationship (their first e-account old enough) or
    a transactional one (enough movements lately): BCBS 238 para 75."""
    r = factors.relationship
    rows = session.execute(
        _RELATIONSHIPS, {"at": at, "since": at - timedelta(days=r.activity_days)}
    )
    oldest = at - timedelta(days=r.min_relationship_days)
    return {
        int(customer)
        for customer, first, movements in rows
        if first <= oldest or movements >= r.min_movements
    }


_RAILS = text(
    "SELECT e.customer_id, array_agg(e.class), (SELECT coalesce(array_agg(t.kind), '{}') "
    "  FROM auth_tool t WHERE t.customer_id = e.customer_id AND t.status = 'active') "
    "FROM e_account e WHERE e.status <> 'closed' AND e.currency = :currency "
    "GROUP BY e.customer_id"
)


def runners(session: Session, sheet: BalanceSheet, rails: Rails) -> list[Runner]:
    """Each depositor of ``sheet`` with the daily limit their accounts and tools set."""
    held = {
        int(customer): (list(classes), list(tools))
        for customer, classes, tools in session.execute(_RAILS, {"currency": CURRENCY})
    }
    return [
        Runner(d, rails.daily_cap(*held.get(d.customer_id, ([], [])))) for d in sheet.depositors
    ]


def store_simulation(
    session: Session, *, ran_at: datetime, params: dict[str, Any], result: dict[str, Any]
) -> None:
    session.execute(
        text(
            "INSERT INTO risk_liquidity_simulation (ran_at, params, result) "
            "VALUES (:at, CAST(:params AS jsonb), CAST(:result AS jsonb))"
        ),
        {
            "at": ran_at,
            "params": orjson.dumps(params).decode(),
            "result": orjson.dumps(result).decode(),
        },
    )


def last_simulation(session: Session) -> tuple[datetime, dict[str, Any], dict[str, Any]] | None:
    row = session.execute(
        text(
            "SELECT ran_at, params, result FROM risk_liquidity_simulation "
            "ORDER BY ran_at DESC, id DESC LIMIT 1"
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def store_day(session: Session, *, day: date, figures: Figures, computed_at: datetime) -> None:
    """Keep the day's figures (a day computed again is replaced)."""
    lines = {
        "lcr": [
            [line.name, line.balance, str(line.factor), line.weighted] for line in figures.lcr_lines
        ],
        "nsfr": [
            [line.name, line.balance, str(line.factor), line.weighted]
            for line in figures.nsfr_lines
        ],
    }
    session.execute(
        text(
            "INSERT INTO risk_liquidity_day (day, hqla, outflows, inflows, net_outflows, lcr, "
            "asf, rsf, nsfr, deposits, lines, computed_at) VALUES (:day, :hqla, :outflows, "
            ":inflows, :net, :lcr, :asf, :rsf, :nsfr, :deposits, CAST(:lines AS jsonb), :at) "
            "ON CONFLICT (day) DO UPDATE SET hqla = excluded.hqla, outflows = excluded.outflows, "
            "inflows = excluded.inflows, net_outflows = excluded.net_outflows, "
            "lcr = excluded.lcr, asf = excluded.asf, rsf = excluded.rsf, nsfr = excluded.nsfr, "
            "deposits = excluded.deposits, lines = excluded.lines, "
            "computed_at = excluded.computed_at"
        ),
        {
            "day": day,
            "hqla": figures.hqla,
            "outflows": figures.outflows,
            "inflows": figures.inflows,
            "net": figures.net_outflows,
            "lcr": figures.lcr,
            "asf": figures.asf,
            "rsf": figures.rsf,
            "nsfr": figures.nsfr,
            "deposits": figures.deposits,
            "lines": orjson.dumps(lines).decode(),
            "at": computed_at,
        },
    )


@dataclass(frozen=True, slots=True)
class StoredDay:
    day: date
    hqla: int
    net_outflows: int
    lcr: float | None
    asf: int
    rsf: int
    nsfr: float | None
    deposits: int


def stored_days(session: Session, *, limit: int = 90) -> list[StoredDay]:
    """The last ``limit`` days' figures, oldest first."""
    rows = session.execute(
        text(
            "SELECT day, hqla, net_outflows, lcr, asf, rsf, nsfr, deposits FROM "
            "(SELECT * FROM risk_liquidity_day ORDER BY day DESC LIMIT :limit) d ORDER BY day"
        ),
        {"limit": limit},
    )
    return [
        StoredDay(
            day,
            int(hqla),
            int(net),
            None if lcr is None else float(lcr),
            int(asf),
            int(rsf),
            None if nsfr is None else float(nsfr),
            int(deposits),
        )
        for day, hqla, net, lcr, asf, rsf, nsfr, deposits in rows
    ]
