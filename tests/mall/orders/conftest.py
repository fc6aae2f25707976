from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories import mall_orders as mall
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.lending import credit_platform
from tests.support.mall_orders import Shops, customer


@pytest.fixture
def platform(connection: Connection, clock: FrozenClock) -> Platform:
    """Deciding 逸贷 with the fake scorecard, so that checkouts may be paid by it."""
    return credit_platform(connection, clock)


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    from rongbank.api.app import create_app

    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


@pytest.fixture
def shops(client: TestClient, platform: Platform, people: People) -> Shops:
    """The mall's clearing merchant and three sellers, each with a shop."""
    bank = ApiCustomer(client, platform, people.register("融e购"))
    mall.clearing(platform, customer_id=bank.id, account=bank.account)
    sellers = []
    for name in ("好物店", "书香店", "茶叶店"):
        owner = ApiCustomer(client, platform, people.register(name))
        sellers.append(
            mall.seller(platform, customer_id=owner.id, account=owner.account, name=name)
        )
    return Shops(platform, sellers)


@pytest.fixture
def buyer(client: TestClient, platform: Platform, people: People) -> ApiCustomer:
    return customer(client, platform, people, "王小明", 5000_00)
