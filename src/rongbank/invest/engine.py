"""The tick engine: pending orders, positions and margin, as a pure fold over the journal.

Everything that changes what a tick does is an input in the journal (an order placed
or cancelled, a trade at a quote, a tick's quotes); everything a tick does is an
output (fills, expiries, roll-overs, margin warnings and forced closes). The engine
keeps no clock and draws nothing at random, so feeding the same inputs to a new engine
gives the same outputs: that is how the server restarts (replaying the journal) and how
a dispute is settled (:func:`replay`).

Resting legs are indexed by trigger price, per product, per the price they watch (a
buy watches the ask, a sell the bid) and per direction: a leg that fires when the
price rises to its trigger sits in an ascending array whose fired legs are the prefix
up to the price; one that fires when it falls, the suffix. A tick finds every fired
leg with one bisection per array, whatever rests: checking 100,000 resting orders
costs four bisections, plus the work for the ones that fire.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rongbank.invest.amounts import (
    Action,
    PositionState,
    Side,
    buys,
    effect,
    margin_for,
    notional,
    short_equity,
)
from rongbank.invest.products import Catalogue, Product

WARN_BPS = 6000
"""Below this margin ratio the customer is warned (once until it recovers)."""
FORCE_BPS = 2000
"""Below this, shorts are closed, worst first, until the ratio is back above it."""

ORDER_KINDS = ("limit", "stop", "oco", "if_done", "one_to_many", "circular", "add_on")


@dataclass(slots=True)
class Leg:
    id: int
    order_id: int
    customer: int
    product: str
    side: Side
    action: Action
    quantity: int
    trigger: int
    rises: bool
    """Fires when the watched price rises to the trigger (else when it falls to it)."""
    then: tuple[int, ...] = ()
    """Legs armed when this one fills."""
    others: tuple[int, ...] = ()
    """Legs cancelled when this one fills (one cancels the other)."""

    @property
    def watches(self) -> str:
        return "ask" if buys(self.side, self.action) else "bid"


@dataclass(slots=True)
class Order:
    id: int
    customer: int
    product: str
    kind: str
    side: Side
    expires_at: str
    reserve: int
    """Money set aside for the order's opening leg: cash for a long, margin for a short."""
    legs: dict[int, Leg]
    armed: set[int] = field(default_factory=set)
    fills: int = 0


def legs_of(order_id: int, customer: int, product: str, spec: Mapping[str, Any]) -> list[Leg]:
    """The legs of an order (``spec``: kind, side, quantity and its prices), the first
    ones armed: see ``ORDER_KINDS`` and the API's description of each."""
    kind, side, qty = spec["kind"], spec["side"], int(spec["quantity"])
    base = order_id * 4

    def leg(k: int, action: Action, trigger: int, *, stop: bool = False) -> Leg:
        buy = buys(side, action)
        # A buy fills when the ask falls to a limit (rises to a stop); a sell the reverse.
        rises = (not buy) != stop
        return Leg(base + k, order_id, customer, product, side, action, qty, trigger, rises)

    if kind in ("limit", "add_on"):
        return [leg(0, spec.get("action", "open"), int(spec["price"]))]
    if kind == "stop":
        return [leg(0, "close", int(spec["price"]), stop=True)]
    if kind == "oco":
        a, b = leg(0, "close", int(spec["limit"])), leg(1, "close", int(spec["stop"]), stop=True)
        a.others, b.others = (b.id,), (a.id,)
        return [a, b]
    if kind == "if_done":
        first = leg(0, "open", int(spec["entry"]))
        second = leg(1, "close", int(spec["exit"]), stop=spec.get("exit_kind") == "stop")
        first.then = (second.id,)
        return [first, second]
    if kind == "one_to_many":
        first = leg(0, "open", int(spec["entry"]))
        a, b = leg(1, "close", int(spec["limit"])), leg(2, "close", int(spec["stop"]), stop=True)
        a.others, b.others = (b.id,), (a.id,)
        first.then = (a.id, b.id)
        return [first, a, b]
    if kind == "circular":
        first, second = leg(0, "open", int(spec["entry"])), leg(1, "close", int(spec["exit"]))
        first.then, second.then = (second.id,), (first.id,)
        return [first, second]
    raise ValueError(f"no such order kind {kind!r}")


def first_legs(legs: list[Leg]) -> list[Leg]:
    """The legs armed when the order is placed: those no other leg arms (a circular
    order's buy is armed again by its sell, yet is armed first)."""
    armed_later = {t for leg in legs for t in leg.then}
    first = [leg for leg in legs if leg.id not in armed_later]
    return first or legs[:1]


