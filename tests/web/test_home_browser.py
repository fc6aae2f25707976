"""The home dashboard in a real browser (Debian's Chromium driven by Playwright): the
spending charts are drawn by the bank's own copy of ECharts under its
Content-Security-Policy, on a desktop and on a phone, and the page is no wider than
the screen; a movement opens its page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from rongbank.platform import Platform
from tests.factories.identity import resident_id
from tests.factories.payments import merchant, paid
from tests.web.conftest import deposit, needs_chromium, register_and_login

pytestmark = needs_chromium


@pytest.mark.parametrize(("width", "n"), [(1280, 1), (360, 2)])
def test_the_dashboard_draws_spending_charts(
    server: tuple[str, Platform], browser: Browser, width: int, n: int
) -> None:
    base, platform = server
    context = browser.new_context(viewport={"width": width, "height": 900})
    page: Page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: _problem(m, problems))
    page.on("pageerror", lambda e: problems.append(str(e)))
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))

    number = register_and_login(page, base, "韩梅梅", f"1390000030{n}", 300 + n)
    deposit(platform, number, 20_000_00)
    with platform.transaction() as session:
        customer_id = platform.accounts.account(session, number).customer_id
        _, shop_owner = platform.accounts.register_person(
            session, name="王老板", mobile=f"1390000031{n}", resident_id=resident_id(310 + n)
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
        order_no=f"B{n}",
    )
    page.goto(f"{base}/home")
    expect(page.locator("#assets-total")).to_have_text("¥ 18,765.50")
    for chart in ("#chart-category", "#chart-month"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
        box = page.locator(f"{chart} canvas").bounding_box()
        assert box is not None
        assert box["width"] > 100
        assert box["height"] > 100
    page.hover("#chart-month canvas")  # a tooltip: styles set by script, not inline
    page.hover("#chart-category canvas")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert problems == []
    assert outside == []

    page.click("#recent li.out a")
    expect(page.locator("#movement-party")).to_have_text("老王面馆")
    expect(page.locator("#movement-amount")).to_contain_text("-1,234.50")
    context.close()


def _problem(message: ConsoleMessage, problems: list[str]) -> None:
    """Errors of the charts' scripts (a style or script the Content-Security-Policy
    refuses among them). Every page's own errors: ``test_csp_browser.py``."""
    if message.type == "error" and re.search(r"/static/(echarts|home)", message.location["url"]):
        problems.append(message.text)
