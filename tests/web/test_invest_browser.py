"""e-Invest in a real browser: a customer asks a quote on the ticket, sees its
countdown and trades within its life (answering the code sent to their mobile when
asked); a quote left to expire is refused and nothing moves."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.support.invest import scripted
from tests.support.sms import sms_code
from tests.wealth.helpers import assessed
from tests.web.conftest import deposit, needs_chromium, newcomer, submit

pytestmark = needs_chromium


def _ready(page: Page, base: str, platform: Platform, name: str) -> str:
    scripted(platform, AU_CNY=500_00)
    account, mobile = newcomer(page, base, name)
    deposit(platform, account, 5_000_00)
    with platform.transaction() as session:
        customer_id = platform.accounts.account(session, account).customer_id
    assessed(platform, customer_id, level=5)
    page.goto(f"{base}/invest/ticket?product=AU_CNY")
    page.fill("input[name=quantity]", "1")
    page.locator("#invest-quote-form button[type=submit]").click()
    expect(page.locator("#invest-countdown")).to_be_visible()
    expect(page.locator("#invest-price")).to_have_text("500.40")
    return mobile


def test_a_trade_within_the_quote_life(page: Page, server: tuple[str, Platform]) -> None:
    base, platform = server
    mobile = _ready(page, base, platform, "赵投资")
    submit(page)
    expect(page.locator("#challenge, #invest-done").first).to_be_visible()
    if page.locator("#challenge").count():
        page.fill("input[name=response]", sms_code(platform, mobile))
        submit(page)
    expect(page.locator("#invest-done")).to_be_visible()
    expect(page.locator("[data-position='AU_CNY-long']")).to_contain_text("1.000")


def test_an_expired_quote_is_refused(page: Page, server: tuple[str, Platform]) -> None:
    base, platform = server
    _ready(page, base, platform, "钱过期")
    assert isinstance(platform.clock, FrozenClock)
    platform.clock.advance(timedelta(seconds=11))
    submit(page)
    expect(page.locator("p.alert")).to_contain_text("报价已过期")
    page.goto(f"{base}/invest")
    expect(page.locator("#invest-no-positions")).to_be_visible()


def test_a_circular_order_is_placed_on_the_form_at_phone_width(
    page: Page, server: tuple[str, Platform]
) -> None:
    """The order form at 360 px: choose the kind, type its two prices, confirm (the
    reserve is a payment: the code sent to the mobile), and the order rests."""
    base, platform = server
    scripted(platform, AU_CNY=500_00)
    page.set_viewport_size({"width": 360, "height": 740})
    account, mobile = newcomer(page, base, "孙挂单")
    deposit(platform, account, 5_000_00)
    with platform.transaction() as session:
        customer_id = platform.accounts.account(session, account).customer_id
    assessed(platform, customer_id, level=5)
    page.goto(f"{base}/invest")
    page.locator("#invest-order-link").click()
    page.select_option("select[name=kind]", "circular")
    page.fill("input[name=quantity]", "2")
    page.fill("input[name=entry]", "495")
    page.fill("input[name=exit]", "505")
    submit(page)
    expect(page.locator("#challenge, #invest-done").first).to_be_visible()
    if page.locator("#challenge").count():
        expect(page.locator("#invest-order-review")).to_contain_text("495")
        page.fill("input[name=response]", sms_code(platform, mobile))
        submit(page)
    expect(page.locator("#invest-done")).to_contain_text("挂单已提交")
    expect(page.locator("#invest-orders [data-order]")).to_contain_text("循环")
