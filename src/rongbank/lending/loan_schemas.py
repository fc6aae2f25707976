"""Bodies of the customer's loan API (``/me/loans``). Amounts are decimal strings of
yuan ("1000.00"); rates are basis points and, for people, percentages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictStr

from rongbank.inputs import Input as Strict
from rongbank.lending.loans import Loan, ScheduledInstalment
from rongbank.lending.repayment import Repayment
from rongbank.lending.rules import Split
from rongbank.money import format_amount

Amount = Annotated[StrictStr, Field(max_length=40, examples=["1000.00"])]
ClientId = Annotated[str, Field(min_length=1, max_length=64)]
ChallengeId = Annotated[str, Field(min_length=1, max_length=64)]
Answer = Annotated[str, Field(min_length=1, max_length=512)]
Tool = Literal["sms", "grid_card", "token", "ukey"]


def money(minor: int) -> str:
    return format_amount(minor, scale=2)


class LoanOut(BaseModel):
    id: int
    product_code: str
    account: str = Field(description="The e-account lent into and repaid from, last four digits.")
    principal: str
    principal_outstanding: str
    term_months: int
    method: Literal["equal_instalment", "equal_principal", "interest_first", "bullet"]
    annual_rate_bps: int = Field(description="The contract rate, basis points a year.")
    apr_bps: int = Field(
        description="年化利率: the annualised rate by IRR over the real cash flows, fees "
        "included (PBoC announcement 2021 No. 3), basis points."
    )
    penalty_rate_bps: int = Field(description="The rate on overdue principal, a year.")
    upfront_fee: str
    start_date: date
    status: Literal["active", "repaid", "written_off"]
    days_past_due: int
    disbursed_at: datetime

    @classmethod
    def of(cls, loan: Loan) -> LoanOut:
        return cls(
            id=loan.id,
            product_code=loan.product_code,
            account=loan.account_number[-4:],
            principal=money(loan.principal),
            principal_outstanding=money(loan.principal_outstanding),
            term_months=loan.term_months,
            method=loan.method,
            annual_rate_bps=loan.annual_rate_bps,
            apr_bps=loan.apr_bps,
            penalty_rate_bps=loan.penalty_rate_bps,
            upfront_fee=money(loan.upfront_fee),
            start_date=loan.start_date,
            status=loan.status,
            days_past_due=loan.days_past_due,
            disbursed_at=loan.disbursed_at,
        )


class InstalmentOut(BaseModel):
    number: int
    due_date: date
    principal: str
    interest: str
    fee: str
    penalty: str = Field(description="Penalty interest accrued on it while overdue.")
    total: str
    paid: str
    paid_at: datetime | None

    @classmethod
    def of(cls, i: ScheduledInstalment) -> InstalmentOut:
        return cls(
            number=i.number,
            due_date=i.due_date,
            principal=money(i.principal),
            interest=money(i.interest),
            fee=money(i.fee),
            penalty=money(i.penalty_accrued),
            total=money(i.total + i.penalty_accrued),
            paid=money(i.principal_paid + i.interest_paid + i.fee_paid + i.penalty_paid),
            paid_at=i.paid_at,
        )


class SplitOut(BaseModel):
    principal: str
    interest: str
    fee: str
    penalty: str
    total: str

    @classmethod
    def of(cls, split: Split) -> SplitOut:
        return cls(
            principal=money(split.principal),
            interest=money(split.interest),
            fee=money(split.fee),
            penalty=money(split.penalty),
            total=money(split.total),
        )


class RepaymentOut(BaseModel):
    id: int
    loan_id: int
    kind: Literal["repay", "auto_debit", "early_full", "early_partial"]
    client_id: str
    paid: SplitOut
    value_date: date
    created_at: datetime

    @classmethod
    def of(cls, r: Repayment) -> RepaymentOut:
        return cls(
            id=r.id,
            loan_id=r.loan_id,
            kind=r.kind,
            client_id=r.client_id,
            paid=SplitOut.of(Split(r.principal, r.interest, r.fee, r.penalty)),
            value_date=r.value_date,
            created_at=r.created_at,
        )


class LoanDetailOut(BaseModel):
    loan: LoanOut
    due_now: SplitOut = Field(description="What is due today, arrears and penalty included.")
    schedule: list[InstalmentOut]
    repayments: list[RepaymentOut]


class RepayIn(Strict):
    client_id: ClientId
    amount: Amount | None = Field(
        default=None, description="Part of what is due; omitted: all that is due now."
    )
    challenge_id: ChallengeId | None = None
    response: Answer | None = None
    tool: Tool | None = None


class EarlyRepayIn(Strict):
    client_id: ClientId
    principal: Amount | None = Field(
        default=None,
        description="Principal to repay early; omitted: all of it (the loan is closed).",
    )
    challenge_id: ChallengeId | None = None
    response: Answer | None = None
    tool: Tool | None = None
