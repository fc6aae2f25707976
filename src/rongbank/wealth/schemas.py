"""Bodies of the wealth API. Amounts are decimal strings of yuan ("1000.00")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from rongbank.money import format_amount
from rongbank.wealth import rules
from rongbank.wealth.service import Holding, Product

Amount = Annotated[StrictStr, Field(max_length=40, examples=["10000.00"])]
AccountNumber = Annotated[str, Field(min_length=1, max_length=40)]


def money(minor: int) -> str:
    return format_amount(minor, scale=rules.CNY_SCALE)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductIn(Strict):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{4,20}$", examples=["GYLC2026A"])]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    risk_level: Annotated[int, Field(ge=1, le=5, description="PR1 (lowest) to PR5.")]
    yield_bps: Annotated[
        int, Field(ge=0, le=10_000, description="Expected annualised yield, basis points.")
    ]
    min_amount: Amount
    step_amount: Amount
    sale_start: datetime
    sale_end: datetime


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

    @classmethod
    def of(cls, product: Product) -> ProductOut:
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
        )


class PurchaseIn(Strict):
    client_id: Annotated[str, Field(min_length=1, max_length=64)]
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
        )
