"""融e购 in a real browser: a customer searches the shop front in Chinese, narrows
the results by price, opens a product and chooses a SKU for the cart."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from rongbank.platform import Platform
from tests.factories.mall import categories, on_sale, open_shop
from tests.web.conftest import needs_chromium, newcomer

pytestmark = needs_chromium


def test_search_to_a_products_page_with_its_sku_choice(
    server: tuple[str, Platform], page: Page
) -> None:
    base, platform = server
    cats = categories(platform)
    shop = open_shop(platform, "甲数码")
    phone = on_sale(platform, shop, cats["phones"], "华为 Mate 60 智能手机", 599900, 699900)
    on_sale(platform, shop, cats["phones"], "小米14 智能手机", 399900)
    on_sale(platform, shop, cats["food"], "五常大米 5kg", 5990)
    newcomer(page, base, "韩梅梅")

    page.goto(f"{base}/mall")
    expect(page.locator("h1")).to_have_text("融e购")
    page.fill("form[role=search] input[name=q]", "智能手机")
    page.locator("form[role=search] button").click()
    hits = page.locator("#mall-hits .mall-item")
    expect(hits).to_have_count(2)
    expect(page.locator("#mall-hits")).not_to_contain_text("五常大米")

    page.fill("#mall-filters input[name=min_price]", "5000")
    page.select_option("#mall-filters select[name=sort]", "price_asc")
    page.locator("#mall-filters button[type=submit]").click()
    expect(hits).to_have_count(1)
    expect(hits.first).to_contain_text("¥ 5,999.00 起")

    hits.first.locator("a").click()
    expect(page).to_have_url(f"{base}/mall/products/{phone}")
    expect(page.locator("#mall-product-title")).to_have_text("华为 Mate 60 智能手机")
    expect(page.locator("#mall-price")).to_have_text("¥ 5,999.00 – 6,999.00")
    choices = page.locator("#mall-buy input[name=sku_id]")
    expect(choices).to_have_count(2)
    expect(choices.first).to_be_checked()
    choices.nth(1).check()
    expect(choices.nth(1)).to_be_checked()
    form = page.locator("#mall-buy form")
    expect(form).to_have_attribute("action", "/mall/cart")
    expect(page.locator("#mall-add")).to_be_enabled()
