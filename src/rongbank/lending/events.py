"""What lending announces (see :mod:`rongbank.outbox`): the 融e联 notices read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

from rongbank.outbox import Event


@dataclass(frozen=True, kw_only=True)
class LoanDisbursed(Event):
    """A loan's money arrived in the borrower's e-account."""

    name: ClassVar[str] = "lending.loan_disbursed"
    loan_id: int
    customer_id: int
    product: str
    """The product's Chinese name."""
    principal: int
    apr_bps: int
    term_months: int
    first_due: date
    first_amount: int
    account_tail: str

    @property
    def key(self) -> str:
        return f"loan:{self.loan_id}:disbursed"


@dataclass(frozen=True, kw_only=True)
class InstalmentDueSoon(Event):
    """An instalment falls due in a few days (the end of day tells once per instalment)."""

    name: ClassVar[str] = "lending.instalment_due_soon"
    loan_id: int
    customer_id: int
    number: int
    due_date: date
    amount: int
    account_tail: str

    @property
    def key(self) -> str:
        return f"loan:{self.loan_id}:due-soon:{self.number}"


@dataclass(frozen=True, kw_only=True)
class LoanOverdue(Event):
    """A loan went overdue: the end of day could not collect an instalment in full on
    its due date (told once per instalment)."""

    name: ClassVar[str] = "lending.loan_overdue"
    loan_id: int
    customer_id: int
    number: int
    due_date: date
    unpaid: int
    account_tail: str

    @property
    def key(self) -> str:
        return f"loan:{self.loan_id}:overdue:{self.number}"


@dataclass(frozen=True, kw_only=True)
class CreditOffered(Event):
    """The bank made a customer an offer: to their application (at once, or after a
    credit officer's review), or unasked, a standing pre-approved offer."""

    name: ClassVar[str] = "lending.credit_offered"
    offer_id: int
    customer_id: int
    product: str
    """The product's Chinese name."""
    amount: int
    term_months: int
    apr_bps: int
    expires_at: datetime
    preapproved: bool

    @property
    def key(self) -> str:
        return f"offer:{self.offer_id}:made"


@dataclass(frozen=True, kw_only=True)
class LoanReducedByRefund(Event):
    """A merchant's refund of an order paid by 逸贷 repaid the loan early, in part or
    whole: what is left of it, and its next instalment under the recomputed schedule."""

    name: ClassVar[str] = "lending.loan_reduced_by_refund"
    loan_id: int
    customer_id: int
    refund_id: int
    merchant: str
    repaid: int
    """Principal the refund repaid."""
    principal_left: int
    instalments_left: int
    next_due: date | None
    next_amount: int
    """The next instalment as recomputed (0 when the loan is repaid)."""

    @property
    def key(self) -> str:
        return f"loan:{self.loan_id}:refund:{self.refund_id}"
