"""The web bank in a real browser (Debian's Chromium driven by Playwright), over the
real app on a real port; and the helpers the browser tests share."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pydantic import SecretStr

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories.identity import resident_id
from tests.support.sms import sms_code as sms_code  # the browser tests read codes

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]
PASSWORD = "Mima-2026-secure"


@pytest.fixture(scope="module")
def server(pg: object) -> Iterator[tuple[str, Platform]]:
    """The real app on a real port, over a fresh database."""
    from tests.conftest import TEMPLATE  # the migrated template database

    name = f"web_{int(time.time() * 1000)}"
    pg.create_database(name, template=TEMPLATE)  # type: ignore[attr-defined]
    clock = FrozenClock(datetime(2026, 3, 2, 1, 30, tzinfo=UTC))
    platform = Platform.connect(
        pg.url(name),  # type: ignore[attr-defined]
        Settings(operator_token=SecretStr("t")),
        clock=clock,
        group_commit=False,
    )
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
    expect(page.locator("h1")).to_have_text(f"{name}，您好")  # the home dashboard
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
