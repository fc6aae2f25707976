"""Bodies of the e-Invest API. Prices and quantities are decimal strings: a price in
the product's quote currency per unit ("500.40"), a quantity in its unit ("10.000")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr

from rongbank.inputs import Input as Strict
from rongbank.invest.positions import Position
from rongbank.invest.products import Product
from rongbank.invest.quotes import Quote
from rongbank.money import format_amount

Decimal = Annotated[StrictStr, Field(max_length=40, examples=["10.000"])]
ProductCode = Annotated[str, Field(pattern=r"^[A-Z_]{2,20}$", examples=["AU_CNY"])]
ClientId = Annotated[str, Field(min_length=1, max_length=64)]
Side = Literal["long", "short"]


class InvestProductOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    kind: str
    unit: str
    quote_currency: str
    lot: str
    step: str
    risk_level: int
    short: bool = Field(description="Whether it may be sold first (on margin).")
    margin_rate: str = Field(examples=["10.00%"])
    reduce_only: bool
    no_new_positions: bool
    price_min: str
    price_max: str

    @classmethod
    def of(cls, p: Product) -> InvestProductOut:
        return cls(
            code=p.code,
            name_zh=p.name_zh,
            name_en=p.name_en,
            kind=p.kind,
            unit=p.unit,
            quote_currency=p.quote_currency,
            lot=p.quantity_text(p.lot),
            step=p.quantity_text(p.step),
            risk_level=p.risk_level,
            short=p.short,
            margin_rate=f"{p.margin_bps / 100:.2f}%",
            reduce_only=p.reduce_only,
            no_new_positions=p.no_new_positions,
            price_min=p.price_text(p.price_min),
            price_max=p.price_text(p.price_max),
        )


class InvestBoardLine(BaseModel):
    product: str
    bid: str | None
    ask: str | None
    status: Literal["open", "closed", "halted"]
    contract: str | None = None


class InvestQuoteIn(Strict):
    product: ProductCode


class InvestQuoteOut(BaseModel):
    id: str = Field(description="Name it in a trade before ``expires_at``.")
    product: str
    contract: date | None
    bid: str = Field(description="What the bank pays: you sell at it.")
    ask: str = Field(description="What the bank asks: you buy at it.")
    issued_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, q: Quote, product: Product) -> InvestQuoteOut:
        return cls(
            id=q.id,
            product=q.product,
            contract=q.contract,
            bid=product.price_text(q.bid),
            ask=product.price_text(q.ask),
            issued_at=q.issued_at,
            expires_at=q.expires_at,
        )


class InvestTradeIn(Strict):
    client_id: ClientId
    quote_id: Annotated[str, Field(min_length=1, max_length=64)]
    side: Side = Field(description="long: buy first; short: sell first (on margin).")
    action: Literal["open", "close"]
    quantity: Decimal
    account: Annotated[str, Field(min_length=1, max_length=40)]
    challenge_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    response: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    tool: Literal["sms", "grid_card", "token", "ukey"] | None = None


def _money(minor: int) -> str:
    return format_amount(minor, scale=2)


class InvestTradeOut(BaseModel):
    id: int
    product: str
    side: str
    action: str
    quantity: str
    price: str
    cash: str
    margin_in: str
    margin_out: str
    pnl: str
    reason: Literal["quote", "order", "forced"]
    why: str
    order_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, t: dict[str, Any], product: Product) -> InvestTradeOut:
        return cls(
            id=t["id"],
            product=t["product"],
            side=t["side"],
            action=t["action"],
            quantity=product.quantity_text(t["quantity"]),
            price=product.price_text(t["price"]),
            cash=_money(t["cash"]),
            margin_in=_money(t["margin_in"]),
            margin_out=_money(t["margin_out"]),
            pnl=_money(t["pnl"]),
            reason=t["reason"],
            why=t["why"],
            order_id=t["order_id"],
            created_at=t["created_at"],
        )


class InvestPositionOut(BaseModel):
    product: str
    side: str
    quantity: str
    average_price: str
    mark: str | None = Field(description="The price it would close at now (bid or ask).")
    value: str | None
    pnl: str | None = Field(description="Unrealised result at the mark.")
    margin: str

    @classmethod
    def of(cls, p: Position, product: Product, mark: int | None) -> InvestPositionOut:
        from rongbank.invest.amounts import notional

        scale = product.quantity_scale
        average = p.cost * 10**scale // p.quantity if p.quantity else 0
        value = notional(mark, p.quantity, scale, pays=p.side == "short") if mark else None
        pnl = None if value is None else (value - p.cost if p.side == "long" else p.cost - value)
        return cls(
            product=p.product,
            side=p.side,
            quantity=product.quantity_text(p.quantity),
            average_price=product.price_text(average),
            mark=product.price_text(mark) if mark else None,
            value=_money(value) if value is not None else None,
            pnl=_money(pnl) if pnl is not None else None,
            margin=_money(p.margin),
        )


class InvestOrderIn(Strict):
    client_id: ClientId
    product: ProductCode
    kind: Literal["limit", "stop", "oco", "if_done", "one_to_many", "circular", "add_on"] = Field(
        description="limit: open or close at a price or better; stop: close when the price "
        "turns against you; oco (two-way): a limit and a stop, one cancels the other; "
        "if_done: an opening limit (``entry``), then a closing limit or stop (``exit``); "
        "one_to_many: an opening limit, then a two-way close (``limit``, ``stop``); "
        "circular: buy low (``entry``), sell high (``exit``), again until it expires (a "
        "short: the reverse); add_on: a limit adding to a position you hold."
    )
    side: Side
    action: Literal["open", "close"] = "open"
    quantity: Decimal
    price: Decimal | None = None
    limit: Decimal | None = None
    stop: Decimal | None = None
    entry: Decimal | None = None
    exit: Decimal | None = None
    exit_kind: Literal["limit", "stop"] = "limit"
    valid_hours: Annotated[StrictInt, Field(ge=24, le=120)] = 24
    account: Annotated[str, Field(min_length=1, max_length=40)]
    challenge_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    response: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    tool: Literal["sms", "grid_card", "token", "ukey"] | None = None


class InvestOrderOut(BaseModel):
    id: int
    product: str
    kind: str
    side: str
    spec: dict[str, Any]
    reserve: str
    status: str
    fills: int
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, o: dict[str, Any], product: Product) -> InvestOrderOut:
        spec = {
            k: (product.price_text(v) if k in ("price", "limit", "stop", "entry", "exit") else v)
            for k, v in o["spec"].items()
        }
        spec["quantity"] = product.quantity_text(o["spec"]["quantity"])
        return cls(
            id=o["id"],
            product=o["product"],
            kind=o["kind"],
            side=o["side"],
            spec=spec,
            reserve=_money(o["reserve"]),
            status=o["status"],
            fills=o["fills"],
            created_at=o["created_at"],
            expires_at=o["expires_at"],
        )


class InvestCandle(BaseModel):
    start: datetime
    open: str
    high: str
    low: str
    close: str
