"""End-of-day settlement and reconciliation files.

Settlement of business day D (run on D+1: T+1) nets, per merchant, the payments
captured on D, minus the refunds made on D, minus the fees of D's payments, plus
what was carried forward from the merchant's last settlement (never positive). A
positive net is paid into the merchant's settlement e-account; a negative one is
carried forward. One balanced ledger entry per merchant and day
(``epay-settle:<merchant>:<day>``) moves the net and the fees out of the merchant
payable account::

    Dr merchant payable (paid + fees)   Cr settlement e-account (paid)
                                        Cr bank fee income (fees)

so that after settlement the payable account holds exactly the carried-forward
amount for everything up to D. Fees are charged on the captured amount and not
returned on refunds (the bank's tariff; change :func:`rules.fee` and here if not).

:func:`settlement_report` and :func:`transaction_file` write CSV files whose every
line names its ledger entry; :func:`compare` lists where an external file (the
merchant's, or a file from another system) disagrees with the ledger.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.db import SessionFactory, unit_of_work
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import MultiLegEntry, PostingSpec
from rongbank.money import format_amount, parse_amount
from rongbank.payments.errors import SettlementDayOpen, SettlementNotFound
from rongbank.payments.rules import CNY_SCALE
from rongbank.payments.service import FEE_INCOME_ACCOUNT, PaymentsService


@dataclass(frozen=True, slots=True)
class Settlement:
    merchant_id: int
    business_day: date
    payments: int
    refunds: int
    fees: int
    brought_forward: int
    net: int
    paid: int
    carried_forward: int
    entry_id: int | None


_COLUMNS = ", ".join(f.name for f in fields(Settlement))


def settle(
    session: Session, payments: PaymentsService, *, merchant_id: int, day: date
) -> Settlement:
    """Settle one merchant's business day; running it again answers the same."""
    if day >= payments.accounts.business_day():
        raise SettlementDayOpen(business_day=day.isoformat())
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
    paid_in, fees = session.execute(
        text(
            "SELECT coalesce(sum(captured), 0), coalesce(sum(fee), 0) FROM payment "
            "WHERE merchant_id = :m AND business_day = :d AND status = 'paid'"
        ),
        {"m": merchant_id, "d": day},
    ).one()
    refunds = session.execute(
        text(
            "SELECT coalesce(sum(r.amount), 0) FROM payment_refund r "
            "JOIN payment p ON p.id = r.payment_id WHERE p.merchant_id = :m "
            "AND r.business_day = :d"
        ),
        {"m": merchant_id, "d": day},
    ).scalar_one()
    brought = session.execute(
        text(
            "SELECT carried_forward FROM merchant_settlement WHERE merchant_id = :m "
            "AND business_day < :d ORDER BY business_day DESC LIMIT 1"
        ),
        {"m": merchant_id, "d": day},
    ).scalar_one_or_none()
    paid_in, fees, refunds, brought = int(paid_in), int(fees), int(refunds), int(brought or 0)
    net = paid_in - refunds - fees + brought
    paid = max(net, 0)
    entry_id = None
    if paid or fees:
        income, _ = payments.ledger.create_account(
            session,
            code=FEE_INCOME_ACCOUNT,
            name="e-Pay merchant fees",
            currency="CNY",
            type=AccountType.INCOME,
        )
        deposit = session.execute(
            text("SELECT ledger_account_id FROM e_account WHERE id = :id"),
            {"id": merchant.settlement_account_id},
        ).scalar_one()
        postings = [
            PostingSpec(account=merchant.payable_account_id, amount=paid + fees, currency="CNY"),
            PostingSpec(account=int(deposit), amount=-paid, currency="CNY"),
            PostingSpec(account=income.id, amount=-fees, currency="CNY"),
        ]
        entry_id = payments.ledger.transfer(
            session,
            MultiLegEntry(
                client_id=f"epay-settle:{merchant_id}:{day.isoformat()}",
                postings=[p for p in postings if p.amount],
                description=f"e-Pay settlement {day.isoformat()} {merchant.number}",
                metadata={"merchant": merchant.number, "business_day": day.isoformat()},
            ),
        ).entry_id_or_raise()
    row = session.execute(
        text(
            "INSERT INTO merchant_settlement (merchant_id, business_day, payments, refunds, "  # noqa: S608
            "fees, brought_forward, net, paid, carried_forward, entry_id, created_at) "
            "VALUES (:m, :d, :p, :r, :f, :b, :n, :paid, :c, :e, :at) "
            f"RETURNING {_COLUMNS}"
        ),
        {
            "m": merchant_id,
            "d": day,
            "p": paid_in,
            "r": refunds,
            "f": fees,
            "b": brought,
            "n": net,
            "paid": paid,
            "c": min(net, 0),
            "e": entry_id,
            "at": payments.clock.now(),
        },
    ).one()
    return Settlement(*row)


def settle_all(
    session_factory: SessionFactory, payments: PaymentsService, day: date
) -> list[Settlement]:
    """Settle every approved merchant's day, each in a transaction of its own (one
    merchant's problem stops no other's). Suspended merchants are settled too."""
    with unit_of_work(session_factory) as session:
        ids = [
            int(r[0])
            for r in session.execute(
                text("SELECT id FROM merchant WHERE status <> 'pending' ORDER BY id")
            )
        ]
    done = []
    for merchant_id in ids:
        with unit_of_work(session_factory) as session:
            done.append(settle(session, payments, merchant_id=merchant_id, day=day))
    return done


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
    rows = session.execute(
        text(
            "SELECT p.merchant_id, 'payment', p.order_no, '', lp.amount, p.fee, e.id, "
            "e.created_at FROM payment p "
            "JOIN ledger_entry e ON e.id = coalesce(p.capture_entry_id, p.entry_id) "
            "JOIN merchant m ON m.id = p.merchant_id "
            "JOIN ledger_posting lp ON lp.entry_id = e.id AND lp.account_id = m.payable_account_id "
            "WHERE p.business_day = :d AND p.status = 'paid' "
            "AND (CAST(:m AS bigint) IS NULL OR p.merchant_id = :m) "
            "UNION ALL "
            "SELECT p.merchant_id, 'refund', p.order_no, r.refund_no, lp.amount, 0, e.id, "
            "e.created_at FROM payment_refund r JOIN payment p ON p.id = r.payment_id "
            "JOIN ledger_entry e ON e.id = r.entry_id "
            "JOIN merchant m ON m.id = p.merchant_id "
            "JOIN ledger_posting lp ON lp.entry_id = e.id AND lp.account_id = m.payable_account_id "
            "WHERE r.business_day = :d AND (CAST(:m AS bigint) IS NULL OR p.merchant_id = :m) "
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
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FILE_COLUMNS)
    for line in day_lines(session, day, merchant_id=merchant_id):
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
    """The settlement as CSV: every payment and refund of the day with its ledger
    entry, then the totals, the fees, what was brought and carried forward, and the
    settlement's own entry."""
    text_file = transaction_file(
        session, settlement.business_day, merchant_id=settlement.merchant_id
    )
    out = io.StringIO(text_file)
    out.seek(0, io.SEEK_END)
    writer = csv.writer(out, lineterminator="\n")
    entry = settlement.entry_id or ""
    for kind, amount in (
        ("total_payments", settlement.payments),
        ("total_refunds", settlement.refunds),
        ("total_fees", settlement.fees),
        ("brought_forward", settlement.brought_forward),
        ("net", settlement.net),
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
