"""The web bank in a real browser (Debian's Chromium driven by Playwright), over the
real app on a real port; and the helpers the browser tests share."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
from pydantic import SecretStr

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.platform import Platform
from rongbank.settings import Settings
from rongbank.web.pages import LANG_COOKIE
from tests.factories.identity import resident_id
from tests.support.lending import decide_with
from tests.support.site import Site, build
from tests.support.sms import sms_code as sms_code  # the browser tests read codes

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]
PASSWORD = "Mima-2026-secure"

VIEWS = [
    pytest.param((width, lang), id=f"{lang}-{width}")
    for lang in ("zh", "en")
    for width in (1280, 360)
]
"""Each flow is shown on a desktop and a phone, in Chinese and in English: pass as
``@pytest.mark.parametrize("view", VIEWS, indirect=True)``."""
SCREENSHOTS = os.environ.get("RONGBANK_SCREENSHOTS")
"""A folder the flows save their screenshots in, for the README (``scripts/screenshots``)."""
SCREENSHOT_LANGUAGE = os.environ.get("RONGBANK_SCREENSHOTS_LANG", "zh")
_people = itertools.count(600)  # resident ids and mobiles no other test of a module uses
# How long an expectation waits for the page to show what it expects: a guard against
# hanging, not a measurement. Playwright's 5 s was too short for a page that answers a
# form when the machine is loaded (two xdist workers, each a browser and a server).
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def server(pg: object) -> Iterator[tuple[str, Platform]]:
    """The real app on a real port, over a fresh database."""
    yield from _serve(pg, f"web_{int(time.time() * 1000)}")


@pytest.fixture(scope="session")
def site_server(pg: object) -> Iterator[tuple[str, Platform]]:
    """The server of :func:`sample_site`, for the modules that walk it (each names
    it as its ``server``: ``server = site_server`` would not do, a fixture is found by
    its function's name)."""
    yield from _serve(pg, "web_sample_site")


@pytest.fixture(scope="session")
def sample_site(site_server: tuple[str, Platform]) -> Site:
    """A bank with a little of everything (``tests/support/site.py``), made once per
    session (per xdist worker: at most once a worker) for the tests that walk every
    page and only read."""
    base, platform = site_server
    return build(base, platform)


def _serve(pg: object, name: str) -> Iterator[tuple[str, Platform]]:
    from tests.conftest import TEMPLATE  # the migrated template database

    pg.create_database(name, template=TEMPLATE)  # type: ignore[attr-defined]
    clock = FrozenClock(datetime(2026, 3, 2, 1, 30, tzinfo=UTC))
    platform = Platform.connect(
        pg.url(name),  # type: ignore[attr-defined]
        Settings(operator_token=SecretStr("t")),
        clock=clock,
        group_commit=False,
    )
    decide_with(platform)  # credit decisions with the test scorecard
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(platform, background=False), port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", platform
    uv.should_exit = True
    thread.join(10)
    pg.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    yield context.new_page()
    context.close()


@dataclass
class View:
    """The site at one width in one language: tabs to open (one per person) and
    screenshots to take."""

    browser: Browser
    base: str
    width: int
    lang: str
    contexts: list[BrowserContext] = field(default_factory=list)

    def tab(self) -> Page:
        """A new browser (its own cookies) at this width, the site in this language."""
        context = self.browser.new_context(
            viewport={"width": self.width, "height": 900 if self.width > 600 else 740}
        )
        context.add_cookies([{"name": LANG_COOKIE, "value": self.lang, "url": self.base}])
        self.contexts.append(context)
        return context.new_page()

    def fits(self, page: Page) -> None:
        """Nothing of the page reaches past the screen's edge or is cut."""
        assert page.evaluate(OVERFLOWS) == [], page.url
        assert page.locator("html").get_attribute("lang") == (
            "zh-CN" if self.lang == "zh" else "en"
        )

    def snap(self, page: Page, name: str) -> None:
        """``name-<width>.png`` in :data:`SCREENSHOTS`, when screenshots are asked for:
        from the top, no tooltip or caret, the charts' animations over; the whole page
        on a desktop, the first screen on a phone."""
        if not SCREENSHOTS or self.lang != SCREENSHOT_LANGUAGE:
            return
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.mouse.move(0, 0)
        page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0)")
        page.wait_for_timeout(1500)  # ECharts draws in over a second
        page.screenshot(
            path=Path(SCREENSHOTS) / f"{name}-{self.width}.png",
            full_page=self.width > 600,
            animations="disabled",
        )


