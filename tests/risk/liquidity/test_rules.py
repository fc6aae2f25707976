"""The LCR and NSFR of constructed balance sheets, computed by hand."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from rongbank.risk.liquidity.config import HqlaLevel, load_factors
from rongbank.risk.liquidity.rules import (
    BalanceSheet,
    Depositor,
    DepositorKind,
    LoanPosition,
    WealthPosition,
    compute,
    hqla_stock,
)

FACTORS = load_factors()
YUAN = 100
RETAIL, CORPORATE = DepositorKind.RETAIL, DepositorKind.CORPORATE


def small_bank() -> BalanceSheet:
    return BalanceSheet(
        depositors=(
            # 500,000 insured and established: stable; the 100,000 above: less stable.
            Depositor(1, RETAIL, 600_000 * YUAN, established=True),
            Depositor(2, RETAIL, 100_000 * YUAN, established=False),
            Depositor(3, CORPORATE, 800_000 * YUAN, operational=200_000 * YUAN),
        ),
        wealth=(
            WealthPosition(RETAIL, 50_000 * YUAN, None),
            WealthPosition(RETAIL, 30_000 * YUAN, 20),
            WealthPosition(RETAIL, 40_000 * YUAN, 100),
            WealthPosition(CORPORATE, 100_000 * YUAN, 400),
        ),
        hqla={HqlaLevel.LEVEL1: 400_000 * YUAN, HqlaLevel.LEVEL2A: 100_000 * YUAN},
        other_assets=1_500_000 * YUAN,
        other_liabilities=10_000 * YUAN,
        capital=300_000 * YUAN,
    )


class TestLcr:
    def test_hand_computed_bank(self) -> None:
        f = compute(small_bank(), FACTORS)
        # Outflows: 500,000 x 5% + (100,000 + 100,000 + 50,000 open-ended wealth) x 10%
        # + 500,000 x 20% + 300,000 x 40% + 200,000 x 25% + 30,000 x 100% + 10,000 x 100%
        assert f.outflows == (25_000 + 25_000 + 100_000 + 120_000 + 50_000 + 30_000 + 10_000) * YUAN
        # HQLA: 400,000 + 100,000 x 85%, under the 40% cap on Level 2.
        assert f.hqla == 485_000 * YUAN
        assert f.inflows == 0
        assert f.lcr == Decimal("1.3472")  # 485,000 / 360,000

    def test_loan_inflows_count_half_and_at_most_75_percent_of_outflows(self) -> None:
        sheet = BalanceSheet(
            depositors=(Depositor(1, RETAIL, 1_000_000 * YUAN),),
            hqla={HqlaLevel.LEVEL1: 50_000 * YUAN},
            loans=LoanPosition(performing=0, inflows_30d=100_000 * YUAN),
        )
        f = compute(sheet, FACTORS)
        assert f.outflows == 100_000 * YUAN  # all less stable: not established
        assert f.inflows == 50_000 * YUAN
        assert f.lcr == Decimal("1.0000")
        flood = compute(
            BalanceSheet(
                depositors=sheet.depositors,
                hqla=sheet.hqla,
                loans=LoanPosition(inflows_30d=1_000_000 * YUAN),
            ),
            FACTORS,
        )
        assert flood.inflows == 75_000 * YUAN
        assert flood.net_outflows == 25_000 * YUAN

    def test_no_outflows_no_ratio(self) -> None:
        assert compute(BalanceSheet(hqla={HqlaLevel.LEVEL1: 1}), FACTORS).lcr is None

    def test_level2b_held_to_15_percent(self) -> None:
        stock, _ = hqla_stock(
            {HqlaLevel.LEVEL1: 10_000_000, HqlaLevel.LEVEL2B: 10_000_000}, FACTORS
        )
        assert stock == round(10_000_000 / Decimal("0.85"))  # Level 1 is 85% of the stock

    def test_level2_held_to_40_percent(self) -> None:
        stock, _ = hqla_stock(
            {HqlaLevel.LEVEL1: 10_000_000, HqlaLevel.LEVEL2A: 20_000_000}, FACTORS
        )
        assert stock == round(10_000_000 / Decimal("0.6"))


class TestNsfr:
    def test_hand_computed_bank(self) -> None:
        f = compute(small_bank(), FACTORS)
        # ASF: capital 300,000 + stable 500,000 x 95% + (250,000 + 40,000 wealth under a
        # year) x 90% + corporate 800,000 x 50% + operational 200,000 x 50%
        # + wealth over a year 100,000.
        assert f.asf == (300_000 + 475_000 + 261_000 + 400_000 + 100_000 + 100_000) * YUAN
        # RSF: Level 2A 100,000 x 15% + other assets 1,500,000.
        assert f.rsf == (15_000 + 1_500_000) * YUAN
        assert f.nsfr == Decimal("1.0799")  # 1,636,000 / 1,515,000

    def test_performing_loans_need_85_percent_and_are_not_counted_twice(self) -> None:
        f = compute(
            BalanceSheet(
                capital=100 * YUAN,
                other_assets=100 * YUAN,
                loans=LoanPosition(performing=100 * YUAN),
            ),
            FACTORS,
        )
        assert f.rsf == 85 * YUAN

    def test_losses_are_no_negative_funding(self) -> None:
        f = compute(BalanceSheet(capital=-100 * YUAN, other_assets=100 * YUAN), FACTORS)
        assert f.asf == 0
        assert f.nsfr == Decimal(0)


balances = st.integers(min_value=0, max_value=10**12)


@given(
    st.lists(
        st.tuples(st.sampled_from(list(DepositorKind)), balances, balances, st.booleans()),
        max_size=8,
    ),
    balances,
)
def test_more_deposits_never_raise_the_lcr(
    depositors: list[tuple[DepositorKind, int, int, bool]], extra: int
) -> None:
    people = tuple(Depositor(i, k, d, o, e) for i, (k, d, o, e) in enumerate(depositors))
    hqla = {HqlaLevel.LEVEL1: 10**10}
    before = compute(BalanceSheet(depositors=people), FACTORS)
    more = compute(
        BalanceSheet(depositors=(*people, Depositor(99, RETAIL, extra)), hqla=hqla), FACTORS
    )
    less = compute(BalanceSheet(depositors=people, hqla=hqla), FACTORS)
    assert more.outflows >= before.outflows
    assert more.deposits == before.deposits + extra
    if less.lcr is not None and more.lcr is not None:
        assert more.lcr <= less.lcr
