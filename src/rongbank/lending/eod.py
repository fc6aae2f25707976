"""The lending end of day (日终批处理) for one business date, over the whole book.

In order, in one transaction per date:

1. **Accrual.** Each open instalment's interest and fee accrue to the date, in
   proportion to the days of its period run (:func:`rules.accrued`): in full on its
   due date. One ledger entry for the book (receivable against income).
2. **Auto-debit.** Every loan with something due by the date is paid from its
   e-account, as much as the available balance allows (partial when short), split as a
   customer's repayment is (:func:`rules.allocate`). One ledger entry per loan.
3. **Penalty interest** on the principal of instalments overdue (due before the date,
   not paid): a day at the loan's penalty rate / 360, rounded half up, per instalment.
4. **Days past due and the five categories** (thresholds in ``products.toml``); the
   day's moves between categories are kept in the run's figures (roll rates).
5. **Provisions** by category on the principal outstanding: the change to the
   allowance in one entry (impairment expense, or its release).
6. **Write-off** of loss loans past the write-off days: principal against the
   allowance, accrued and unpaid interest, fees and penalty reversed from income.
7. **Notices**: an instalment due in three days; an instalment not collected in full
   on its due date (overdue).
8. **Month end**: on a month's last date, each active loan's days past due and
   principal are kept in ``loan_month_end`` (the portfolio's roll rates and vintages).

Every step is SQL over the set (the accrual and the penalty one UPDATE each for the
whole book); only the auto-debit works loan by loan, and only for the loans with
something due, in one ledger batch. A date is run once: it is recorded in
``lending_eod_runs``, and a second run of it changes nothing. All active loans are
locked first, so that a customer's repayment waits for the end of day instead of
interleaving with it (and neither can deadlock the other).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.db import advisory_lock
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.service import MAX_BATCH, MultiLegEntry, PostingSpec
from rongbank.lending import rules
from rongbank.lending.book import CURRENCY, Book
from rongbank.lending.events import InstalmentDueSoon, LoanOverdue
from rongbank.lending.products import Category
from rongbank.lending.repayment import postings, settle_rows
from rongbank.lending.rules import Split

if TYPE_CHECKING:
    from rongbank.lending.loans import LoanService

DUE_SOON_DAYS = 3
"""How many days before a due date the borrower is told of it."""


@dataclass
class EodFigures:
    """What one end of day did, in fen and counts."""

    business_date: str
    interest_accrued: int = 0
    fee_accrued: int = 0
    penalty_accrued: int = 0
    collected_loans: int = 0
    collected: int = 0
    collected_short: int = 0
    """Loans paid in part only: the account held less than was due."""
    overdue_loans: int = 0
    provision_change: int = 0
    written_off_loans: int = 0
    written_off_principal: int = 0
    notices: int = 0
    categories: dict[str, dict[str, int]] = field(default_factory=dict)
    """Loans and principal outstanding by category after the run."""
    rolls: dict[str, int] = field(default_factory=dict)
    """Loans that moved between categories this date: ``"normal>special_mention": n``."""
    already_run: bool = False


Transaction = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the auto-debit takes for one loan."""

    loan_id: int
    payer: int
    """The e-account's ledger account."""
    parts: list[tuple[int, Split]]
    due: int

    @property
    def paid(self) -> Split:
        total = Split()
        for _, part in self.parts:
            total += part
        return total


