"""The home dashboard in a real browser (Debian's Chromium driven by Playwright): the
spending charts are drawn by the bank's own copy of ECharts under its
Content-Security-Policy, on a desktop and on a phone, in Chinese and in English, and
the page is no wider than the screen; a movement opens its page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, expect

from rongbank.platform import Platform
from tests.factories.identity import resident_id
from tests.factories.payments import merchant, paid
from tests.web.conftest import VIEWS, View, deposit, needs_chromium, newcomer, someone

pytestmark = needs_chromium

GREETING = {"zh": "韩梅梅，您好", "en": "Hello, 韩梅梅"}


@pytest.mark.parametrize("view", VIEWS, indirect=True)
def test_the_dashboard_draws_spending_charts(server: tuple[str, Platform], view: View) -> None:
    base, platform = server
    page = view.tab()
    problems: list[str] = []
    page.on("console", lambda m: _problem(m, problems))
    page.on("pageerror", lambda e: problems.append(str(e)))
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))

    number, mobile = newcomer(page, base, "韩梅梅")
    owner_mobile, owner = someone()
    deposit(platform, number, 20_000_00)
    with platform.transaction() as session:
        customer_id = platform.accounts.account(session, number).customer_id
        _, shop_owner = platform.accounts.register_person(
            session, name="王老板", mobile=owner_mobile, resident_id=resident_id(owner)
        )
    shop = merchant(
        platform, customer_id=shop_owner.customer_id, account=shop_owner.number, name="老王面馆"
    )
    paid(
        platform,
        merchant_id=shop,
        customer_id=customer_id,
        account=number,
        amount=1_234_50,
        order_no=f"B{mobile}",
    )
    page.goto(f"{base}/home")
    expect(page.locator("#assets-total")).to_have_text("¥ 18,765.50")
    expect(page.locator("h1")).to_have_text(GREETING[view.lang])
    for chart in ("#chart-category", "#chart-month"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
        box = page.locator(f"{chart} canvas").bounding_box()
        assert box is not None
        assert box["width"] > 100
        assert box["height"] > 100
    page.hover("#chart-month canvas")  # a tooltip: styles set by script, not inline
    page.hover("#chart-category canvas")
    view.fits(page)
    assert problems == []
    assert outside == []
    view.snap(page, "home")

    page.click("#recent li.out a")
    expect(page.locator("#movement-party")).to_have_text("老王面馆")
    expect(page.locator("#movement-amount")).to_contain_text("-1,234.50")
    view.fits(page)


def _problem(message: ConsoleMessage, problems: list[str]) -> None:
    """Errors of the charts' scripts (a style or script the Content-Security-Policy
    refuses among them). Every page's own errors: ``test_csp_browser.py``."""
    if message.type == "error" and re.search(r"/static/(echarts|home)", message.location["url"]):
        problems.append(message.text)
