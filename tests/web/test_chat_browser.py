"""融e联 in real browsers (Debian's Chromium driven by Playwright): a customer on a
phone and their account manager at the console talk live over the WebSocket, with
receipts, typing, masking and recall; then the customer sends a friend a transfer
card and pays it with an SMS challenge while the friend watches it complete."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from rongbank.auth.service import PrincipalKind
from rongbank.platform import Platform
from tests.web.conftest import (
    PASSWORD,
    deposit,
    needs_chromium,
    register_and_login,
    sms_code,
)

pytestmark = needs_chromium


def phone(browser: Browser) -> Page:
    return browser.new_context(viewport={"width": 390, "height": 844}).new_page()


def manager_console(browser: Browser, base: str, platform: Platform, username: str) -> Page:
    """An account manager, logged in to the staff console on a desktop."""
    with platform.transaction() as session:
        staff_id = platform.accounts.create_staff(
            session, username=username, name="王经理", role="account_manager"
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.STAFF,
            principal_id=staff_id,
            username=username,
            password=PASSWORD,
        )
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base}/staff/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("员工工作台")  # the day's work
    return page


def live(page: Page) -> None:
    """Wait until the page's WebSocket is open."""
    expect(page.locator("#chat-connection")).to_have_attribute("data-connected", "true")


def send(page: Page, words: str) -> None:
    page.fill("#send-form textarea", words)
    page.press("#send-form textarea", "Enter")
    expect(page.locator("#send-form textarea")).to_have_value("")


def test_a_customer_and_their_manager_talk_and_a_transfer_card_is_paid(
    server: tuple[str, Platform], browser: Browser
) -> None:
    base, platform = server
    manager = manager_console(browser, base, platform, "chatmgr")  # first: the customers' manager
    customer, friend = phone(browser), phone(browser)
    number = register_and_login(customer, base, "韩梅梅", "13900000801", 801)
    deposit(platform, number, 1_000_00)
    register_and_login(friend, base, "李雷", "13900000802", 802)

    manager.click("nav >> text=客户会话")
    expect(manager.locator("#duty-state")).to_have_text("值班中")
    manager.wait_for_selector(".chat-live")
    customer.click("nav >> text=融e联")
    customer.click("#open-bank")
    expect(customer.locator("#chat-title")).to_contain_text("王经理")
    live(customer)
    send(customer, "你好 我想咨询理财")
    mine = customer.locator("#messages li.mine").last
    expect(mine).to_contain_text("你好 我想咨询理财")

    # The desk shows the waiting chat without a reload; the manager opens it.
    waiting = manager.locator("#waiting .desk-item", has_text="韩梅梅")
    expect(waiting).to_contain_text("已等待")
    waiting.locator("text=打开").click()
    expect(manager.locator("#customer-profile")).to_contain_text(number)
    expect(manager.locator("#customer-profile .amount")).to_have_text("¥ 1,000.00")
    live(manager)
    expect(mine.locator(".receipt")).to_have_text("已读")  # the manager's page read it

    customer.fill("#send-form textarea", "还有一个问题")
    expect(manager.locator("#typing")).to_be_visible()
    customer.fill("#send-form textarea", "")
    send(manager, "您好 请问您想了解哪类产品")
    expect(customer.locator("#messages li.theirs").last).to_contain_text("请问您想了解哪类产品")
    expect(manager.locator("#messages li.mine .receipt").last).to_have_text("已读")

    send(customer, "我的卡号 6222 0202 0000 1234 562")
    expect(customer.locator("#masked-warning")).to_be_visible()
    expect(customer.locator("#masked-warning")).to_contain_text("银行卡号")
    masked = manager.locator("#messages li.theirs").last
    expect(masked).to_contain_text("622202******4562")
    expect(masked).not_to_contain_text("6222 0202 0000 1234 562")

    send(customer, "这条发错了")
    wrong = manager.locator("#messages li.theirs", has_text="这条发错了")
    expect(wrong).to_be_visible()
    customer.locator("#messages li.mine", has_text="这条发错了").locator("text=撤回").click()
    expect(customer.locator("#messages li.mine.gone").last).to_contain_text("你撤回了一条消息")
    expect(manager.locator("#messages li.gone").last).to_contain_text("对方撤回了一条消息")
    expect(wrong).to_have_count(0)

    # A transfer card to a friend, watched by the friend as it completes.
    customer.click("text=← 融e联")
    customer.fill("#start-direct input[name=mobile]", "13900000802")
    customer.click("#start-direct button")
    # A request: nobody is named until they accept it, then the page shows who.
    expect(customer.locator("#chat-title")).to_have_text("139****0802")
    live(customer)
    friend.click("nav >> text=融e联")
    friend.click("#chat-list >> text=*梅梅")
    friend.click("#accept-request")
    expect(customer.locator("#chat-title")).to_have_text("李雷")
    expect(friend.locator("#chat-title")).to_have_text("韩梅梅")
    live(friend)
    customer.click("#send-card summary")
    customer.select_option("#send-card select[name=kind]", "transfer")
    customer.fill("#send-card input[name=amount]", "300")
    customer.fill("#send-card input[name=note]", "上次的饭钱")
    customer.click("#send-card-button")
    card = friend.locator(".service-card").last
    expect(card).to_contain_text("¥ 300.00")
    expect(card).to_have_attribute("data-status", "open")
    expect(card.locator(".card-act")).to_have_count(0)  # the sender confirms, not the friend

    customer.locator(".service-card .card-act").last.click()
    expect(customer.locator("#card-amount")).to_have_text("¥ 300.00")
    customer.click("button:has-text('确认转账')")
    expect(customer.locator("#challenge")).to_contain_text("139****0801")
    customer.fill("input[name=response]", sms_code(platform, "13900000801"))
    customer.click("button:has-text('确认转账')")
    expect(customer.locator(".service-card").last).to_have_attribute("data-status", "paid")
    expect(card).to_have_attribute("data-status", "paid")
    expect(card).to_contain_text("已完成")

    friend.click("nav >> text=我的账户")
    expect(friend.locator(".account .amount").first).to_have_text("¥ 300.00")
    for page in (manager, customer, friend):
        page.context.close()
