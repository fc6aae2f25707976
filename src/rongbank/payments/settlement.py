"""End-of-day settlement and reconciliation files.

Settlement for business day D (run on D+1 or later: T+1) takes, per merchant, every
paid payment and refund of days up to D that no earlier run took, and marks them as
taken (``settled_day``). So a day settled out of order, or a payment or refund that
committed after its own day was settled (it began before midnight and committed
after the run), is taken by the next run: nothing is left out, nothing is counted
twice. The run's figures::

    net = payments - refunds - fees + brought_forward
    paid = what of net can be paid now;  carried_forward = net - paid

``brought_forward`` is what the merchant's earlier runs left: money still owed to it
(held back, below) or fees it still owes (negative). All of it is derived from the
rows and earlier runs, not from which day was settled last.

One balanced ledger entry per merchant and run (``epay-settle:<merchant>:<day>``)
moves the payout and the fees out of the merchant payable account::

    Dr merchant payable (paid + fees_charged)   Cr settlement e-account (paid)
                                                Cr bank fee income (fees_charged)

It never takes more than the payable holds (its ledger rule refuses it anyway): fees
are taken only from money there, the rest stays owed and is taken by a later run. A
settlement account of class II or III receives only what its class's inflow limits
leave room for today (``AccountsService.inflow_room``); the rest is held back and
paid by later runs. Fees are charged on the captured amount and not returned on
refunds (the bank's tariff; change :func:`rules.fee` and here if not).

:func:`settlement_report` and :func:`transaction_file` write CSV files whose every
line names its ledger entry; :func:`compare` lists where an external file (the
merchant's, or a file from another system) disagrees with the ledger.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.db import SessionFactory, unit_of_work
from rongbank.errors import DomainError
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import MultiLegEntry, PostingSpec
from rongbank.money import format_amount, parse_amount
from rongbank.payments.errors import SettledElsewhere, SettlementDayOpen, SettlementNotFound
from rongbank.payments.merchants import Merchant
from rongbank.payments.rules import CNY_SCALE
from rongbank.payments.service import PaymentsService

logger = logging.getLogger(__name__)

FEE_INCOME_ACCOUNT = "bank:fee-income:epay"


@dataclass(frozen=True, slots=True)
class Settlement:
    merchant_id: int
    business_day: date
    payments: int
    """Captured amounts of the payments this run took (of day D, and any of earlier
    days that no run had taken yet)."""
    refunds: int
    fees: int
    """Fees on those payments."""
    brought_forward: int
    net: int
    paid: int
    carried_forward: int
    entry_id: int | None
    fees_charged: int
    """Fees this run took from the payable (those due from earlier runs included)."""


_COLUMNS = ", ".join(f.name for f in fields(Settlement))


@dataclass(frozen=True, slots=True)
class _Owed:
    """What a run finds owed, derived from every run of the merchant's so far."""

    money: int
    """Payments minus refunds taken by every run (this one included), minus what the
    earlier runs moved out of the payable: the money the runs left with the merchant."""
    fees: int
    """Fees of the payments every run took, minus the fees charged: still to take."""


