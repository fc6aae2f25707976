"""A group chat in real browsers (Debian's Chromium driven by Playwright): the account
manager, in a group with two customers, offers a wealth product to one of them from
the console; that customer sees the card arrive live with a buy button, the other
sees it without one."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Browser, expect
from sqlalchemy import text

from rongbank.chat.service import STAFF, Member
from rongbank.platform import Platform
from rongbank.wealth.rules import Terms
from tests.web.conftest import needs_chromium, register_and_login
from tests.web.test_chat_browser import live, manager_console, phone, send

pytestmark = needs_chromium


def test_the_manager_sends_a_card_naming_one_customer_of_a_group(
    server: tuple[str, Platform], browser: Browser
) -> None:
    base, platform = server
    manager = manager_console(browser, base, platform, "groupmgr")
    buyer, other = phone(browser), phone(browser)
    buyer_account = register_and_login(buyer, base, "韩梅梅", "13900000901", 901)
    other_account = register_and_login(other, base, "李雷", "13900000902", 902)
    now = platform.clock.now()
    with platform.transaction() as session:
        staff_id = session.execute(
            text("SELECT id FROM staff WHERE username = 'groupmgr'")
        ).scalar_one()
        customers = [
            platform.accounts.account(session, n).customer_id
            for n in (buyer_account, other_account)
        ]
        platform.wealth.create_product(
            session,
            staff_id=staff_id,
            code="RB60",
            name="融银稳利60天",
            terms=Terms(
                risk_level=2,
                yield_bps=300,
                min_amount=100_00,
                step_amount=100_00,
                sale_start=now - timedelta(days=1),
                sale_end=now + timedelta(days=7),
            ),
        )
        platform.chat.create_group(
            session, creator=Member(STAFF, staff_id), title="韩家理财群", customer_ids=customers
        )

    for customer in (buyer, other):
        customer.click("nav >> text=融e联")
        customer.click("#chat-list >> text=韩家理财群")
        live(customer)
    send(other, "经理 有新的理财吗")

    manager.click("nav >> text=客户会话")
    group = manager.locator("#my-groups .desk-item", has_text="韩家理财群")
    expect(group).to_contain_text("有新的理财吗")
    group.locator("text=打开").click()
    expect(manager.locator("#chat-title")).to_have_text("韩家理财群")
    live(manager)
    send(manager, "有的 我发给梅梅看看")
    expect(buyer.locator("#messages li.theirs").last).to_contain_text("我发给梅梅看看")

    manager.click("#send-wealth summary")
    manager.select_option("#wealth-for", label="韩梅梅")
    manager.select_option("#send-wealth select[name=product_code]", "RB60")
    manager.click("#send-wealth button[type=submit]")
    expect(manager.locator(".service-card").last).to_have_attribute("data-status", "open")

    card = buyer.locator(".service-card").last
    expect(card).to_contain_text("融银稳利60天")
    expect(card.locator(".card-act")).to_have_count(1)  # hers to buy
    seen = other.locator(".service-card").last
    expect(seen).to_contain_text("融银稳利60天")
    expect(seen.locator(".card-act")).to_have_count(0)
    for page in (manager, buyer, other):
        page.context.close()
