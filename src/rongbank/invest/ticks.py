"""The e-Invest tick: quote every product, let the engine fold the journal, and
execute every fill, expiry, margin call, roll and forced close it outputs.

:class:`Ticks` is mixed into :class:`~rongbank.invest.service.InvestService`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.invest import snapshot
from rongbank.invest.alerts import warn_roll_refused, watch_halt
from rongbank.invest.engine import Engine
from rongbank.invest.events import MarginCall
from rongbank.invest.orders import PendingOrders
from rongbank.ledger.client_ids import Namespace


class Ticks(PendingOrders):
    """The tick, mixed into ``InvestService``."""

    ticker: Ticker
    halted: set[str]

    def market(self, at: datetime) -> dict[str, dict[str, Any]]:
        """The bank's quotes of every product that trades at ``at`` (a product outside
        its hours has none; one outside its price bounds is ``halted``: nothing
        triggers on it and it does not roll)."""
        quotes: dict[str, dict[str, Any]] = {}
        for code, product in sorted(self.catalogue.products.items()):
            if not product.hours.is_open(at):
                continue
            contract = product.contract(at) if product.contracts else None
            ref = self.prices.reference(product, at, contract)
            halted = not product.in_bounds(ref)
            watch_halt(self.halted, product, ref, halted)
            quotes[code] = {
                "halted": halted,
                "bid": ref - product.spread,
                "ask": ref + product.spread,
                "ref": ref,
                "contract": contract.isoformat() if contract else None,
            }
        return quotes

    def tick(
        self, session: Session, engine: Ticker, quotes: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One tick: fold what was journaled since the engine last looked, quote, and
        execute every fill, expiry and forced close within this transaction."""
        now = self.clock.now()
        self.journal_lock(session)
        if engine.seq == 0 and (found := snapshot.latest(session, self.catalogue)):
            engine.engine, engine.seq = found  # a restart: replay only what followed
            engine.saved = engine.seq
        for seq, event in self.journal(session, inputs=True, after=engine.seq):
            engine.seq = seq
            engine.engine.feed(event)
        if engine.engine.idle():
            return []  # nothing to journal: the journal keeps the ticks that matter
        tick = {
            "type": "tick",
            "at": now.isoformat(),
            "quotes": dict(quotes if quotes is not None else self.market(now)),
        }
        engine.seq = self.append_journal(session, "tick", tick)
        outputs = engine.engine.feed(tick)
        for n, out in enumerate(outputs):
            self.append_journal(session, out["type"], out)
            self._apply_output(session, out, f"{engine.seq}:{n}")
        if engine.seq - engine.saved >= snapshot.EVERY:
            snapshot.save(session, engine.engine, engine.seq, now)
            engine.saved = engine.seq
        return outputs

    def run_tick(self, transaction: Callable[[], AbstractContextManager[Session]]) -> int:
        """The server's tick (once a second, in the process that leads the jobs);
        returns how many outputs. A tick that fails leaves the engine to be rebuilt
        from the journal by the next, which loads the latest snapshot and replays what
        followed it (the whole journal when there is none)."""
        try:
            with transaction() as session:
                return len(self.tick(session, self.ticker))
        except Exception:
            self.ticker = Ticker(Engine(self.catalogue))
            raise

    def _apply_output(self, session: Session, out: Mapping[str, Any], ref: str) -> None:
        kind = out["type"]
        if kind == "order_ended":
            self.end_order(session, out)
            return
        if kind == "margin_warning":
            outbox.record(
                session,
                MarginCall(
                    occurred_at=self.clock.now(),
                    customer_id=int(out["customer"]),
                    ratio_bps=int(out["ratio_bps"]),
                    journal=ref,
                ),
            )
            return
        if kind in ("roll", "roll_refused"):
            if kind == "roll_refused":
                product = self.catalogue.product(out["product"])
                at = self.clock.now()
                warn_roll_refused(
                    out, product, self.prices.reference(product, at, product.contract(at))
                )
            if kind == "roll":
                session.execute(
                    text(
                        "UPDATE invest_position SET cost = cost + :shift WHERE customer_id = :c "
                        "AND product = :p AND side = :s"
                    ),
                    {
                        "shift": out["shift"],
                        "c": out["customer"],
                        "p": out["product"],
                        "s": out["side"],
                    },
                )
            return
        product = self.catalogue.product(out["product"])
        if kind == "fill":
            order = session.execute(
                text(
                    "SELECT a.number FROM invest_order o JOIN e_account a ON a.id = o.e_account_id "
                    "WHERE o.id = :id"
                ),
                {"id": out["order_id"]},
            ).scalar_one()
            account = self.accounts.account(session, order)
            delta = int(out["reserve_after"]) - int(out["reserve_before"])
            self.execute_fill(
                session,
                out,
                product,
                account,
                reason="order",
                order_id=int(out["order_id"]),
                reserve_delta=delta,
                ledger_id=Namespace.INVEST.client_id("fill", ref),
            )
            session.execute(
                text("UPDATE invest_order SET fills = fills + 1, reserve = :r WHERE id = :id"),
                {"r": out["reserve_after"], "id": out["order_id"]},
            )
            return
        if kind == "forced_close":
            number = session.execute(
                text(
                    "SELECT a.number FROM invest_position p "
                    "JOIN e_account a ON a.id = p.e_account_id WHERE p.customer_id = :c "
                    "AND p.product = :p AND p.side = 'short'"
                ),
                {"c": out["customer"], "p": out["product"]},
            ).scalar_one()
            self.execute_fill(
                session,
                out,
                product,
                self.accounts.account(session, number),
                reason="forced",
                why=str(out["why"]),
                ledger_id=Namespace.INVEST.client_id("forced", ref),
            )
            return
        raise ValueError(f"no such engine output {kind!r}")


@dataclass
class Ticker:
    """An engine and how far into the journal it has read."""

    engine: Engine
    seq: int = 0
    saved: int = 0
    """The sequence of the last snapshot this process wrote or loaded."""