def settle(
    session: Session, payments: PaymentsService, *, merchant_id: int, day: date
) -> Settlement:
    """Settle one merchant's business day; running it again answers the same."""
    if day >= payments.accounts.business_day():
        raise SettlementDayOpen(business_day=day.isoformat())
    if merchant_id in payments.settled_elsewhere:
        raise SettledElsewhere()
    merchant = payments.merchant(session, merchant_id, lock=True)  # one run at a time
    done = session.execute(
        text(
            f"SELECT {_COLUMNS} FROM merchant_settlement "  # noqa: S608
            "WHERE merchant_id = :m AND business_day = :d"
        ),
        {"m": merchant_id, "d": day},
    ).first()
    if done is not None:
        return Settlement(*done)
    paid_in, fees, refunds = _take(session, merchant_id, day)
    owed = _owed(session, merchant_id)
    net = owed.money - owed.fees
    # Refunds lock the merchant too, so what the payable holds can only grow (by
    # payments) while this run holds the lock. The fees of payments no run has taken
    # yet stay there, so that every fee due can always be taken.
    funds = payments.merchant_funds(session, merchant)
    room = max(min(owed.money, funds.held - funds.unsettled_fees), 0)
    fees_charged = min(owed.fees, room)
    deposit = payments.e_account(session, merchant.settlement_account_id, lock=True)
    inflow = payments.accounts.inflow_room(session, deposit)
    paid = room - fees_charged if inflow is None else min(room - fees_charged, inflow)
    entry_id = _move(
        session, payments, merchant, day, deposit.ledger_account_id, paid, fees_charged
    )
    if paid:
        payments.accounts.count_usage(session, deposit, column="inflow", amount=paid)
    row = session.execute(
        text(
            "INSERT INTO merchant_settlement (merchant_id, business_day, payments, refunds, "  # noqa: S608
            "fees, brought_forward, net, paid, carried_forward, entry_id, fees_charged, "
            "created_at) VALUES (:m, :d, :p, :r, :f, :b, :n, :paid, :c, :e, :fc, :at) "
            f"RETURNING {_COLUMNS}"
        ),
        {
            "m": merchant_id,
            "d": day,
            "p": paid_in,
            "r": refunds,
            "f": fees,
            "b": net - (paid_in - refunds - fees),
            "n": net,
            "paid": paid,
            "c": net - paid,
            "e": entry_id,
            "fc": fees_charged,
            "at": payments.clock.now(),
        },
    ).one()
    # A later day's run takes what an earlier failed run left, so it settles that too.
    session.execute(
        text(
            "DELETE FROM merchant_settlement_failure WHERE merchant_id = :m AND business_day <= :d"
        ),
        {"m": merchant_id, "d": day},
    )
    settled = Settlement(*row)
    for listener in payments.settlement_listeners:
        listener(session, merchant, settled)
    return settled


def _take(session: Session, merchant_id: int, day: date) -> tuple[int, int, int]:
    """Mark the paid payments and the refunds of days up to ``day`` that no run took
    as taken by this one; their captured amounts, fees and refunded amounts. What
    commits after this statement is left for the next run."""
    paid_in, fees = session.execute(
        text(
            "WITH taken AS (UPDATE payment SET settled_day = :d WHERE merchant_id = :m "
            "AND status = 'paid' AND settled_day IS NULL AND business_day <= :d "
            "RETURNING captured, fee) "
            "SELECT coalesce(sum(captured), 0), coalesce(sum(fee), 0) FROM taken"
        ),
        {"m": merchant_id, "d": day},
    ).one()
    refunds = session.execute(
        text(
            "WITH taken AS (UPDATE payment_refund r SET settled_day = :d FROM payment p "
            "WHERE p.id = r.payment_id AND p.merchant_id = :m AND r.settled_day IS NULL "
            "AND r.business_day <= :d RETURNING r.amount) "
            "SELECT coalesce(sum(amount), 0) FROM taken"
        ),
        {"m": merchant_id, "d": day},
    ).scalar_one()
    return int(paid_in), int(fees), int(refunds)


def _owed(session: Session, merchant_id: int) -> _Owed:
    """Once this run's movements are taken: every movement any run took, against what
    the earlier runs paid out and charged."""
    money_in, fees = session.execute(
        text(
            "SELECT coalesce(sum(captured), 0), coalesce(sum(fee), 0) FROM payment "
            "WHERE merchant_id = :m AND settled_day IS NOT NULL"
        ),
        {"m": merchant_id},
    ).one()
    refunds = session.execute(
        text(
            "SELECT coalesce(sum(r.amount), 0) FROM payment_refund r "
            "JOIN payment p ON p.id = r.payment_id "
            "WHERE p.merchant_id = :m AND r.settled_day IS NOT NULL"
        ),
        {"m": merchant_id},
    ).scalar_one()
    out, charged = session.execute(
        text(
            "SELECT coalesce(sum(paid + fees_charged), 0), coalesce(sum(fees_charged), 0) "
            "FROM merchant_settlement WHERE merchant_id = :m"
        ),
        {"m": merchant_id},
    ).one()
    return _Owed(money=int(money_in) - int(refunds) - int(out), fees=int(fees) - int(charged))


