"""The fraud rules in the staff console, as risk analysts use them without
JavaScript: proposing a rule (refused, naming the field, when it does not read),
four eyes on approval, shadow, live and disable audited as the command line audits
them, a backtest asked for, run by its job and shown (hits per day with what closed
cases made of them, or why it failed), a shadow rule's real hits. Which roles may
open the pages: ``tests/test_authorization.py``; the job's runs themselves:
``tests/risk/engine/test_backtests.py``."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.platform import Platform
from rongbank.risk.engine import backtests, store
from rongbank.risk.engine.backtests import STALE, run_waiting
from rongbank.risk.monitoring.rules import replay
from tests.support.risk_engine import in_force
from tests.support.risk_rules import judged, paid, payer
from tests.support.web import WebStaff

BIG = "amount >= 200000"


def analyst(platform: Platform, username: str) -> WebStaff:
    client = TestClient(create_app(platform, background=False))
    return WebStaff(client, platform, username, f"风控{username}", "risk_analyst")


def charts(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="monitor-data">(.*?)</script>', page)
    assert found is not None, page
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def shown(page: str, element: str) -> str:
    found = re.search(rf'id="{element}">(.*?)<', page, re.S)
    assert found is not None, element
    return found.group(1).strip()


def rule_id(url: object) -> int:
    found = re.search(r"/staff/risk/rules/(\d+)", str(url))
    assert found is not None, url
    return int(found.group(1))


def audited(platform: Platform) -> list[tuple[int, str, str, str | None]]:
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT actor_id, action, result, details ->> 'channel' FROM audit_log "
                "WHERE action LIKE 'risk.rule.%' ORDER BY id"
            )
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def waiting(page: Any) -> int:
    found = re.search(r'data-work="work_risk_rules"[^>]*>.*?class="badge[^"]*">(\d+)<', page.text)
    return int(found.group(1)) if found else 0


def propose(who: WebStaff, **fields: str) -> int:
    who.get("/staff/risk/rules")
    who.submit("/staff/risk/rules", **fields)
    assert who.page.status_code == 200, who.error
    return rule_id(who.page.url)


def test_one_analyst_proposes_and_another_approves(platform: Platform) -> None:
    alice, bob = analyst(platform, "alice"), analyst(platform, "bob")
    alice.get("/staff/risk/rules")
    assert 'href="/staff/risk/rules"' in alice.page.text  # in the analyst's menu
    assert "new_payee_large v1" in alice.page.text
    assert "系统预置" in alice.page.text

    new = propose(
        alice, name="big_transfer", condition=BIG, rule_action="review", reason="big", mode="live"
    )
    assert alice.notice == "规则已提交，等待另一名分析师批准。"
    assert shown(alice.page.text, "rule-state") == "待批准 · 申请生效"
    assert shown(alice.page.text, "rule-proposed-by").startswith("风控alice")
    assert 'id="rule-approve"' not in alice.page.text  # not one's own
    alice.post(f"/staff/risk/rules/{new}/approve")
    assert alice.page.status_code == 403
    assert "规则须由提出者以外的另一名风险分析师批准。" in alice.page.text

    assert waiting(bob.get("/staff")) == 1  # on the home page's approvals
    assert waiting(alice.get("/staff")) == 0  # her own is not hers to approve
    bob.get(f"/staff/risk/rules/{new}")
    bob.submit(f"/staff/risk/rules/{new}/approve")
    assert bob.notice == "规则已批准，开始运行。"
    assert shown(bob.page.text, "rule-state") == "生效中"
    assert shown(bob.page.text, "rule-approved-by").startswith("风控bob")
    with platform.transaction() as session:
        assert "big_transfer" in [r.name for r in store.active(session)]
    assert audited(platform) == [
        (alice.id, "risk.rule.add", "ok", "console"),
        (alice.id, "risk.rule.approve", "refused", "console"),
        (bob.id, "risk.rule.approve", "ok", "console"),
    ]
    bob.get("/staff/risk/rules")
    row = re.search(r'data-rule="big_transfer" data-version="1">(.*?)</tr>', bob.page.text, re.S)
    assert row is not None
    assert "生效中" in row.group(1)
    assert "风控bob" in row.group(1)


@pytest.mark.parametrize(
    ("fields", "named", "why"),
    [
        ({"condition": "amout >= 100"}, "条件", "There is no feature called 'amout'."),
        ({"condition": "amount >="}, "条件", "The condition cannot be read"),
        ({"condition": "amount + 1"}, "条件", "must be true or false"),
        ({"name": "Big Rule"}, "名称", "lower case letters"),
        ({"score": "lots"}, "分值（0–100）", "whole number"),
        ({"rule_action": "explode"}, "动作", "must be one of"),
    ],
)
def test_a_rule_that_does_not_read_is_refused_naming_the_field(
    platform: Platform, fields: dict[str, str], named: str, why: str
) -> None:
    alice = analyst(platform, "alice")
    with platform.transaction() as session:
        before = len(store.listed(session, every=True))
    alice.get("/staff/risk/rules")
    rule = {"name": "night_big", "condition": "night and amount >= 100000", "score": "10"}
    alice.submit("/staff/risk/rules", **(rule | fields))
    assert alice.page.status_code == 422
    assert why in alice.error
    assert alice.error.endswith(f"（{named}）")
    assert 'aria-invalid="true"' in alice.page.text
    typed = html.escape((rule | fields)["condition"], quote=False)
    assert f">{typed}</textarea>" in alice.page.text  # the form keeps what was typed
    with platform.transaction() as session:
        assert len(store.listed(session, every=True)) == before
    assert audited(platform) == []


def test_shadow_live_and_disable_each_need_their_analysts(platform: Platform) -> None:
    alice, bob = analyst(platform, "alice"), analyst(platform, "bob")
    new = propose(alice, name="watch_big", condition=BIG, rule_action="block", mode="shadow")
    bob.get(f"/staff/risk/rules/{new}")
    bob.submit(f"/staff/risk/rules/{new}/approve")
    assert shown(bob.page.text, "rule-state") == "影子运行"
    bob.submit(f"/staff/risk/rules/{new}/live")
    assert bob.notice == "已申请生效，等待另一名分析师批准。"
    assert shown(bob.page.text, "rule-state") == "待批准 · 申请生效"
    assert 'id="rule-approve"' not in bob.page.text  # he asked for it: Alice approves
    alice.get(f"/staff/risk/rules/{new}")
    alice.submit(f"/staff/risk/rules/{new}/approve")
    assert shown(alice.page.text, "rule-state") == "生效中"
    alice.submit(f"/staff/risk/rules/{new}/disable")
    assert shown(alice.page.text, "rule-state") == "已停用"
    assert 'id="rule-changes"' not in alice.page.text
    assert [a[:2] for a in audited(platform)] == [
        (alice.id, "risk.rule.add"),
        (bob.id, "risk.rule.approve"),
        (bob.id, "risk.rule.live"),
        (alice.id, "risk.rule.approve"),
        (alice.id, "risk.rule.disable"),
    ]
    alice.post(f"/staff/risk/rules/{new}/explode")
    assert alice.page.status_code == 404


def test_a_new_version_starts_from_the_rule_and_supersedes_it(platform: Platform) -> None:
    alice, bob = analyst(platform, "alice"), analyst(platform, "bob")
    first = in_force(platform, name="big_transfer", condition=BIG, action="challenge")
    alice.get(f"/staff/risk/rules?from={first}")
    assert f">{html.escape(BIG)}</textarea>" in alice.page.text
    alice.submit("/staff/risk/rules", condition="amount >= 300000")
    second = rule_id(alice.page.url)
    assert "<h1>big_transfer v2</h1>" in alice.page.text
    bob.get(f"/staff/risk/rules/{second}")
    bob.submit(f"/staff/risk/rules/{second}/approve")
    bob.get("/staff/risk/rules")
    old = re.search(r'data-rule="big_transfer" data-version="1">(.*?)</tr>', bob.page.text, re.S)
    assert old is not None
    assert "已被新版本取代" in old.group(1)


def backtest_id(url: object) -> int:
    found = re.search(r"/staff/risk/backtests/(\d+)$", str(url))
    assert found is not None, url
    return int(found.group(1))


def run_backtests(platform: Platform) -> int:
    """The ``risk-backtests`` job's run, here and now (the test app runs no jobs)."""
    return run_waiting(platform.transaction, platform.clock)


