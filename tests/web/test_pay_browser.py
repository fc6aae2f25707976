"""工银e支付 in a real browser: a cashier collects a customer's payment code and the
console's takings show it; the owner refunds part of a counter payment and the
customer sees the refund and the money back."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from rongbank.platform import Platform
from tests.web.conftest import PASSWORD, deposit, needs_chromium, register_and_login
from tests.web.test_pay_pages import shop

pytestmark = needs_chromium


def open_shop(browser: Browser, base: str, platform: Platform, mobile: str, n: int) -> None:
    """A merchant whose seller registered in the web bank."""
    page = browser.new_page()
    account = register_and_login(page, base, "王老板", mobile, n * 10)
    page.close()
    with platform.transaction() as session:
        customer_id = platform.accounts.account(session, account).customer_id
    shop(platform, customer_id=customer_id, account=account, name=f"老王面馆{n}", n=n)


def console(browser: Browser, base: str, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1024, "height": 800}).new_page()
    page.goto(f"{base}/merchant/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("今日收款")
    return page


def test_a_cashier_collects_a_payment_code_and_the_takings_show_it(
    server: tuple[str, Platform], page: Page, browser: Browser
) -> None:
    base, platform = server
    open_shop(browser, base, platform, "13900000611", 61)
    number = register_and_login(page, base, "韩梅梅", "13900000612", 612)
    deposit(platform, number, 1_000_00)

    page.click("nav >> text=付款")
    page.click("text=我的付款码")
    page.click("#show-code")
    expect(page.locator("#payment-code-qr svg")).to_be_visible()
    code = page.locator("#payment-code").get_attribute("data-code")
    assert code is not None
    assert page.locator("#payment-code").inner_text().replace(" ", "") == code

    cashier = console(browser, base, "cashier61")
    expect(cashier.locator("#merchant-user")).to_have_text("老王面馆61 · 收银员")
    cashier.click("nav >> text=扫码收款")
    cashier.fill("input[name=code]", code)
    cashier.fill("input[name=amount]", "32.5")
    cashier.click("button:has-text('收款')")
    expect(cashier.locator("#collected-status")).to_have_text("已付款")
    expect(cashier.locator("#collected-amount")).to_have_text("¥ 32.50")
    cashier.click("nav >> text=今日收款")
    expect(cashier.locator("#takings-count")).to_have_text("1")
    expect(cashier.locator("#takings-total")).to_have_text("¥ 32.50")
    expect(cashier.locator("#merchant-payments tr.payment .status-text")).to_have_text("已付款")

    page.click("nav >> text=我的账户")
    expect(page.locator(".account .amount").first).to_have_text("¥ 967.50")
    cashier.context.close()


def test_the_owner_refunds_part_of_a_counter_payment_and_the_customer_sees_it(
    server: tuple[str, Platform], page: Page, browser: Browser
) -> None:
    base, platform = server
    open_shop(browser, base, platform, "13900000621", 62)
    owner = console(browser, base, "owner62")
    owner.click("nav >> text=收款码")
    owner.fill("input[name=label]", "一号柜台")
    owner.click("button:has-text('生成新的静态码')")
    expect(owner.locator("figure.static-qr svg")).to_be_visible()
    content = owner.locator("figure.static-qr").first.get_attribute("data-content")
    assert content is not None

    number = register_and_login(page, base, "李雷", "13900000622", 622)
    deposit(platform, number, 1_000_00)
    page.click("nav >> text=付款")
    page.fill("input[name=content]", content)
    page.click("button:has-text('前往付款')")
    expect(page.locator("#merchant-name")).to_contain_text("老王面馆62")
    page.fill("input[name=amount]", "25")
    page.click("button:has-text('确认付款')")
    expect(page.locator("#receipt-status")).to_have_text("已付款")
    expect(page.locator("#receipt-amount")).to_have_text("¥ 25.00")

    owner.click("nav >> text=今日收款")
    expect(owner.locator("#takings-total")).to_have_text("¥ 25.00")
    owner.locator("#merchant-payments tr.payment a").first.click()
    owner.fill("input[name=amount]", "10")
    owner.fill("input[name=reason]", "少一份")
    owner.click("button:has-text('退款')")
    expect(owner.locator("#refund-done")).to_have_text("退款成功 ¥ 10.00")
    expect(owner.locator("#order-refundable")).to_have_text("¥ 15.00")
    owner.fill("input[name=amount]", "20")
    owner.click("button:has-text('退款')")
    expect(owner.locator(".alert")).to_have_text("退款总额不能超过实付金额，最多还可退 ¥ 15.00。")
    expect(owner.locator("#order-refunded")).to_have_text("¥ 10.00")
    owner.click("nav >> text=今日收款")
    expect(owner.locator("#takings-refunds")).to_have_text("¥ 10.00")
    expect(owner.locator("#takings-net")).to_have_text(
        "¥ 14.91"
    )  # 15 kept − 0.6% fee on what is kept

    page.click("nav >> text=付款")
    page.click('text="我的付款"')
    expect(page.locator("#payments tr.payment .refunded")).to_have_text("10.00")
    page.locator("#payments tr.payment a").first.click()
    expect(page.locator("#receipt-refunded")).to_have_text("¥ 10.00")
    expect(page.locator("#refunds li")).to_have_count(1)
    page.click("nav >> text=我的账户")
    expect(page.locator(".account .amount").first).to_have_text("¥ 985.00")
    owner.context.close()
