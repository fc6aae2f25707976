"""The mall's money rules, in fen.

The commission is charged per order line on what the line keeps (its units not
returned, at the price paid), at the line's category rate as it was at checkout, and
rounded half up to the fen: ``(kept * bp + 5000) // 10000``. Charged when the order's
money is released to the seller (after receipt and the return window), so a return
reverses it exactly pro rata: the commission is recomputed on what is kept, never
charged on money given back. The seller's part is the rest: commission + seller ==
kept, to the fen, whatever the rounding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

BPS = 10_000


def commission(kept: int, commission_bp: int) -> int:
    """The mall's commission on ``kept`` fen at ``commission_bp`` basis points."""
    if kept < 0 or not 0 <= commission_bp <= BPS:
        raise ValueError("commission of a negative amount or a rate outside 0..100%")
    return (kept * commission_bp + BPS // 2) // BPS


@dataclass(frozen=True, slots=True)
class Kept:
    """One line as it stands: units bought, units returned, price and rate."""

    quantity: int
    returned: int
    unit_price: int
    commission_bp: int

    @property
    def amount(self) -> int:
        return (self.quantity - self.returned) * self.unit_price


@dataclass(frozen=True, slots=True)
class Split:
    """An order's release: what the seller gets and what the bank earns."""

    kept: int
    commission: int

    @property
    def seller(self) -> int:
        return self.kept - self.commission


def split(lines: Iterable[Kept]) -> Split:
    kept = [(line.amount, line.commission_bp) for line in lines]
    return Split(
        kept=sum(amount for amount, _ in kept),
        commission=sum(commission(amount, bp) for amount, bp in kept),
    )
