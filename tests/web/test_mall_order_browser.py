"""融e购 in a real browser: a product added to the cart (the product page's form),
checked out and paid on e-Pay's page, shipped, received and reviewed; and a return
agreed by the seller, refunded and back in stock."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from rongbank.auth.service import PrincipalKind
from rongbank.platform import Platform
from tests.factories import mall_orders as mall
from tests.factories.identity import resident_id
from tests.support.sms import sms_code
from tests.web.conftest import PASSWORD, deposit, needs_chromium, register_and_login, submit
from tests.web.test_pay_browser import console

pytestmark = needs_chromium


def open_mall(platform: Platform, n: int) -> tuple[int, int]:
    """The clearing merchant and a shop (owner login ``mallowner<n>``) with a SKU;
    the shop's id and the SKU's."""
    with platform.transaction() as session:
        bank = platform.accounts.register_person(
            session, name="融e购", mobile=f"1370001{n:04d}", resident_id=resident_id(700 + n)
        )[1]
        owner = platform.accounts.register_person(
            session, name="王老板", mobile=f"1370002{n:04d}", resident_id=resident_id(800 + n)
        )[1]
    if platform.mall_orders.merchant_id is None:
        mall.clearing(platform, customer_id=bank.customer_id, account=bank.number)
    seller = mall.seller(
        platform, customer_id=owner.customer_id, account=owner.number, name=f"好物店{n}"
    )
    with platform.transaction() as session:
        platform.auth.set_password(
            session,
            kind=PrincipalKind.MERCHANT,
            principal_id=seller.user_id,
            username=f"mallowner{n}",
            password=PASSWORD,
        )
        category = mall.category(session, commission_bp=500)
        sku = mall.sku(
            session,
            shop_id=seller.shop_id,
            category_id=category,
            price=88_00,
            stock=5,
            title="紫砂茶壶",
        )
    return seller.shop_id, sku


def add_to_cart(page: Page, base: str, sku: int, quantity: int) -> None:
    """What the product page's "add to cart" form posts (``POST /mall/cart``)."""
    page.goto(f"{base}/mall/cart")
    page.evaluate(
        """([sku, quantity]) => {
          const form = document.createElement("form");
          form.method = "post"; form.action = "/mall/cart";
          const fields = {sku_id: sku, quantity: quantity,
                          csrf: document.querySelector("input[name=csrf]").value};
          for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement("input");
            input.type = "hidden"; input.name = name; input.value = value;
            form.appendChild(input);
          }
          document.body.appendChild(form); form.submit();
        }""",
        [sku, quantity],
    )
    expect(page.locator(f".cart-line[data-sku='{sku}']")).to_be_visible()


def buy(page: Page, base: str, platform: Platform, mobile: str, sku: int, quantity: int) -> None:
    """Add, check out, and pay on e-Pay's page (the SMS code when the bank asks)."""
    add_to_cart(page, base, sku, quantity)
    page.click("#checkout-button")
    expect(page.locator("#merchant-name")).to_contain_text("融e购")
    page.click("button[type=submit]:has-text('确认付款')")
    page.wait_for_selector("#receipt-status, #challenge")
    if page.locator("#challenge").count():
        page.fill("input[name=response]", sms_code(platform, mobile))
        submit(page)
    expect(page.locator("#receipt-status")).to_have_text("已付款")


def test_cart_to_checkout_to_receipt_and_review(
    server: tuple[str, Platform], page: Page, browser: Browser
) -> None:
    base, platform = server
    shop_id, sku = open_mall(platform, 71)
    number = register_and_login(page, base, "韩梅梅", "13900000711", 711)
    deposit(platform, number, 1_000_00)

    buy(page, base, platform, "13900000711", sku, 2)

    page.goto(f"{base}/mall/orders")
    row = page.locator("tr.mall-order").first
    expect(row).to_have_attribute("data-status", "paid")
    with platform.transaction() as session:
        order_id = platform.mall_orders.fulfilment.orders_of_shop(session, shop_id)[0].id
    seller = console(browser, base, "mallowner71")
    seller.goto(f"{base}/merchant/mall/orders")
    seller.fill(f".to-ship[data-order='{order_id}'] input[name=carrier]", "顺丰速运")
    seller.fill(f".to-ship[data-order='{order_id}'] input[name=tracking_no]", "SF1234567890")
    seller.click(f".to-ship[data-order='{order_id}'] button")
    expect(seller.locator(".to-ship")).to_have_count(0)

    page.goto(f"{base}/mall/orders/{order_id}")
    expect(page.locator("#tracking")).to_have_text("顺丰速运 SF1234567890")
    page.click("#confirm-receipt")
    expect(page.locator("#mall-order")).to_have_attribute("data-status", "received")
    page.select_option(".review-form select[name=rating]", "4")
    page.fill(".review-form input[name=body]", "好用")
    page.click(".review-form button")
    expect(page.locator(".review-done")).to_have_text("★★★★")
    page.click("nav >> text=我的账户")
    expect(page.locator(".account .amount").first).to_have_text("¥ 824.00")
    seller.context.close()


def test_a_return_agreed_by_the_seller_is_refunded_and_restocked(
    server: tuple[str, Platform], page: Page, browser: Browser
) -> None:
    base, platform = server
    shop_id, sku = open_mall(platform, 72)
    number = register_and_login(page, base, "李雷", "13900000721", 721)
    deposit(platform, number, 1_000_00)
    buy(page, base, platform, "13900000721", sku, 3)
    with platform.transaction() as session:
        order_id = platform.mall_orders.fulfilment.orders_of_shop(session, shop_id)[0].id

    page.goto(f"{base}/mall/orders/{order_id}")
    page.fill("#return-form input[name^=qty_]", "1")
    page.fill("#return-form input[name=reason]", "有裂纹")
    page.click("#ask-return")
    expect(page.locator(".mall-return")).to_have_attribute("data-status", "requested")
    seller = console(browser, base, "mallowner72")
    seller.goto(f"{base}/merchant/mall/orders")
    seller.click(".seller-return .agree-return")
    expect(seller.locator(".seller-return")).to_have_attribute("data-status", "refunded")

    page.goto(f"{base}/mall/orders/{order_id}")
    expect(page.locator(".mall-return")).to_have_attribute("data-status", "refunded")
    expect(page.locator("#order-refunded")).to_have_text("¥ 88.00")
    page.click("nav >> text=我的账户")
    expect(page.locator(".account .amount").first).to_have_text("¥ 824.00")  # 1000 - 264 + 88
    with platform.transaction() as session:
        assert mall.stock(session, sku) == 3
    seller.context.close()
