"""The AML configuration (``thresholds.toml``), read and checked once: an amount that
is not one, a share outside 0..1, an unknown key or a rule named twice is refused
with the file's name and the key, before any ledger row is read."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rongbank.errors import DomainError, InvalidRequest
from rongbank.money import parse_amount

CNY_SCALE = 2
USD_SCALE = 2

Share = Annotated[Decimal, Field(gt=0, le=1)]


class Rule(StrEnum):
    CASH = "cash"
    NON_NATURAL_TRANSFER = "non_natural_transfer"
    NATURAL_DOMESTIC_TRANSFER = "natural_domestic_transfer"
    NATURAL_CROSS_BORDER_TRANSFER = "natural_cross_border_transfer"


class Customers(StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"
    ANY = "any"


class Channel(StrEnum):
    CASH = "cash"
    TRANSFER = "transfer"
    """Any counterparty but cash: domestic and cross-border alike."""
    DOMESTIC = "domestic"
    CROSS_BORDER = "cross_border"


def fen(value: str, currency: str = "CNY") -> int:
    return parse_amount(value, scale=CNY_SCALE, currency=currency)


def _an_amount(value: str) -> str:
    try:
        if fen(value) <= 0:
            raise ValueError("must be more than zero")
    except DomainError as error:
        raise ValueError(error.detail_message) from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LargeValue(_Strict):
    rule: Rule
    article: str = Field(min_length=1)
    customers: Customers
    channel: Channel
    cny: str
    usd: str

    _amounts = field_validator("cny", "usd")(_an_amount)

    @property
    def cny_fen(self) -> int:
        return fen(self.cny)

    @property
    def usd_cents(self) -> int:
        return fen(self.usd, "USD")


class Accounts(_Strict):
    cash: tuple[str, ...]
    cross_border: tuple[str, ...]
    exempt: tuple[str, ...]


class Structuring(_Strict):
    window_days: int = Field(ge=1, le=31)
    band: Share
    min_count: int = Field(ge=2)


class RapidInOut(_Strict):
    hours: int = Field(ge=1, le=24 * 7)
    min_in: str
    share: Share
    customers: tuple[Customers, ...] = Field(min_length=1)

    _amounts = field_validator("min_in")(_an_amount)


class Fan(_Strict):
    window_days: int = Field(ge=1, le=31)
    min_counterparties: int = Field(ge=2)
    min_total: str
    customers: tuple[Customers, ...] = Field(min_length=1)

    _amounts = field_validator("min_total")(_an_amount)


class Dormant(_Strict):
    months: int = Field(ge=1, le=120)
    min_amount: str

    _amounts = field_validator("min_amount")(_an_amount)


class RoundAmounts(_Strict):
    window_days: int = Field(ge=1, le=31)
    unit: str
    min_amount: str
    min_count: int = Field(ge=2)

    _amounts = field_validator("unit", "min_amount")(_an_amount)


class Job(_Strict):
    check_seconds: int = Field(ge=1)
    catch_up_days: int = Field(ge=1, le=366)


class AmlConfig(_Strict):
    """Everything ``thresholds.toml`` says."""

    large_value: tuple[LargeValue, ...] = Field(min_length=1)
    accounts: Accounts
    fx: dict[str, Decimal]
    structuring: Structuring
    rapid_in_out: RapidInOut
    fan: Fan
    dormant: Dormant
    round_amounts: RoundAmounts
    job: Job

    @model_validator(mode="after")
    def _each_rule_once(self) -> AmlConfig:
        rules = [x.rule for x in self.large_value]
        if len(set(rules)) != len(rules):
            raise ValueError("large_value: a rule is named twice")
        if any(rate <= 0 for rate in self.fx.values()):
            raise ValueError("fx: every rate must be more than zero")
        if "CNY" in self.fx:
            raise ValueError("fx: CNY is counted in yuan, not converted")
        return self

    @property
    def lookback_days(self) -> int:
        """How many days before the first day a run must read, for its windows."""
        return max(
            self.structuring.window_days,
            self.fan.window_days,
            self.round_amounts.window_days,
            -(-self.rapid_in_out.hours // 24),
        )


class AmlConfigInvalid(InvalidRequest):
    code = "aml_config_invalid"
    message = "The anti-money-laundering configuration is not valid."


def load_config(path: Path | None = None) -> AmlConfig:
    """The configuration in ``path``, or the one the bank ships."""
    where = str(path) if path is not None else "rongbank/risk/aml/thresholds.toml"
    try:
        source = (
            path.read_text()
            if path is not None
            else (files("rongbank.risk.aml") / "thresholds.toml").read_text()
        )
        config = AmlConfig.model_validate(tomllib.loads(source))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise AmlConfigInvalid(f"{where}: {error}", file=where) from None
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise AmlConfigInvalid(f"{where}: {key}: {first['msg']}", file=where, key=key) from None
    return config
