"""融e购's pages as plain forms (no JavaScript): the owner asks for a shop and
operations open it, the owner adds and publishes a product, a customer finds it and
sees the form that adds a SKU to the cart; operations change a commission."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.auth.service import PrincipalKind
from rongbank.mall.orders import reads
from rongbank.payments.merchants import MerchantActor
from rongbank.platform import Platform
from tests.factories import mall_orders, payments
from tests.factories.mall import categories
from tests.factories.people import People
from tests.support.web import Forms, WebCustomer, WebStaff
from tests.web.conftest import PASSWORD
from tests.web.test_pay_pages import WebMerchant


@pytest.fixture
def clients() -> Iterator[list[TestClient]]:
    made: list[TestClient] = []
    try:
        yield made
    finally:
        for client in made:
            client.__exit__(None, None, None)


def browser(platform: Platform, clients: list[TestClient]) -> TestClient:
    client = TestClient(create_app(platform, background=False))
    client.__enter__()
    clients.append(client)
    return client


def text_of(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert match, page
    return html.unescape(re.sub("<[^>]+>", "", match.group(1))).strip()


def owner_login(platform: Platform, merchant_id: int, username: str) -> None:
    with platform.transaction() as session:
        user_id = platform.payments.add_user(
            session, merchant_id=merchant_id, role="owner", name="王老板"
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.MERCHANT,
            principal_id=user_id,
            username=username,
            password=PASSWORD,
        )


def test_a_shop_opens_a_product_is_published_and_a_customer_finds_and_chooses_it(
    platform: Platform, clients: list[TestClient]
) -> None:
    cats = categories(platform)
    seller = WebCustomer(browser(platform, clients), platform, "王老板", "13900000801", 801)
    merchant_id = payments.merchant(
        platform, customer_id=seller.id, account=seller.account, name="老王数码"
    )
    owner_login(platform, merchant_id, "laowang-mall")
    owner = WebMerchant(browser(platform, clients), platform, "laowang-mall")

    owner.get("/merchant/mall")
    assert 'data-status="none"' in owner.page.text
    owner.submit("/merchant/mall/shop", name="老王数码城")
    assert 'data-status="pending"' in owner.page.text, owner.page.text

    ops = WebStaff(browser(platform, clients), platform, "mall-ops", "孙运营", "operations")
    ops.get("/staff/mall")
    assert "老王数码城" in ops.page.text
    shop_id = re.search(r'data-shop="(\d+)"', ops.page.text).group(1)  # type: ignore[union-attr]
    ops.submit(f"/staff/mall/shops/{shop_id}/approve")
    assert ops.page.status_code == 200
    waiting = re.search(r'id="mall-shops".*?</ul>', ops.page.text, re.S)
    assert waiting
    assert "老王数码城" not in waiting.group(0)  # no longer waiting
    assert re.search(r'id="mall-open-shops".*?老王数码城', ops.page.text, re.S)  # but open

    owner.get("/merchant/mall")
    assert 'data-status="open"' in owner.page.text
    owner.submit(
        "/merchant/mall/products",
        title="荣耀 Magic 智能手机",
        category_id=str(cats["phones"]),
        sku="BLACK",
        sku_price="2999.00",
        stock="5",
    )
    assert owner.page.status_code == 200, owner.page.text
    product_id = int(owner.page.url.path.rsplit("/", 1)[-1])
    owner.submit(
        f"/merchant/mall/products/{product_id}/skus/new",
        code="WHITE",
        attributes="颜色=白色",
        sku_price="3099.00",
        stock="0",
    )
    sku_ids = re.findall(r'<li class="card" data-sku="(\d+)"', owner.page.text)
    assert len(sku_ids) == 2
    owner.submit(f"/merchant/mall/products/{product_id}/skus/{sku_ids[0]}", stock_change="-6")
    assert owner.page.status_code == 409
    assert "库存不能小于零" in owner.page.text
    owner.submit(f"/merchant/mall/products/{product_id}/publish")
    assert 'data-status="published"' in owner.page.text

    me = WebCustomer(browser(platform, clients), platform, "韩梅梅", "13900000802", 802)
    me.get("/mall")
    assert "荣耀 Magic 智能手机" in me.page.text
    assert 'sort=newest">数码</a>' in me.page.text
    me.get("/mall/search?q=智能手机&min_price=3000&sort=price_asc")
    assert "荣耀 Magic 智能手机" in me.page.text  # its white SKU is 3,099.00
    me.get("/mall/search?q=智能手机&max_price=100")
    assert text_of(me.page.text, "mall-nothing") == "没有找到商品"
    me.get("/mall/search?min_price=9&max_price=1")
    assert me.page.status_code == 422
    assert text_of(me.page.text, "mall-error") == "最低价不能高于最高价。"
    me.get(f"/mall/products/{product_id}")
    assert text_of(me.page.text, "mall-price") == "¥ 2,999.00 – 3,099.00"
    assert text_of(me.page.text, "mall-shop") == "老王数码城 销售"
    cart = [fields for action, fields in Forms(me.page.text).forms if action == "/mall/cart"]
    assert len(cart) == 1
    names = dict(cart[0])
    assert names["csrf"] == me.csrf
    # The form's first choice is the SKU in stock; the sold-out one cannot be chosen.
    assert re.search(rf'value="{sku_ids[0]}" checked', me.page.text)
    assert re.search(rf'value="{sku_ids[1]}" disabled', me.page.text)
    # English words on the same page.
    me.client.cookies.set("rb_lang", "en")
    me.get(f"/mall/products/{product_id}")
    assert text_of(me.page.text, "mall-shop") == "Sold by 老王数码城"


def test_operations_change_a_commission_and_a_bad_rate_is_refused_on_the_page(
    platform: Platform, clients: list[TestClient]
) -> None:
    cats = categories(platform)
    ops = WebStaff(browser(platform, clients), platform, "mall-ops2", "孙运营", "operations")
    ops.get("/staff/mall")
    action = f"/staff/mall/categories/{cats['food']}/commission"
    ops.submit(action, commission_bp="550")
    assert 'data-category="food"' in ops.page.text
    assert re.search(r'data-category="food">.*?5\.50%', ops.page.text, re.S)
    ops.submit(action, commission_bp="9999")
    assert ops.page.status_code == 422
    with platform.transaction() as session:
        assert platform.mall.category(session, cats["food"]).commission_bp == 550
    manager = WebStaff(browser(platform, clients), platform, "mall-am", "赵经理")
    assert manager.get("/staff/mall").status_code == 403


def test_an_import_with_a_bad_row_adds_nothing_and_says_which_row_in_chinese(
    platform: Platform, clients: list[TestClient]
) -> None:
    categories(platform)
    seller = WebCustomer(browser(platform, clients), platform, "王老板", "13900000803", 803)
    merchant_id = payments.merchant(
        platform, customer_id=seller.id, account=seller.account, name="老王茶庄"
    )
    owner_login(platform, merchant_id, "laowang-tea")
    owner = WebMerchant(browser(platform, clients), platform, "laowang-tea")
    owner.get("/merchant/mall")
    owner.submit("/merchant/mall/shop", name="老王茶庄")
    rows = "product,title,category,sku,price,stock\nT1,西湖龙井,food,250G,58.00,3\n"
    csv = (rows + "T2,普洱茶饼,food,357G,-1,3\n").encode("gb18030")
    owner.page = owner.client.post(
        "/merchant/mall/import",
        data={"csrf": owner.csrf},
        files={"file": ("茶.csv", csv, "text/csv")},
    )
    assert owner.page.status_code == 422
    assert text_of(owner.page.text, "mall-import-errors") == (
        "第 3 行 price：价格须为大于零的元金额，如 12.30"
    )
    with platform.transaction() as session:
        assert platform.mall.seller_products(session, owner_actor(platform, merchant_id)) == []
    owner.page = owner.client.post(
        "/merchant/mall/import",
        data={"csrf": owner.csrf},
        files={"file": ("茶.csv", csv.replace(b"-1", b"168.00"), "text/csv")},
    )
    assert text_of(owner.page.text, "mall-imported") == "已导入 2 件商品。"


def owner_actor(platform: Platform, merchant_id: int) -> MerchantActor:
    with platform.transaction() as session:
        user = platform.payments.users(session, merchant_id)[0]
    return MerchantActor(merchant_id, "owner", user.id)


def test_operations_suspend_and_reinstate_a_shop_and_its_owner_closes_it_on_the_pages(
    platform: Platform, clients: list[TestClient]
) -> None:
    categories(platform)
    seller = WebCustomer(browser(platform, clients), platform, "李老板", "13900000804", 804)
    merchant_id = payments.merchant(
        platform, customer_id=seller.id, account=seller.account, name="老李百货"
    )
    owner_login(platform, merchant_id, "laoli-mall")
    owner = WebMerchant(browser(platform, clients), platform, "laoli-mall")
    owner.get("/merchant/mall")
    owner.submit("/merchant/mall/shop", name="老李百货")
    ops = WebStaff(browser(platform, clients), platform, "mall-ops3", "孙运营", "operations")
    ops.get("/staff/mall")
    shop_id = re.search(r'data-shop="(\d+)"', ops.page.text).group(1)  # type: ignore[union-attr]
    ops.submit(f"/staff/mall/shops/{shop_id}/approve")
    suspend = f"/staff/mall/shops/{shop_id}/status/suspend"
    ops.submit(suspend, reason=" ")
    assert ops.page.status_code == 422  # a reason is required

    ops.submit(suspend, reason="资质过期")

    assert ops.page.status_code == 200, ops.page.text
    assert re.search(r'id="mall-suspended-shops".*?资质过期', ops.page.text, re.S)
    owner.get("/merchant/mall")
    assert 'data-status="suspended"' in owner.page.text
    assert text_of(owner.page.text, "mall-shop-reason") == "暂停原因：资质过期"
    assert 'id="mall-shop-close"' not in owner.page.text  # operations hold it
    ops.submit(f"/staff/mall/shops/{shop_id}/status/reinstate", reason="已补齐资质")
    assert ops.page.status_code == 200, ops.page.text
    owner.get("/merchant/mall")
    assert 'data-status="open"' in owner.page.text
    owner.submit("/merchant/mall/shop/close", reason="歇业")
    assert 'data-status="closed"' in owner.page.text, owner.page.text
    with platform.transaction() as session:
        events = platform.mall.shop_events(session, int(shop_id))
    assert [(e.action, e.reason) for e in events] == [
        ("suspend", "资质过期"),
        ("reinstate", "已补齐资质"),
        ("close", "歇业"),
    ]


def test_the_sellers_sales_chart_and_a_dispute_ruled_on_the_console_page(
    platform: Platform, clients: list[TestClient]
) -> None:
    bank = WebCustomer(browser(platform, clients), platform, "融e购", "13900000805", 805)
    mall_orders.clearing(platform, customer_id=bank.id, account=bank.account)
    seller = WebCustomer(browser(platform, clients), platform, "周老板", "13900000806", 806)
    merchant_id = payments.merchant(
        platform, customer_id=seller.id, account=seller.account, name="周记茶行"
    )
    owner_login(platform, merchant_id, "zhou-mall")
    buyer = WebCustomer(browser(platform, clients), platform, "韩梅梅", "13900000807", 807)
    People(buyer.client, platform).fund({"account": {"number": buyer.account}}, 500_00)
    checkouts, returns = platform.mall_orders.checkouts, platform.mall_orders.returns
    with platform.transaction() as session:
        user = platform.payments.users(session, merchant_id)[0].id
        shop = mall_orders.open_shop(session, merchant_id=merchant_id, user_id=user, name="周记")
        category = mall_orders.category(session, commission_bp=500)
        sku = mall_orders.sku(session, shop_id=shop, category_id=category, price=88_00, stock=5)
        checkouts.add(session, customer_id=buyer.id, sku_id=sku, quantity=1)
        found, _ = checkouts.checkout(session, customer_id=buyer.id, client_id="w1")
        platform.payments.pay_order(
            session,
            customer_id=buyer.id,
            payment=checkouts.payment(session, found),
            account_number=buyer.account,
        )
        [order] = checkouts.orders(session, found)
        [line] = reads.lines(session, order.id)
        asked = returns.ask(
            session, customer_id=buyer.id, order_id=order.id, quantities={line.id: 1}, reason="受潮"
        )
        returns.refuse(session, shop_id=shop, return_id=asked.id)
        returns.dispute(session, customer_id=buyer.id, return_id=asked.id)

    owner = WebMerchant(browser(platform, clients), platform, "zhou-mall")
    owner.get("/merchant/mall/orders")
    chart = re.search(r'id="sales-data">(.*?)</script>', owner.page.text)
    assert chart, owner.page.text
    assert json.loads(chart.group(1))["amount"] == [88.0]  # the day's sales, charted

    ops = WebStaff(browser(platform, clients), platform, "mall-ops4", "孙运营", "operations")
    ops.get("/staff/mall/disputes")
    assert f'data-return="{asked.id}"' in ops.page.text
    ops.submit(f"/staff/mall/returns/{asked.id}/ruling")  # the first form: for the buyer

    assert ops.page.status_code == 200, ops.page.text
    assert f'data-return="{asked.id}"' not in ops.page.text
    with platform.transaction() as session:
        assert returns.get(session, asked.id).status == "refunded"
        account = platform.accounts.account(session, buyer.account)
        assert platform.accounts.available(session, account) == 500_00
