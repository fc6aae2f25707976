"""The ``risk-backtests`` job's runs: a backtest another process is running is left
to it, one whose run went silent is taken over and resumed from the day after the
last it kept, and one interrupted too often is given up with that reason; and the
API's ``202`` with the backtest's address, read there until done. (Asking for one in
the console and its page: ``tests/risk/test_rule_pages.py``.)"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.platform import Platform
from rongbank.risk.engine import backtests, store
from rongbank.risk.engine.backtests import ATTEMPTS, STALE, run_waiting
from rongbank.risk.monitoring.rules import replay
from tests.conftest import staff_token
from tests.support.risk_engine import in_force
from tests.support.risk_rules import paid, payer

BIG = "amount >= 200000"


def asked(platform: Platform, days: int) -> tuple[int, int, date]:
    """A rule, payments on ``days`` Beijing days, its backtest over them (queued)."""
    rule = in_force(platform, name="big_transfer", condition=BIG, action="review")
    first = platform.clock.now().date()
    who = payer(platform, "林一")
    for _ in range(days):
        paid(platform, who, 300_000)
        paid(platform, who, 1_000)
        platform.clock.advance(timedelta(days=1))
    with platform.transaction() as session:
        by = platform.accounts.create_staff(
            session, username="alice", name="风控alice", role="risk_analyst"
        )
        found = backtests.ask(
            session,
            rule,
            first=first,
            last=first + timedelta(days=days - 1),
            by=by,
            now=platform.clock.now(),
        )
    return rule, found, first


def left_running(platform: Platform, backtest_id: int, **columns: Any) -> None:
    """As a run of another process leaves it: running, its attempt, its last beat."""
    sets = ", ".join(f"{name} = :{name}" for name in columns)
    with platform.transaction() as session:
        session.execute(
            text(f"UPDATE risk_backtest SET status = 'running', {sets} WHERE id = :id"),  # noqa: S608
            {"id": backtest_id} | columns,
        )


def test_a_run_gone_silent_is_taken_over_and_resumed_after_its_last_day(
    platform: Platform,
) -> None:
    rule_id, backtest_id, first = asked(platform, days=3)
    kept = {  # what the run kept of its first day (a figure no replay gives, to tell)
        "hits": [7],
        "total": {"hits": 7, "closed": 0, "fraud": 0, "false_positives": 0},
        "decisions": 9,
        "amount": 5,
    }
    left_running(
        platform,
        backtest_id,
        attempt=1,
        beat_at=platform.clock.now(),
        done_through=first,
        figures=json.dumps(kept),
    )
    assert run_waiting(platform.transaction, platform.clock) == 0  # still another's
    with platform.transaction() as session:
        assert backtests.get(session, backtest_id).status == "running"

    platform.clock.advance(STALE + timedelta(seconds=1))
    assert run_waiting(platform.transaction, platform.clock) == 1
    with platform.transaction() as session:
        done = backtests.get(session, backtest_id)
        rest = replay(
            session,
            store.as_rule(store.get(session, rule_id)),
            first=first + timedelta(days=1),
            last=done.last,
        )
    assert done.status == "done"
    assert done.figures is not None
    assert done.figures.hits == [7, *rest.hits] == [7, 1, 1]  # day one not replayed again
    assert done.figures.decisions == 9 + 4
    assert done.figures.days == [str(first + timedelta(days=n)) for n in range(3)]


def test_a_process_shutting_down_hands_its_backtest_back_after_the_day_it_is_on(
    platform: Platform,
) -> None:
    rule_id, backtest_id, first = asked(platform, days=3)
    days_begun = 0

    def stopping() -> bool:  # the process is told to stop during its second day
        nonlocal days_begun
        days_begun += 1
        return days_begun > 2

    assert run_waiting(platform.transaction, platform.clock, stopping) == 1
    with platform.transaction() as session:
        handed_back = backtests.get(session, backtest_id)
    assert (handed_back.status, handed_back.done_through) == ("queued", first)
    assert run_waiting(platform.transaction, platform.clock) == 1  # the next leader, at once
    with platform.transaction() as session:
        done = backtests.get(session, backtest_id)
        whole = replay(
            session, store.as_rule(store.get(session, rule_id)), first=first, last=done.last
        )
    assert done.status == "done"
    assert done.figures == whole


def test_a_backtest_interrupted_too_often_is_given_up(platform: Platform) -> None:
    _, backtest_id, _ = asked(platform, days=1)
    left_running(platform, backtest_id, attempt=ATTEMPTS, beat_at=platform.clock.now() - STALE * 2)
    assert run_waiting(platform.transaction, platform.clock) == 1
    with platform.transaction() as session:
        given_up = backtests.get(session, backtest_id)
    assert (given_up.status, given_up.failure) == ("failed", "interrupted")
    assert given_up.figures is None


def test_over_the_api_a_backtest_answers_202_and_its_address_then_its_figures(
    platform: Platform,
) -> None:
    rule_id, _, first = asked(platform, days=2)  # alice's, queued
    _, token = staff_token(platform, username="bob", role="risk_analyst")
    client = TestClient(create_app(platform, background=False))
    headers = {"Authorization": f"Bearer {token}"}
    body = {"since": str(first), "until": str(first + timedelta(days=1))}

    answer = client.post(
        f"/api/v1/staff/risk/rules/{rule_id}/backtests", json=body, headers=headers
    )
    assert answer.status_code == 202
    assert answer.json()["status"] == "queued"
    assert answer.json()["figures"] is None
    where = answer.headers["Location"]
    again = client.post(f"/api/v1/staff/risk/rules/{rule_id}/backtests", json=body, headers=headers)
    assert again.headers["Location"] == where  # the same, while it waits

    run_waiting(platform.transaction, platform.clock)
    done = client.get(where, headers=headers).json()
    assert (done["status"], done["days_done"], done["days"]) == ("done", 2, 2)
    assert done["figures"]["hits_per_day"] == [1, 1]
    assert done["figures"]["decisions"] == 4
    assert done["figures"]["amount"] == "6000.00"

    _, teller = staff_token(platform, username="wang", role="operations")
    refused = client.get(where, headers={"Authorization": f"Bearer {teller}"})
    assert refused.status_code == 403
