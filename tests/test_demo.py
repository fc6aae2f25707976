"""Demo data appears only when asked for, and asking twice changes nothing."""

from __future__ import annotations

from sqlalchemy import text

from rongbank.demo import CUSTOMERS, DEMO_PASSWORD, seed
from rongbank.mall.catalogue.samples import DEMO_SHOPS
from rongbank.mall.catalogue.search import SearchQuery, search
from rongbank.platform import Platform
from tests.factories.people import V1
from tests.support.api import ApiCustomer
from tests.support.mall_orders import buy, pay


def test_seed_demo_is_idempotent_and_usable(platform: Platform) -> None:
    with platform.transaction() as session:
        assert session.execute(text("SELECT count(*) FROM customer")).scalar_one() == 0
        seed(platform, session)
        seed(platform, session)
        # The shops' owners are customers too, and the bank itself owns the mall's
        # clearing merchant.
        customers = len(CUSTOMERS) + len(DEMO_SHOPS) + 1
        assert session.execute(text("SELECT count(*) FROM customer")).scalar_one() == customers
        _, mobile, *_, balance = CUSTOMERS[0]
        result = platform.auth.login(session, username=mobile, password=DEMO_PASSWORD)
        me = result.unwrap().principal
        [(_, available)] = platform.accounts.accounts_of(session, me.id)
        assert available == balance
        assert platform.ledger.verify(session) == {}


def test_seed_demo_fills_the_mall_with_shops_and_products_on_sale(platform: Platform) -> None:
    with platform.transaction() as session:
        seed(platform, session)
        seed(platform, session)
        shops = platform.mall.shops(session, status="open")
        assert sorted(s.name for s in shops) == sorted(s.name for s in DEMO_SHOPS)
        page = search(session, SearchQuery("龙井", limit=50))
        assert [h.title for h in page.hits] == ["2024 新茶 明前特级 西湖龙井 250g 礼盒"]
        everything = search(session, SearchQuery(limit=50)).hits
        assert len(everything) == sum(len(s.products) for s in DEMO_SHOPS)
        assert len({h.category_id for h in everything}) >= 8
        # The owner of a shop logs in to the merchant console with the demo password.
        result = platform.auth.login(session, username="shop-tea", password=DEMO_PASSWORD)
        assert result.unwrap().principal.kind.value == "merchant"


def test_seed_demo_gives_a_customer_investments(platform: Platform) -> None:
    with platform.transaction() as session:
        seed(platform, session)
        seed(platform, session)
        customer_id = session.execute(
            text("SELECT id FROM customer WHERE mobile_hash = :m"),
            {"m": platform.pii.hash("mobile", CUSTOMERS[3][1])},
        ).scalar_one()
        positions = {(p.product, p.side) for p in platform.invest.positions(session, customer_id)}
        orders = [o["kind"] for o in platform.invest.orders(session, customer_id)]
        assert positions == {("AU_CNY", "long"), ("AG_CNY", "short")}
        assert sorted(orders) == ["limit", "oco"]
        assert platform.ledger.verify(session) == {}


def test_a_demo_customer_buys_a_demo_shops_product_out_of_the_box(platform: Platform) -> None:
    """No setting names the mall's clearing merchant: seed-demo opens the bank's own,
    once, and a demo customer checks a demo shop's product out and pays for it."""
    from fastapi.testclient import TestClient

    from rongbank.api.app import create_app

    assert platform.settings.mall_merchant_id is None
    with platform.transaction() as session:
        seed(platform, session)
        seed(platform, session)
        assert session.execute(text("SELECT count(*) FROM mall_clearing")).scalar_one() == 1
        sku_id, price = session.execute(
            text(
                "SELECT k.id, k.price FROM mall_sku k JOIN mall_product p ON p.id = k.product_id "
                "WHERE p.title LIKE '%西湖龙井%' ORDER BY k.id LIMIT 1"
            )
        ).one()
    platform.mall_orders.use_merchant(None)  # a fresh process: found from the database
    _, mobile, *_, balance = CUSTOMERS[0]
    with TestClient(create_app(platform, background=False)) as client:
        credentials = {"login_name": mobile, "password": DEMO_PASSWORD}
        login = client.post(f"{V1}/sessions", json=credentials)
        assert login.status_code == 201, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        account = client.get(f"{V1}/me/accounts", headers=headers).json()[0]["number"]
        person = {"customer_id": 0, "headers": headers, "login_name": mobile}
        buyer = ApiCustomer(client, platform, {**person, "account": {"number": account}})
        made = buy(buyer, {int(sku_id): 1})
        assert made.status_code == 201, made.text
        paid = pay(buyer, made.json()["id"])
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "paid"
        assert buyer.available() == f"{(balance - price) / 100:.2f}"
    with platform.transaction() as session:
        assert platform.ledger.verify(session) == {}