def _move(
    session: Session,
    payments: PaymentsService,
    merchant: Merchant,
    day: date,
    deposit: int,
    paid: int,
    fees: int,
) -> int | None:
    """The run's ledger entry: the payout and the fees out of the payable."""
    if not (paid or fees):
        return None
    income, _ = payments.ledger.create_account(
        session,
        code=FEE_INCOME_ACCOUNT,
        name="e-Pay merchant fees",
        currency="CNY",
        type=AccountType.INCOME,
    )
    postings = [
        PostingSpec(account=merchant.payable_account_id, amount=paid + fees, currency="CNY"),
        PostingSpec(account=deposit, amount=-paid, currency="CNY"),
        PostingSpec(account=income.id, amount=-fees, currency="CNY"),
    ]
    return payments.ledger.transfer(
        session,
        MultiLegEntry(
            client_id=Namespace.EPAY_SETTLEMENT.client_id(merchant.id, day.isoformat()),
            postings=[p for p in postings if p.amount],
            description=f"e支付结算 {day.isoformat()} {merchant.number}",
            metadata={"merchant": merchant.number, "business_day": day.isoformat()},
        ),
    ).entry_id_or_raise()


@dataclass(frozen=True, slots=True)
class SettlementFailure:
    """A merchant whose settlement failed: nothing of it was written (its transaction
    rolled back); the next run of the day, or a later day's, takes it again."""

    merchant_id: int
    error: str
    """The refusal's code, or ``unexpected_error`` (the server log has the rest)."""
    message: str


@dataclass(frozen=True, slots=True)
class SettlementRun:
    """What a run for every merchant did: who was settled, whose settlement failed."""

    business_day: date
    settled: list[Settlement]
    failed: list[SettlementFailure]

    def summary(self) -> dict[str, Any]:
        """What the audit trail keeps of the run."""
        return {
            "merchants": len(self.settled),
            "paid": sum(x.paid for x in self.settled),
            "failed": [f.merchant_id for f in self.failed],
        }


def settle_all(
    session_factory: SessionFactory, payments: PaymentsService, day: date
) -> SettlementRun:
    """Settle every approved merchant's day (suspended merchants too), each in a
    transaction of its own: one merchant's failure (a closed settlement account, a
    database error) is logged and counted, and the others are settled all the same.
    Raises :class:`SettlementDayOpen` before settling anyone if the day is not over."""
    if day >= payments.accounts.business_day():
        raise SettlementDayOpen(business_day=day.isoformat())
    with unit_of_work(session_factory) as session:
        ids = [
            int(r[0])
            for r in session.execute(
                text("SELECT id FROM merchant WHERE status <> 'pending' ORDER BY id")
            )
        ]
    settled, failed = [], []
    for merchant_id in (i for i in ids if i not in payments.settled_elsewhere):
        # Any exception: a run that stopped at one merchant's problem would leave
        # every merchant after it unpaid. What failed is rolled back and retried by
        # the next run (running a day again settles only who is not settled yet).
        try:
            with unit_of_work(session_factory) as session:
                settled.append(settle(session, payments, merchant_id=merchant_id, day=day))
        except Exception as error:
            logger.exception("settlement of merchant %d for %s failed", merchant_id, day)
            if isinstance(error, DomainError):
                failure = SettlementFailure(merchant_id, error.code, error.detail_message)
            else:
                failure = SettlementFailure(merchant_id, "unexpected_error", type(error).__name__)
            failed.append(failure)
            _keep_failure(session_factory, failure, day, payments.clock.now())
    if failed:
        logger.error(
            "settlement for %s: %d merchants settled, %d failed (%s)",
            day,
            len(settled),
            len(failed),
            ", ".join(str(f.merchant_id) for f in failed),
        )
    return SettlementRun(day, settled, failed)