def test_a_backtest_is_queued_at_once_and_its_job_counts_hits_and_verdicts(
    platform: Platform,
) -> None:
    lin, zhou = payer(platform, "林一"), payer(platform, "周二")
    start = platform.clock.now()
    fraud = paid(platform, lin, 300_000)
    paid(platform, zhou, 10_000)
    platform.clock.advance(timedelta(days=2))
    genuine = paid(platform, zhou, 250_000)
    paid(platform, zhou, 400_000)  # a hit no case looked at
    alice, bob = analyst(platform, "alice"), analyst(platform, "bob")  # logged in now
    judged(platform, fraud, lin.customer_id, "fraud", (alice.id, bob.id))
    judged(platform, genuine, zhou.customer_id, "genuine", (alice.id, bob.id))

    new = propose(alice, name="big_transfer", condition=BIG, rule_action="review")
    assert 'id="backtests"' not in alice.page.text  # none asked yet
    day = start.date()
    until = day + timedelta(days=3)
    answer = alice.client.post(
        f"/staff/risk/rules/{new}/backtests",
        data={"csrf": alice.csrf, "since": str(day), "until": str(until)},
        follow_redirects=False,
    )
    # The request only records it: the replay is the job's, which has not run.
    assert answer.status_code == 303
    asked = backtest_id(answer.headers["location"])
    page = alice.get(answer.headers["location"]).text
    assert shown(page, "backtest-status") == "排队中"
    assert 'hx-trigger="every 2s"' in page
    assert 'id="backtest-totals"' not in page
    assert shown(page, "backtest-asked-by").startswith("风控alice")
    with platform.transaction() as session:
        assert backtests.get(session, asked).status == "queued"
    progress = alice.get(f"/staff/risk/backtests/{asked}/progress")
    assert "HX-Refresh" not in progress.headers
    assert 'id="backtest-progress"' in progress.text
    with platform.transaction() as session:  # as a run whose process died leaves it
        session.execute(
            text(
                "UPDATE risk_backtest SET status = 'running', attempt = 1, beat_at = :then "
                "WHERE id = :id"
            ),
            {"id": asked, "then": platform.clock.now() - 2 * STALE},
        )
    progress = alice.get(f"/staff/risk/backtests/{asked}/progress")
    assert shown(progress.text, "backtest-status") == "运行中"
    assert '<progress id="backtest-days-done" max="4" value="0">' in progress.text
    assert "已回放 0/4 天，共 0 笔决策。" in progress.text

    assert run_backtests(platform) == 1  # taken over
    progress = alice.get(f"/staff/risk/backtests/{asked}/progress")
    assert progress.headers["HX-Refresh"] == "true"  # done: the page loads its figures
    page = alice.get(f"/staff/risk/backtests/{asked}").text
    assert shown(page, "backtest-state") == "已完成"
    assert shown(page, "backtest-hits") == "3"
    assert shown(page, "backtest-fraud") == "1"
    assert shown(page, "backtest-false-positives") == "1"
    assert shown(page, "backtest-decisions") == "4"
    assert shown(page, "backtest-unlabelled") == "1"
    assert 'id="backtest-progress"' not in page  # no more polling
    assert charts(page)["chart-backtest"]["hits"] == [1, 0, 2, 0]
    assert f"<td>{day + timedelta(days=2)}</td>" in page  # the table, for no JavaScript
    with platform.transaction() as session:
        # The job's figures, a day per transaction, are the one replay's of before.
        rule = store.as_rule(store.get(session, new))
        assert backtests.get(session, asked).figures == replay(session, rule, first=day, last=until)
    alice.get(f"/staff/risk/rules/{new}")
    assert f'data-backtest="{asked}"' in alice.page.text  # listed on the rule's page

    alice.get(f"/staff/risk/rules/{new}")
    alice.submit(
        f"/staff/risk/rules/{new}/backtests", since=str(day), until=str(day - timedelta(days=1))
    )
    assert alice.page.status_code == 422
    assert "回测的起始日须早于截止日" in alice.error


