"""A snapshot of the tick engine at a journal sequence: its positions, resting orders
(with their armed legs), last quotes and the little memory it keeps (warned
customers, refused roll-overs, the count of checks), as JSON. An engine loaded from
one and fed the journal after its ``seq`` is the engine a replay from the start
builds, so a restart need not replay the whole journal. The books and the per-customer
short sets are derived (from the armed legs and the short positions), not stored."""

from __future__ import annotations

import heapq
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.invest.amounts import PositionState
from rongbank.invest.engine import Engine, Leg, Order, Quote
from rongbank.invest.products import Catalogue

VERSION = 1
EVERY = 10_000
"""Journal entries between snapshots: a restart replays at most about this many."""


def dump(engine: Engine, seq: int) -> dict[str, Any]:
    """The engine's state after journal entry ``seq`` (JSON-ready)."""
    return {
        "version": VERSION,
        "seq": seq,
        "orders": [
            {
                "id": o.id,
                "customer": o.customer,
                "product": o.product,
                "kind": o.kind,
                "side": o.side,
                "expires_at": o.expires_at,
                "reserve": o.reserve,
                "fills": o.fills,
                "armed": sorted(o.armed),
                "legs": [asdict(leg) for _, leg in sorted(o.legs.items())],
            }
            for _, o in sorted(engine.orders.items())
        ],
        "positions": [
            [customer, code, side, asdict(state)]
            for (customer, code, side), state in sorted(engine.positions.items())
        ],
        "quotes": {code: asdict(q) for code, q in sorted(engine.quotes.items())},
        "warned": sorted(engine.warned),
        "refused_rolls": dict(sorted(engine.refused_rolls.items())),
        "checks": engine.checks,
    }


def load(catalogue: Catalogue, state: dict[str, Any]) -> tuple[Engine, int]:
    """The engine a snapshot describes, and the journal sequence to read on from."""
    if state.get("version") != VERSION:
        raise ValueError(f"unknown snapshot version {state.get('version')!r}")
    engine = Engine(catalogue)
    for o in state["orders"]:
        legs = {
            int(d["id"]): Leg(**(d | {"then": tuple(d["then"]), "others": tuple(d["others"])}))
            for d in o["legs"]
        }
        order = Order(
            id=o["id"],
            customer=o["customer"],
            product=o["product"],
            kind=o["kind"],
            side=o["side"],
            expires_at=o["expires_at"],
            reserve=o["reserve"],
            legs=legs,
            fills=o["fills"],
        )
        engine.orders[order.id] = order
        engine.legs.update(legs)
        for leg_id in o["armed"]:
            engine._arm(order, legs[leg_id])
        engine.expiries.append((order.expires_at, order.id))
    heapq.heapify(engine.expiries)
    for customer, code, side, fields in state["positions"]:
        engine.positions[(customer, code, side)] = PositionState(**fields)
        if side == "short" and fields["quantity"]:
            engine.shorts_of.setdefault(customer, set()).add(code)
            engine.shorts_by_product.setdefault(code, set()).add(customer)
    engine.quotes = {code: Quote(**q) for code, q in state["quotes"].items()}
    engine.warned = set(state["warned"])
    engine.refused_rolls = dict(state["refused_rolls"])
    engine.checks = int(state["checks"])
    return engine, int(state["seq"])


def save(session: Session, engine: Engine, seq: int, at: datetime) -> None:
    session.execute(
        text(
            "INSERT INTO invest_snapshot (seq, state, at) VALUES (:s, CAST(:st AS jsonb), :at) "
            "ON CONFLICT (seq) DO NOTHING"
        ),
        {"s": seq, "st": json.dumps(dump(engine, seq)), "at": at},
    )


def latest(session: Session, catalogue: Catalogue) -> tuple[Engine, int] | None:
    """The engine of the latest snapshot and its sequence (None: there is none yet)."""
    state = session.execute(
        text("SELECT state FROM invest_snapshot ORDER BY seq DESC LIMIT 1")
    ).scalar()
    return None if state is None else load(catalogue, state)