def _keep_failure(
    session_factory: SessionFactory, failure: SettlementFailure, day: date, at: datetime
) -> None:
    """Keep a failed settlement until a run settles the merchant (staff see it on the
    console); a failure to keep it is only logged: the run goes on."""
    try:
        with unit_of_work(session_factory) as session:
            session.execute(
                text(
                    "INSERT INTO merchant_settlement_failure (merchant_id, business_day, error, "
                    "message, failed_at) VALUES (:m, :d, :e, :msg, :at) "
                    "ON CONFLICT (merchant_id, business_day) DO UPDATE SET error = :e, "
                    "message = :msg, failed_at = :at"
                ),
                {"m": failure.merchant_id, "d": day, "e": failure.error,
                 "msg": failure.message[:500], "at": at},
            )  # fmt: skip
    except Exception:
        logger.exception("merchant %d's failed settlement was not kept", failure.merchant_id)


@dataclass(frozen=True, slots=True)
class OpenFailure:
    """A merchant's settlement that failed and that no run has settled since."""

    merchant_id: int
    business_day: date
    error: str
    message: str
    failed_at: datetime


@dataclass(frozen=True, slots=True)
class DaySettled:
    """What the runs for one business day settled, all merchants together."""

    business_day: date
    merchants: int
    paid: int
    fees_charged: int
    carried_forward: int


def open_failures(session: Session, *, limit: int = 100) -> list[OpenFailure]:
    """Failed settlements still waiting for a run, oldest day first."""
    rows = session.execute(
        text(
            "SELECT merchant_id, business_day, error, message, failed_at "
            "FROM merchant_settlement_failure ORDER BY business_day, merchant_id LIMIT :limit"
        ),
        {"limit": limit},
    ).all()
    return [OpenFailure(*row) for row in rows]


