"""A flight card in real browsers (Debian's Chromium driven by Playwright): the account
manager finds a fare beside the chat and sends it; the customer books it on the web
with an SMS challenge, and both see the booking arrive live."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from rongbank.platform import Platform
from tests.web.conftest import deposit, needs_chromium, register_and_login, sms_code
from tests.web.test_chat_browser import live, manager_console, phone, send

pytestmark = needs_chromium


def airline_merchant(platform: Platform, owner_account: str) -> int:
    """The airline, an e-Pay merchant onboarded and approved by two staff."""
    with platform.transaction() as session:
        owner = platform.accounts.account(session, owner_account).customer_id
        onboarder, approver = (
            platform.accounts.create_staff(
                session, username=f"airops{i}", name="运营", role="operations"
            )
            for i in (1, 2)
        )
        merchant = platform.payments.onboard(
            session,
            staff_id=onboarder,
            customer_id=owner,
            name="假日航空",
            mcc="4511",
            settlement_account=owner_account,
            fee_bps=60,
        )
        platform.payments.approve(session, merchant_id=merchant.id, staff_id=approver)
    return merchant.id


def test_the_manager_sends_a_fare_and_the_customer_books_it_with_a_challenge(
    server: tuple[str, Platform], browser: Browser
) -> None:
    base, platform = server
    manager = manager_console(browser, base, platform, "flightmgr")
    customer, airline_owner = phone(browser), phone(browser)
    number = register_and_login(customer, base, "周旅行", "13900000901", 901)
    deposit(platform, number, 2_000_00)
    owner_account = register_and_login(airline_owner, base, "航空公司", "13900000902", 902)
    platform.cards.airline_merchant_id = airline_merchant(platform, owner_account)

    manager.click("nav >> text=客户会话")
    manager.wait_for_selector(".chat-live")
    customer.click("nav >> text=融e联")
    customer.click("#open-bank")
    live(customer)
    send(customer, "下周去上海出差 帮我看看机票")
    manager.locator("#waiting .desk-item", has_text="周旅行").locator("text=打开").click()
    live(manager)

    manager.click("#send-flight summary")
    manager.fill("#flight-search input[name=origin]", "PEK")
    manager.fill("#flight-search input[name=destination]", "SHA")
    manager.fill("#flight-search input[name=date]", "2026-03-05")
    manager.click("#search-flights")
    expect(manager.locator("#flight-offers .flight-offer")).to_have_count(3)
    manager.locator("#flight-offers .flight-offer").first.locator(".send-offer").click()
    sent = manager.locator(".service-card.flight").last
    expect(sent).to_contain_text("PEK → SHA")
    live(manager)

    card = customer.locator(".service-card.flight").last
    expect(card).to_contain_text("¥ 900.00")
    card.locator(".card-act").click()
    expect(customer.locator("#card-flight")).to_contain_text("PEK → SHA")
    customer.click("button:has-text('预订')")
    expect(customer.locator("#challenge")).to_contain_text("139****0901")
    customer.fill("input[name=response]", sms_code(platform, "13900000901"))
    customer.click("button:has-text('预订')")
    booked = customer.locator(".service-card.flight").last
    expect(booked).to_have_attribute("data-status", "booked")
    expect(booked).to_contain_text("订座编号")
    expect(sent).to_have_attribute("data-status", "booked")  # live on the manager's page
    expect(sent).to_contain_text("已出票")

    customer.click("nav >> text=我的账户")
    expect(customer.locator(".account .amount").first).to_have_text("¥ 1,100.00")
    for page in (manager, customer, airline_owner):
        page.context.close()
