"""A snapshot of the engine at any journal entry, loaded and fed what follows, gives
the same outputs (fills, expiries, margin warnings, forced closes) and the same final
state as replaying the whole journal from the start."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from rongbank.clock import FrozenClock
from rongbank.invest import snapshot
from rongbank.invest.engine import Engine
from rongbank.invest.snapshot import dump, load
from rongbank.platform import Platform
from tests.factories.accounts import People
from tests.support.invest import ScriptedPrices, Ticker, investor, place, tick, ticker, trade

G = 1000


def _journal(
    platform: Platform,
    people: People,
    prices: ScriptedPrices,
    clock: FrozenClock,
    ticks: Ticker | None = None,
) -> list[Any]:
    ticks = ticks or ticker(platform)
    a, b = investor(platform, people, fund=10_000_00), investor(platform, people)
    trade(platform, a, "short", "open", 100 * G, "s")
    circular = {"kind": "circular", "side": "long", "entry": 495_00, "exit": 505_00}
    place(platform, b, circular | {"quantity": G}, client_id="c")
    oco = {"kind": "one_to_many", "side": "long", "entry": 490_00, "limit": 510_00}
    place(platform, b, oco | {"stop": 470_00, "quantity": G}, client_id="m")
    limit = {"kind": "limit", "side": "long", "action": "open", "price": 480_00}
    cancelled = place(platform, b, limit | {"quantity": G}, client_id="x")
    with platform.transaction() as session:
        platform.invest.cancel_order(session, customer_id=b.customer_id, order_id=cancelled["id"])
    for price in (494_00, 506_00, 489_00, 511_00, 525_00, 526_00, 494_00, 546_00, 500_00):
        prices.prices["AU_CNY"] = price
        clock.advance(timedelta(seconds=1))
        tick(platform, ticks)
    clock.advance(timedelta(hours=25))  # the rest expire
    tick(platform, ticks)
    with platform.transaction() as session:
        return [p for _, p in platform.invest.journal(session, inputs=True)]


def test_a_restart_from_a_snapshot_at_any_entry_equals_a_full_replay(
    platform: Platform, people: People, prices: ScriptedPrices, clock: FrozenClock
) -> None:
    inputs = _journal(platform, people, prices, clock)
    catalogue = platform.invest.catalogue
    full = Engine(catalogue)
    each = [full.feed(event) for event in inputs]
    kinds = {o["type"] for outs in each for o in outs}
    assert {"fill", "order_ended", "margin_warning", "forced_close"} <= kinds
    for cut in range(len(inputs) + 1):
        before = Engine(catalogue)
        for event in inputs[:cut]:
            before.feed(event)
        stored = json.loads(json.dumps(dump(before, cut)))  # as the database keeps it
        engine, seq = load(catalogue, stored)
        assert seq == cut
        after = [engine.feed(event) for event in inputs[seq:]]
        assert after == each[cut:], cut
        assert dump(engine, 0) == dump(full, 0), cut


def test_the_server_writes_snapshots_and_a_restart_replays_only_what_followed(
    platform: Platform,
    people: People,
    prices: ScriptedPrices,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshot, "EVERY", 3)
    inputs = _journal(platform, people, prices, clock, ticker(platform))
    with platform.transaction() as session:
        seqs = session.scalars(text("SELECT seq FROM invest_snapshot ORDER BY seq")).all()
    assert len(seqs) >= 2
    read: list[int] = []
    journal = platform.invest.journal

    def reading(session: Any, *, inputs: bool, after: int = 0) -> Any:
        read.append(after)
        return journal(session, inputs=inputs, after=after)

    monkeypatch.setattr(platform.invest, "journal", reading)
    restarted = ticker(platform)  # a new process: its engine starts empty
    tick(platform, restarted)
    assert read == [seqs[-1]]  # from the latest snapshot on, not from the start
    full = Engine(platform.invest.catalogue)
    for event in inputs:
        full.feed(event)
    assert dump(restarted.engine, 0) == dump(full, 0)
