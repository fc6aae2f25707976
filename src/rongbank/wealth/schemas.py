"""Bodies of the wealth API. Amounts are decimal strings of yuan ("1000.00")."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr

from rongbank.inputs import Day, Moment, Name
from rongbank.inputs import Input as Strict
from rongbank.money import format_amount
from rongbank.wealth import rules
from rongbank.wealth.service import Holding, Payout, Product, WealthService
from rongbank.wealth.suitability import Assessment

Amount = Annotated[StrictStr, Field(max_length=40, examples=["10000.00"])]
AccountNumber = Annotated[str, Field(min_length=1, max_length=40)]
ClientId = Annotated[str, Field(min_length=1, max_length=64)]


def money(minor: int) -> str:
    return format_amount(minor, scale=rules.CNY_SCALE)


class ProductIn(Strict):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{4,20}$", examples=["GYLC2026A"])]
    name: Annotated[Name, Field(max_length=100)]
    risk_level: Annotated[StrictInt, Field(ge=1, le=5, description="PR1 (lowest) to PR5.")]
    yield_bps: Annotated[
        StrictInt, Field(ge=0, le=10_000, description="Expected annualised yield, basis points.")
    ]
    min_amount: Amount
    step_amount: Amount
    sale_start: Moment
    sale_end: Moment
    maturity_date: Day | None = Field(
        default=None,
        description="Fixed-term products: the Beijing date they mature and pay out; "
        "omitted: open-ended (redeemed when the holder wishes).",
    )
    cutoff: time | None = Field(
        default=None,
        examples=["15:00"],
        description="Beijing time before which a purchase or redemption on a business day "
        "counts for that day (later: the next business day); omitted: the bank's cut-off.",
    )


class ProductOut(BaseModel):
    code: str
    name: str
    risk_level: int
    risk_label: str
    yield_bps: int
    expected_yield: str = Field(description='"3.50%": an expectation, not a promise.')
    min_amount: str
    step_amount: str
    sale_start: datetime
    sale_end: datetime
    kind: Literal["open", "fixed"] = Field(description="Open-ended or fixed-term.")
    maturity_date: date | None
    cutoff: str = Field(
        examples=["15:00"],
        description="Beijing time: purchases and redemptions before it on a business day "
        "count for that day, later ones (and any on a weekend or holiday) for the next "
        "business day.",
    )
    value_date: date = Field(
        description="起息日 of a purchase made now: the Beijing date it would earn from."
    )

    @classmethod
    def of(cls, product: Product, wealth: WealthService) -> ProductOut:
        return cls(
            code=product.code,
            name=product.name,
            risk_level=product.risk_level,
            risk_label=rules.RISK_LEVELS[product.risk_level],
            yield_bps=product.yield_bps,
            expected_yield=rules.format_yield(product.yield_bps),
            min_amount=money(product.min_amount),
            step_amount=money(product.step_amount),
            sale_start=product.sale_start,
            sale_end=product.sale_end,
            kind="fixed" if product.terms.fixed_term else "open",
            maturity_date=product.maturity_date,
            cutoff=f"{wealth.cutoff_of(product):%H:%M}",
            value_date=wealth.value_date(product),
        )


class PurchaseIn(Strict):
    client_id: ClientId
    product_code: Annotated[str, Field(min_length=1, max_length=20)]
    account: AccountNumber
    amount: Amount
    challenge_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    response: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    tool: Literal["sms", "grid_card", "token", "ukey"] | None = None


class HoldingOut(BaseModel):
    id: int
    product_code: str
    product_name: str
    account: str = Field(description="The paying account, last four digits.")
    amount: str
    client_id: str
    created_at: datetime
    value_date: date = Field(description="起息日: yield accrues from this Beijing date.")
    maturity_date: date | None
    redeemed: str = Field(
        description="Principal redeemed so far: paid back, or due on its value date."
    )
    left: str = Field(description="Principal still held.")
    status: Literal["held", "redeemed", "matured"] = Field(
        description="redeemed: all of it (see the payouts for when each is paid)."
    )

    @classmethod
    def of(cls, holding: Holding) -> HoldingOut:
        return cls(
            id=holding.id,
            product_code=holding.product_code,
            product_name=holding.product_name,
            account=holding.account_number[-4:],
            amount=money(holding.amount),
            client_id=holding.client_id,
            created_at=holding.created_at,
            value_date=holding.value_date,
            maturity_date=holding.maturity_date,
            redeemed=money(holding.redeemed),
            left=money(holding.left),
            status=holding.status,
        )


class RedemptionIn(Strict):
    client_id: ClientId
    amount: Amount | None = Field(
        default=None, description="Principal to redeem; omitted: all that is left."
    )


class PayoutOut(BaseModel):
    id: int
    holding_id: int
    kind: Literal["redemption", "maturity"]
    client_id: str
    principal: str
    yield_amount: str = Field(description="Yield: ACT/365, rounded down to the fen.")
    total: str
    days: int = Field(description="Days the yield was earned over: value date to value date.")
    value_date: date = Field(
        description="The business day it counts for (Beijing): the yield runs up to it, "
        "and the money is paid on it (a redemption after the cut-off, or on a weekend or "
        "holiday, counts for the next business day)."
    )
    status: Literal["pending", "paid"] = Field(
        description="pending: waiting for its value date; paid: in the account."
    )
    paid_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, payout: Payout) -> PayoutOut:
        return cls(
            id=payout.id,
            holding_id=payout.holding_id,
            kind=payout.kind,
            client_id=payout.client_id,
            principal=money(payout.principal),
            yield_amount=money(payout.yield_amount),
            total=money(payout.principal + payout.yield_amount),
            days=payout.days,
            value_date=payout.value_date,
            status="paid" if payout.paid else "pending",
            paid_at=payout.paid_at,
            created_at=payout.created_at,
        )


class HoldingDetailOut(HoldingOut):
    payouts: list[PayoutOut]


class RedemptionOut(BaseModel):
    payout: PayoutOut
    holding: HoldingOut


# -- risk-tolerance assessment -------------------------------------------------------------


class OptionOut(BaseModel):
    id: str
    zh: str
    en: str


class QuestionOut(BaseModel):
    id: str
    zh: str
    en: str
    options: list[OptionOut]


class QuestionnaireOut(BaseModel):
    version: str
    valid_months: int = Field(description="How long an assessment stays valid.")
    questions: list[QuestionOut]

    @classmethod
    def current(cls) -> QuestionnaireOut:
        return cls(
            version=rules.QUESTIONNAIRE_VERSION,
            valid_months=rules.ASSESSMENT_VALID_MONTHS,
            questions=[
                QuestionOut(
                    id=q.id,
                    zh=q.zh,
                    en=q.en,
                    options=[OptionOut(id=o.id, zh=o.zh, en=o.en) for o in q.options],
                )
                for q in rules.QUESTIONNAIRE
            ],
        )


class AssessmentIn(Strict):
    answers: Annotated[
        dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=10)]],
        Field(max_length=50, description="Question id -> option id, one for every question."),
    ]


class AssessmentOut(BaseModel):
    id: int
    questionnaire: str
    score: int
    level: int = Field(description="1 (C1) to 5 (C5).")
    level_label: str
    highest_product_level: str = Field(description="The riskiest product level you may buy.")
    assessed_at: datetime
    valid_until: datetime
    valid: bool = Field(description="Still valid now (false: assess again before buying).")

    @classmethod
    def of(cls, assessment: Assessment, now: datetime) -> AssessmentOut:
        return cls(
            id=assessment.id,
            questionnaire=assessment.questionnaire,
            score=assessment.score,
            level=assessment.level,
            level_label=rules.CUSTOMER_LEVELS[assessment.level],
            highest_product_level=rules.RISK_LEVELS[assessment.level],
            assessed_at=assessment.assessed_at,
            valid_until=assessment.valid_until,
            valid=now < assessment.valid_until,
        )