def open_failure_count(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM merchant_settlement_failure")).one()[0])


def days_settled(session: Session, *, limit: int = 10) -> list[DaySettled]:
    """The latest business days settled, newest first, with their totals."""
    rows = session.execute(
        text(
            "SELECT business_day, count(*), sum(paid), sum(fees_charged), sum(carried_forward) "
            "FROM merchant_settlement GROUP BY business_day ORDER BY business_day DESC "
            "LIMIT :limit"
        ),
        {"limit": limit},
    ).all()
    return [DaySettled(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]


# -- files ---------------------------------------------------------------------------

FILE_COLUMNS = ("merchant", "kind", "order_no", "refund_no", "amount", "fee", "entry_id", "at")


@dataclass(frozen=True, slots=True)
class Line:
    merchant: int
    kind: str  # payment, refund
    order_no: str
    refund_no: str
    amount: int
    fee: int
    entry_id: int
    at: datetime | None = None

    @property
    def key(self) -> tuple[int, str, str, str]:
        return (self.merchant, self.kind, self.order_no, self.refund_no)


def day_lines(session: Session, day: date, *, merchant_id: int | None = None) -> list[Line]:
    """A business day's payments and refunds, each with the amount its ledger entry
    moved on the merchant payable account (read from the ledger, not the payment)."""
    return _lines(session, "business_day", day, merchant_id)


def settled_lines(session: Session, settlement: Settlement) -> list[Line]:
    """The payments and refunds a settlement run took (its day's, and any earlier
    day's that no run had taken yet)."""
    return _lines(session, "settled_day", settlement.business_day, settlement.merchant_id)


def _lines(
    session: Session,
    column: Literal["business_day", "settled_day"],
    day: date,
    merchant_id: int | None,
) -> list[Line]:
    rows = session.execute(
        text(
            "SELECT p.merchant_id, 'payment', p.order_no, '', lp.amount, p.fee, e.id, "  # noqa: S608
            "e.created_at FROM payment p "
            "JOIN ledger_entry e ON e.id = coalesce(p.capture_entry_id, p.entry_id) "
            "JOIN merchant m ON m.id = p.merchant_id "
            "JOIN ledger_posting lp ON lp.entry_id = e.id AND lp.account_id = m.payable_account_id "
            f"WHERE p.{column} = :d AND p.status = 'paid' "
            "AND (CAST(:m AS bigint) IS NULL OR p.merchant_id = :m) "
            "UNION ALL "
            "SELECT p.merchant_id, 'refund', p.order_no, r.refund_no, lp.amount, 0, e.id, "
            "e.created_at FROM payment_refund r JOIN payment p ON p.id = r.payment_id "
            "JOIN ledger_entry e ON e.id = r.entry_id "
            "JOIN merchant m ON m.id = p.merchant_id "
            "JOIN ledger_posting lp ON lp.entry_id = e.id AND lp.account_id = m.payable_account_id "
            f"WHERE r.{column} = :d AND (CAST(:m AS bigint) IS NULL OR p.merchant_id = :m) "
            "ORDER BY 7"
        ),
        {"d": day, "m": merchant_id},
    ).all()
    # Postings are signed debit-positive: a payment credits the payable account.
    return [
        Line(int(r[0]), r[1], r[2], r[3], abs(int(r[4])), int(r[5]), int(r[6]), r[7]) for r in rows
    ]


def _money(value: int) -> str:
    return format_amount(value, scale=CNY_SCALE)


def transaction_file(session: Session, day: date, *, merchant_id: int | None = None) -> str:
    """The day's transactions as CSV (one merchant's, or the bank's whole file)."""
    return _csv_lines(day_lines(session, day, merchant_id=merchant_id))


def _csv_lines(lines: list[Line]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FILE_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                line.merchant,
                line.kind,
                line.order_no,
                line.refund_no,
                _money(line.amount),
                _money(line.fee),
                line.entry_id,
                line.at.isoformat() if line.at else "",
            ]
        )
    return out.getvalue()


def settlement_report(session: Session, settlement: Settlement) -> str:
    """The settlement as CSV: every payment and refund the run took with its ledger
    entry, then the totals, the fees, what was brought and carried forward, and the
    settlement's own entry."""
    out = io.StringIO(_csv_lines(settled_lines(session, settlement)))
    out.seek(0, io.SEEK_END)
    writer = csv.writer(out, lineterminator="\n")
    entry = settlement.entry_id or ""
    for kind, amount in (
        ("total_payments", settlement.payments),
        ("total_refunds", settlement.refunds),
        ("total_fees", settlement.fees),
        ("brought_forward", settlement.brought_forward),
        ("net", settlement.net),
        ("fees_charged", settlement.fees_charged),
        ("paid", settlement.paid),
        ("carried_forward", settlement.carried_forward),
    ):
        writer.writerow([settlement.merchant_id, kind, "", "", _money(amount), "", entry, ""])
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Mismatch:
    key: tuple[int, str, str, str]
    problem: str  # missing_in_ledger, missing_in_file, amount_differs
    ledger: str
    file: str


def compare(
    session: Session, day: date, csv_text: str, *, merchant_id: int | None = None
) -> list[Mismatch]:
    """Where an external transaction file for ``day`` disagrees with the ledger."""
    ours = {line.key: line for line in day_lines(session, day, merchant_id=merchant_id)}
    theirs: dict[tuple[int, str, str, str], int] = {}
    for row in csv.DictReader(io.StringIO(csv_text)):
        if row.get("kind") not in ("payment", "refund"):
            continue  # totals and other lines of a settlement report
        key = (int(row["merchant"]), row["kind"], row["order_no"], row.get("refund_no") or "")
        theirs[key] = parse_amount(row["amount"], scale=CNY_SCALE, currency="CNY")
    found = []
    for key in sorted(ours.keys() | theirs.keys()):
        mine, other = ours.get(key), theirs.get(key)
        if mine is None:
            found.append(Mismatch(key, "missing_in_ledger", "", _money(other or 0)))
        elif other is None:
            found.append(Mismatch(key, "missing_in_file", _money(mine.amount), ""))
        elif mine.amount != other:
            found.append(Mismatch(key, "amount_differs", _money(mine.amount), _money(other)))
    return found


def settlement_of(session: Session, merchant_id: int, day: date) -> Settlement:
    row = session.execute(
        text(
            f"SELECT {_COLUMNS} FROM merchant_settlement "  # noqa: S608
            "WHERE merchant_id = :m AND business_day = :d"
        ),
        {"m": merchant_id, "d": day},
    ).first()
    if row is None:
        raise SettlementNotFound(business_day=day.isoformat())
    return Settlement(*row)