class EndOfDay:
    def __init__(self, loans: LoanService) -> None:
        self.loans = loans

    def last_run(self, session: Session) -> date | None:
        found = session.execute(text("SELECT max(business_date) FROM lending_eod_runs")).scalar()
        return found if isinstance(found, date) else None

    def run_through(self, transaction: Transaction, day: date) -> list[EodFigures]:
        """Run every date from the one after the last run up to ``day`` (only ``day``
        on a book that never ran), each in its own transaction."""
        with transaction() as session:
            last = self.last_run(session)
        first = day if last is None or last >= day else last + timedelta(days=1)
        done = []
        for current in _dates(first, day):
            with transaction() as session:
                done.append(self.run(session, current))
        return done

    def run(self, session: Session, day: date) -> EodFigures:
        """The end of day of ``day``; once only (a second run answers the first's
        figures and changes nothing)."""
        advisory_lock(session, "lending_eod", 0)
        stored = session.execute(
            text("SELECT figures FROM lending_eod_runs WHERE business_date = :d"), {"d": day}
        ).scalar()
        if stored is not None:
            return EodFigures(**{**stored, "already_run": True})
        figures = EodFigures(business_date=day.isoformat())
        session.execute(
            text("SELECT id FROM loans WHERE status = 'active' ORDER BY id FOR UPDATE")
        ).all()
        book = self.loans.book.ids(session)
        self._accrue(session, day, figures)
        # Booked before the auto-debit, which pays the receivables it raises.
        self._post(session, day, book, "accrual", self._accrual_legs(figures))
        self._collect(session, day, figures, book)
        self._penalty(session, day, figures)
        self._classify(session, day, figures)
        self._provide(session, day, figures)
        off = self._write_off(session, figures)
        self._post(session, day, book, "penalty", self._penalty_legs(figures))
        self._post(session, day, book, "provision", self._provision_legs(figures))
        self._post(session, day, book, "write-off", self._write_off_legs(off))
        self._notify(session, day, figures)
        self._month_end(session, day)
        figures.categories = self._categories(session)
        session.execute(
            text(
                "INSERT INTO lending_eod_runs (business_date, figures, finished_at) "
                "VALUES (:d, CAST(:f AS jsonb), :at)"
            ),
            {"d": day, "f": json.dumps(asdict(figures)), "at": self.loans.clock.now()},
        )
        return figures

    # -- 1. accrual ---------------------------------------------------------------------

    @staticmethod
    def _accrue(session: Session, day: date, figures: EodFigures) -> None:
        interest, fee = session.execute(
            text(
                "WITH target AS (SELECT i.loan_id, i.number, "
                "CASE WHEN :d >= i.due_date THEN i.interest "
                "ELSE i.interest * (:d - i.period_start) / (i.due_date - i.period_start) END "
                "AS ti, CASE WHEN :d >= i.due_date THEN i.fee "
                "ELSE i.fee * (:d - i.period_start) / (i.due_date - i.period_start) END AS tf, "
                "i.interest_accrued AS ai, i.fee_accrued AS af "
                "FROM loan_instalments i JOIN loans l ON l.id = i.loan_id "
                "WHERE i.paid_at IS NULL AND i.period_start < :d AND l.status = 'active' "
                "AND (i.interest_accrued < i.interest OR i.fee_accrued < i.fee)), "
                "moved AS (UPDATE loan_instalments i SET interest_accrued = t.ti, "
                "fee_accrued = t.tf FROM target t WHERE i.loan_id = t.loan_id "
                "AND i.number = t.number AND (t.ti > t.ai OR t.tf > t.af) "
                "RETURNING t.ti - t.ai AS di, t.tf - t.af AS df) "
                "SELECT coalesce(sum(di), 0), coalesce(sum(df), 0) FROM moved"
            ),
            {"d": day},
        ).one()
        figures.interest_accrued, figures.fee_accrued = int(interest), int(fee)

    # -- 2. auto-debit ------------------------------------------------------------------

    def _collect(
        self, session: Session, day: date, figures: EodFigures, book: dict[Book, int]
    ) -> None:
        rows = session.execute(
            text(
                "SELECT i.loan_id, a.ledger_account_id, "
                "la.credits_posted + la.overdraft_limit - la.debits_posted - la.debits_pending, "
                "i.number, i.principal - i.principal_paid, i.interest - i.interest_paid, "
                "i.fee - i.fee_paid, i.penalty_accrued - i.penalty_paid "
                "FROM loan_instalments i JOIN loans l ON l.id = i.loan_id "
                "JOIN e_account a ON a.id = l.e_account_id "
                "JOIN ledger_account la ON la.id = a.ledger_account_id "
                "WHERE i.paid_at IS NULL AND i.due_date <= :d AND l.status = 'active' "
                "AND a.status = 'active' AND NOT la.frozen "
                "ORDER BY a.ledger_account_id, i.loan_id, i.number"
            ),
            {"d": day},
        ).all()
        available: dict[int, int] = {}
        owed: dict[int, list[tuple[int, Split]]] = {}
        payer_of: dict[int, int] = {}
        for loan_id, payer, balance, number, p, i, f, pen in rows:
            available.setdefault(payer, max(int(balance), 0))
            payer_of[loan_id] = payer
            owed.setdefault(loan_id, []).append((number, Split(p, i, f, pen)))
        plans: list[_Plan] = []
        for loan_id, dues in owed.items():
            payer = payer_of[loan_id]
            due = sum(split.total for _, split in dues)
            amount = min(available[payer], due)
            if amount <= 0:
                continue
            available[payer] -= amount
            plans.append(_Plan(loan_id, payer, rules.allocate(dues, amount), due))
        client_id = f"auto:{day.isoformat()}"
        done: list[tuple[_Plan, int]] = []
        for chunk in _chunks(plans, MAX_BATCH):
            outcomes = self.loans.ledger.execute(
                session,
                [
                    MultiLegEntry(
                        client_id=Namespace.LOAN_REPAYMENT.client_id(plan.loan_id, client_id),
                        postings=postings(book, plan.payer, plan.paid, Split()),
                        description="贷款自动扣款",
                        metadata={"loan": plan.loan_id, "kind": "auto_debit"},
                    )
                    for plan in chunk
                ],
            )
            # A loan whose account changed since it was read (spent, frozen) is
            # refused by the ledger: it is not collected today, the rest are.
            done.extend(
                (plan, outcome.entry_id)
                for plan, outcome in zip(chunk, outcomes, strict=True)
                if outcome.error is None and outcome.entry_id is not None
            )
        if not done:
            return
        now = self.loans.clock.now()
        settle_rows(session, [(plan.loan_id, plan.parts, {}) for plan, _ in done], day=day, now=now)
        session.execute(
            text(
                "INSERT INTO loan_repayments (loan_id, kind, client_id, principal, interest, fee, "
                "penalty, entry_id, value_date, created_at) SELECT u.l, 'auto_debit', :c, u.p, "
                "u.i, u.f, u.pen, u.e, :d, :at FROM unnest(CAST(:l AS bigint[]), "
                "CAST(:p AS bigint[]), CAST(:i AS bigint[]), CAST(:f AS bigint[]), "
                "CAST(:pen AS bigint[]), CAST(:e AS bigint[])) AS u(l, p, i, f, pen, e)"
            ),
            {
                "c": client_id,
                "d": day,
                "at": now,
                "l": [plan.loan_id for plan, _ in done],
                "p": [plan.paid.principal for plan, _ in done],
                "i": [plan.paid.interest for plan, _ in done],
                "f": [plan.paid.fee for plan, _ in done],
                "pen": [plan.paid.penalty for plan, _ in done],
                "e": [entry for _, entry in done],
            },
        )
        figures.collected_loans = len(done)
        figures.collected = sum(plan.paid.total for plan, _ in done)
        figures.collected_short = sum(1 for plan, _ in done if plan.paid.total < plan.due)

    # -- 3. penalty interest ----------------------------------------------------------------

    @staticmethod
    def _penalty(session: Session, day: date, figures: EodFigures) -> None:
        # A day's penalty: unpaid principal x rate (bps) / 10,000 / 360, half up.
        total = session.execute(
            text(
                "WITH moved AS (UPDATE loan_instalments i SET penalty_accrued = "
                "i.penalty_accrued + (2 * (i.principal - i.principal_paid) * l.penalty_rate_bps "
                "+ 3600000) / 7200000 FROM loans l WHERE l.id = i.loan_id "
                "AND l.status = 'active' AND i.paid_at IS NULL AND i.due_date < :d "
                "AND i.principal > i.principal_paid AND l.penalty_rate_bps > 0 "
                "RETURNING (2 * (i.principal - i.principal_paid) * l.penalty_rate_bps "
                "+ 3600000) / 7200000 AS day_penalty) "
                "SELECT coalesce(sum(day_penalty), 0) FROM moved"
            ),
            {"d": day},
        ).scalar_one()
        figures.penalty_accrued = int(total)

    # -- 4. days past due, five categories --------------------------------------------------

    def _classify(self, session: Session, day: date, figures: EodFigures) -> None:
        limits = self.loans.products.classification.from_days
        rows = session.execute(
            text(
                "WITH overdue AS (SELECT loan_id, :d - min(due_date) AS dpd "
                "FROM loan_instalments WHERE paid_at IS NULL AND due_date < :d GROUP BY loan_id), "
                "now_ AS (SELECT l.id, l.category AS was, coalesce(o.dpd, 0) AS dpd "
                "FROM loans l LEFT JOIN overdue o ON o.loan_id = l.id WHERE l.status = 'active' "
                "AND (o.loan_id IS NOT NULL OR l.days_past_due > 0 OR l.category <> 'normal')), "
                "graded AS (SELECT id, was, dpd, CASE WHEN dpd >= :loss THEN 'loss' "
                "WHEN dpd >= :doubtful THEN 'doubtful' WHEN dpd >= :sub THEN 'substandard' "
                "WHEN dpd >= :sm THEN 'special_mention' ELSE 'normal' END AS category "
                "FROM now_), "
                "moved AS (UPDATE loans l SET days_past_due = g.dpd, category = g.category "
                "FROM graded g WHERE l.id = g.id RETURNING g.was, g.category, g.dpd) "
                "SELECT was, category, count(*), count(*) FILTER (WHERE dpd > 0) FROM moved "
                "GROUP BY was, category"
            ),
            {
                "d": day,
                "loss": limits[Category.LOSS],
                "doubtful": limits[Category.DOUBTFUL],
                "sub": limits[Category.SUBSTANDARD],
                "sm": limits[Category.SPECIAL_MENTION],
            },
        ).all()
        rolls: Counter[str] = Counter()
        for was, category, count, overdue in rows:
            figures.overdue_loans += int(overdue)
            if was != category:
                rolls[f"{was}>{category}"] += int(count)
        figures.rolls = dict(rolls)

    # -- 5. provisions ----------------------------------------------------------------------

    def _provide(self, session: Session, day: date, figures: EodFigures) -> None:
        bps = self.loans.products.classification.provision_bps
        change = session.execute(
            text(
                "WITH target AS (SELECT id, provision AS was, "
                "(2 * principal_outstanding * CASE category WHEN 'normal' THEN :n "
                "WHEN 'special_mention' THEN :sm WHEN 'substandard' THEN :sub "
                "WHEN 'doubtful' THEN :dbt ELSE :loss END + 10000) / 20000 AS now_ "
                "FROM loans WHERE status = 'active'), "
                "moved AS (UPDATE loans l SET provision = t.now_ FROM target t "
                "WHERE l.id = t.id AND t.now_ <> t.was RETURNING t.now_ - t.was AS change) "
                "SELECT coalesce(sum(change), 0) FROM moved"
            ),
            {
                "n": bps[Category.NORMAL],
                "sm": bps[Category.SPECIAL_MENTION],
                "sub": bps[Category.SUBSTANDARD],
                "dbt": bps[Category.DOUBTFUL],
                "loss": bps[Category.LOSS],
            },
        ).scalar_one()
        figures.provision_change = int(change)

    # -- 6. write-off -----------------------------------------------------------------------

    def _write_off(self, session: Session, figures: EodFigures) -> Split:
        """Take loss loans past the write-off days off the book; returns their principal
        (its provision, 100% in loss, is used against it) and the receivables accrued on
        them and unpaid (reversed from income)."""
        row = session.execute(
            text(
                "WITH gone AS (UPDATE loans SET status = 'written_off', closed_at = :at, "
                "provision = 0 WHERE status = 'active' AND category = 'loss' "
                "AND days_past_due >= :days RETURNING id, principal_outstanding), "
                "accrued AS (SELECT coalesce(sum(i.interest_accrued - i.interest_paid), 0) AS i, "
                "coalesce(sum(i.fee_accrued - i.fee_paid), 0) AS f, "
                "coalesce(sum(i.penalty_accrued - i.penalty_paid), 0) AS p "
                "FROM loan_instalments i JOIN gone g ON g.id = i.loan_id) "
                "SELECT count(*), coalesce(sum(g.principal_outstanding), 0), "
                "(SELECT i FROM accrued), (SELECT f FROM accrued), (SELECT p FROM accrued) "
                "FROM gone g"
            ),
            {
                "at": self.loans.clock.now(),
                "days": self.loans.products.classification.write_off_days,
            },
        ).one()
        count, principal, interest, fee, penalty = (int(v) for v in row)
        figures.written_off_loans = count
        figures.written_off_principal = principal
        return Split(principal=principal, interest=interest, fee=fee, penalty=penalty)

    # -- the day's entries for the whole book: one a kind -----------------------------

    @staticmethod
    def _accrual_legs(figures: EodFigures) -> dict[Book, int]:
        return {
            Book.INTEREST: figures.interest_accrued,
            Book.INTEREST_INCOME: -figures.interest_accrued,
            Book.FEE: figures.fee_accrued,
            Book.FEE_INCOME: -figures.fee_accrued,
        }

    @staticmethod
    def _penalty_legs(figures: EodFigures) -> dict[Book, int]:
        return {
            Book.PENALTY: figures.penalty_accrued,
            Book.PENALTY_INCOME: -figures.penalty_accrued,
        }

    @staticmethod
    def _provision_legs(figures: EodFigures) -> dict[Book, int]:
        return {
            Book.IMPAIRMENT: figures.provision_change,
            Book.ALLOWANCE: -figures.provision_change,
        }

    @staticmethod
    def _write_off_legs(off: Split) -> dict[Book, int]:
        """The principal against its provision (100% in loss); what had accrued on it
        and is unpaid reversed from the income it was booked to."""
        return {
            Book.ALLOWANCE: off.principal,
            Book.PRINCIPAL: -off.principal,
            Book.INTEREST_INCOME: off.interest,
            Book.INTEREST: -off.interest,
            Book.FEE_INCOME: off.fee,
            Book.FEE: -off.fee,
            Book.PENALTY_INCOME: off.penalty,
            Book.PENALTY: -off.penalty,
        }

    def _post(
        self, session: Session, day: date, book: dict[Book, int], what: str, legs: dict[Book, int]
    ) -> None:
        if not any(legs.values()):
            return
        self.loans.ledger.transfer(
            session,
            MultiLegEntry(
                client_id=Namespace.LENDING_EOD.client_id(day.isoformat(), what),
                postings=[
                    PostingSpec(account=book[account], amount=amount, currency=CURRENCY)
                    for account, amount in legs.items()
                    if amount
                ],
                description=f"贷款日终 {what}",
                metadata={"business_date": day.isoformat()},
            ),
        )

    # -- 7. notices ---------------------------------------------------------------------

    def _notify(self, session: Session, day: date, figures: EodFigures) -> None:
        now = self.loans.clock.now()
        soon = session.execute(
            text(
                "SELECT l.id, l.customer_id, i.number, i.due_date, "
                "i.principal + i.interest + i.fee - i.principal_paid - i.interest_paid "
                "- i.fee_paid, a.number FROM loan_instalments i JOIN loans l ON l.id = i.loan_id "
                "JOIN e_account a ON a.id = l.e_account_id WHERE i.paid_at IS NULL "
                "AND i.due_date = :soon AND l.status = 'active'"
            ),
            {"soon": day + timedelta(days=DUE_SOON_DAYS)},
        ).all()
        late = session.execute(
            text(
                "SELECT l.id, l.customer_id, i.number, i.due_date, "
                "i.principal + i.interest + i.fee + i.penalty_accrued - i.principal_paid "
                "- i.interest_paid - i.fee_paid - i.penalty_paid, a.number "
                "FROM loan_instalments i JOIN loans l ON l.id = i.loan_id "
                "JOIN e_account a ON a.id = l.e_account_id WHERE i.paid_at IS NULL "
                "AND i.due_date = :d AND l.status = 'active'"
            ),
            {"d": day},
        ).all()
        events: list[outbox.Event] = [
            InstalmentDueSoon(
                loan_id=loan_id,
                customer_id=customer_id,
                number=number,
                due_date=due,
                amount=int(amount),
                account_tail=str(account)[-4:],
                occurred_at=now,
            )
            for loan_id, customer_id, number, due, amount, account in soon
        ] + [
            LoanOverdue(
                loan_id=loan_id,
                customer_id=customer_id,
                number=number,
                due_date=due,
                unpaid=int(amount),
                account_tail=str(account)[-4:],
                occurred_at=now,
            )
            for loan_id, customer_id, number, due, amount, account in late
        ]
        for event in events:
            outbox.record(session, event)
        figures.notices = len(events)

    # -- 8. the month end's snapshot -------------------------------------------------------

    @staticmethod
    def _month_end(session: Session, day: date) -> None:
        """On a month's last date, each active loan's days past due and principal (the
        portfolio's roll rates and vintage curves read them: ``lending.portfolio``)."""
        if (day + timedelta(days=1)).day != 1:
            return
        session.execute(
            text(
                "INSERT INTO loan_month_end (month, loan_id, days_past_due, "
                "principal_outstanding) SELECT :m, id, days_past_due, principal_outstanding "
                "FROM loans WHERE status = 'active' ON CONFLICT DO NOTHING"
            ),
            {"m": day.replace(day=1)},
        )

    @staticmethod
    def _categories(session: Session) -> dict[str, dict[str, int]]:
        rows = session.execute(
            text(
                "SELECT category, count(*), coalesce(sum(principal_outstanding), 0) FROM loans "
                "WHERE status = 'active' GROUP BY category"
            )
        ).all()
        return {str(c): {"loans": int(n), "principal": int(p)} for c, n, p in rows}


def _dates(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
