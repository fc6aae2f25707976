"""Payees and withdrawals in a real browser at phone width: a customer saves a payee,
picks it on the transfer form, pays and opens the receipt; then withdraws to a card
bound on the top-up page, answering the SMS code the bank asks for."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from rongbank.auth.limits import PASSWORD_FREE, OwnLimit
from rongbank.platform import Platform
from tests.factories.cards import CARD
from tests.web.conftest import deposit, needs_chromium, register_and_login, sms_code

pytestmark = needs_chromium


def answer_sms_if_asked(page: Page, platform: Platform, mobile: str, button: str) -> None:
    """Once the confirmation is answered (a challenge, or the payment made): the code,
    when the bank asked for one."""
    expect(page.locator("#challenge, h1.ok").first).to_be_visible()
    if page.locator("#challenge[data-tool=sms]").count():
        page.fill("input[name=response]", sms_code(platform, mobile))
        page.click(f"button:has-text('{button}')")


def test_a_transfer_to_a_saved_payee_and_its_receipt(
    server: tuple[str, Platform], page: Page, browser: Browser
) -> None:
    base, platform = server
    landlord_page = browser.new_page()
    landlord = register_and_login(landlord_page, base, "李雷", "13900000901", 901)
    landlord_page.close()
    register_and_login(page, base, "韩梅梅", "13900000902", 902)
    deposit(platform, page.locator(".account").first.get_attribute("data-number") or "", 500_00)

    page.goto(f"{base}/payees")
    page.fill("form[action='/payees'] input[name=name]", "房东")
    page.fill("form[action='/payees'] input[name=account]", landlord)
    page.click("#add-payee")
    expect(page.locator("#payee-notice")).to_have_text("已添加收款人。")
    expect(page.locator(f"#saved-payees li[data-account='{landlord}']")).to_contain_text("*雷")

    page.click("nav >> text=转账")
    page.click(f"#payee-picker li[data-account='{landlord}'] a")
    expect(page.locator("input[name=destination]")).to_have_value(landlord)
    page.fill("input[name=amount]", "66.60")
    page.click("button:has-text('下一步')")
    expect(page.locator("#confirm-amount")).to_have_text("¥ 66.60")
    page.click("button:has-text('确认转账')")
    answer_sms_if_asked(page, platform, "13900000902", "确认转账")
    expect(page.locator("h1")).to_contain_text("转账成功")
    page.click("#receipt-link")
    expect(page.locator("h1")).to_have_text("转账回单")
    expect(page.locator("#receipt-amount")).to_have_text("¥ 66.60")
    expect(page.locator("#receipt-payee")).to_contain_text("*雷")
    expect(page.locator("#receipt-payee")).to_contain_text(landlord[-4:])


def test_a_withdrawal_confirmed_with_the_sms_code(server: tuple[str, Platform], page: Page) -> None:
    base, platform = server
    mobile = "13900000903"
    number = register_and_login(page, base, "王芳", mobile, 903)
    deposit(platform, number, 800_00)
    with platform.transaction() as session:
        customer_id = platform.accounts.account(session, number).customer_id
        platform.stepup.set_own_limit(session, customer_id, PASSWORD_FREE, OwnLimit(0, 0))

    page.click("nav >> text=提现")
    expect(page.locator("#withdraw-no-cards")).to_be_visible()
    page.click("#withdraw-bind-card")
    page.fill("input[name=card_number]", CARD)
    page.fill("input[name=holder_name]", "王芳")
    page.click("#bind-card")
    expect(page.locator("#confirm-change")).to_contain_text("139****0903")
    page.fill("#confirm-change input[name=response]", sms_code(platform, mobile))
    page.click("#confirm-change-submit")
    expect(page.locator("#card-notice")).to_be_visible()

    page.click("#withdraw-link")
    expect(page.locator("h1")).to_have_text("提现到银行卡")
    page.fill("input[name=amount]", "120")
    page.click("button:has-text('下一步')")
    expect(page.locator("#confirm-amount")).to_have_text("¥ 120.00")
    expect(page.locator("#withdraw-card")).to_contain_text(CARD[-4:])
    page.click("button:has-text('确认提现')")
    expect(page.locator("#challenge")).to_have_attribute("data-tool", "sms")
    page.fill("input[name=response]", sms_code(platform, mobile))
    page.click("button:has-text('确认提现')")
    expect(page.locator("#withdraw-outcome")).to_have_attribute("data-outcome", "succeeded")
    page.click("nav >> text=我的账户")
    expect(page.locator(".account .amount").first).to_have_text("¥ 680.00")
