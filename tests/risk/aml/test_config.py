"""The shipped AML configuration holds the PBoC's figures, and a broken one is refused
with the key at fault before any ledger row is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from rongbank.risk.aml.batch import like
from rongbank.risk.aml.config import AmlConfigInvalid, load_config


def test_the_shipped_thresholds_are_the_2016_order_s() -> None:
    config = load_config()
    figures = {x.rule.value: (x.cny_fen, x.usd_cents) for x in config.large_value}
    assert figures == {
        "cash": (50_000_00, 10_000_00),
        "non_natural_transfer": (2_000_000_00, 200_000_00),
        "natural_domestic_transfer": (500_000_00, 100_000_00),
        "natural_cross_border_transfer": (200_000_00, 10_000_00),
    }
    assert config.lookback_days == 7


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('cny = "50000.00"', 'cny = "-5"'), "large_value.0.cny"),
        (("band = 0.10", "band = 1.5"), "structuring.band"),
        (("months = 6", "months = 6\nweeks = 2"), "dormant.weeks"),
        (('rule = "non_natural_transfer"', 'rule = "cash"'), "large_value"),
    ],
)
def test_a_broken_file_is_refused_with_its_key(
    tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    shipped = (Path(__file__).parents[3] / "src/rongbank/risk/aml/thresholds.toml").read_text()
    assert change[0] in shipped
    broken = tmp_path / "thresholds.toml"
    broken.write_text(shipped.replace(change[0], change[1], 1))
    with pytest.raises(AmlConfigInvalid) as refused:
        load_config(broken)
    assert str(broken) in refused.value.detail_message
    assert key in refused.value.detail_message


def test_account_patterns_become_like_patterns_with_their_underscores_kept() -> None:
    assert like("bank:cash:*") == "bank:cash:%"
    assert like("bank:fee_?x*") == "bank:fee\\__x%"
