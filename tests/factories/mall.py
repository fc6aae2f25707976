"""融e购 sellers: an active e-Pay merchant with an owner and a cashier login, and
its shop (asked for by the owner, opened by operations); categories."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from rongbank.auth.service import PrincipalKind
from rongbank.payments.merchants import MerchantActor
from rongbank.platform import Platform
from tests.factories import payments
from tests.factories.identity import resident_id
from tests.factories.people import People

V1 = "/api/v1"
_logins = itertools.count(1)


@dataclass
class Seller:
    merchant_id: int
    owner: dict[str, str]
    cashier: dict[str, str]
    shop: dict[str, Any] | None = None


def merchant_login(platform: Platform, merchant_id: int, role: str) -> dict[str, str]:
    """A login of the merchant's (owner or cashier) with a session: its header."""
    with platform.transaction() as session:
        user_id = platform.payments.add_user(
            session, merchant_id=merchant_id, role=role, name=f"{role}{next(_logins)}"
        )
        token = platform.auth.open_session(
            session, kind=PrincipalKind.MERCHANT, principal_id=user_id, client="tests"
        ).token
    return {"Authorization": f"Bearer {token}"}


def seller(
    client: TestClient,
    platform: Platform,
    people: People,
    *,
    name: str,
    staff: dict[str, str] | None = None,
) -> Seller:
    """A merchant whose shop ``name`` is open (when ``staff`` approve it) or waiting."""
    person = people.register("王老板")
    merchant_id = payments.merchant(
        platform, customer_id=person["customer_id"], account=person["account"]["number"], name=name
    )
    made = Seller(
        merchant_id,
        merchant_login(platform, merchant_id, "owner"),
        merchant_login(platform, merchant_id, "cashier"),
    )
    asked = client.post(f"{V1}/merchant/mall/shop", headers=made.owner, json={"name": name})
    assert asked.status_code == 201, asked.text
    made.shop = asked.json()
    if staff is not None:
        opened = client.post(f"{V1}/staff/mall/shops/{made.shop['id']}/approve", headers=staff)
        assert opened.status_code == 200, opened.text
        made.shop = opened.json()
    return made


def categories(platform: Platform) -> dict[str, int]:
    """A small tree: 数码 (phones and laptops under it) and 食品; code -> id."""
    made: dict[str, int] = {}
    with platform.transaction() as session:
        for code, zh, en, bp, parent in [
            ("digital", "数码", "Digital", 300, None),
            ("phones", "手机", "Phones", 300, "digital"),
            ("laptops", "笔记本电脑", "Laptops", 400, "digital"),
            ("food", "食品", "Food", 600, None),
        ]:
            made[code] = platform.mall.add_category(
                session,
                code=code,
                name_zh=zh,
                name_en=en,
                commission_bp=bp,
                parent_id=made.get(parent or ""),
            ).id
    return made


_people = itertools.count(500)


def open_shop(platform: Platform, name: str) -> MerchantActor:
    """An open shop, made through the services: its owner, acting for it."""
    n = next(_people)
    with platform.transaction() as session:
        person, account = platform.accounts.register_person(
            session, name="店主", mobile=f"1370000{n:04d}", resident_id=resident_id(sequence=n)
        )
    merchant_id = payments.merchant(
        platform, customer_id=person.id, account=account.number, name=name
    )
    with platform.transaction() as session:
        user_id = platform.payments.add_user(
            session, merchant_id=merchant_id, role="owner", name="店主"
        )
        owner = MerchantActor(merchant_id, "owner", user_id)
        shop = platform.mall.ask_for_shop(session, owner, name=name, description="")
        staff_id = platform.accounts.create_staff(
            session, username=f"mall-ops{n}", name="孙运营", role="operations"
        )
        platform.mall.decide_shop(session, shop_id=shop.id, staff_id=staff_id, approve=True)
    return owner


def on_sale(
    platform: Platform,
    owner: MerchantActor,
    category: int,
    title: str,
    *prices: int,
    description: str = "",
) -> int:
    """A published product with one SKU (stock 10) at each price (fen); its id."""
    with platform.transaction() as session:
        made = platform.mall.create_product(
            session, owner, category_id=category, title=title, description=description
        )
        for i, price in enumerate(prices):
            platform.mall.add_sku(session, owner, made.id, code=f"S{i}", price=price, stock=10)
        platform.mall.set_published(session, owner, made.id, published=True)
    return made.id
