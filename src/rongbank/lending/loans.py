"""Loans: disbursement into the borrower's e-account, and what a loan is now.

A disbursement is one ledger entry (the principal onto ``lending:principal``, the
money into the e-account less any upfront fee, which goes to fee income), the loan
row with its contract (rate, APR as shown before signing, penalty rate) and its
schedule, and a ``LoanDisbursed`` event for the notice, all in the caller's
transaction. It is once only per (customer, idempotency key): a retry answers the
loan made the first time; the same key with other terms is refused.

One disbursement of a customer at a time (an advisory lock), so that the 200,000-yuan
cap on internet consumer credit holds under concurrent applications: the second waits
for the first, then counts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.errors import AccountFrozen, AccountNotActive, NotYourAccount
from rongbank.accounts.service import AccountsService, EAccount
from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.db import advisory_lock
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.service import LedgerService, MultiLegEntry, PostingSpec
from rongbank.lending.book import CURRENCY, Book, LendingBook
from rongbank.lending.eod import EndOfDay
from rongbank.lending.errors import LoanNotFound, LoanRequestConflict
from rongbank.lending.events import LoanDisbursed
from rongbank.lending.products import Grade, Products, Quote, quote
from rongbank.lending.repayment import Repayments
from rongbank.lending.schedule import Instalment


@dataclass(frozen=True, slots=True)
class Loan:
    id: int
    customer_id: int
    e_account_id: int
    account_number: str
    product_code: str
    internet_consumer: bool
    application_id: str | None
    principal: int
    term_months: int
    method: str
    annual_rate_bps: int
    apr_bps: int
    penalty_rate_bps: int
    grade: str
    upfront_fee: int
    monthly_fee_bps: int
    start_date: date
    status: str
    """``active``; ``repaid``; ``written_off``."""
    principal_outstanding: int
    days_past_due: int
    category: str
    """The five-category classification (:class:`rongbank.lending.products.Category`)."""
    provision: int
    disbursed_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ScheduledInstalment:
    """One period of a loan's schedule, with what has accrued on it and been paid."""

    number: int
    period_start: date
    due_date: date
    principal: int
    interest: int
    fee: int
    interest_accrued: int
    fee_accrued: int
    penalty_accrued: int
    principal_paid: int
    interest_paid: int
    fee_paid: int
    penalty_paid: int
    paid_at: datetime | None

    @property
    def total(self) -> int:
        """What the period costs as scheduled, penalty aside."""
        return self.principal + self.interest + self.fee

    @property
    def unpaid(self) -> int:
        """What is left to pay of it in full, penalty so far included."""
        return (
            self.principal
            - self.principal_paid
            + self.interest
            - self.interest_paid
            + self.fee
            - self.fee_paid
            + self.penalty_accrued
            - self.penalty_paid
        )


_LOAN_FIELDS = [f.name for f in fields(Loan)]
_LOAN = ", ".join(
    "a.number" if name == "account_number" else f"l.{name}" for name in _LOAN_FIELDS
) + (" FROM loans l JOIN e_account a ON a.id = l.e_account_id")
_INSTALMENT = ", ".join(f.name for f in fields(ScheduledInstalment))


