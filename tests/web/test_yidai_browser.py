"""逸贷 in a real browser: a web-shop order's pay page offers instalments beside e-Pay;
the customer picks a term, fills in the short form, sees the offer's APR and schedule,
signs it with the code sent to their mobile and lands on the paid receipt."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from rongbank.payments.orders import OrderRequest
from rongbank.platform import Platform
from tests.factories import payments as epay
from tests.support.sms import sms_code
from tests.web.conftest import needs_chromium, newcomer, submit

pytestmark = needs_chromium


def test_pay_an_order_by_instalments_from_its_pay_page(
    page: Page, server: tuple[str, Platform]
) -> None:
    base, platform = server
    seller_page = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    seller_account, _ = newcomer(seller_page, base, "赵掌柜")
    seller_page.context.close()
    with platform.transaction() as session:
        seller = platform.accounts.account(session, seller_account).customer_id
    merchant_id = epay.merchant(
        platform, customer_id=seller, account=seller_account, name="赵记家电"
    )
    with platform.transaction() as session:
        order, _ = platform.payments.create_order(
            session,
            merchant_id=merchant_id,
            order=OrderRequest(order_no="YD-1", amount=6000_00, channel="online"),
        )
    _, mobile = newcomer(page, base, "分期买")

    page.goto(f"{base}/pay/{order.token}")
    page.click("#pay-yidai")
    page.select_option("select[name=term_months]", "12")
    page.fill("input[name=monthly_income]", "8000")
    page.fill("input[name=monthly_expenses]", "3000")
    page.select_option("select[name=employment]", "permanent")
    page.fill("input[name=years_with_employer]", "5")
    page.select_option("select[name=housing]", "rent")
    page.fill("input[name=assets]", "100000")
    page.fill("input[name=debts]", "0")
    page.click("#yidai-submit")

    expect(page.locator("#yidai")).to_have_attribute("data-status", "offered")
    expect(page.locator("#offer-amount")).to_contain_text("6,000.00")
    expect(page.locator("#offer-apr")).to_contain_text("13.")
    expect(page.locator("#offer-schedule tbody tr")).to_have_count(12)
    submit(page)  # the bank asks for the code it sent
    expect(page.locator("#challenge")).to_have_attribute("data-tool", "sms")
    page.fill("input[name=response]", sms_code(platform, mobile))
    submit(page)
    expect(page.locator("#receipt-amount")).to_contain_text("6,000.00")
    with platform.transaction() as session:
        assert platform.payments.by_token(session, order.token).status == "paid"
