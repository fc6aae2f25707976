"""Repayment from the borrower's e-account: what is due now, or early, in full or in
part. The end of day's auto-debit uses the same settlement (:func:`settle_rows`).

Each repayment is one ledger entry (the e-account debited; principal, interest, fee
and penalty receivable credited; any interest or fee not yet accrued by the end of
day booked to income in the same entry), its row in ``loan_repayments`` and the
instalments' paid columns, in the caller's transaction. The loan row is locked first,
so two repayments of one loan run one after the other: the second sees what the first
paid and can never pay it again. Once per (loan, idempotency key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.service import MultiLegEntry, PostingSpec
from rongbank.lending import rules
from rongbank.lending.book import CURRENCY, Book
from rongbank.lending.errors import (
    EarlyRepaymentInvalid,
    LoanNotActive,
    NothingDue,
    RepaymentAboveDue,
    RepaymentConflict,
)
from rongbank.lending.rules import Period, Split
from rongbank.lending.schedule import RepaymentMethod
from rongbank.money import format_amount

if TYPE_CHECKING:
    from rongbank.lending.loans import Loan, LoanService


@dataclass(frozen=True, slots=True)
class Repayment:
    id: int
    loan_id: int
    kind: str
    """``repay`` (what was due), ``auto_debit`` (the end of day's), ``early_full``,
    ``early_partial``."""
    client_id: str
    principal: int
    interest: int
    fee: int
    penalty: int
    entry_id: int
    value_date: date
    created_at: datetime

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee + self.penalty


_REPAYMENT = ", ".join(f.name for f in fields(Repayment))
_PERIOD = ", ".join(f.name for f in fields(Period))


def periods_of(session: Session, loan_id: int) -> list[Period]:
    rows = session.execute(
        text(f"SELECT {_PERIOD} FROM loan_instalments WHERE loan_id = :id ORDER BY number"),  # noqa: S608
        {"id": loan_id},
    ).all()
    return [Period(*row) for row in rows]


def owed_now(periods: Sequence[Period], day: date) -> list[tuple[int, Split]]:
    """What each instalment due by ``day`` still owes, oldest first."""
    owed = [(p.number, p.owed_on(day)) for p in periods]
    return [(number, split) for number, split in owed if split.total > 0]


def catch_up(periods: Sequence[Period], day: date) -> tuple[dict[int, tuple[int, int]], Split]:
    """Interest and fee of the instalments due by ``day`` not yet accrued by the end of
    day (a repayment before it ran that day): each instalment's full accrual, and the
    total to book to income now."""
    accrue: dict[int, tuple[int, int]] = {}
    total = Split()
    for p in periods:
        if p.due_date <= day and (p.interest_accrued < p.interest or p.fee_accrued < p.fee):
            accrue[p.number] = (p.interest, p.fee)
            total += Split(interest=p.interest - p.interest_accrued, fee=p.fee - p.fee_accrued)
    return accrue, total


class Repayments:
    def __init__(self, loans: LoanService) -> None:
        self.loans = loans

    def repayment(self, session: Session, *, loan_id: int, client_id: str) -> Repayment | None:
        row = session.execute(
            text(
                f"SELECT {_REPAYMENT} FROM loan_repayments "  # noqa: S608
                "WHERE loan_id = :l AND client_id = :k"
            ),
            {"l": loan_id, "k": client_id},
        ).first()
        return Repayment(*row) if row else None

    def repayments(self, session: Session, loan_id: int) -> list[Repayment]:
        rows = session.execute(
            text(f"SELECT {_REPAYMENT} FROM loan_repayments WHERE loan_id = :l ORDER BY id"),  # noqa: S608
            {"l": loan_id},
        ).all()
        return [Repayment(*row) for row in rows]

    def due_now(self, session: Session, loan_id: int) -> Split:
        """What is due on the loan today (arrears included)."""
        day = self.loans.business_day()
        total = Split()
        for _, split in owed_now(periods_of(session, loan_id), day):
            total += split
        return total

    def repay(
        self,
        session: Session,
        *,
        customer_id: int,
        loan_id: int,
        idempotency_key: str,
        amount: int | None = None,
    ) -> tuple[Repayment, bool]:
        """Pay what is due now (``amount`` None), or part of it, from the loan's
        e-account; returns the repayment and whether it was made now (a retry answers
        the first)."""
        loan = self.loans.loan(session, loan_id=loan_id, customer_id=customer_id, lock=True)
        existing = self.repayment(session, loan_id=loan.id, client_id=idempotency_key)
        if existing is not None:
            if existing.kind != "repay" or amount not in (None, existing.total):
                raise RepaymentConflict(idempotency_key=idempotency_key)
            return existing, False
        if loan.status != "active":
            raise LoanNotActive(loan_id=loan.id, status=loan.status)
        day = self.loans.business_day()
        periods = periods_of(session, loan.id)
        parts = _due_parts(loan.id, periods, day, amount)
        accrue, booked = catch_up(periods, day)
        made = settle(
            self.loans,
            session,
            loan,
            kind="repay",
            client_id=idempotency_key,
            parts=parts,
            accrue=accrue,
            booked=booked,
            day=day,
        )
        return made, True

    def prepay(
        self,
        session: Session,
        *,
        customer_id: int,
        loan_id: int,
        idempotency_key: str,
        principal: int | None = None,
    ) -> tuple[Repayment, bool]:
        """Repay early: everything due now, the current period's interest and fee as
        accrued to today, and ``principal`` (None: all that is left, which closes the
        loan); the schedule after it is recomputed on the principal left
        (:func:`rules.prepay`)."""
        loan = self.loans.loan(session, loan_id=loan_id, customer_id=customer_id, lock=True)
        existing = self.repayment(session, loan_id=loan.id, client_id=idempotency_key)
        if existing is not None:
            if not existing.kind.startswith("early") or principal not in (
                None,
                existing.principal,
            ):
                raise RepaymentConflict(idempotency_key=idempotency_key)
            return existing, False
        early = self._early(session, loan, principal)
        current = next(p for p in early.periods if p.number == early.plan.settled.number)
        accrue, booked = catch_up(early.periods, early.day)
        booked += Split(
            interest=early.plan.settled.interest - current.interest_accrued,
            fee=early.plan.settled.fee - current.fee_accrued,
        )
        _reschedule(session, loan.id, early.plan)
        made = settle(
            self.loans,
            session,
            loan,
            kind="early_full" if not early.plan.following else "early_partial",
            client_id=idempotency_key,
            parts=[*early.arrears, (current.number, early.plan.pays)],
            accrue=accrue,
            booked=booked,
            day=early.day,
        )
        return made, True

    def repay_cost(self, session: Session, *, loan_id: int, amount: int | None = None) -> Split:
        """What repaying ``amount`` of what is due (None: all of it) pays today, split
        as :meth:`repay` will split it; refused as it will be refused."""
        day = self.loans.business_day()
        total = Split()
        for _, part in _due_parts(loan_id, periods_of(session, loan_id), day, amount):
            total += part
        return total

    def early_cost(
        self, session: Session, *, customer_id: int, loan_id: int, principal: int | None = None
    ) -> Split:
        """What repaying ``principal`` early (None: all of it) takes today, arrears
        included: what the customer is shown, and authorises."""
        loan = self.loans.loan(session, loan_id=loan_id, customer_id=customer_id)
        return self._early(session, loan, principal).total

    def _early(self, session: Session, loan: Loan, principal: int | None) -> _Early:
        if loan.status != "active":
            raise LoanNotActive(loan_id=loan.id, status=loan.status)
        day = self.loans.business_day()
        periods = periods_of(session, loan.id)
        owed = owed_now(periods, day)
        ahead = sum(p.principal - p.principal_paid for p in periods if p.due_date > day)
        early = ahead if principal is None else principal
        if not 0 < early <= ahead:
            raise EarlyRepaymentInvalid(principal_left=format_amount(ahead, scale=2))
        plan = rules.prepay(
            periods,
            day=day,
            principal=early,
            annual_rate_bps=loan.annual_rate_bps,
            method=RepaymentMethod(loan.method),
            term_months=loan.term_months,
            monthly_fee_bps=loan.monthly_fee_bps,
        )
        arrears = rules.allocate(owed, sum(split.total for _, split in owed))
        return _Early(day=day, periods=periods, arrears=arrears, plan=plan)


@dataclass(frozen=True, slots=True)
class _Early:
    """An early repayment worked out: the instalments due paid with it, then the plan."""

    day: date
    periods: list[Period]
    arrears: list[tuple[int, Split]]
    plan: rules.Prepayment

    @property
    def total(self) -> Split:
        total = self.plan.pays
        for _, part in self.arrears:
            total += part
        return total


def _due_parts(
    loan_id: int, periods: Sequence[Period], day: date, amount: int | None
) -> list[tuple[int, Split]]:
    """``amount`` of what is due on ``day`` (None: all of it), split by instalment."""
    owed = owed_now(periods, day)
    due = sum(split.total for _, split in owed)
    if due == 0:
        raise NothingDue(loan_id=loan_id)
    if amount is None:
        amount = due
    if not 0 < amount <= due:
        raise RepaymentAboveDue(due=format_amount(due, scale=2))
    return rules.allocate(owed, amount)


def _reschedule(session: Session, loan_id: int, plan: rules.Prepayment) -> None:
    settled = plan.settled
    session.execute(
        text("DELETE FROM loan_instalments WHERE loan_id = :l AND number > :n"),
        {"l": loan_id, "n": settled.number},
    )
    session.execute(
        text(
            "UPDATE loan_instalments SET due_date = :d, principal = :p, interest = :i, fee = :f, "
            "interest_accrued = :i, fee_accrued = :f WHERE loan_id = :l AND number = :n"
        ),
        {
            "d": settled.due_date,
            "p": settled.principal,
            "i": settled.interest,
            "f": settled.fee,
            "l": loan_id,
            "n": settled.number,
        },
    )
    if plan.following:
        session.execute(
            text(
                "INSERT INTO loan_instalments (loan_id, number, period_start, due_date, "
                "principal, interest, fee) SELECT :l, * FROM unnest(CAST(:n AS smallint[]), "
                "CAST(:s AS date[]), CAST(:d AS date[]), CAST(:p AS bigint[]), "
                "CAST(:i AS bigint[]), CAST(:f AS bigint[]))"
            ),
            {
                "l": loan_id,
                "n": [p.number for p in plan.following],
                "s": [p.period_start for p in plan.following],
                "d": [p.due_date for p in plan.following],
                "p": [p.principal for p in plan.following],
                "i": [p.interest for p in plan.following],
                "f": [p.fee for p in plan.following],
            },
        )


def postings(book: Mapping[Book, int], payer: int, paid: Split, booked: Split) -> list[PostingSpec]:
    """The ledger postings of a repayment of ``paid`` from the e-account ledger account
    ``payer``, with ``booked`` interest and fee accrued now (receivable and income)."""
    amounts = {
        payer: paid.total,
        book[Book.PRINCIPAL]: -paid.principal,
        book[Book.INTEREST]: booked.interest - paid.interest,
        book[Book.FEE]: booked.fee - paid.fee,
        book[Book.PENALTY]: -paid.penalty,
        book[Book.INTEREST_INCOME]: -booked.interest,
        book[Book.FEE_INCOME]: -booked.fee,
    }
    return [
        PostingSpec(account=account, amount=amount, currency=CURRENCY)
        for account, amount in amounts.items()
        if amount
    ]


def settle(
    loans: LoanService,
    session: Session,
    loan: Loan,
    *,
    kind: str,
    client_id: str,
    parts: Sequence[tuple[int, Split]],
    accrue: Mapping[int, tuple[int, int]],
    booked: Split,
    day: date,
) -> Repayment:
    """Move a customer's repayment on the ledger and record it: ``parts`` say what it
    pays of each instalment, ``accrue`` the instalments whose interest and fee reach
    their scheduled amounts now, ``booked`` what that accrual earns."""
    paid = Split()
    for _, part in parts:
        paid += part
    book = loans.book.ids(session)
    payer = session.execute(
        text("SELECT ledger_account_id FROM e_account WHERE id = :a"), {"a": loan.e_account_id}
    ).scalar_one()
    entry_id = loans.ledger.transfer(
        session,
        MultiLegEntry(
            client_id=Namespace.LOAN_REPAYMENT.client_id(loan.id, client_id),
            postings=postings(book, payer, paid, booked),
            description="贷款还款",
            metadata={"loan": loan.id, "kind": kind},
        ),
    ).entry_id_or_raise()
    now = loans.clock.now()
    settle_rows(session, [(loan.id, parts, accrue)], day=day, now=now)
    row = session.execute(
        text(
            "INSERT INTO loan_repayments (loan_id, kind, client_id, principal, interest, fee, "  # noqa: S608
            "penalty, entry_id, value_date, created_at) VALUES (:l, :k, :c, :p, :i, :f, :pen, "
            f":e, :d, :at) RETURNING {_REPAYMENT}"
        ),
        {
            "l": loan.id,
            "k": kind,
            "c": client_id,
            "p": paid.principal,
            "i": paid.interest,
            "f": paid.fee,
            "pen": paid.penalty,
            "e": entry_id,
            "d": day,
            "at": now,
        },
    ).one()
    return Repayment(*row)


def settle_rows(
    session: Session,
    settled: Sequence[tuple[int, Sequence[tuple[int, Split]], Mapping[int, tuple[int, int]]]],
    *,
    day: date,
    now: datetime,
) -> None:
    """Write what repayments paid to the instalments and loans, for many loans at once
    (the end of day's auto-debit passes them all): each loan's parts by instalment and
    the accruals reached, then each loan's principal left, days past due and status."""
    rows: dict[tuple[int, int], list[int]] = {}
    for loan_id, parts, accrue in settled:
        for number, (interest, fee) in accrue.items():
            rows.setdefault((loan_id, number), [0, 0, 0, 0, -1, -1])[4:] = [interest, fee]
        for number, part in parts:
            row = rows.setdefault((loan_id, number), [0, 0, 0, 0, -1, -1])
            row[:4] = [part.principal, part.interest, part.fee, part.penalty]
    if not rows:
        return
    keys = list(rows)
    values = list(rows.values())
    session.execute(
        text(
            "UPDATE loan_instalments i SET "
            "interest_accrued = GREATEST(i.interest_accrued, u.ai), "
            "fee_accrued = GREATEST(i.fee_accrued, u.af), "
            "principal_paid = i.principal_paid + u.p, interest_paid = i.interest_paid + u.i, "
            "fee_paid = i.fee_paid + u.f, penalty_paid = i.penalty_paid + u.pen, "
            "paid_at = CASE WHEN i.principal_paid + u.p = i.principal "
            "AND i.interest_paid + u.i = i.interest AND i.fee_paid + u.f = i.fee "
            "AND i.penalty_paid + u.pen = i.penalty_accrued THEN :at END "
            "FROM unnest(CAST(:l AS bigint[]), CAST(:n AS smallint[]), CAST(:p AS bigint[]), "
            "CAST(:i AS bigint[]), CAST(:f AS bigint[]), CAST(:pen AS bigint[]), "
            "CAST(:ai AS bigint[]), CAST(:af AS bigint[])) AS u(l, n, p, i, f, pen, ai, af) "
            "WHERE i.loan_id = u.l AND i.number = u.n"
        ),
        {
            "l": [k[0] for k in keys],
            "n": [k[1] for k in keys],
            "p": [v[0] for v in values],
            "i": [v[1] for v in values],
            "f": [v[2] for v in values],
            "pen": [v[3] for v in values],
            "ai": [v[4] for v in values],
            "af": [v[5] for v in values],
            "at": now,
        },
    )
    session.execute(
        text(
            "UPDATE loans l SET principal_outstanding = s.left_, "
            "days_past_due = s.dpd, "
            "status = CASE WHEN s.open_ = 0 THEN 'repaid' ELSE l.status END, "
            "closed_at = CASE WHEN s.open_ = 0 THEN :at ELSE l.closed_at END "
            "FROM (SELECT i.loan_id, sum(i.principal - i.principal_paid) AS left_, "
            "count(*) FILTER (WHERE i.paid_at IS NULL) AS open_, "
            "coalesce(max(:d - i.due_date) FILTER (WHERE i.paid_at IS NULL AND i.due_date < :d), "
            "0) AS dpd FROM loan_instalments i WHERE i.loan_id = ANY(CAST(:ids AS bigint[])) "
            "GROUP BY i.loan_id) s WHERE l.id = s.loan_id"
        ),
        {"ids": sorted({loan_id for loan_id, _, _ in settled}), "d": day, "at": now},
    )
