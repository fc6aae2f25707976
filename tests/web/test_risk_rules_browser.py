"""A fraud rule from proposal to live in a real browser, on a phone in Chinese and
on a desktop in English: one analyst proposes it, a second backtests it over the
payments the engine recorded (its page queued until the job runs it, then, polled
by htmx, done with the hits drawn per day), approves it and it is live; the desk's
drift chart is drawn."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from rongbank.platform import Platform
from rongbank.risk.engine.backtests import run_waiting
from tests.support.risk import analyst_logged_in
from tests.support.risk_rules import paid, payer
from tests.web.conftest import View, needs_chromium

pytestmark = needs_chromium


@pytest.mark.parametrize("view", [(360, "zh"), (1280, "en")], indirect=True)
def test_a_rule_is_proposed_backtested_approved_and_live(
    view: View, server: tuple[str, Platform]
) -> None:
    base, platform = server
    zh = view.lang == "zh"
    someone = payer(platform, f"大额{view.lang}{view.width}")
    for amount in (300_000, 450_000, 1_000):
        paid(platform, someone, amount)
    alice = analyst_logged_in(view.tab(), base, platform, f"rules-alice-{view.lang}{view.width}")
    bob = analyst_logged_in(view.tab(), base, platform, f"rules-bob-{view.lang}{view.width}")
    name = f"big_{view.lang}_{view.width}"

    alice.goto(f"{base}/staff/risk/rules")
    form = alice.locator("#propose-form")
    form.locator("input[name=name]").fill(name)
    form.locator("textarea[name=condition]").fill("amout >= 200000")
    form.locator("select[name=rule_action]").select_option("review")
    form.locator("select[name=mode]").select_option("live")
    form.locator("button[type=submit]").click()
    expect(alice.locator("p.alert")).to_contain_text("amout")  # refused, the field named
    expect(alice.locator("textarea[name=condition][aria-invalid=true]")).to_have_count(1)
    form.locator("textarea[name=condition]").fill("amount >= 200000")
    form.locator("button[type=submit]").click()
    expect(alice.locator("#rule-state")).to_contain_text("待批准" if zh else "Draft")
    expect(alice.locator("#rule-approve")).to_have_count(0)  # not one's own
    view.fits(alice)

    bob.goto(alice.url.split("?")[0])
    bob.click("#run-backtest")
    expect(bob.locator("#backtest-status")).to_have_text("排队中" if zh else "Queued")
    view.fits(bob)
    run_waiting(platform.transaction, platform.clock)  # the leader's job, here and now
    expect(bob.locator("#backtest-state")).to_have_text("已完成" if zh else "Done")
    expect(bob.locator("#backtest-hits")).not_to_have_text("0")
    expect(bob.locator("#chart-backtest canvas")).to_have_count(1)  # ECharts drew
    view.fits(bob)
    view.snap(bob, "risk-rule-backtest")
    bob.click("#backtest-rule")
    bob.click("#rule-approve")
    expect(bob.locator("#rule-state")).to_have_text("生效中" if zh else "Live")
    expect(bob.locator("#rule-approved-by")).to_contain_text(re.compile("bob"))

    bob.goto(f"{base}/staff/risk/performance")
    expect(bob.locator("#rule-performance")).to_contain_text(name)
    expect(bob.locator("#chart-drift canvas")).to_have_count(1)
    expect(bob.locator("#drift-days tbody tr").first).to_contain_text(
        re.compile(r"\d{4}-\d{2}-\d{2}")
    )
    view.fits(bob)
    view.snap(bob, "risk-drift")
