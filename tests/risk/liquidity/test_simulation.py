"""The bank-run simulation on constructed banks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rongbank.risk.liquidity.config import HqlaLevel, load_factors
from rongbank.risk.liquidity.rules import BalanceSheet, Depositor, DepositorKind
from rongbank.risk.liquidity.simulation import (
    Group,
    Params,
    Runner,
    find_breaking,
    simulate,
)

FACTORS = load_factors()
YUAN = 100


def bank(
    *, people: int = 200, each: int = 10_000 * YUAN, backing: float, cap: int | None = None
) -> tuple[BalanceSheet, list[Runner]]:
    """``people`` depositors of ``each``, ``backing`` of the deposits held as Level 1
    (the rest lent out: other assets), and equity making up the difference."""
    runners = [Runner(Depositor(i, DepositorKind.RETAIL, each), cap) for i in range(people)]
    deposits = people * each
    sheet = BalanceSheet(
        depositors=tuple(r.depositor for r in runners),
        hqla={HqlaLevel.LEVEL1: int(deposits * backing)},
        other_assets=deposits - int(deposits * backing),
    )
    return sheet, runners


def run(intensity: float, seed: int = 1, days: int = 30, **kw: object) -> object:
    sheet, runners = bank(**kw)  # type: ignore[arg-type]
    return simulate(sheet, runners, FACTORS, Params(intensity=intensity, days=days, seed=seed))


class TestSimulation:
    def test_no_run_no_outflow(self) -> None:
        sheet, runners = bank(backing=0.2)
        result = simulate(sheet, runners, FACTORS, Params(intensity=0, days=5))
        assert sum(result.withdrawals.values()) == 0
        assert result.survival_hours is None
        assert result.cash == [sheet.hqla[HqlaLevel.LEVEL1]] * (5 * 24 + 1)
        assert len(set(result.lcr)) == 1

    def test_a_bank_holding_all_its_deposits_in_hqla_survives_any_run(self) -> None:
        sheet, runners = bank(backing=1.0)
        result = simulate(sheet, runners, FACTORS, Params(intensity=400, days=30))
        assert result.withdrawn[Group.RETAIL_SMALL][-1] == 200 * 10_000 * YUAN  # everyone left
        assert result.survival_hours is None
        assert min(result.cash) == 0

    def test_a_thinly_backed_bank_fails_and_the_facility_comes_too_late(self) -> None:
        sheet, runners = bank(backing=0.05)
        result = simulate(
            sheet, runners, FACTORS, Params(intensity=400, days=30, facility_lag_hours=24 * 20)
        )
        assert result.survival_hours is not None
        assert result.survival_hours < 24 * 20
        assert result.facility == int(sheet.other_assets * 0.7)

    def test_daily_limits_hold_each_depositor_to_a_day_s_limit(self) -> None:
        sheet, runners = bank(people=1, each=10_000 * YUAN, backing=1.0, cap=1_000 * YUAN)
        result = simulate(sheet, runners, FACTORS, Params(intensity=20_000, days=3))
        taken = result.withdrawn[Group.RETAIL_SMALL]
        assert [taken[24], taken[48], taken[72]] == [1_000 * YUAN, 2_000 * YUAN, 3_000 * YUAN]

    def test_the_same_seed_gives_the_same_run(self) -> None:
        assert run(2.0, seed=7, backing=0.2) == run(2.0, seed=7, backing=0.2)
        assert run(2.0, seed=7, backing=0.2) != run(2.0, seed=8, backing=0.2)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=4),
    low=st.floats(min_value=0, max_value=20),
    more=st.floats(min_value=0, max_value=20),
)
def test_a_stronger_run_never_lasts_longer(seed: int, low: float, more: float) -> None:
    sheet, runners = bank(people=60, backing=0.1, cap=5_000 * YUAN)
    weak = simulate(sheet, runners, FACTORS, Params(intensity=low, days=10, seed=seed))
    strong = simulate(sheet, runners, FACTORS, Params(intensity=low + more, days=10, seed=seed))
    never = float("inf")
    assert (strong.survival_hours or never) <= (weak.survival_hours or never)
    for group in Group:
        assert all(
            s >= w for s, w in zip(strong.withdrawn[group], weak.withdrawn[group], strict=True)
        )


class TestFindBreaking:
    def test_finds_a_known_boundary(self) -> None:
        found = find_breaking(lambda x: x >= 0.37, tolerance=0.001)
        assert found is not None
        low, high = found
        assert low < 0.37 <= high
        assert high - low <= 0.001 * high

    def test_none_when_nothing_breaks(self) -> None:
        assert find_breaking(lambda x: False) is None

    def test_finds_where_a_constructed_bank_breaks(self) -> None:
        # HQLA of 20% against 10% run-off: an LCR of 200% that falls under 100%
        # once more than a ninth of the deposits has left.
        sheet, runners = bank(people=100, backing=0.2, cap=5_000 * YUAN)

        def breaks(x: float) -> bool:
            return simulate(sheet, runners, FACTORS, Params(intensity=x, days=30, seed=3)).breaks

        assert simulate(sheet, runners, FACTORS, Params(intensity=0)).min_lcr == 2.0
        found = find_breaking(breaks, tolerance=0.02)
        assert found is not None
        low, high = found
        assert not breaks(low)
        assert breaks(high)
        assert high - low <= 0.02 * high
