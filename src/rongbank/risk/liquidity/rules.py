"""The LCR and NSFR of a balance sheet: pure arithmetic over what the repository read,
no I/O and no clock.

Every amount is in fen; factors are exact decimals, so that a hand-computed case
matches to the fen. Weighted sums are rounded to the fen once, per line of the
report (half up), and the ratios to 1/10,000 (0.01%).

Classes (BCBS 238 and 295; 商业银行流动性风险管理办法 附件2, 3):

- a *retail* depositor (a person) has their deposits split at the deposit-insurance
  limit: the insured part is *stable* when the relationship is established (or the
  account transactional), the rest *less stable*;
- a *corporate* depositor (an enterprise) has its insured part and the rest at their
  own run-off;
- *operational* deposits are what e-Pay merchants keep for their payments (the
  merchant's payable and its settlement account), whoever the merchant is;
- *wealth* holdings (理财, not insured) follow their redemption terms: open-ended ones
  are demand funding of their holder, uninsured; fixed-term ones run off entirely
  when they mature within 30 days and not at all after (they cannot be redeemed
  early); for the NSFR those with a year or more to run are term funding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from rongbank.risk.liquidity.config import Factors, HqlaLevel

LCR_HORIZON_DAYS = 30
"""The LCR's stress horizon (BCBS 238 para 16)."""
NSFR_TERM_DAYS = 365
"""Funding with this long to run is stable in full (BCBS 295 para 21)."""


class DepositorKind(StrEnum):
    RETAIL = "retail"
    """A person (个人客户)."""
    CORPORATE = "corporate"
    """An enterprise (非金融企业)."""


@dataclass(frozen=True, slots=True)
class Depositor:
    """One customer's deposits on the day, in fen."""

    customer_id: int
    kind: DepositorKind
    deposits: int
    """Balances of their e-accounts, less what is operational."""
    operational: int = 0
    """What they keep with the bank for e-Pay: the merchant's payable and its
    settlement account."""
    established: bool = False
    """An established relationship or a transactional account (retail only)."""


@dataclass(frozen=True, slots=True)
class WealthPosition:
    """A wealth holding's outstanding principal."""

    kind: DepositorKind
    amount: int
    days_to_maturity: int | None
    """None: open-ended, redeemable at will."""


@dataclass(frozen=True, slots=True)
class LoanPosition:
    """What the lending book contributes (zero while the bank lends nothing)."""

    performing: int = 0
    """Performing loans outstanding, in fen."""
    inflows_30d: int = 0
    """Contractual repayments from performing loans due in the next 30 days."""


@dataclass(frozen=True, slots=True)
class BalanceSheet:
    """The bank's liquidity-relevant balances on one day, in CNY fen."""

    depositors: tuple[Depositor, ...] = ()
    wealth: tuple[WealthPosition, ...] = ()
    hqla: dict[HqlaLevel, int] = field(default_factory=dict)
    """The bank's own liquid assets by level, before haircuts."""
    other_assets: int = 0
    """Every other asset of the bank (loans included)."""
    other_liabilities: int = 0
    """Liabilities that are neither deposits, merchant payables nor wealth."""
    capital: int = 0
    """Equity, income less expense (credit balances positive)."""
    loans: LoanPosition = LoanPosition()


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a report: a class of funding or assets, its balance, its factor
    and the weighted amount (rounded to the fen)."""

    name: str
    balance: int
    factor: Decimal
    weighted: int


@dataclass(frozen=True, slots=True)
class Figures:
    """The day's ratios, with the lines they are made of."""

    hqla: int
    """Stock of HQLA after haircuts and the Level 2 caps."""
    outflows: int
    inflows: int
    """Inflows after the cap."""
    net_outflows: int
    lcr: Decimal | None
    """HQLA / net outflows (1.0 = 100%); None when nothing flows out."""
    asf: int
    rsf: int
    nsfr: Decimal | None
    """ASF / RSF; None when nothing needs stable funding."""
    deposits: int
    """Customer deposits (retail, corporate, operational), the monitor's base."""
    lcr_lines: tuple[Line, ...]
    nsfr_lines: tuple[Line, ...]