class _Book:
    """Resting legs of one product watching one price in one direction, by trigger."""

    __slots__ = ("keys", "rises")

    def __init__(self, rises: bool) -> None:
        self.rises = rises
        self.keys: list[tuple[int, int]] = []  # (trigger, leg id), ascending

    def add(self, leg: Leg) -> None:
        insort(self.keys, (leg.trigger, leg.id))

    def remove(self, leg: Leg) -> None:
        i = bisect_left(self.keys, (leg.trigger, leg.id))
        if i < len(self.keys) and self.keys[i] == (leg.trigger, leg.id):
            del self.keys[i]

    def fire(self, price: int) -> list[int]:
        if self.rises:  # triggers at or below the price fire
            i = bisect_right(self.keys, (price, 1 << 62))
            fired, self.keys[:i] = self.keys[:i], []
        else:  # triggers at or above the price fire
            i = bisect_left(self.keys, (price, -1))
            fired, self.keys[i:] = self.keys[i:], []
        return [leg_id for _, leg_id in fired]


@dataclass(slots=True)
class Quote:
    bid: int
    ask: int
    ref: int
    contract: str | None = None


PositionKey = tuple[int, str, str]  # customer, product, side


class Engine:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.orders: dict[int, Order] = {}
        self.legs: dict[int, Leg] = {}
        self.books: dict[tuple[str, str, bool], _Book] = {}
        self.positions: dict[PositionKey, PositionState] = {}
        self.shorts_of: dict[int, set[str]] = {}
        """Each customer's products held short (what their margin ratio sums over)."""
        self.shorts_by_product: dict[str, set[int]] = {}
        self.quotes: dict[str, Quote] = {}
        self.warned: set[int] = set()
        self.refused_rolls: dict[str, str | None] = {}
        self.expiries: list[tuple[str, int]] = []
        self.checks = 0
        """Resting legs covered by the ticks so far (each tick checks every one)."""

    # -- inputs --------------------------------------------------------------------------

    def feed(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        kind = event["type"]
        if kind == "order":
            self._place(event)
            return []
        if kind == "cancel":
            # The canceller released the reserve when it journaled this: no output.
            self._cancel(int(event["order_id"]), "cancelled")
            return []
        if kind == "trade":
            self._trade(event)
            return []
        if kind == "tick":
            return self.tick(event["at"], event["quotes"])
        raise ValueError(f"no such journal input {kind!r}")

    def _place(self, event: Mapping[str, Any]) -> None:
        spec = event["spec"]
        order = Order(
            id=int(event["order_id"]),
            customer=int(event["customer"]),
            product=event["product"],
            kind=spec["kind"],
            side=spec["side"],
            expires_at=event["expires_at"],
            reserve=int(event["reserve"]),
            legs={},
        )
        legs = legs_of(order.id, order.customer, order.product, spec)
        order.legs = {leg.id: leg for leg in legs}
        self.orders[order.id] = order
        for leg in legs:
            self.legs[leg.id] = leg
        for leg in first_legs(legs):
            self._arm(order, leg)
        heapq.heappush(self.expiries, (order.expires_at, order.id))

    def _arm(self, order: Order, leg: Leg) -> None:
        order.armed.add(leg.id)
        self._book(leg.product, leg.watches, leg.rises).add(leg)

    def _book(self, product: str, watches: str, rises: bool) -> _Book:
        key = (product, watches, rises)
        book = self.books.get(key)
        if book is None:
            book = self.books[key] = _Book(rises)
        return book

    def _disarm(self, order: Order, leg_id: int) -> None:
        if leg_id in order.armed:
            order.armed.discard(leg_id)
            leg = self.legs[leg_id]
            self._book(leg.product, leg.watches, leg.rises).remove(leg)

    def _end(self, order: Order, status: str) -> dict[str, Any]:
        for leg_id in list(order.armed):
            self._disarm(order, leg_id)
        for leg_id in order.legs:
            self.legs.pop(leg_id, None)
        del self.orders[order.id]
        return {
            "type": "order_ended",
            "order_id": order.id,
            "customer": order.customer,
            "status": status,
            "released": order.reserve,
        }

    def _cancel(self, order_id: int, status: str) -> list[dict[str, Any]]:
        order = self.orders.get(order_id)
        return [self._end(order, status)] if order is not None else []

    def idle(self) -> bool:
        """Nothing a tick could do: no order rests, nothing is short (margin) and
        nothing is held in a product with contract months (roll-over)."""
        if self.orders or any(self.shorts_of.values()):
            return False
        return not any(self.catalogue.product(code).contracts for _, code, _ in self.positions)

    def _trade(self, event: Mapping[str, Any]) -> None:
        product = self.catalogue.product(event["product"])
        contract = event.get("contract")
        known = self.quotes.get(product.code)
        if contract is not None and (known is None or known.contract != contract):
            # Opened in a month no tick has shown yet (ticks are skipped while idle):
            # the month it was traded in is the one it rolls from.
            price = int(event["price"])
            self.quotes[product.code] = Quote(price, price, price, contract)
        self._apply(
            int(event["customer"]),
            product,
            event["side"],
            event["action"],
            int(event["quantity"]),
            int(event["price"]),
        )

    def _apply(
        self,
        customer: int,
        product: Product,
        side: Side,
        action: Action,
        quantity: int,
        price: int,
        margin: int | None = None,
    ) -> dict[str, Any]:
        key = (customer, product.code, side)
        before = self.positions.get(key, PositionState())
        done = effect(
            before,
            side=side,
            action=action,
            quantity=quantity,
            price=price,
            scale=product.quantity_scale,
            margin_bps=product.margin_bps,
            margin=margin,
        )
        if done.after.quantity:
            self.positions[key] = done.after
        else:
            self.positions.pop(key, None)
        if side == "short":
            holders = self.shorts_by_product.setdefault(product.code, set())
            mine = self.shorts_of.setdefault(customer, set())
            if done.after.quantity:
                holders.add(customer)
                mine.add(product.code)
            else:
                holders.discard(customer)
                mine.discard(product.code)
        return {
            "customer": customer,
            "product": product.code,
            "side": side,
            "action": action,
            "quantity": quantity,
            "price": price,
            "cash": done.cash,
            "margin_in": done.margin_in,
            "margin_out": done.margin_out,
            "pnl": done.pnl,
            "paid_loss": done.paid_loss,
            "shortfall": done.shortfall,
        }

    # -- the tick -----------------------------------------------------------------------

    def tick(self, at: str, quotes: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One tick at ``at`` (ISO text) with the bank's quotes of the products that
        trade (a halted product has none): expiries first, then roll-overs, then every
        leg the quotes trigger (and every leg those fills arm that the same quotes
        trigger), then margin."""
        out: list[dict[str, Any]] = []
        while self.expiries and self.expiries[0][0] <= at:
            _, order_id = heapq.heappop(self.expiries)
            out.extend(self._cancel(order_id, "expired"))
        live = []
        for code in sorted(quotes):
            q = quotes[code]
            quote = Quote(int(q["bid"]), int(q["ask"]), int(q["ref"]), q.get("contract"))
            previous = self.quotes.get(code)
            if q.get("halted"):
                # The price guard: no fill, no roll at a price outside the bounds; the
                # last good quote stays what margin is judged by.
                rolls = previous is not None and previous.contract != quote.contract
                if rolls and self.refused_rolls.get(code) != quote.contract:
                    assert previous is not None
                    self.refused_rolls[code] = quote.contract
                    out.extend(self._roll(self.catalogue.product(code), previous, quote))
                continue
            if previous is not None and previous.contract != quote.contract:
                out.extend(self._roll(self.catalogue.product(code), previous, quote))
            self.quotes[code] = quote
            live.append(code)
            out.extend(self._trigger(code, quote))
        touched = {c for code in live for c in self.shorts_by_product.get(code, ())}
        for customer in sorted(touched):
            out.extend(self._margin(customer, at))
        return out

    def _trigger(self, code: str, quote: Quote) -> Iterator[dict[str, Any]]:
        product = self.catalogue.product(code)
        for _ in range(16):  # legs armed by a fill may fire at the same quotes
            fired: list[int] = []
            for watches, price in (("ask", quote.ask), ("bid", quote.bid)):
                for rises in (True, False):
                    book = self.books.get((code, watches, rises))
                    if book is not None:
                        self.checks += len(book.keys)
                        fired.extend(book.fire(price))
            if not fired:
                return
            for leg_id in sorted(fired):
                yield from self._fill(product, quote, leg_id)

    def _fill(self, product: Product, quote: Quote, leg_id: int) -> Iterator[dict[str, Any]]:
        leg = self.legs.get(leg_id)
        if leg is None:
            return
        order = self.orders[leg.order_id]
        if leg_id not in order.armed:
            return
        order.armed.discard(leg_id)
        for other in leg.others:
            self._disarm(order, other)
        price = quote.ask if buys(leg.side, leg.action) else quote.bid
        key = (leg.customer, leg.product, leg.side)
        held = self.positions.get(key, PositionState()).quantity
        quantity = leg.quantity if leg.action == "open" else min(leg.quantity, held)
        if quantity > 0:
            margin = order.reserve if leg.action == "open" and leg.side == "short" else None
            fill = self._apply(leg.customer, product, leg.side, leg.action, quantity, price, margin)
            fill |= {"type": "fill", "order_id": order.id, "leg": leg.id - order.id * 4}
            fill["reserve_before"] = order.reserve
            order.reserve = self._reserve_after(order, leg, fill, product)
            fill["reserve_after"] = order.reserve
            order.fills += 1
            yield fill
        for nxt in leg.then:
            self._arm(order, self.legs[nxt])
        if not order.armed:
            yield self._end(order, "filled" if quantity > 0 else "nothing_to_close")

    @staticmethod
    def _reserve_after(order: Order, leg: Leg, fill: dict[str, Any], product: Product) -> int:
        """What the order keeps set aside after a fill. An opening fill spends it (a
        long's cost, a short's margin; a long's unspent rest stays for a circular order
        and is released when the order ends). A circular order's closing fill sets
        aside again exactly what its next opening needs (the opening's rest and the
        proceeds make it up: checked at placement to cover it)."""
        if leg.action == "open":
            return order.reserve - int(fill["cash"]) - int(fill["margin_in"])
        if order.kind != "circular":
            return order.reserve
        opening = next(iter(order.legs.values()))
        need = notional(opening.trigger, opening.quantity, product.quantity_scale, pays=True)
        if leg.side == "short":
            need = margin_for(
                notional(opening.trigger, opening.quantity, product.quantity_scale, pays=False),
                product.margin_bps,
            )
        return need

    def _roll(self, product: Product, old: Quote, new: Quote) -> Iterator[dict[str, Any]]:
        """Roll every position of the product to the new contract month: its cost is
        restated by the difference between the months' references (no money moves: the
        customer keeps the result so far); refused when either reference is outside the
        price bounds, leaving positions in the old month for staff to deal with."""
        refused = not (product.in_bounds(old.ref) and product.in_bounds(new.ref))
        for key in sorted(k for k in self.positions if k[1] == product.code):
            state = self.positions[key]
            scale = product.quantity_scale
            shift = notional(new.ref, state.quantity, scale, pays=True) - notional(
                old.ref, state.quantity, scale, pays=True
            )
            if not refused:
                self.positions[key] = replace(state, cost=state.cost + shift)
            yield {
                "type": "roll_refused" if refused else "roll",
                "customer": key[0],
                "product": product.code,
                "side": key[2],
                "quantity": state.quantity,
                "from": old.contract,
                "to": new.contract,
                "shift": shift,
            }

    # -- margin -------------------------------------------------------------------------

    def margin_ratio(self, customer: int) -> int | None:
        """The customer's shorts' equity over their margin, in basis points (None: no
        shorts, or none quoted yet)."""
        equity = margin = 0
        for code in self.shorts_of.get(customer, ()):
            if code not in self.quotes:
                continue
            state = self.positions[(customer, code, "short")]
            product = self.catalogue.product(code)
            equity += short_equity(state, self.quotes[code].ask, product.quantity_scale)
            margin += state.margin
        return equity * 10_000 // margin if margin else None

    def _margin(self, customer: int, at: str) -> Iterator[dict[str, Any]]:
        ratio = self.margin_ratio(customer)
        if ratio is None or ratio >= WARN_BPS:
            self.warned.discard(customer)
            return
        if ratio >= FORCE_BPS:
            if customer not in self.warned:
                self.warned.add(customer)
                yield {"type": "margin_warning", "customer": customer, "ratio_bps": ratio, "at": at}
            return
        while ratio is not None and ratio < FORCE_BPS:
            worst = min(self._shorts(customer), key=lambda item: (item[0], item[1]))
            _, code = worst
            product = self.catalogue.product(code)
            state = self.positions[(customer, code, "short")]
            fill = self._apply(
                customer, product, "short", "close", state.quantity, self.quotes[code].ask
            )
            after = self.margin_ratio(customer)
            yield fill | {
                "type": "forced_close",
                "ratio_before_bps": ratio,
                "ratio_after_bps": after,
                "why": (
                    f"margin ratio {ratio / 100:.2f}% below {FORCE_BPS / 100:.0f}%: "
                    f"closed the worst short ({code}) at the ask"
                ),
            }
            ratio = after
        self.warned.discard(customer)

    def _shorts(self, customer: int) -> Iterable[tuple[int, str]]:
        """The customer's quoted shorts with each one's own ratio (the worst lowest)."""
        for code in sorted(self.shorts_of.get(customer, ())):
            if code in self.quotes:
                state = self.positions[(customer, code, "short")]
                product = self.catalogue.product(code)
                equity = short_equity(state, self.quotes[code].ask, product.quantity_scale)
                yield (equity * 10_000 // max(state.margin, 1), code)


def replay(catalogue: Catalogue, inputs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every output of the journal's inputs fed in order to a new engine."""
    engine = Engine(catalogue)
    out: list[dict[str, Any]] = []
    for event in inputs:
        out.extend(engine.feed(event))
    return out
