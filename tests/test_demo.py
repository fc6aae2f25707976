"""Demo data appears only when asked for, and asking twice changes nothing."""

from __future__ import annotations

from sqlalchemy import text

from rongbank.demo import CUSTOMERS, DEMO_PASSWORD, seed
from rongbank.mall.catalogue.samples import DEMO_SHOPS
from rongbank.mall.catalogue.search import SearchQuery, search
from rongbank.platform import Platform


def test_seed_demo_is_idempotent_and_usable(platform: Platform) -> None:
    with platform.transaction() as session:
        assert session.execute(text("SELECT count(*) FROM customer")).scalar_one() == 0
        seed(platform, session)
        seed(platform, session)
        customers = len(CUSTOMERS) + len(DEMO_SHOPS)  # the shops' owners are customers too
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
            text("SELECT id FROM customer WHERE mobile = :m"), {"m": CUSTOMERS[3][1]}
        ).scalar_one()
        positions = {(p.product, p.side) for p in platform.invest.positions(session, customer_id)}
        orders = [o["kind"] for o in platform.invest.orders(session, customer_id)]
        assert positions == {("AU_CNY", "long"), ("AG_CNY", "short")}
        assert sorted(orders) == ["limit", "oco"]
        assert platform.ledger.verify(session) == {}
