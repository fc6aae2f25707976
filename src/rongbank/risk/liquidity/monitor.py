"""The intraday outflow monitor: how much customers took out of the bank in the last
few minutes, against the deposits and the HQLA, with an alert when it is too much.

Windows are fixed slices of the clock (``window_minutes`` long, from the epoch), so
that every process agrees on them and each window raises at most one alert (the
alert's window start is unique). Each check looks at the window in progress and at
the one just ended, so an outflow in a window's last seconds is seen by the next
check.

What counts as leaving: the net of each ledger entry over the customers' money
(e-accounts, merchants' payables, wealth custody). A transfer between two customers,
a wealth purchase or a payment to a merchant nets to zero and moves nothing out; a
withdrawal to a card at another bank, or a transfer out through clearing, does.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.clock import Clock
from rongbank.risk.liquidity.config import Factors, HqlaLevel, load_factors
from rongbank.risk.liquidity.events import OutflowAlertRaised
from rongbank.risk.liquidity.rules import hqla_stock

_FUNDS = (
    "SELECT ledger_account_id AS id, true AS deposit FROM e_account WHERE currency = 'CNY' "
    "UNION ALL SELECT payable_account_id, true FROM merchant "
    "UNION ALL SELECT account_id, false FROM wealth_product_custody"
)

# The BRIN index of 0034 finds a few minutes' postings without touching the rest.
_FLOWS = text(
    f"WITH funds AS ({_FUNDS}), moved AS (SELECT p.entry_id, sum(p.amount) AS net "  # noqa: S608
    "FROM ledger_posting p JOIN funds f ON f.id = p.account_id "
    "WHERE NOT p.pending AND p.created_at >= :start AND p.created_at < :end "
    "GROUP BY p.entry_id) "
    "SELECT coalesce(sum(net) FILTER (WHERE net > 0), 0), "
    "coalesce(-sum(net) FILTER (WHERE net < 0), 0) FROM moved"
)

_DEPOSITS = text(
    f"WITH funds AS ({_FUNDS}) SELECT coalesce(sum(a.credits_posted - a.debits_posted), 0) "  # noqa: S608
    "FROM ledger_account a JOIN funds f ON f.id = a.id WHERE f.deposit"
)

_ASSETS = text(
    "SELECT code, debits_posted - credits_posted FROM ledger_account "
    "WHERE type = 'asset' AND currency = 'CNY'"
)

_ALERT = text(
    "INSERT INTO risk_liquidity_alert (window_start, window_end, outflow, inflow, deposits, "
    "hqla, threshold, raised_at) VALUES (:start, :end, :outflow, :inflow, :deposits, :hqla, "
    ":threshold, :at) ON CONFLICT (window_start) DO NOTHING RETURNING id"
)


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    outflow: int
    inflow: int
    deposits: int
    """Customer deposits at the window's start."""
    hqla: int
    threshold: str | None
    """The share crossed (``deposits``, ``hqla``), or None."""

    @property
    def net_outflow(self) -> int:
        return self.outflow - self.inflow


def window_start(at: datetime, length: timedelta) -> datetime:
    seconds = length.total_seconds()
    return datetime.fromtimestamp(at.timestamp() // seconds * seconds, UTC)


class OutflowMonitor:
    def __init__(self, factors: Factors, clock: Clock) -> None:
        self.factors = factors
        self.clock = clock
        self.length = timedelta(minutes=factors.monitor.window_minutes)

    def hqla(self, session: Session) -> int:
        """The bank's HQLA now, after haircuts and caps, from the accounts' totals."""
        levels: dict[HqlaLevel, int] = {}
        for code, balance in session.execute(_ASSETS):
            level = self.factors.hqla_level(str(code))
            if level is not None:
                levels[level] = levels.get(level, 0) + int(balance)
        return hqla_stock(levels, self.factors)[0]

    def check(self, session: Session) -> list[Window]:
        """Look at the window in progress and the one before; raise an alert (a row and
        an :class:`OutflowAlertRaised` event) for each that crossed a threshold and
        has none yet. Returns the windows that crossed."""
        now = self.clock.now()
        current = window_start(now, self.length)
        deposits_now = int(session.execute(_DEPOSITS).scalar_one())
        hqla = self.hqla(session)
        crossed: list[Window] = []
        for start in (current - self.length, current):
            outflow, inflow = session.execute(
                _FLOWS, {"start": start, "end": min(start + self.length, now + _TICK)}
            ).one()
            window = self._judge(start, int(outflow), int(inflow), deposits_now, hqla)
            if window.threshold is not None:
                crossed.append(window)
                self._raise(session, window, now)
        return crossed

    def _judge(
        self, start: datetime, outflow: int, inflow: int, deposits_now: int, hqla: int
    ) -> Window:
        m = self.factors.monitor
        net = outflow - inflow
        deposits = deposits_now + net  # what there was before the window's movements
        threshold = None
        if net > 0 and net > Decimal(deposits) * m.share_of_deposits:
            threshold = "deposits"
        elif net > 0 and net > Decimal(hqla) * m.share_of_hqla:
            threshold = "hqla"
        return Window(start, start + self.length, outflow, inflow, deposits, hqla, threshold)

    def _raise(self, session: Session, w: Window, now: datetime) -> None:
        row = session.execute(
            _ALERT,
            {
                "start": w.start,
                "end": w.end,
                "outflow": w.outflow,
                "inflow": w.inflow,
                "deposits": w.deposits,
                "hqla": w.hqla,
                "threshold": w.threshold,
                "at": now,
            },
        ).first()
        if row is None:  # this window has its alert already
            return
        assert w.threshold is not None
        outbox.record(
            session,
            OutflowAlertRaised(
                occurred_at=now,
                alert_id=int(row[0]),
                window_start=w.start,
                window_end=w.end,
                net_outflow=w.net_outflow,
                deposits=w.deposits,
                hqla=w.hqla,
                threshold=w.threshold,
            ),
        )


_TICK = timedelta(microseconds=1)
"""A posting stamped at the check's very instant belongs to the window it checks."""


Transaction = Callable[[], AbstractContextManager[Session]]


def monitor_job(
    transaction: Transaction, clock: Clock, factors: Factors | None = None
) -> tuple[float, Callable[[], None]]:
    """The monitor as a periodic job of ``rongbank up``: its interval and its run."""
    monitor = OutflowMonitor(factors or load_factors(), clock)

    def run() -> None:
        with transaction() as session:
            monitor.check(session)

    return float(monitor.factors.monitor.check_seconds), run