class LoanService:
    def __init__(
        self,
        ledger: LedgerService,
        accounts: AccountsService,
        clock: Clock,
        products: Products,
    ) -> None:
        self.ledger = ledger
        self.accounts = accounts
        self.clock = clock
        self.products = products
        self.book = LendingBook(ledger)
        self.repayments = Repayments(self)
        self.end_of_day = EndOfDay(self)

    def business_day(self) -> date:
        return self.clock.now().astimezone(BUSINESS_TIME_ZONE).date()

    def quote(
        self,
        *,
        product_code: str,
        principal_fen: int,
        term_months: int,
        method: str,
        annual_rate_bps: int,
    ) -> Quote:
        """The schedule and APR of a loan on these terms starting today."""
        return quote(
            self.products,
            product_code=product_code,
            principal_fen=principal_fen,
            term_months=term_months,
            method=method,
            annual_rate_bps=annual_rate_bps,
            start=self.business_day(),
        )

    def disburse(
        self,
        session: Session,
        *,
        customer_id: int,
        account_id: int,
        product_code: str,
        principal_fen: int,
        term_months: int,
        method: str,
        annual_rate_bps: int,
        grade: str,
        application_id: str | None,
        idempotency_key: str,
        pay_to: int | None = None,
    ) -> int:
        """Lend ``principal_fen`` into the customer's e-account ``account_id``
        (``e_account.id``) at once; returns the loan's id. Once per
        (``customer_id``, ``idempotency_key``). ``pay_to``: the ledger account paid
        instead of the e-account (逸贷 pays the merchant's payable directly); the
        e-account is still the loan's, repaid from."""
        advisory_lock(session, "loan_disburse", customer_id)
        asked = {
            "e_account_id": account_id,
            "product_code": product_code,
            "principal": principal_fen,
            "term_months": term_months,
            "method": str(method),
            "annual_rate_bps": annual_rate_bps,
            "grade": str(grade),
            "application_id": application_id,
        }
        existing = session.execute(
            text(
                f"SELECT id, {', '.join(asked)} FROM loans "  # noqa: S608
                "WHERE customer_id = :c AND idempotency_key = :k"
            ),
            {"c": customer_id, "k": idempotency_key},
        ).first()
        if existing is not None:
            if tuple(existing[1:]) != tuple(asked.values()):
                raise LoanRequestConflict(idempotency_key=idempotency_key)
            return int(existing[0])
        Grade(grade)
        terms = self.quote(
            product_code=product_code,
            principal_fen=principal_fen,
            term_months=term_months,
            method=method,
            annual_rate_bps=annual_rate_bps,
        )
        account = self._own_account(session, customer_id, account_id)
        if terms.product.internet_consumer:
            self.products.check_personal_cap(
                outstanding_fen=self.outstanding_personal_principal(session, customer_id),
                requested_fen=principal_fen,
            )
        book = self.book.ids(session)
        postings = [
            PostingSpec(account=book[Book.PRINCIPAL], amount=principal_fen, currency=CURRENCY),
            PostingSpec(
                account=account.ledger_account_id if pay_to is None else pay_to,
                amount=-(principal_fen - terms.upfront_fee),
                currency=CURRENCY,
            ),
        ]
        if terms.upfront_fee:
            postings.append(
                PostingSpec(
                    account=book[Book.FEE_INCOME], amount=-terms.upfront_fee, currency=CURRENCY
                )
            )
        entry_id = self.ledger.transfer(
            session,
            MultiLegEntry(
                client_id=Namespace.LOAN.client_id(customer_id, idempotency_key),
                postings=postings,
                description=f"{terms.product.name_zh} 放款"[:200],
                metadata={"product": product_code, "payee": account.number},
            ),
        ).entry_id_or_raise()
        now = self.clock.now()
        loan_id = int(
            session.execute(
                text(
                    "INSERT INTO loans (customer_id, e_account_id, product_code, "
                    "internet_consumer, application_id, idempotency_key, principal, "
                    "term_months, method, annual_rate_bps, apr_bps, penalty_rate_bps, grade, "
                    "upfront_fee, monthly_fee_bps, start_date, principal_outstanding, "
                    "disbursement_entry_id, disbursed_at) VALUES (:c, :a, :p, :ic, :app, :k, "
                    ":x, :t, :m, :r, :apr, :pen, :g, :uf, :mf, :start, :x, :e, :at) RETURNING id"
                ),
                {
                    "c": customer_id,
                    "a": account_id,
                    "p": product_code,
                    "ic": terms.product.internet_consumer,
                    "app": application_id,
                    "k": idempotency_key,
                    "x": principal_fen,
                    "t": term_months,
                    "m": terms.method.value,
                    "r": annual_rate_bps,
                    "apr": terms.apr_bps,
                    "pen": terms.product.penalty_rate_bps(max(terms.apr_bps, annual_rate_bps)),
                    "g": grade,
                    "uf": terms.upfront_fee,
                    "mf": terms.product.fees.monthly_bps,
                    "start": terms.start,
                    "e": entry_id,
                    "at": now,
                },
            ).scalar_one()
        )
        write_schedule(session, loan_id, terms.start, terms.schedule)
        first = terms.schedule[0]
        outbox.record(
            session,
            LoanDisbursed(
                loan_id=loan_id,
                customer_id=customer_id,
                product=terms.product.name_zh,
                principal=principal_fen,
                apr_bps=terms.apr_bps,
                term_months=term_months,
                first_due=first.due_date,
                first_amount=first.total,
                account_tail=account.number[-4:],
                occurred_at=now,
            ),
        )
        return loan_id

    def outstanding_personal_principal(self, session: Session, customer_id: int) -> int:
        """The principal the customer still owes on internet consumer loans, in fen:
        what the 200,000-yuan cap counts."""
        return int(
            session.execute(
                text(
                    "SELECT coalesce(sum(principal_outstanding), 0) FROM loans "
                    "WHERE customer_id = :c AND internet_consumer AND status = 'active'"
                ),
                {"c": customer_id},
            ).scalar_one()
        )

    def loans_of(self, session: Session, customer_id: int) -> list[Loan]:
        rows = session.execute(
            text(f"SELECT {_LOAN} WHERE l.customer_id = :c ORDER BY l.id DESC"),
            {"c": customer_id},
        ).all()
        return [Loan(*row) for row in rows]

    def loan(
        self, session: Session, *, loan_id: int, customer_id: int | None = None, lock: bool = False
    ) -> Loan:
        """A loan; with ``customer_id`` only one of that customer's (another's is not
        found, never shown). ``lock``: held until the transaction ends."""
        where = "l.id = :id" + (" AND l.customer_id = :c" if customer_id is not None else "")
        row = session.execute(
            text(f"SELECT {_LOAN} WHERE {where}" + (" FOR UPDATE OF l" if lock else "")),
            {"id": loan_id, "c": customer_id},
        ).first()
        if row is None:
            raise LoanNotFound(loan_id=loan_id)
        return Loan(*row)

    def schedule(self, session: Session, loan_id: int) -> list[ScheduledInstalment]:
        rows = session.execute(
            text(
                f"SELECT {_INSTALMENT} FROM loan_instalments "  # noqa: S608
                "WHERE loan_id = :id ORDER BY number"
            ),
            {"id": loan_id},
        ).all()
        return [ScheduledInstalment(*row) for row in rows]

    def _own_account(self, session: Session, customer_id: int, account_id: int) -> EAccount:
        number = session.execute(
            text("SELECT number FROM e_account WHERE id = :id AND customer_id = :c"),
            {"id": account_id, "c": customer_id},
        ).scalar()
        if number is None:
            raise NotYourAccount()
        account = self.accounts.account(session, str(number), lock=True)
        if account.status == "frozen":
            raise AccountFrozen(account=account.number[-4:])
        if account.status != "active":
            raise AccountNotActive(account=account.number[-4:], status=account.status)
        return account


def write_schedule(
    session: Session, loan_id: int, start: date, schedule: Sequence[Instalment]
) -> None:
    """Insert the instalments of ``schedule`` (from :func:`build_schedule`), each period
    running from the previous due date (the first from ``start``)."""
    starts = [start, *(i.due_date for i in schedule[:-1])]
    session.execute(
        text(
            "INSERT INTO loan_instalments (loan_id, number, period_start, due_date, principal, "
            "interest, fee) SELECT :id, * FROM unnest(CAST(:n AS smallint[]), "
            "CAST(:s AS date[]), CAST(:d AS date[]), CAST(:p AS bigint[]), "
            "CAST(:i AS bigint[]), CAST(:f AS bigint[]))"
        ),
        {
            "id": loan_id,
            "n": [i.number for i in schedule],
            "s": starts,
            "d": [i.due_date for i in schedule],
            "p": [i.principal for i in schedule],
            "i": [i.interest for i in schedule],
            "f": [i.fee for i in schedule],
        },
    )