def test_asking_again_while_it_waits_is_the_same_backtest(platform: Platform) -> None:
    alice, bob = analyst(platform, "alice"), analyst(platform, "bob")
    new = in_force(platform, name="big_transfer", condition=BIG, action="review")
    days = {"since": "2026-02-01", "until": "2026-03-01"}
    alice.get(f"/staff/risk/rules/{new}")
    alice.submit(f"/staff/risk/rules/{new}/backtests", **days)
    first = backtest_id(alice.page.url)
    alice.get(f"/staff/risk/rules/{new}")
    alice.submit(f"/staff/risk/rules/{new}/backtests", **days)  # a double click
    bob.get(f"/staff/risk/rules/{new}")
    bob.submit(f"/staff/risk/rules/{new}/backtests", **days)  # another analyst, same ask
    assert backtest_id(alice.page.url) == backtest_id(bob.page.url) == first
    bob.get(f"/staff/risk/rules/{new}")
    bob.submit(f"/staff/risk/rules/{new}/backtests", since="2026-02-02", until="2026-03-01")
    assert backtest_id(bob.page.url) != first  # other days: another backtest
    assert run_backtests(platform) == 2
    alice.get(f"/staff/risk/rules/{new}")
    alice.submit(f"/staff/risk/rules/{new}/backtests", **days)
    assert backtest_id(alice.page.url) > first  # done: asking again runs it again


