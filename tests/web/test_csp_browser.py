"""The pages run under the site's Content-Security-Policy (``default-src 'self'``)
without a refusal: no script of the bank's own, htmx among them, adds an inline
style or script the policy blocks. A refusal is a console error in the browser, so
a page that logs any error fails here: a customer's, staff's and a merchant's,
loaded and then followed by an htmx-boosted click. The last page of each but staff
has ECharts charts, which style their boxes by script: the customer's click swaps the
dashboard for itself, and the merchant goes back to the sales chart after it, so htmx
neither copies (settles) nor restores a style="" there.
And the icon a browser asks for of its own, ``/favicon.ico``, is there."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from rongbank.platform import Platform
from tests.factories.people import PASSWORD
from tests.support.site import MERCHANT_OWNER, Site, build
from tests.web.conftest import needs_chromium

pytestmark = needs_chromium

PAGES = {
    "customer": ("/login", "login_name", ["/history", "/transfer", "/security/sessions", "/"]),
    "staff": ("/staff/login", "username", ["/staff", "/staff/search?q=韩"]),
    "merchant": (
        "/merchant/login",
        "username",
        ["/merchant", "/merchant/team", "/merchant/mall/orders"],
    ),
}


@pytest.fixture(scope="module")
def site(server: tuple[str, Platform]) -> Site:
    base, platform = server
    return build(base, platform)


def _logged_in(browser: Browser, base: str, audience: str, site: Site) -> tuple[Page, list[str]]:
    login, field, _ = PAGES[audience]
    name = {
        "customer": site.customer["login_name"],
        "staff": "account_manager-1",
        "merchant": MERCHANT_OWNER,
    }[audience]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{page.url}: {message.text}")

    page.on("console", record)
    page.goto(base + login)
    page.fill(f"input[name={field}]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/login$"))
    return page, errors


@pytest.mark.parametrize("audience", list(PAGES))
def test_no_page_logs_a_refusal_of_the_content_security_policy(
    server: tuple[str, Platform], browser: Browser, site: Site, audience: str
) -> None:
    base, _ = server
    page, errors = _logged_in(browser, base, audience, site)
    for path in PAGES[audience][2]:
        response = page.goto(base + path)
        assert response is not None
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
    # A boosted navigation: htmx swaps the next page in (where it would add its style).
    _htmx(page, "htmx:afterSettle", page.locator("header nav a[href]:not(.lang)").first.click)
    if audience == "merchant":  # away from the chart page, and back to it
        _htmx(page, "htmx:historyRestore", page.go_back)
        expect(page.locator("#chart-sales canvas")).to_have_count(1)
    page.context.close()
    assert errors == []


def _htmx(page: Page, event: str, act: Callable[[], object]) -> None:
    """``act``, and wait until htmx says it is done (a boosted swap is no navigation
    for the browser to wait for)."""
    page.evaluate(
        "e => document.body.addEventListener(e, () => { document.body.dataset.done = e }, "
        "{once: true})",
        event,
    )
    act()
    expect(page.locator("body")).to_have_attribute("data-done", event)
    page.wait_for_load_state("networkidle")


def test_the_browsers_own_favicon_request_finds_the_icon(server: tuple[str, Platform]) -> None:
    base, _ = server
    response = httpx.get(f"{base}/favicon.ico", follow_redirects=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
