"""The liquidity factors (``factors.toml``), read and checked once: a factor outside
0..1, a missing or unknown key, or an HQLA level without a haircut is refused with
the file's name and the key, before any figure is computed from it."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from enum import StrEnum
from fnmatch import fnmatchcase
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from rongbank.errors import DomainError, InvalidRequest
from rongbank.money import parse_amount

CNY_SCALE = 2

Share = Annotated[Decimal, Field(ge=0, le=1)]
"""A factor: 0.05 is 5%."""


class HqlaLevel(StrEnum):
    """BCBS 238's classes of high-quality liquid assets."""

    LEVEL1 = "1"
    """Cash, central bank reserves, 0%-risk-weight sovereigns: no haircut, no cap."""
    LEVEL2A = "2A"
    """20%-risk-weight sovereigns, covered bonds AA- or better: 15% haircut."""
    LEVEL2B = "2B"
    """Lower-rated corporate bonds, equities, RMBS: 50% haircut, at most 15% of HQLA."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DepositInsurance(_Strict):
    limit: str
    """Yuan, as a plain decimal string ("500000.00")."""

    @field_validator("limit")
    @classmethod
    def _an_amount(cls, value: str) -> str:
        try:
            parse_amount(value, scale=CNY_SCALE, currency="CNY")
        except DomainError as error:
            raise ValueError(error.detail_message) from None
        return value

    @property
    def limit_fen(self) -> int:
        return parse_amount(self.limit, scale=CNY_SCALE, currency="CNY")


class Relationship(_Strict):
    min_relationship_days: int = Field(ge=0)
    activity_days: int = Field(ge=1)
    min_movements: int = Field(ge=1)


class Runoff(_Strict):
    retail_stable: Share
    retail_less_stable: Share
    corporate_insured: Share
    corporate_uninsured: Share
    operational: Share
    wealth_maturing: Share
    other_liabilities: Share


class Inflow(_Strict):
    performing_loans: Share
    cap: Share


class Lcr(_Strict):
    runoff: Runoff
    inflow: Inflow


class Asf(_Strict):
    capital: Share
    retail_stable: Share
    retail_less_stable: Share
    corporate: Share
    operational: Share
    term_one_year: Share
    other_liabilities: Share


class Rsf(_Strict):
    level1: Share
    level2a: Share
    level2b: Share
    performing_loans: Share
    other_assets: Share


class Nsfr(_Strict):
    asf: Asf
    rsf: Rsf


class HqlaAccount(_Strict):
    pattern: str = Field(min_length=1)
    level: HqlaLevel


class HqlaCap(_Strict):
    level2: Share
    level2b: Share


class Monitor(_Strict):
    window_minutes: int = Field(ge=1, le=24 * 60)
    check_seconds: int = Field(ge=1)
    share_of_deposits: Share
    share_of_hqla: Share


class Factors(_Strict):
    """Everything ``factors.toml`` says."""

    deposit_insurance: DepositInsurance
    relationship: Relationship
    lcr: Lcr
    nsfr: Nsfr
    hqla: tuple[HqlaAccount, ...]
    haircut: dict[HqlaLevel, Share]
    hqla_cap: HqlaCap
    monitor: Monitor

    @model_validator(mode="after")
    def _every_level_has_a_haircut(self) -> Factors:
        missing = set(HqlaLevel) - set(self.haircut)
        if missing:
            raise ValueError(f"haircut: no factor for level(s) {sorted(missing)}")
        return self

    def hqla_level(self, code: str) -> HqlaLevel | None:
        """The HQLA level of the bank's asset account ``code`` (None: not HQLA)."""
        for account in self.hqla:
            if fnmatchcase(code, account.pattern):
                return account.level
        return None


class FactorsInvalid(InvalidRequest):
    code = "liquidity_factors_invalid"
    message = "The liquidity factors file is not valid."


def load_factors(path: Path | None = None) -> Factors:
    """The factors in ``path``, or the ones the bank ships."""
    where = str(path) if path is not None else "rongbank/risk/liquidity/factors.toml"
    try:
        source = (
            path.read_text()
            if path is not None
            else (files("rongbank.risk.liquidity") / "factors.toml").read_text()
        )
        raw = tomllib.loads(source)
        factors = Factors.model_validate(raw)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise FactorsInvalid(f"{where}: {error}", file=where) from None
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise FactorsInvalid(f"{where}: {key}: {first['msg']}", file=where, key=key) from None
    return factors
