"""Never oversold: 50 checkouts at once of the last units, each in its own thread and
transaction against the real server, take exactly the units there are."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories import mall_orders as mall
from tests.factories.accounts import People

pytestmark = pytest.mark.slow

BUYERS = 50
LAST_UNITS = 7


@pytest.fixture
def committed(fresh_db: str, clock: FrozenClock) -> Iterator[Platform]:
    platform = Platform.connect(
        fresh_db, Settings(db_pool_size=BUYERS), clock=clock, group_commit=False
    )
    try:
        yield platform
    finally:
        platform.close()


def race(platform: Platform, buyers: list[int]) -> list[str]:
    """Every buyer checks out at once; what each got."""
    barrier = threading.Barrier(len(buyers))
    outcomes = [""] * len(buyers)

    def checkout(index: int, customer_id: int) -> None:
        barrier.wait()
        try:
            with platform.transaction() as session:
                platform.mall_orders.checkouts.checkout(
                    session, customer_id=customer_id, client_id="k"
                )
            outcomes[index] = "reserved"
        except DomainError as error:
            outcomes[index] = error.code

    threads = [threading.Thread(target=checkout, args=(i, c)) for i, c in enumerate(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_fifty_concurrent_checkouts_of_the_last_units_never_oversell(
    committed: Platform,
) -> None:
    platform = committed
    people = People(platform.accounts, platform.ledger)
    with platform.transaction() as session:
        bank, seller = people.person(session, "融e购"), people.person(session, "好物店")
    mall.clearing(platform, customer_id=bank.customer_id, account=bank.number)
    shop = mall.seller(
        platform, customer_id=seller.customer_id, account=seller.number, name="好物店"
    )
    with platform.transaction() as session:
        category = mall.category(session, commission_bp=300)
        last = mall.sku(
            session, shop_id=shop.shop_id, category_id=category, price=19_90, stock=LAST_UNITS
        )
        # Every buyer also wants one of a plentiful SKU, checked out in the same
        # transaction: rows locked in SKU order, so no two checkouts deadlock.
        plenty = mall.sku(
            session, shop_id=shop.shop_id, category_id=category, price=5_00, stock=999
        )
        buyers = [people.person(session, f"买家{i}").customer_id for i in range(BUYERS)]
        for customer_id in buyers:
            for sku_id in (plenty, last) if customer_id % 2 else (last, plenty):
                platform.mall_orders.checkouts.add(
                    session, customer_id=customer_id, sku_id=sku_id, quantity=1
                )

    outcomes = race(platform, buyers)

    assert Counter(outcomes) == {"reserved": LAST_UNITS, "mall_out_of_stock": BUYERS - LAST_UNITS}
    with platform.transaction() as session:
        assert mall.stock(session, last) == 0
        assert mall.stock(session, plenty) == 999 - LAST_UNITS  # the refused took nothing
        sold = session.execute(
            text("SELECT coalesce(sum(quantity), 0) FROM mall_order_line WHERE sku_id = :k"),
            {"k": last},
        ).scalar_one()
    assert sold == LAST_UNITS


def test_one_cart_checked_out_twice_at_once_under_two_keys_is_bought_once(
    committed: Platform,
) -> None:
    platform = committed
    people = People(platform.accounts, platform.ledger)
    with platform.transaction() as session:
        bank, seller, buyer = (people.person(session, n) for n in ("融e购", "好物店", "买家"))
    mall.clearing(platform, customer_id=bank.customer_id, account=bank.number)
    shop = mall.seller(platform, customer_id=seller.customer_id, account=seller.number, name="店")
    with platform.transaction() as session:
        category = mall.category(session, commission_bp=0)
        sku = mall.sku(session, shop_id=shop.shop_id, category_id=category, price=1_00, stock=9)
        platform.mall_orders.checkouts.add(
            session, customer_id=buyer.customer_id, sku_id=sku, quantity=3
        )
    barrier = threading.Barrier(2)
    outcomes = ["", ""]

    def checkout(index: int) -> None:
        barrier.wait()
        try:
            with platform.transaction() as session:
                platform.mall_orders.checkouts.checkout(
                    session, customer_id=buyer.customer_id, client_id=f"key{index}"
                )
            outcomes[index] = "reserved"
        except DomainError as error:
            outcomes[index] = error.code

    threads = [threading.Thread(target=checkout, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["mall_cart_empty", "reserved"]
    with platform.transaction() as session:
        assert mall.stock(session, sku) == 6
