"""Bodies of the credit application, offer and review API. Amounts are decimal
strings of yuan ("50000.00"); rates and the APR in basis points and as "9.80%"."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr

from rongbank.inputs import Input as Strict
from rongbank.lending.applications import Application, ApplicationForm, Offer
from rongbank.lending.decision import CNY_SCALE
from rongbank.lending.products import Quote
from rongbank.lending.reviews import Review, ReviewDetail
from rongbank.money import format_amount, parse_amount, parse_positive_amount

Amount = Annotated[StrictStr, Field(max_length=40, examples=["50000.00"])]
ClientId = Annotated[str, Field(min_length=1, max_length=64)]
Employment = Literal["permanent", "self_employed", "part_time", "other"]
Housing = Literal["owner", "rent", "parents", "employer", "other"]
Purpose = Literal["consumption", "education", "travel", "home", "car", "medical", "other"]


def money(minor: int) -> str:
    return format_amount(minor, scale=CNY_SCALE)


def yuan(text: str) -> int:
    return parse_amount(text, scale=CNY_SCALE, currency="CNY")


def positive_yuan(text: str) -> int:
    return parse_positive_amount(text, scale=CNY_SCALE, currency="CNY")


def percent(bps: int) -> str:
    return f"{bps / 100:.2f}%"


class ApplicationIn(Strict):
    client_id: ClientId = Field(description="Your key for this application: a retry answers it.")
    product: Annotated[str, Field(min_length=1, max_length=64, examples=["personal_credit"])]
    amount: Amount
    term_months: Annotated[StrictInt, Field(ge=1, le=360, examples=[12])]
    method: Annotated[str, Field(min_length=1, max_length=32, examples=["equal_instalment"])]
    purpose: Purpose
    monthly_income: Amount = Field(description="After tax, yuan a month.")
    monthly_expenses: Amount = Field(description="Rent, living and other loans, yuan a month.")
    employment: Employment
    years_with_employer: Annotated[StrictInt, Field(ge=0, le=60)]
    housing: Housing
    assets: Amount = Field(description="Savings, property and other assets, yuan.")
    debts: Amount = Field(description="What you owe other lenders now, yuan.")
    dependants: Annotated[StrictInt, Field(ge=0, le=20)] = 0
    price: Amount | None = Field(
        default=None, description="The price of what the loan buys, when it buys one thing."
    )

    def form(self) -> ApplicationForm:
        return ApplicationForm(
            purpose=self.purpose,
            monthly_income=yuan(self.monthly_income),
            monthly_expenses=yuan(self.monthly_expenses),
            employment=self.employment,
            years_with_employer=self.years_with_employer,
            housing=self.housing,
            assets=yuan(self.assets),
            debts=yuan(self.debts),
            dependants=self.dependants,
            price=positive_yuan(self.price) if self.price is not None else None,
        )


class PlannedInstalmentOut(BaseModel):
    """One instalment of an offer as it would run if accepted today."""

    number: int
    due_date: date
    principal: str
    interest: str
    fee: str
    total: str


class OfferOut(BaseModel):
    id: int
    application_id: int
    product: str
    amount: str
    term_months: int
    method: str
    rate_bps: int
    rate: str = Field(description="The contract's annual interest rate.")
    apr_bps: int
    apr: str = Field(
        description="年化利率: the annualised rate by IRR over the real cash flows, fees "
        "included (PBoC announcement 2021 No. 3)."
    )
    upfront_fee: str
    total_interest: str
    total_fees: str
    total_repaid: str
    status: str
    expires_at: datetime
    loan_id: int | None
    schedule: list[PlannedInstalmentOut] = Field(description="As it runs if accepted today.")

    @classmethod
    def of(cls, offer: Offer, quote: Quote) -> OfferOut:
        return cls(
            id=offer.id,
            application_id=offer.application_id,
            product=offer.product,
            amount=money(offer.amount),
            term_months=offer.term_months,
            method=offer.method,
            rate_bps=offer.rate_bps,
            rate=percent(offer.rate_bps),
            apr_bps=offer.apr_bps,
            apr=percent(offer.apr_bps),
            upfront_fee=money(quote.upfront_fee),
            total_interest=money(quote.total_interest),
            total_fees=money(quote.total_fees),
            total_repaid=money(quote.total_repayment),
            status=offer.status,
            expires_at=offer.expires_at,
            loan_id=offer.loan_id,
            schedule=[
                PlannedInstalmentOut(
                    number=i.number,
                    due_date=i.due_date,
                    principal=money(i.principal),
                    interest=money(i.interest),
                    fee=money(i.fee),
                    total=money(i.total),
                )
                for i in quote.schedule
            ],
        )


class ApplicationOut(BaseModel):
    id: int
    product: str
    purpose: str
    amount: str
    term_months: int
    method: str
    status: Literal["declined", "review", "offered", "accepted", "expired"]
    grade: str | None
    reasons: list[str] = Field(
        description="Why it was declined or referred (codes), and for a decline on the "
        "score the main factors (factor:<feature>)."
    )
    created_at: datetime
    offer: OfferOut | None

    @classmethod
    def of(cls, application: Application, offer: OfferOut | None) -> ApplicationOut:
        return cls(
            id=application.id,
            product=application.product,
            purpose=application.purpose,
            amount=money(application.amount),
            term_months=application.term_months,
            method=application.method,
            status=application.status,
            grade=application.grade if application.status != "declined" else None,
            reasons=list(application.reasons),
            created_at=application.created_at,
            offer=offer,
        )


class AcceptIn(Strict):
    account: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        default=None, description="The e-account to pay the loan into; default: your first."
    )
    challenge_id: Annotated[str, Field(max_length=64)] | None = None
    response: Annotated[str, Field(max_length=64)] | None = None


class ReviewOut(BaseModel):
    application_id: int
    customer_id: int
    customer_name: str
    amount: str
    reasons: list[str]
    needs_second: bool
    status: str
    first_by: int | None
    second_by: int | None
    note: str
    created_at: datetime

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        return cls(
            application_id=review.application_id,
            customer_id=review.customer_id,
            customer_name=review.customer_name,
            amount=money(review.amount),
            reasons=list(review.reasons),
            needs_second=review.needs_second,
            status=review.status,
            first_by=review.first_by,
            second_by=review.second_by,
            note=review.note,
            created_at=review.created_at,
        )


class StageOut(BaseModel):
    stage: str
    outcome: str
    reasons: list[str]
    outputs: dict[str, object]


class ReviewDetailOut(ReviewOut):
    product: str
    term_months: int
    method: str
    purpose: str
    form: dict[str, object]
    points: int | None
    grade: str | None
    stages: list[StageOut]

    @classmethod
    def of_detail(cls, detail: ReviewDetail) -> ReviewDetailOut:
        a = detail.application
        return cls(
            **ReviewOut.of(detail.review).model_dump(),
            product=a.product,
            term_months=a.term_months,
            method=a.method,
            purpose=a.purpose,
            form=detail.form,
            points=a.points,
            grade=a.grade,
            stages=[
                StageOut(stage=s.name, outcome=s.outcome, reasons=s.reasons, outputs=s.outputs)
                for s in detail.stages
            ],
        )


class ReviewIn(Strict):
    note: Annotated[str, Field(max_length=500)] = ""


class ReviewDecisionOut(BaseModel):
    review: ReviewOut
    offer_id: int | None
