"""A new customer, in a real browser (Debian's Chromium driven by Playwright), from
registration through a top-up from another bank's card to a transfer; and staff
freezing an account in the console."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from rongbank.auth.service import PrincipalKind
from rongbank.platform import Platform
from tests.web.conftest import PASSWORD, deposit, needs_chromium, register_and_login, sms_code

pytestmark = needs_chromium


def test_a_new_customer_registers_and_transfers(
    server: tuple[str, Platform], page: Page, browser: Browser
) -> None:
    base, platform = server
    bob_page = browser.new_page()
    bob = register_and_login(bob_page, base, "李雷", "13900000101", 101)
    register_and_login(page, base, "韩梅梅", "13900000102", 102)
    page.click("text=充值")
    page.fill("input[name=card_number]", "4111 1111 1111 1111")
    page.fill("input[name=holder_name]", "韩梅梅")
    page.click("text=绑定他行银行卡 >> nth=-1")
    # A new payout card is a security change: a code to the registered mobile.
    expect(page.locator("#confirm-change")).to_contain_text("139****0102")
    page.fill("input[name=response]", sms_code(platform, "13900000102"))
    page.click("#confirm-change-submit")
    expect(page.locator("#card-notice")).to_be_visible()
    page.fill("input[name=amount]", "1000")
    page.click("button:has-text('充值')")
    expect(page.locator("#topup-outcome")).to_have_text("充值成功 ¥ 1,000.00")
    page.click("text=我的账户")
    expect(page.locator(".account .amount").first).to_have_text("¥ 1,000.00")

    page.click("text=转账")
    page.fill("input[name=destination]", bob)
    page.fill("input[name=amount]", "12.345")
    page.click("button[type=submit]")
    expect(page.locator(".alert")).to_have_text("金额最多保留两位小数。")

    page.fill("input[name=amount]", "250.50")
    page.click("button[type=submit]")
    expect(page.locator("#confirm-amount")).to_have_text("¥ 250.50")
    expect(page.locator(".review")).to_contain_text("*雷")  # the payee, masked
    page.click("button:has-text('确认转账')")
    # Over the 200.00 a payment may go without a second factor: a code by SMS.
    expect(page.locator("#challenge")).to_contain_text("139****0102")
    page.fill("input[name=response]", sms_code(platform, "13900000102"))
    page.click("button:has-text('确认转账')")
    expect(page.locator("h1")).to_contain_text("转账成功")

    page.click("text=我的账户")
    expect(page.locator(".account .amount").first).to_have_text("¥ 749.50")
    bob_page.reload()  # his home dashboard
    expect(bob_page.locator(".asset-account .balance").first).to_have_text("¥ 250.50")

    page.click("text=交易明细")
    expect(page.locator(".movements tbody tr")).to_have_count(2)  # the top-up, the transfer
    expect(page.locator(".movements tbody tr").first).to_contain_text("-250.50")  # newest
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
    deposit(platform, number, 88_00)
    with platform.transaction() as session:
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