OVERFLOWS = (Path(__file__).parent / "overflows.js").read_text()


@pytest.fixture
def view(
    request: pytest.FixtureRequest, browser: Browser, server: tuple[str, Platform]
) -> Iterator[View]:
    width, lang = request.param
    shown = View(browser, server[0], width, lang)
    yield shown
    for context in shown.contexts:
        context.close()


HTMX_BUSY = "body.htmx-swapping, body.htmx-settling, .htmx-request, .htmx-added"
"""What htmx marks while a request, a swap or its settling is under way."""


def settled(page: Page) -> None:
    """Wait until htmx has finished bringing the page in. A boosted page is in the
    document before htmx settles it, and settling focuses its ``autofocus`` field:
    Playwright's ``fill`` focuses its field, then types into whatever has the focus,
    so under load a value typed in between went into the autofocus field (a payment
    code with the amount after it; a new password lost to the 6-digit code's length)."""
    expect(page.locator(HTMX_BUSY)).to_have_count(0)


def _after_settling(fill: Callable[..., None], page_of: Callable[[Any], Page]) -> Any:
    def settled_fill(self: Any, *args: Any, **kwargs: Any) -> None:
        settled(page_of(self))
        fill(self, *args, **kwargs)

    return settled_fill


# Every fill of every browser test waits for htmx to settle first (see ``settled``).
Page.fill = _after_settling(Page.fill, lambda page: page)  # type: ignore[method-assign]
Locator.fill = _after_settling(Locator.fill, lambda locator: locator.page)  # type: ignore[method-assign]


def submit(page: Page) -> None:
    """Send the page's form (its first button: the one that goes on, not "use another
    tool instead"), in whichever language it is labelled, once htmx is done with it."""
    settled(page)
    page.locator("main form button[type=submit]").first.click()


def someone() -> tuple[str, int]:
    """A mobile and a resident id's sequence no one else in this test run has."""
    n = next(_people)
    return f"1390000{n:04d}", n


def newcomer(page: Page, base: str, name: str) -> tuple[str, str]:
    """A new customer, registered and logged in on ``page``: (account number, mobile)."""
    mobile, n = someone()
    return register_and_login(page, base, name, mobile, n), mobile


def register_and_login(page: Page, base: str, name: str, mobile: str, sequence: int) -> str:
    """Open an account in the web bank and log in; returns the account number."""
    page.goto(f"{base}/register")
    page.fill("input[name=name]", name)
    page.fill("input[name=mobile]", mobile)
    page.fill("input[name=resident_id]", resident_id(sequence))
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".notice")).to_be_visible()
    page.fill("input[name=login_name]", mobile)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#assets-total")).to_be_visible()  # the home dashboard
    expect(page.locator("h1")).to_contain_text(name)
    number = page.locator(".asset-account").first.get_attribute("data-number")
    assert number is not None
    return number


def deposit(platform: Platform, number: str, amount: int, description: str = "开户存入") -> None:
    """Put ``amount`` fen into an e-account from the bank's vault."""
    with platform.transaction() as session:
        vault, _ = platform.ledger.create_account(
            session, code="bank:vault", currency="CNY", type=AccountType.ASSET
        )
        platform.ledger.transfer(
            session,
            Transfer(
                client_id=f"deposit-{number}-{amount}",
                debit_account=vault.id,
                credit_account=platform.accounts.account(session, number).ledger_account_id,
                amount=amount,
                currency="CNY",
                description=description,
            ),
        )
