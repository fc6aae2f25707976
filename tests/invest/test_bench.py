"""The tick benchmark's own check: every leg a tick's prices cross is filled in it."""

from __future__ import annotations

from rongbank.invest.bench import InvestReport, measure_ticks, render


def test_every_triggered_order_is_filled_within_its_tick() -> None:
    figures = measure_ticks(orders=2_000, customers=50, ticks=30)
    assert figures.fills > 0
    assert figures.missed == 0
    assert figures.checks_per_s > 0
    report = InvestReport(machine=None, ticks=figures, pgbench=None, http=None)
    assert report.sound
    assert "missed 0" in render(report)
