"""融e购 for the buying side's tests: the clearing merchant, shops, categories,
products and SKUs, inserted as rows (the catalogue's own services are another
engineer's; these tests read only its tables)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.platform import Platform
from tests.factories import payments as epay

_codes = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Seller:
    shop_id: int
    merchant_id: int
    owner_id: int
    """The owner's customer id (its settlement account is theirs)."""
    account: str
    user_id: int
    """The shop's owner login (a merchant user)."""


def clearing(platform: Platform, *, customer_id: int, account: str) -> int:
    """The mall's clearing merchant (no e-Pay fee), taking checkouts' payments."""
    with platform.transaction() as session:
        onboarder, approver = (
            platform.accounts.create_staff(
                session, username=f"mall-ops{next(_codes)}", name="张三", role="operations"
            )
            for _ in range(2)
        )
        made = platform.payments.onboard(
            session,
            staff_id=onboarder,
            customer_id=customer_id,
            name="融e购",
            mcc="5311",
            settlement_account=account,
            fee_bps=0,
        )
        platform.payments.approve(session, merchant_id=made.id, staff_id=approver)
    platform.mall_orders.use_merchant(made.id)
    return made.id


def category(session: Session, *, commission_bp: int) -> int:
    n = next(_codes)
    return int(
        session.execute(
            text(
                "INSERT INTO mall_category (code, name_zh, name_en, commission_bp) "
                "VALUES (:c, :zh, :en, :bp) RETURNING id"
            ),
            {"c": f"cat-{n}", "zh": f"类目{n}", "en": f"Category {n}", "bp": commission_bp},
        ).scalar_one()
    )


def seller(platform: Platform, *, customer_id: int, account: str, name: str) -> Seller:
    """An open shop of a new e-Pay merchant of ``customer_id``."""
    merchant_id = epay.merchant(platform, customer_id=customer_id, account=account, name=name)
    with platform.transaction() as session:
        user = platform.payments.add_user(session, merchant_id=merchant_id, role="owner", name=name)
        shop = open_shop(session, merchant_id=merchant_id, user_id=user, name=name)
    return Seller(shop, merchant_id, customer_id, account, user)


def shop_of(session: Session, merchant_id: int) -> int | None:
    """The merchant's shop, if it has one (the catalogue's side may have opened it)."""
    found = session.execute(
        text("SELECT id FROM mall_shop WHERE merchant_id = :m"), {"m": merchant_id}
    ).scalar()
    return None if found is None else int(found)


def open_shop(session: Session, *, merchant_id: int, user_id: int, name: str) -> int:
    """An open shop of an existing merchant, asked for by its user ``user_id``."""
    return int(
        session.execute(
            text(
                "INSERT INTO mall_shop (merchant_id, name, status, requested_by, created_at, "
                "approved_at) VALUES (:m, :n, 'open', :u, now(), now()) RETURNING id"
            ),
            {"m": merchant_id, "n": name, "u": user_id},
        ).scalar_one()
    )


def sku(
    session: Session,
    *,
    shop_id: int,
    category_id: int,
    price: int,
    stock: int,
    title: str = "纯棉T恤",
) -> int:
    """A published product with one SKU of ``price`` fen and ``stock`` units."""
    now = session.execute(text("SELECT now()")).scalar_one()
    product = session.execute(
        text(
            "INSERT INTO mall_product (shop_id, category_id, title, status, created_at, "
            "updated_at) VALUES (:s, :c, :t, 'published', :now, :now) RETURNING id"
        ),
        {"s": shop_id, "c": category_id, "t": title, "now": now},
    ).scalar_one()
    return int(
        session.execute(
            text(
                "INSERT INTO mall_sku (product_id, code, price, stock) "
                "VALUES (:p, :c, :price, :stock) RETURNING id"
            ),
            {"p": product, "c": f"SKU-{next(_codes)}", "price": price, "stock": stock},
        ).scalar_one()
    )


def stock(session: Session, sku_id: int) -> int:
    return int(
        session.execute(
            text("SELECT stock FROM mall_sku WHERE id = :k"), {"k": sku_id}
        ).scalar_one()
    )
