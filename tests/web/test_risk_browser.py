"""A risk case from alert to decision in a real browser, on a desktop and a phone, in
Chinese and in English: a payment held for review (the engine's alert, recorded as
the engine records it) reaches the live alerts while the desk is open (htmx polls),
its customer answers "not me" in 融e联, one analyst takes the case and proposes fraud,
a second confirms it, and the customer's account is frozen; the charts are drawn."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from rongbank.platform import Platform
from tests.support.risk import analyst_logged_in, decisions, raise_alert
from tests.web.conftest import VIEWS, View, needs_chromium, newcomer

pytestmark = needs_chromium
NAMES = {
    (1280, "zh"): "严守一",
    (360, "zh"): "严守二",
    (1280, "en"): "严守三",
    (360, "en"): "严守四",
}


def analyst(view: View, platform: Platform, username: str) -> Page:
    return analyst_logged_in(view.tab(), view.base, platform, username)


@pytest.mark.parametrize("view", VIEWS, indirect=True)
def test_a_case_from_alert_to_decision(view: View, server: tuple[str, Platform]) -> None:
    base, platform = server
    zh = view.lang == "zh"
    customer = view.tab()
    name = NAMES[(view.width, view.lang)]  # the views share the server: one customer each
    number, _ = newcomer(customer, base, name)
    with platform.transaction() as session:
        customer_id = platform.accounts.account(session, number).customer_id
    alice = analyst(view, platform, f"alice-{view.lang}-{view.width}")
    bob = analyst(view, platform, f"bob-{view.lang}-{view.width}")

    alice.clock.install()  # the page's timers, to move on to the next poll at once
    alice.goto(f"{base}/staff/risk")
    expect(alice.locator("#chart-per-hour canvas")).to_have_count(1)  # ECharts drew
    ref = f"browser-{view.lang}-{view.width}"
    raise_alert(platform, customer_id, ref=ref, score=0.97, amount=660_000, hold_ref=f"h-{ref}")
    # The live alerts refresh themselves (htmx, every 10 s): no reload. The page's
    # clock jumps the 10 s rather than the test waiting them out.
    row = alice.locator("#risk-alerts tbody tr", has_text=name)
    alice.clock.fast_forward(10_000)
    expect(row).to_have_count(1)
    view.fits(alice)
    view.snap(alice, "risk-desk")

    # The customer finds the question in 融e联's notice box and says it was not them.
    with platform.transaction() as session:
        box = platform.push.notice_box_state(session, customer_id)
    assert box is not None
    customer.goto(f"{base}/chat/{box.conversation_id}")
    customer.locator("a[href^='/risk/questions/']").last.click()
    expect(customer.locator("#risk-question")).to_contain_text("6,600.00")
    view.fits(customer)
    customer.click("#answer-no")
    expect(customer.locator("#risk-question-status")).to_be_visible()
    assert [d["outcome"] for d in decisions(platform) if d["source_ref"] == ref] == ["fraud"]

    # Alice takes the case and proposes fraud; Bob confirms it.
    row.locator("a").click()
    expect(alice.locator("h1")).to_contain_text(name)
    expect(alice.locator("#case-alerts")).to_contain_text("new_device")
    alice.click("#take-case")
    alice.select_option("#decide-form select[name=outcome]", "fraud")
    alice.fill("#decide-form textarea[name=note]", "客户否认，设备陌生")
    alice.click("#decide-form button[type=submit]")
    expect(alice.locator("#case-status")).to_contain_text("待复核" if zh else "second analyst")
    expect(alice.locator("#confirm-form")).to_have_count(0)
    view.fits(alice)

    bob.goto(alice.url.split("?")[0])
    bob.fill("#confirm-form textarea[name=note]", "同意")
    bob.click("#confirm-form button[type=submit]")
    expect(bob.locator("#case-outcome")).to_have_text("欺诈" if zh else "Fraud")
    expect(bob.locator("main")).to_contain_text(number)  # the account frozen
    view.fits(bob)
    view.snap(bob, "risk-case")

    customer.goto(f"{base}/accounts")
    expect(customer.locator("main")).to_contain_text("冻结" if zh else "rozen")
