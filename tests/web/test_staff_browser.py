"""Each page of the staff console in a real browser, on a desktop and a phone, in
Chinese and in English: the pages of every role's menu, the search by part of a
name and a customer's page found by it. Each role logs in once; each page is in the
language chosen (its menu and words change with it) and fits the screen."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from rongbank.platform import Platform
from rongbank.web.pages import LANG_COOKIE
from tests.factories.people import PASSWORD
from tests.support.site import STAFF_ROLES, Site
from tests.web.conftest import View, needs_chromium, submit

pytestmark = needs_chromium

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def server(site_server: tuple[str, Platform]) -> tuple[str, Platform]:
    return site_server  # the sample site's, shared with the other walks


@pytest.fixture(scope="module")
def staff(
    browser: Browser, server: tuple[str, Platform], sample_site: Site
) -> Iterator[dict[str, Page]]:
    """A logged-in console per staff role, over a bank with a little of everything."""
    base, _ = server
    contexts = {role: browser.new_context() for role in STAFF_ROLES}
    tabs = {}
    for role, context in contexts.items():
        page = tabs[role] = context.new_page()
        page.goto(f"{base}/staff/login")
        page.fill("input[name=username]", f"{role}-1")
        page.fill("input[name=password]", PASSWORD)
        submit(page)
        expect(page).to_have_url(re.compile(r"/staff$"))
    yield tabs
    for context in contexts.values():
        context.close()


def _pages(tabs: dict[str, Page]) -> dict[str, str]:
    """Each console page (its menu's link, the search, a customer found by it) and the
    first role that may open it."""
    pages: dict[str, str] = {}
    for role, tab in tabs.items():
        tab.goto(tab.url.split("/staff")[0] + "/staff")
        for href in tab.locator("header nav a[href^='/staff']").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        ):
            pages.setdefault(href, role)
    found = "/staff/search?q=韩梅"  # the start of 韩梅梅's name
    for role, tab in tabs.items():  # the first role that may see her (not every one)
        tab.goto(tab.url.split("/staff")[0] + found)
        customer = tab.locator("#found a[href^='/staff/customers/']")
        if customer.count():
            pages[found] = pages[customer.first.get_attribute("href") or ""] = role
            break
    assert found in pages, "no role found 韩梅梅 by part of her name"
    return pages


def _show(tab: Page, base: str, width: int, lang: str) -> None:
    tab.context.add_cookies([{"name": LANG_COOKIE, "value": lang, "url": base}])
    tab.set_viewport_size({"width": width, "height": 900 if width > 600 else 740})


@pytest.mark.parametrize("width", [1280, 360])
def test_each_staff_page_in_both_languages(
    server: tuple[str, Platform], staff: dict[str, Page], width: int
) -> None:
    base, _ = server
    pages = _pages(staff)
    assert {"/staff", "/staff/merchants", "/staff/wealth", "/staff/broadcasts"} <= set(pages)
    assert {"/staff/moderation", "/staff/tools", "/staff/members"} <= set(pages)
    words: dict[str, str] = {}
    for lang in ("zh", "en"):
        for path, role in pages.items():
            tab = staff[role]
            shown = View(tab.context.browser, base, width, lang)  # type: ignore[arg-type]
            _show(tab, base, width, lang)
            response = tab.goto(base + path)
            assert response is not None
            assert response.status == 200, path
            expect(tab.locator("h1")).to_be_visible()
            shown.fits(tab)
            menu = " ".join(
                tab.locator("header nav a:not(.lang), header nav button").all_inner_texts()
            )
            assert bool(CJK.search(menu)) == (lang == "zh"), f"{path} in {lang}: {menu}"
            text = tab.locator("main").inner_text()
            assert words.setdefault(path, text) != text or lang == "zh", f"{path} not in English"
            if path == "/staff" and lang == "zh":  # the README's: the busiest role's day
                _show(staff["operations"], base, width, lang)
                staff["operations"].goto(f"{base}/staff")
                shown.snap(staff["operations"], "staff-home")