def _weighted(amount: int | Decimal, factor: Decimal) -> int:
    return int((Decimal(amount) * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _ratio(numerator: int, denominator: int) -> Decimal | None:
    if denominator <= 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )


@dataclass(slots=True)
class _Classes:
    """Balances per class of funding, summed over depositors and holdings."""

    retail_stable: int = 0
    retail_less_stable: int = 0
    corporate_insured: int = 0
    corporate_uninsured: int = 0
    operational: int = 0
    wealth_maturing: int = 0
    """Fixed-term wealth paying out within 30 days (and payouts already due)."""
    retail_term_short: int = 0
    """Fixed-term retail wealth with more than 30 days but under a year to run."""
    corporate_term_short: int = 0
    term_one_year: int = 0


def _classify(sheet: BalanceSheet, insured_limit: int) -> _Classes:
    c = _Classes()
    for d in sheet.depositors:
        insured = min(max(d.deposits, 0), insured_limit)
        rest = max(d.deposits, 0) - insured
        if d.kind is DepositorKind.RETAIL:
            if d.established:
                c.retail_stable += insured
                c.retail_less_stable += rest
            else:
                c.retail_less_stable += insured + rest
        else:
            c.corporate_insured += insured
            c.corporate_uninsured += rest
        c.operational += max(d.operational, 0)
    for w in sheet.wealth:
        retail = w.kind is DepositorKind.RETAIL
        if w.days_to_maturity is None:  # redeemable at will, not insured
            if retail:
                c.retail_less_stable += w.amount
            else:
                c.corporate_uninsured += w.amount
        elif w.days_to_maturity <= LCR_HORIZON_DAYS:
            c.wealth_maturing += w.amount
        elif w.days_to_maturity >= NSFR_TERM_DAYS:
            c.term_one_year += w.amount
        elif retail:
            c.retail_term_short += w.amount
        else:
            c.corporate_term_short += w.amount
    return c


def _line(name: str, balance: int, factor: Decimal) -> Line:
    return Line(name, balance, factor, _weighted(balance, factor))


def hqla_stock(hqla: dict[HqlaLevel, int], factors: Factors) -> tuple[int, list[Line]]:
    """The stock of HQLA: each level after its haircut, then Level 2B held to 15% and
    Level 2 to 40% of the total (BCBS 238 Annex 1, without secured funding to unwind)."""
    lines = [
        _line(f"hqla_level{level.value.lower()}", hqla.get(level, 0), 1 - factors.haircut[level])
        for level in HqlaLevel
    ]
    l1, l2a, l2b = (Decimal(line.weighted) for line in lines)
    cap2, cap2b = factors.hqla_cap.level2, factors.hqla_cap.level2b
    # Annex 1: the excess of 2B over 15% (and of all Level 2 over 40%) is deducted.
    excess2b = max(
        l2b - cap2b / (1 - cap2b) * (l1 + l2a), l2b - cap2b / (1 - cap2) * l1, Decimal(0)
    )
    excess2 = max(l2a + l2b - excess2b - cap2 / (1 - cap2) * l1, Decimal(0))
    stock = _weighted(l1 + l2a + l2b - excess2b - excess2, Decimal(1))
    return stock, lines


def compute(sheet: BalanceSheet, factors: Factors) -> Figures:
    """The LCR and NSFR of ``sheet`` under ``factors``."""
    c = _classify(sheet, factors.deposit_insurance.limit_fen)
    run, inflow = factors.lcr.runoff, factors.lcr.inflow
    hqla, hqla_lines = hqla_stock(sheet.hqla, factors)
    outflow_lines = [
        _line("retail_stable", c.retail_stable, run.retail_stable),
        _line("retail_less_stable", c.retail_less_stable, run.retail_less_stable),
        _line("corporate_insured", c.corporate_insured, run.corporate_insured),
        _line("corporate_uninsured", c.corporate_uninsured, run.corporate_uninsured),
        _line("operational", c.operational, run.operational),
        _line("wealth_maturing", c.wealth_maturing, run.wealth_maturing),
        _line("other_liabilities", max(sheet.other_liabilities, 0), run.other_liabilities),
    ]
    outflows = sum(line.weighted for line in outflow_lines)
    inflow_line = _line("loan_inflows", sheet.loans.inflows_30d, inflow.performing_loans)
    inflows = min(inflow_line.weighted, _weighted(outflows, inflow.cap))
    net = outflows - inflows

    asf_f, rsf_f = factors.nsfr.asf, factors.nsfr.rsf
    asf_lines = [
        # Losses beyond capital are no funding at all, not negative funding.
        _line("capital", max(sheet.capital, 0), asf_f.capital),
        _line("retail_stable", c.retail_stable, asf_f.retail_stable),
        _line(
            "retail_less_stable",
            c.retail_less_stable + c.retail_term_short,
            asf_f.retail_less_stable,
        ),
        _line(
            "corporate",
            c.corporate_insured + c.corporate_uninsured + c.corporate_term_short,
            asf_f.corporate,
        ),
        _line("operational", c.operational, asf_f.operational),
        _line("term_one_year", c.term_one_year, asf_f.term_one_year),
        _line("other_liabilities", max(sheet.other_liabilities, 0), asf_f.other_liabilities),
        # Wealth paying out within the month funds nothing beyond it (conservative:
        # BCBS 295 would give retail funding under a year 90%).
        _line("wealth_maturing", c.wealth_maturing, asf_f.other_liabilities),
    ]
    loans = max(sheet.loans.performing, 0)
    rsf_lines = [
        _line("hqla_level1", sheet.hqla.get(HqlaLevel.LEVEL1, 0), rsf_f.level1),
        _line("hqla_level2a", sheet.hqla.get(HqlaLevel.LEVEL2A, 0), rsf_f.level2a),
        _line("hqla_level2b", sheet.hqla.get(HqlaLevel.LEVEL2B, 0), rsf_f.level2b),
        _line("performing_loans", loans, rsf_f.performing_loans),
        # The loan book's own asset accounts are among the other assets: counted once.
        _line("other_assets", max(sheet.other_assets - loans, 0), rsf_f.other_assets),
    ]
    asf = sum(line.weighted for line in asf_lines)
    rsf = sum(line.weighted for line in rsf_lines)
    deposits = sum(max(d.deposits, 0) + max(d.operational, 0) for d in sheet.depositors)
    return Figures(
        hqla=hqla,
        outflows=outflows,
        inflows=inflows,
        net_outflows=net,
        lcr=_ratio(hqla, net),
        asf=asf,
        rsf=rsf,
        nsfr=_ratio(asf, rsf),
        deposits=deposits,
        lcr_lines=(*hqla_lines, *outflow_lines, inflow_line),
        nsfr_lines=(*asf_lines, *rsf_lines),
    )
