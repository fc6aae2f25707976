"""The e-Invest products (``products.toml``), read and checked once.

Amounts are integers: a price is in minor units of the quote currency per ``unit``
(fen per gram), a quantity in minor units of the product's ledger currency (milligrams
of gold at scale 3). The file's decimals are parsed exactly (``money.parse_amount``),
so a lot that does not fit the ledger currency's scale is refused at start-up.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rongbank.clock import BUSINESS_TIME_ZONE as BEIJING
from rongbank.errors import DomainError
from rongbank.invest.errors import MarketClosed, ProductFileInvalid, ProductNotFound
from rongbank.money import format_amount, parse_amount

PRICE_SCALE = 2
"""Prices in both quote currencies (CNY, USD) have two decimals."""

HOLDING_SCALES = {
    "AU_G": 3, "AG_G": 3, "PT_G": 3, "PD_G": 3, "AU_OZ": 2, "AG_OZ": 2, "PT_OZ": 2,
    "PD_OZ": 2, "WTI_BBL": 2, "BRENT_BBL": 2, "CU_T": 3, "AL_T": 3, "ZN_T": 3,
    "SOY_BU": 2, "CORN_BU": 2, "WHEAT_BU": 2, "COFFEE_KG": 2, "SUGAR_KG": 2,
}  # fmt: skip
"""The commodity currencies of the ledger (0001 and 0044) and their scales: the file is
checked against them without a database."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeriesSource(_Strict):
    kind: Literal["series"]
    dataset: str
    column: str
    multiplier: float = Field(gt=0)
    seconds_per_observation: int = Field(ge=1)
    vol_bps: int = Field(ge=0, le=5000)
    offset: int = Field(default=0, ge=0)
    """The observation the epoch plays (so the demo starts in recent history)."""


class WalkSource(_Strict):
    kind: Literal["walk"]
    anchor: float = Field(gt=0)
    seconds_per_observation: int = Field(ge=1)
    vol_bps: int = Field(ge=0, le=5000)
    offset: int = Field(default=0, ge=0)


Source = Annotated[SeriesSource | WalkSource, Field(discriminator="kind")]


class _ProductIn(_Strict):
    name_zh: str
    name_en: str
    kind: Literal["precious", "oil", "base", "agricultural"]
    holding: str
    quote_currency: Literal["CNY", "USD"]
    unit: str
    lot: str
    step: str
    spread: str
    max_move: str
    risk_level: int = Field(ge=1, le=5)
    short: bool
    margin_bps: int = Field(ge=100, le=10_000)
    price_min: str
    price_max: str
    reduce_only: bool = False
    no_new_positions: bool = False
    roll_days: int = Field(default=0, ge=0, le=30)
    contango_bps_per_month: int = Field(default=0, ge=-1000, le=1000)
    contracts: list[date] = []
    days: list[int] | None = None
    open: time | None = None
    close: time | None = None
    source: Source


class _Defaults(_Strict):
    epoch: datetime
    seed: int
    quote_ttl_seconds: int = Field(ge=1, le=60)
    days: list[int]
    open: time
    close: time


class _File(_Strict):
    defaults: _Defaults
    products: dict[str, _ProductIn]


@dataclass(frozen=True, slots=True)
class Hours:
    """Trading sessions in Beijing time: each of ``days`` (ISO weekdays) opens at
    ``open`` and closes at ``close``, the next day when ``close <= open``."""

    days: tuple[int, ...]
    open: time
    close: time

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(BEIJING)
        clock = local.time()
        overnight = self.close <= self.open
        if local.isoweekday() in self.days and clock >= self.open:
            return overnight or clock < self.close
        yesterday = (local - timedelta(days=1)).isoweekday()
        return overnight and yesterday in self.days and clock < self.close


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    name_zh: str
    name_en: str
    kind: str
    holding: str
    """The ledger currency the customer's quantity is kept in."""
    quantity_scale: int
    quote_currency: str
    unit: str
    lot: int
    step: int
    spread: int
    max_move: int
    risk_level: int
    short: bool
    margin_bps: int
    price_min: int
    price_max: int
    reduce_only: bool
    no_new_positions: bool
    roll_days: int
    contango_bps_per_month: int
    contracts: tuple[date, ...]
    hours: Hours
    source: SeriesSource | WalkSource

    def check_open(self, at: datetime) -> None:
        if not self.hours.is_open(at):
            raise MarketClosed(
                product=self.code,
                days=list(self.hours.days),
                open=self.hours.open.isoformat("minutes"),
                close=self.hours.close.isoformat("minutes"),
            )

    def in_bounds(self, price: int) -> bool:
        return self.price_min <= price <= self.price_max

    def contract(self, at: datetime) -> date | None:
        """The contract month quoted at ``at``: the first whose expiry is more than
        ``roll_days`` away (positions roll to the next that many days before expiry)."""
        day = at.astimezone(BEIJING).date()
        for expiry in self.contracts:
            if day < expiry - timedelta(days=self.roll_days):
                return expiry
        return None

    def quantity_text(self, quantity: int) -> str:
        return format_amount(quantity, scale=self.quantity_scale)

    def price_text(self, price: int) -> str:
        return format_amount(price, scale=PRICE_SCALE)


