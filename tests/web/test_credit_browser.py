"""Credit in a real browser: a customer applies, sees the offer with its APR and
schedule, signs it with the code sent to their mobile and finds the money in their
account; and an application in the grey zone that a credit officer approves in the
console, after which the customer finds the offer."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from rongbank.auth.service import PrincipalKind
from rongbank.platform import Platform
from tests.factories.people import PASSWORD
from tests.support.sms import sms_code
from tests.web.conftest import needs_chromium, newcomer, submit

pytestmark = needs_chromium


def fill_application(page: Page, base: str, *, amount: str, debts: str = "0") -> None:
    page.goto(f"{base}/credit")
    page.click("#credit-apply")
    page.fill("input[name=amount]", amount)
    page.select_option("select[name=term_months]", "12")
    page.fill("input[name=monthly_income]", "8000")
    page.fill("input[name=monthly_expenses]", "3000")
    page.select_option("select[name=employment]", "permanent")
    page.fill("input[name=years_with_employer]", "5")
    page.select_option("select[name=housing]", "rent")
    page.fill("input[name=assets]", "100000")
    page.fill("input[name=debts]", debts)
    page.click("#credit-submit")


def test_apply_see_the_offer_sign_it_and_find_the_money(
    page: Page, server: tuple[str, Platform]
) -> None:
    base, platform = server
    _, mobile = newcomer(page, base, "钱多多")

    fill_application(page, base, amount="50000")

    expect(page.locator("#credit-decision")).to_have_attribute("data-status", "offered")
    expect(page.locator("#offer-amount")).to_contain_text("50,000.00")
    expect(page.locator("#offer-apr")).to_contain_text("%")
    expect(page.locator("#offer-schedule tbody tr")).to_have_count(12)
    submit(page)  # 确认借款: the bank asks for the code it sent
    expect(page.locator("#challenge")).to_have_attribute("data-tool", "sms")
    page.fill("input[name=response]", sms_code(platform, mobile))
    submit(page)
    expect(page.locator("#credit-notice")).to_contain_text("50,000.00")
    expect(page.locator("#credit-decision")).to_have_attribute("data-status", "accepted")
    page.goto(f"{base}/accounts")
    expect(page.locator("main")).to_contain_text("50,000.00")


def test_a_credit_officer_approves_what_the_machine_referred(
    page: Page, server: tuple[str, Platform]
) -> None:
    base, platform = server
    newcomer(page, base, "孙审核")
    fill_application(page, base, amount="30000", debts="58000")  # the grey zone
    expect(page.locator("#credit-review")).to_be_visible()
    decision = page.url
    with platform.transaction() as session:
        officer = platform.accounts.create_staff(
            session, username="officer-web", name="周信贷", role="credit_officer"
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.STAFF,
            principal_id=officer,
            username="officer-web",
            password=PASSWORD,
        )
    console = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    console.goto(f"{base}/staff/login")
    console.fill("input[name=username]", "officer-web")
    console.fill("input[name=password]", PASSWORD)
    submit(console)
    expect(console).to_have_url(re.compile(r"/staff$"))
    console.goto(f"{base}/staff/lending")
    console.locator("#reviews a", has_text="孙审核").first.click()
    expect(console.locator("#review-score")).to_be_visible()
    expect(console.locator("#review-stages li")).to_have_count(5)
    console.click("#review-approve")
    expect(console).to_have_url(re.compile(r"/staff/lending\?done=approved$"))

    page.goto(decision)
    expect(page.locator("#credit-decision")).to_have_attribute("data-status", "offered")
    expect(page.locator("#offer-amount")).to_contain_text("20,000.00")  # grade D's limit
    console.context.close()
