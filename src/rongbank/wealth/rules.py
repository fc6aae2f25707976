"""Pure rules of wealth products: valid terms, what a purchase may be. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rongbank.money import format_amount
from rongbank.wealth.errors import (
    AmountBelowMinimum,
    AmountNotInSteps,
    ProductInvalid,
    ProductNotOnSale,
)

CNY_SCALE = 2
RISK_LEVELS = {1: "PR1 谨慎型", 2: "PR2 稳健型", 3: "PR3 平衡型", 4: "PR4 进取型", 5: "PR5 激进型"}
"""The five product risk levels of the banking regulator's wealth rules
(《商业银行理财业务监督管理办法》, 2018), lowest first."""


@dataclass(frozen=True, slots=True)
class Terms:
    """What a product offers; amounts in fen."""

    risk_level: int
    yield_bps: int
    """Expected annualised yield in basis points (350 = 3.50%): an expectation the
    bank shows, never a promise."""
    min_amount: int
    step_amount: int
    sale_start: datetime
    sale_end: datetime


def check_terms(terms: Terms) -> None:
    if terms.risk_level not in RISK_LEVELS:
        raise ProductInvalid(field="risk_level", allowed=sorted(RISK_LEVELS))
    if not 0 <= terms.yield_bps <= 10_000:
        raise ProductInvalid(field="yield_bps")
    if terms.min_amount <= 0 or terms.step_amount <= 0:
        raise ProductInvalid(field="min_amount")
    if terms.sale_end <= terms.sale_start:
        raise ProductInvalid(field="sale_end")


def check_purchase(terms: Terms, amount: int, now: datetime) -> None:
    """A purchase is in the sale window, at least the minimum, and the minimum plus
    a whole number of steps."""
    if not terms.sale_start <= now < terms.sale_end:
        raise ProductNotOnSale(
            sale_start=terms.sale_start.isoformat(), sale_end=terms.sale_end.isoformat()
        )
    if amount < terms.min_amount:
        raise AmountBelowMinimum(minimum=format_amount(terms.min_amount, scale=CNY_SCALE))
    if (amount - terms.min_amount) % terms.step_amount:
        raise AmountNotInSteps(
            minimum=format_amount(terms.min_amount, scale=CNY_SCALE),
            step=format_amount(terms.step_amount, scale=CNY_SCALE),
        )


def format_yield(bps: int) -> str:
    """350 -> "3.50%"."""
    return f"{format_amount(bps, scale=2)}%"
