"""A new customer, in a real browser (Debian's Chromium driven by Playwright), from
registration through a top-up from another bank's card to a transfer; and staff
freezing an account in the console."""

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

from rongbank.accounts.identity import resident_id_check_character
from rongbank.api.app import create_app
from rongbank.auth.service import PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.platform import Platform
from rongbank.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]
PASSWORD = "Mima-2026-secure"


def resident_id(sequence: int) -> str:
    body = f"11010519900307{sequence:03d}"
    return body + resident_id_check_character(body)


@pytest.fixture(scope="module")
def server(pg: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform]]:
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
    expect(page.locator("h1")).to_have_text("我的账户")
    number = page.locator(".account").first.get_attribute("data-number")
    assert number is not None
    return number


def test_a_new_customer_registers_and_transfers(
    server: tuple[str, Platform], page: Page, browser: Browser
) -> None:
    base, _ = server
    bob_page = browser.new_page()
    bob = register_and_login(bob_page, base, "李雷", "13900000101", 101)
    register_and_login(page, base, "韩梅梅", "13900000102", 102)
    page.click("text=充值")
    page.fill("input[name=card_number]", "4111 1111 1111 1111")
    page.fill("input[name=holder_name]", "韩梅梅")
    page.click("text=绑定他行银行卡 >> nth=-1")
    page.fill("input[name=amount]", "1000")
    page.click("button:has-text('充值')")
    expect(page.locator("#topup-outcome")).to_have_text("充值成功 ¥ 1000.00")
    page.click("text=我的账户")
    expect(page.locator(".account .amount").first).to_have_text("¥ 1000.00")

    page.click("text=转账")
    page.fill("input[name=destination]", bob)
    page.fill("input[name=amount]", "12.345")
    page.click("button[type=submit]")
    expect(page.locator(".alert")).to_have_text("金额最多保留两位小数。")

    page.fill("input[name=amount]", "250.50")
    page.click("button[type=submit]")
    expect(page.locator("#confirm-amount")).to_have_text("¥ 250.50")
    expect(page.locator(".review")).to_contain_text("*雷")  # the payee, masked
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("转账成功")

    page.click("text=我的账户")
    expect(page.locator(".account .amount").first).to_have_text("¥ 749.50")
    bob_page.reload()
    expect(bob_page.locator(".account .amount").first).to_have_text("¥ 250.50")

    page.click("text=交易明细")
    expect(page.locator(".movements tbody tr")).to_have_count(2)  # the top-up, the transfer
    expect(page.locator(".movements tbody tr").last).to_contain_text("-250.50")
    with page.expect_download() as download:
        page.click("button:has-text('CSV')")
    statement = download.value.path().read_text(encoding="utf-8-sig")
    assert "250.50" in statement
    assert "749.50" in statement

    page.click("text=English")  # the same page, in English
    expect(page.locator("h1")).to_have_text("History")
    bob_page.close()


def test_staff_freezes_an_account_and_the_customer_sees_it(
    server: tuple[str, Platform], page: Page, browser: Browser
) -> None:
    base, platform = server
    customer_page = browser.new_page()
    number = register_and_login(customer_page, base, "王芳", "13900000201", 201)
    with platform.transaction() as session:
        vault, _ = platform.ledger.create_account(
            session, code="bank:vault", currency="CNY", type=AccountType.ASSET
        )
        platform.ledger.transfer(
            session,
            Transfer(
                client_id="fund-wang",
                debit_account=vault.id,
                credit_account=platform.accounts.account(session, number).ledger_account_id,
                amount=88_00,
                currency="CNY",
                description="开户存入",
            ),
        )
        staff_id = platform.accounts.create_staff(
            session, username="ops1", name="运营一", role="operations"
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.STAFF,
            principal_id=staff_id,
            username="ops1",
            password=PASSWORD,
        )
    page.goto(f"{base}/staff")
    page.fill("input[name=username]", "ops1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.fill("input[name=q]", number)
    page.click("button[type=submit]")
    page.click("text=王芳")
    expect(page.locator("details.recent summary")).to_contain_text("(1)")
    page.click("details.recent summary")
    expect(page.locator("details.recent")).to_contain_text("开户存入")
    expect(page.locator("details.recent")).to_contain_text("88.00")
    page.fill("input[name=reason]", "客户挂失")
    page.click("text=冻结")
    expect(page.locator(".status").first).to_have_text("冻结")
    customer_page.reload()
    expect(customer_page.locator(".status").first).to_have_text("冻结")
    customer_page.close()