def test_a_backtest_that_fails_says_why(platform: Platform) -> None:
    alice = analyst(platform, "alice")
    who = payer(platform, "林一")
    decision = paid(platform, who, 300_000)
    with platform.transaction() as session:
        # A decision recorded when the feature had another type (text, not a number).
        session.execute(
            text(
                "UPDATE risk_decision SET features = features || "
                "jsonb_build_object('amount', '300000') WHERE id = :id"
            ),
            {"id": decision},
        )
    new = in_force(platform, name="big_transfer", condition=BIG, action="review")
    day = platform.clock.now().date()
    alice.get(f"/staff/risk/rules/{new}")
    alice.submit(f"/staff/risk/rules/{new}/backtests", since=str(day), until=str(day))
    asked = backtest_id(alice.page.url)
    run_backtests(platform)
    page = alice.get(f"/staff/risk/backtests/{asked}").text
    assert shown(page, "backtest-state") == "失败"
    assert shown(page, "backtest-failure") == (
        f"规则无法在 {day} 记录的决策上求值：条件与当时记录的特征类型不符。"
        "请修改条件、提交新版本后再回测。"
    )
    assert 'id="backtest-totals"' not in page
    assert 'id="run-backtest-again"' in page


def test_staff_without_the_role_can_neither_see_nor_ask_for_a_backtest(
    platform: Platform,
) -> None:
    teller = WebStaff(
        TestClient(create_app(platform, background=False)), platform, "wang", "王五", "operations"
    )
    new = in_force(platform, name="big_transfer", condition=BIG, action="review")
    with platform.transaction() as session:  # an analyst's, asked in the console
        alice = platform.accounts.create_staff(
            session, username="alice", name="风控alice", role="risk_analyst"
        )
        day = platform.clock.now().date()
        asked = backtests.ask(session, new, first=day, last=day, by=alice, now=platform.clock.now())
    assert teller.get(f"/staff/risk/backtests/{asked}").status_code == 403
    assert teller.get(f"/staff/risk/backtests/{asked}/progress").status_code == 403
    teller.post(f"/staff/risk/rules/{new}/backtests", since="2026-02-01", until="2026-03-02")
    assert teller.page.status_code == 403
    with platform.transaction() as session:
        assert [b.id for b in backtests.of_rule(session, new)] == [asked]


def test_a_shadow_rule_shows_the_hits_it_met_since(platform: Platform) -> None:
    alice = analyst(platform, "alice")
    paid(platform, payer(platform, "林一"), 900_000)  # before: not a shadow hit
    shadow = in_force(platform, mode="shadow", name="watch_big", condition=BIG, action="block")
    wu = payer(platform, "吴三")
    for amount in (250_000, 5_000, 600_000):
        paid(platform, wu, amount)  # shadow: recorded, never blocked
    alice.get(f"/staff/risk/rules/{shadow}")
    assert shown(alice.page.text, "shadow-hits") == "2"
    assert charts(alice.page.text)["chart-shadow"]["hits"][-1] == 2
