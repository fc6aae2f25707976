"""The shipped factors, and what the loader refuses."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from rongbank.risk.liquidity.config import FactorsInvalid, HqlaLevel, load_factors


def shipped_text() -> str:
    return (Path(__file__).parents[3] / "src/rongbank/risk/liquidity/factors.toml").read_text()


class TestShippedFactors:
    def test_china_retail_runoff_is_five_and_ten_percent(self) -> None:
        f = load_factors()
        assert f.lcr.runoff.retail_stable == Decimal("0.05")
        assert f.lcr.runoff.retail_less_stable == Decimal("0.10")

    def test_deposit_insurance_limit_is_500000_yuan(self) -> None:
        assert load_factors().deposit_insurance.limit_fen == 500_000_00

    def test_clearing_account_is_level1_and_customer_deposits_are_not_hqla(self) -> None:
        f = load_factors()
        assert f.hqla_level("bank:clearing:CNY") is HqlaLevel.LEVEL1
        assert f.hqla_level("bank:hqla:l2b:equities") is HqlaLevel.LEVEL2B
        assert f.hqla_level("dep:6228000000000000001") is None


class TestRefused:
    def write(self, tmp_path: Path, text: str) -> Path:
        path = tmp_path / "factors.toml"
        path.write_text(text)
        return path

    def test_a_factor_above_one(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path, shipped_text().replace("retail_stable = 0.05", "retail_stable = 5")
        )
        with pytest.raises(FactorsInvalid) as refused:
            load_factors(path)
        assert refused.value.details["key"] == "lcr.runoff.retail_stable"

    def test_an_unknown_key(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path, shipped_text().replace("[lcr.inflow]", "[lcr.inflow]\nbonus = 0.1")
        )
        with pytest.raises(FactorsInvalid) as refused:
            load_factors(path)
        assert refused.value.details["key"] == "lcr.inflow.bonus"

    def test_a_level_without_haircut(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, shipped_text().replace('"2B" = 0.50\n', ""))
        with pytest.raises(FactorsInvalid, match="2B"):
            load_factors(path)

    def test_an_insurance_limit_that_is_no_amount(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, shipped_text().replace('"500000.00"', '"50万"'))
        with pytest.raises(FactorsInvalid) as refused:
            load_factors(path)
        assert refused.value.details["key"] == "deposit_insurance.limit"

    def test_a_file_that_is_not_toml(self, tmp_path: Path) -> None:
        with pytest.raises(FactorsInvalid):
            load_factors(self.write(tmp_path, "[lcr\n"))
