"""Payees and withdrawals in a real browser, on a desktop and a phone, in Chinese and
in English: a customer saves a payee, picks it on the transfer form, pays and opens
the receipt; then withdraws to a card bound on the top-up page, answering the SMS
code the bank asks for."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from rongbank.auth.limits import PASSWORD_FREE, OwnLimit
from rongbank.platform import Platform
from tests.factories.cards import CARD
from tests.web.conftest import VIEWS, View, deposit, needs_chromium, newcomer, sms_code, submit

pytestmark = needs_chromium

WORDS = {
    "zh": {
        "payee_added": "已添加收款人。",
        "check_transfer": "请核对转账信息",
        "transfer_done": "✓ 转账成功",
        "receipt": "转账回单",
        "withdraw": "提现到银行卡",
        "check_withdrawal": "请核对提现信息",
        "sms": "短信验证码",
        "withdrawn": "✓ 提现成功",
    },
    "en": {
        "payee_added": "Payee saved.",
        "check_transfer": "Please check the transfer",
        "transfer_done": "✓ Transfer completed",
        "receipt": "Transfer receipt",
        "withdraw": "Withdraw to a card",
        "check_withdrawal": "Check the withdrawal",
        "sms": "SMS code",
        "withdrawn": "✓ Withdrawn",
    },
}


def answer_sms_if_asked(page: Page, platform: Platform, mobile: str) -> None:
    """Once the confirmation is answered (a challenge, or the payment made): the code,
    when the bank asked for one."""
    expect(page.locator("#challenge, h1.ok").first).to_be_visible()
    if page.locator("#challenge[data-tool=sms]").count():
        page.fill("input[name=response]", sms_code(platform, mobile))
        submit(page)


@pytest.mark.parametrize("view", VIEWS, indirect=True)
def test_a_transfer_to_a_saved_payee_and_its_receipt(
    server: tuple[str, Platform], view: View
) -> None:
    base, platform = server
    words = WORDS[view.lang]
    landlord_page = view.tab()
    landlord, _ = newcomer(landlord_page, base, "李雷")
    landlord_page.close()
    page = view.tab()
    mine, mobile = newcomer(page, base, "韩梅梅")
    deposit(platform, mine, 500_00)

    page.goto(f"{base}/payees")
    page.fill("form[action='/payees'] input[name=name]", "房东")
    page.fill("form[action='/payees'] input[name=account]", landlord)
    page.click("#add-payee")
    expect(page.locator("#payee-notice")).to_have_text(words["payee_added"])
    expect(page.locator(f"#saved-payees li[data-account='{landlord}']")).to_contain_text("*雷")
    view.fits(page)

    page.click("nav a[href='/transfer']")
    page.click(f"#payee-picker li[data-account='{landlord}'] a")
    expect(page.locator("input[name=destination]")).to_have_value(landlord)
    page.fill("input[name=amount]", "66.60")
    view.fits(page)
    view.snap(page, "transfer")
    submit(page)
    expect(page.locator("h1")).to_have_text(words["check_transfer"])
    expect(page.locator("#confirm-amount")).to_have_text("¥ 66.60")
    view.fits(page)
    submit(page)
    answer_sms_if_asked(page, platform, mobile)
    expect(page.locator("h1")).to_have_text(words["transfer_done"])
    page.click("#receipt-link")
    expect(page.locator("h1")).to_have_text(words["receipt"])
    expect(page.locator("#receipt-amount")).to_have_text("¥ 66.60")
    expect(page.locator("#receipt-payee")).to_contain_text("*雷")
    expect(page.locator("#receipt-payee")).to_contain_text(landlord[-4:])
    view.fits(page)
    view.snap(page, "receipt")


@pytest.mark.parametrize("view", VIEWS, indirect=True)
def test_a_withdrawal_confirmed_with_the_sms_code(server: tuple[str, Platform], view: View) -> None:
    base, platform = server
    words = WORDS[view.lang]
    page = view.tab()
    number, mobile = newcomer(page, base, "王芳")
    deposit(platform, number, 800_00)
    with platform.transaction() as session:
        customer_id = platform.accounts.account(session, number).customer_id
        platform.stepup.set_own_limit(session, customer_id, PASSWORD_FREE, OwnLimit(0, 0))

    page.click("nav a[href='/withdraw']")
    expect(page.locator("h1")).to_have_text(words["withdraw"])
    expect(page.locator("#withdraw-no-cards")).to_be_visible()
    page.click("#withdraw-bind-card")
    page.fill("input[name=card_number]", CARD)
    page.fill("input[name=holder_name]", "王芳")
    page.click("#bind-card")
    expect(page.locator("#confirm-change")).to_contain_text(f"{mobile[:3]}****{mobile[-4:]}")
    page.fill("#confirm-change input[name=response]", sms_code(platform, mobile))
    page.click("#confirm-change-submit")
    expect(page.locator("#card-notice")).to_be_visible()

    page.click("#withdraw-link")
    expect(page.locator("h1")).to_have_text(words["withdraw"])
    page.fill("input[name=amount]", "120")
    view.fits(page)
    submit(page)
    expect(page.locator("h1")).to_have_text(words["check_withdrawal"])
    expect(page.locator("#confirm-amount")).to_have_text("¥ 120.00")
    expect(page.locator("#withdraw-card")).to_contain_text(CARD[-4:])
    submit(page)
    expect(page.locator("#challenge")).to_have_attribute("data-tool", "sms")
    expect(page.locator("#challenge legend")).to_contain_text(words["sms"])
    view.fits(page)
    view.snap(page, "withdraw-challenge")
    page.fill("input[name=response]", sms_code(platform, mobile))
    submit(page)
    expect(page.locator("#withdraw-outcome")).to_have_attribute("data-outcome", "succeeded")
    expect(page.locator("#withdraw-outcome")).to_have_text(words["withdrawn"])
    view.fits(page)
    page.click("nav a[href='/accounts']")
    expect(page.locator(".account .amount").first).to_have_text("¥ 680.00")