@dataclass(frozen=True, slots=True)
class Catalogue:
    products: dict[str, Product]
    epoch: datetime
    seed: int
    quote_ttl: timedelta

    def product(self, code: str) -> Product:
        found = self.products.get(code)
        if found is None:
            raise ProductNotFound(product=code)
        return found


def _minor(text: str, scale: int, where: str, *, positive: bool = True) -> int:
    try:
        value = parse_amount(text, scale=scale)
    except DomainError as exc:
        raise ProductFileInvalid(f"{where}: {text!r}: {exc.message}") from None
    if positive and value <= 0:
        raise ProductFileInvalid(f"{where}: {text!r} must be above zero")
    return value


def _product(code: str, raw: _ProductIn, defaults: _Defaults) -> Product:
    where = f"[products.{code}]"
    scale = HOLDING_SCALES.get(raw.holding)
    if scale is None:
        raise ProductFileInvalid(f"{where} holding: {raw.holding} is no commodity currency")
    lot = _minor(raw.lot, scale, f"{where} lot")
    step = _minor(raw.step, scale, f"{where} step")
    if lot % step:
        raise ProductFileInvalid(f"{where}: the lot is not a whole number of steps")
    price_min = _minor(raw.price_min, PRICE_SCALE, f"{where} price_min")
    price_max = _minor(raw.price_max, PRICE_SCALE, f"{where} price_max")
    if price_max <= price_min:
        raise ProductFileInvalid(f"{where}: price_max must be above price_min")
    if raw.roll_days and not raw.contracts:
        raise ProductFileInvalid(f"{where}: roll_days without contracts")
    if list(raw.contracts) != sorted(set(raw.contracts)):
        raise ProductFileInvalid(f"{where}: contracts must be in order, each once")
    return Product(
        code=code,
        name_zh=raw.name_zh,
        name_en=raw.name_en,
        kind=raw.kind,
        holding=raw.holding,
        quantity_scale=scale,
        quote_currency=raw.quote_currency,
        unit=raw.unit,
        lot=lot,
        step=step,
        spread=_minor(raw.spread, PRICE_SCALE, f"{where} spread"),
        max_move=_minor(raw.max_move, PRICE_SCALE, f"{where} max_move", positive=False),
        risk_level=raw.risk_level,
        short=raw.short,
        margin_bps=raw.margin_bps,
        price_min=price_min,
        price_max=price_max,
        reduce_only=raw.reduce_only,
        no_new_positions=raw.no_new_positions,
        roll_days=raw.roll_days,
        contango_bps_per_month=raw.contango_bps_per_month,
        contracts=tuple(raw.contracts),
        hours=Hours(
            tuple(raw.days or defaults.days),
            raw.open or defaults.open,
            raw.close or defaults.close,
        ),
        source=raw.source,
    )


def parse_catalogue(text: str, *, name: str = "products.toml") -> Catalogue:
    try:
        parsed = _File.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ProductFileInvalid(f"{name}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        raise ProductFileInvalid(f"{name}: {exc}") from None
    if parsed.defaults.epoch.tzinfo is None:
        raise ProductFileInvalid(f"{name}: the epoch needs a time zone")
    return Catalogue(
        products={c: _product(c, p, parsed.defaults) for c, p in parsed.products.items()},
        epoch=parsed.defaults.epoch.astimezone(UTC),
        seed=parsed.defaults.seed,
        quote_ttl=timedelta(seconds=parsed.defaults.quote_ttl_seconds),
    )


@functools.cache
def load_catalogue(path: Path | None = None) -> Catalogue:
    """The products of ``path``, or those shipped; read once per file and process."""
    if path is not None:
        return parse_catalogue(path.read_text(), name=str(path))
    return parse_catalogue((files("rongbank.invest") / "products.toml").read_text())
