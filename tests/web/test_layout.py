"""Every page a customer, a merchant and staff can reach fits the screen: at phone
width (360 px) and on a desktop (1280 px), no page is wider than the window and no
element reaches past its edge or is cut (a drop-down's chosen text, a long number).

The pages are found from the app's routes, not listed by hand: a page added later is
walked too, and one whose path takes a parameter this test has no value for fails
until it is given one (``tests/support/site.py``). What is not a page (downloads,
fragments htmx swaps in, redirects) is listed in :data:`NOT_PAGES` with why."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from playwright.sync_api import Browser, BrowserContext, Page, expect

from rongbank import web
from rongbank.platform import Platform
from tests.factories.people import PASSWORD
from tests.support.site import MERCHANT_OWNER, STAFF_ROLES, Site
from tests.web.conftest import needs_chromium

pytestmark = needs_chromium

WIDTHS = (360, 1280)
NOT_PAGES = {
    "/lang/{lang}": "switches the language and goes back",
    "/statement.{fmt}": "a CSV or PDF download",
    "/merchant/transactions.csv": "a download",
    "/merchant/settlement.csv": "a download",
    "/chat/list": "a fragment the chat list refreshes itself with",
    "/chat/{conversation_id}/messages": "a fragment of new messages",
    "/chat/{conversation_id}/messages/{seq}/attachment": "a file download",
    "/staff/chat/desk": "a fragment of the desk",
    "/staff/settlements/{day}/transactions.csv": "a download",
    "/staff/risk/aml/large-value.csv": "a download",
    "/staff/chat/{conversation_id}/messages": "a fragment of new messages",
    "/staff/chat/{conversation_id}/messages/{seq}/attachment": "a file download",
    "/staff/risk/alerts": "a fragment the risk desk's live alerts refresh themselves with",
    "/staff/risk/backtests/{backtest_id}/progress": "a fragment a backtest's page polls",
    "/mall/images/{image_id}": "a product's image",
    "/invest/board/stream": "an event stream the quote board listens to",
}
SCREENSHOTS = os.environ.get("RONGBANK_LAYOUT_SCREENSHOTS")
"""A folder to save each page's screenshots in (to look at them; not needed to pass)."""

OVERFLOWS = (Path(__file__).parent / "overflows.js").read_text()
UNLABELLED = """() => [...document.querySelectorAll("table.movements tr")]
  .filter((row) => row.offsetParent !== null)
  .map((row) => [row, [...row.cells].filter((cell, i) => i > 0
    && !cell.matches("[data-label], [colspan], .span, .amount, .end")
    && !cell.querySelector("a, button, form, details") && cell.innerText.trim() !== "")])
  .filter(([, bare]) => bare.length > 1)
  .map(([row, bare]) => `a row of ${row.closest("table").className} shows `
    + bare.map((cell) => JSON.stringify(cell.innerText.trim())).join(" and ")
    + " without their column's name (data-label)")"""
"""At phone width a table is a list and its header is hidden: a row may show one value
besides its first without its column's name (a description, a role), never two (a
network and two times read as three unexplained lines). Amounts, what sits at a
row's end and controls say what they are."""


def _page_routes() -> list[APIRoute]:
    """The GET routes of every router of the web package (each module's ``router``,
    included in the app as it is: see ``api/app.py``)."""
    routers = [
        vars(importlib.import_module(f"rongbank.web.{m.name}")).get("router")
        for m in pkgutil.iter_modules(web.__path__)
    ]
    routes = [
        r
        for router in routers
        if isinstance(router, APIRouter)
        for r in router.routes
        if isinstance(r, APIRoute) and "GET" in r.methods and _plain(r.path) not in NOT_PAGES
    ]
    return sorted(routes, key=lambda r: r.path)


def _plain(path: str) -> str:
    """The path without its parameters' converters: ``{seq:int}`` -> ``{seq}``."""
    return re.sub(r"{(\w+):\w+}", r"{\1}", path)


def _audience(path: str) -> str:
    return (
        "staff"
        if path.startswith("/staff")
        else "merchant"
        if path.startswith("/merchant")
        else "customer"
    )


@pytest.fixture(scope="module")
def server(site_server: tuple[str, Platform]) -> tuple[str, Platform]:
    return site_server  # the sample site's, shared with the other walks


@pytest.fixture(scope="module")
def site(sample_site: Site) -> Site:
    return sample_site


def _login(context: BrowserContext, base: str, path: str, name: str, field: str) -> Page:
    page = context.new_page()
    page.goto(f"{base}{path}")
    page.fill(f"input[name={field}]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/login$"))
    return page


@pytest.fixture(scope="module")
def visitors(
    browser: Browser, server: tuple[str, Platform], site: Site
) -> Iterator[dict[str, Page]]:
    """A logged-in browser tab per audience (and per staff role), and a stranger's."""
    base, _ = server
    contexts = [
        browser.new_context(viewport={"width": WIDTHS[0], "height": 740})
        for _ in range(3 + len(STAFF_ROLES))
    ]
    tabs = {
        "anonymous": contexts[0].new_page(),
        "customer": _login(contexts[1], base, "/login", site.customer["login_name"], "login_name"),
        "merchant": _login(contexts[2], base, "/merchant/login", MERCHANT_OWNER, "username"),
    }
    for context, role in zip(contexts[3:], STAFF_ROLES, strict=True):
        tabs[role] = _login(context, base, "/staff/login", f"{role}-1", "username")
    yield tabs
    for context in contexts:
        context.close()


def _overflows(page: Page, label: str) -> list[str]:
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 740 if width < 600 else 900})
        found = page.evaluate(OVERFLOWS) + (page.evaluate(UNLABELLED) if width < 600 else [])
        problems += [f"{label} at {width} px: {f}" for f in found]
        if SCREENSHOTS:
            folder = Path(SCREENSHOTS)
            folder.mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-") or "home"
            page.screenshot(path=folder / f"{slug}-{width}.png", full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 740})
    return problems


def _visit(page: Page, url: str) -> tuple[int, str]:
    response = page.goto(url)
    assert response is not None
    return response.status, response.headers.get("content-type", "")


def test_every_page_fits_a_phone_and_a_desktop(
    server: tuple[str, Platform], site: Site, visitors: dict[str, Page]
) -> None:
    base, _ = server
    routes = _page_routes()
    assert len(routes) > 30, routes  # the web bank's pages were found
    problems: list[str] = []
    seen: list[str] = []
    for route in routes:
        path = _plain(route.path)
        try:
            url = site.url(path, re.findall(r"{(\w+)}", path))
        except KeyError as missing:
            pytest.fail(f"no value for {missing} of {route.path}: add one in tests/support/site.py")
        audience = _audience(route.path)
        tabs = [visitors[r] for r in STAFF_ROLES] if audience == "staff" else [visitors[audience]]
        for tab in tabs:
            status, kind = _visit(tab, base + url)
            if status in (401, 403, 404) and tab is not tabs[-1]:
                continue  # not this role's page: the next role's
            assert kind.startswith("text/html"), f"{route.path} answered {kind}: see NOT_PAGES"
            problems += _overflows(tab, f"{route.path} ({status})")
            seen.append(route.path)
            break
    for path in ("/login", "/register", "/staff/login", "/merchant/login"):
        _visit(visitors["anonymous"], base + path)
        problems += _overflows(visitors["anonymous"], path + " (logged out)")
    assert len(seen) == len(routes)
    assert problems == [], "\n".join(problems)
