"""The arithmetic of a trade, shared by the trades customers make at a quote and the
fills and forced closes of the tick engine, so both move the same fen.

Rounding is in the bank's favour, by at most one minor unit: what the customer pays
rounds up, what they receive rounds down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Side = Literal["long", "short"]
Action = Literal["open", "close"]


def notional(price: int, quantity: int, scale: int, *, pays: bool) -> int:
    """``quantity`` (minor units at ``scale``) at ``price`` (minor per unit)."""
    total = price * quantity
    unit: int = 10**scale
    return -(-total // unit) if pays else total // unit


def buys(side: Side, action: Action) -> bool:
    """Whether the customer buys: to open a long or to close a short."""
    return (side == "long") == (action == "open")


def margin_for(amount: int, margin_bps: int) -> int:
    return -(-amount * margin_bps // 10_000)


@dataclass(frozen=True, slots=True)
class PositionState:
    quantity: int = 0
    cost: int = 0
    """Long: what was paid; short: what the sale was worth (its proceeds, not paid out)."""
    margin: int = 0
    """Short only: the customer's money frozen in their margin account for it."""


@dataclass(frozen=True, slots=True)
class Effect:
    """What a trade does: to the position, and in money."""

    after: PositionState
    cash: int
    """Long open: paid by the customer; long close: paid to them; short: 0 (a short
    moves money only through its margin and its result)."""
    margin_in: int
    margin_out: int
    pnl: int
    """Realised on a close: positive a gain."""
    paid_loss: int
    """A short's loss, paid from its margin."""
    shortfall: int
    """A loss beyond the margin that covered it: the bank's."""


def effect(
    before: PositionState,
    *,
    side: Side,
    action: Action,
    quantity: int,
    price: int,
    scale: int,
    margin_bps: int,
    margin: int | None = None,
) -> Effect:
    """The effect of trading ``quantity`` at ``price``. ``margin``: for a short opened
    by a pending order, the margin the order set aside (default: ``margin_bps`` of the
    sale). A close must not exceed the position (checked by the caller)."""
    pays = buys(side, action)
    cash = notional(price, quantity, scale, pays=pays)
    if action == "open":
        frozen = (margin if margin is not None else margin_for(cash, margin_bps)) * (
            side == "short"
        )
        after = PositionState(
            before.quantity + quantity, before.cost + cash, before.margin + frozen
        )
        return Effect(after, cash if side == "long" else 0, frozen, 0, 0, 0, 0)
    assert 0 < quantity <= before.quantity
    part_cost = before.cost * quantity // before.quantity
    part_margin = before.margin * quantity // before.quantity
    if quantity == before.quantity:
        part_cost, part_margin = before.cost, before.margin
    after = PositionState(
        before.quantity - quantity, before.cost - part_cost, before.margin - part_margin
    )
    if side == "long":
        return Effect(after, cash, 0, 0, cash - part_cost, 0, 0)
    pnl = part_cost - cash
    loss = max(0, -pnl)
    paid = min(loss, part_margin)
    return Effect(after, 0, 0, part_margin, pnl, paid, loss - paid)


def short_equity(state: PositionState, ask: int, scale: int) -> int:
    """A short's margin plus its unrealised result at ``ask``."""
    return state.margin + state.cost - notional(ask, state.quantity, scale, pays=True)
