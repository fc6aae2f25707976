"""The desk's rule performance and score drift, from the decisions the engine
recorded and the cases analysts closed: a live rule's hits and precision, each
day's population stability index against the first week, as hand computed."""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta

from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.platform import Platform
from rongbank.risk.monitoring.drift import FLOOR, band, psi
from tests.support.risk_engine import in_force
from tests.support.risk_rules import judged, paid, payer
from tests.support.web import WebStaff


def analyst(platform: Platform, username: str) -> WebStaff:
    client = TestClient(create_app(platform, background=False))
    return WebStaff(client, platform, username, f"风控{username}", "risk_analyst")


def test_psi_as_computed_by_hand() -> None:
    half = (-0.25) * math.log(0.25 / 0.5) + 0.25 * math.log(0.75 / 0.5)
    assert psi([50, 50], [25, 75]) == half
    assert psi([10, 0], [10, 0]) == 0.0
    # An empty bin counts as rare (FLOOR), not as infinitely surprising.
    assert psi([10, 0], [5, 5]) == (
        (0.5 - 1) * math.log(0.5 / 1) + (0.5 - FLOOR) * math.log(0.5 / FLOOR)
    )
    assert psi([0, 0], [1, 2]) is None
    assert [band(v) for v in (None, 0.05, 0.1, 0.2, 0.25, 3.0)] == [
        "none",
        "stable",
        "watch",
        "watch",
        "act",
        "act",
    ]


def test_a_live_rules_precision_and_the_scores_drift(platform: Platform) -> None:
    """A first week of small payments (score 0), then ten days later payments a live
    rule of 50 points meets: half the day's scores move up five bins."""
    wang, li = payer(platform, "王五"), payer(platform, "李六")
    for _ in range(4):
        paid(platform, wang, 1_000)
    first_day = platform.clock.now().astimezone(BUSINESS_TIME_ZONE).date()
    platform.clock.advance(timedelta(days=10))
    big = in_force(
        platform, name="big_transfer", condition="amount >= 200000", action="challenge", score=50
    )
    fraud = paid(platform, wang, 300_000)
    genuine = paid(platform, li, 250_000)
    paid(platform, li, 280_000)
    paid(platform, li, 2_000)
    paid(platform, li, 3_000)  # five today: three scored 50, two 0
    alice, bob = analyst(platform, "alice"), analyst(platform, "bob")
    judged(platform, fraud, wang.customer_id, "fraud", (alice.id, bob.id))
    judged(platform, genuine, li.customer_id, "genuine", (alice.id, bob.id))

    alice.get("/staff/risk/performance")
    page = alice.page.text
    row = re.search(r'data-rule="big_transfer">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num"[^>]*>([^<]*)</td>', row.group(1))
    assert cells == ["3", "2", "1", "50.0%"]  # hits, cases closed, fraud, precision
    assert f'href="/staff/risk/rules/{big}"' in row.group(1)

    drift_table = page[page.index('id="drift-days"') :]
    day = platform.clock.now().astimezone(BUSINESS_TIME_ZONE).date()
    today = re.search(rf"<tr>\s*<td>{day}</td>(.*?)</tr>", drift_table, re.S)
    assert today is not None
    expected = psi([4] + [0] * 9, [2, 0, 0, 0, 0, 3, 0, 0, 0, 0])
    assert expected is not None
    assert re.findall(r">([^<>]+)</td>", today.group(1)) == [
        "5",
        "30.0",
        f"{expected:.3f}",
        "显著漂移（≥0.25）",
    ]
    assert f"基准周（{first_day} 至 {first_day + timedelta(days=6)}" in page
    data = re.search(r'id="monitor-data">(.*?)</script>', page)
    assert data is not None
    assert json.loads(data.group(1))["chart-drift"]["psi"][-1] == round(expected, 4)
