"""Shops, categories, products and their SKUs, for the merchant who sells them and
the operations staff who approve shops and set the mall's commission.

Every seller method takes the :class:`~rongbank.payments.merchants.MerchantActor`
acting and works only inside that merchant's shop: a product of another shop is
"not found", never "forbidden", so a seller cannot even learn which ids exist. The
methods run in the caller's transaction and never commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.chat.media import Limits, inspect
from rongbank.clock import Clock
from rongbank.mall.catalogue import rules
from rongbank.mall.catalogue.errors import (
    CategoryCodeTaken,
    CategoryNotFound,
    ImageNotFound,
    NoShop,
    NothingToSell,
    ProductNotFound,
    ShopAlreadyAsked,
    ShopNotFound,
    ShopNotOpen,
    ShopNotPending,
    ShopOwnerOnly,
    ShopStateInvalid,
    SkuCodeTaken,
    SkuNotFound,
    StockBelowZero,
    TooManyImages,
)
from rongbank.payments.merchants import MerchantActor
from rongbank.payments.service import PaymentsService

MAX_IMAGES = 9
SELLING = ("pending", "open")
"""Shop statuses in which the seller may edit the catalogue (a pending shop prepares
its products; they are shown once operations open it)."""


@dataclass(frozen=True, slots=True)
class Shop:
    id: int
    merchant_id: int
    name: str
    description: str
    status: str
    requested_by: int
    approved_by: int | None
    created_at: datetime
    approved_at: datetime | None
    decided_reason: str


@dataclass(frozen=True, slots=True)
class ShopEvent:
    """A suspension or reinstatement by operations, or a closure by the shop's owner."""

    id: int
    shop_id: int
    action: str
    status_before: str
    staff_id: int | None
    user_id: int | None
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Category:
    id: int
    parent_id: int | None
    code: str
    name_zh: str
    name_en: str
    commission_bp: int


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    shop_id: int
    category_id: int
    title: str
    description: str
    attributes: dict[str, str]
    status: str
    created_at: datetime
    updated_at: datetime
    min_price: int | None
    max_price: int | None


@dataclass(frozen=True, slots=True)
class Sku:
    id: int
    product_id: int
    code: str
    attributes: dict[str, str]
    price: int
    stock: int
    active: bool


@dataclass(frozen=True, slots=True)
class Image:
    id: int
    product_id: int
    position: int
    content_type: str
    name: str
    size: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Download:
    name: str
    content_type: str
    content: bytes


def _columns(cls: type, prefix: str = "") -> str:
    return ", ".join(prefix + f.name for f in fields(cls))


SHOP = _columns(Shop)
SHOP_EVENT = _columns(ShopEvent)
CATEGORY = _columns(Category)
PRODUCT = _columns(Product)
SKU = _columns(Sku)
IMAGE = _columns(Image)

SEARCH_VECTOR = "CAST(:search AS tsvector)"
"""The product's search tokens (``rules.search_vector``)."""


def search_values(title: str, description: str, attributes: dict[str, str]) -> dict[str, Any]:
    return {"search": rules.search_vector(title, " ".join([description, *attributes.values()]))}


class Catalogue:
    def __init__(self, clock: Clock, payments: PaymentsService, image_limits: Limits) -> None:
        self.clock = clock
        self.payments = payments
        # Product images are images only: no file type is accepted besides them.
        self.image_limits = Limits(
            image_limits.image_max_bytes,
            image_limits.file_max_bytes,
            image_limits.image_max_pixels,
            frozenset(),
        )
        self.closing_checks: list[Callable[[Session, Shop], None]] = []
        """Called before a seller closes its shop; each raises a refusal while the shop
        may not close yet: the buying side (``rongbank.mall.orders``) refuses while
        orders are open or the seller's money is unsettled, the catalogue knowing
        nothing of orders."""

    # -- shops ---------------------------------------------------------------------------

    def ask_for_shop(
        self, session: Session, actor: MerchantActor, *, name: str, description: str
    ) -> Shop:
        """The merchant's owner asks for a shop; it waits for operations. A merchant
        has one shop: asking again after a refusal or a closure puts the same shop back in the
        queue with the new name and description."""
        if actor.role != "owner" or actor.user_id is None:
            raise ShopOwnerOnly()
        self.payments.active_merchant(session, actor.merchant_id)
        values = {
            "m": actor.merchant_id,
            "n": name.strip(),
            "d": description.strip(),
            "u": actor.user_id,
            "at": self.clock.now(),
        }
        row = session.execute(
            text(
                "INSERT INTO mall_shop (merchant_id, name, description, requested_by, created_at) "  # noqa: S608
                "VALUES (:m, :n, :d, :u, :at) ON CONFLICT (merchant_id) DO UPDATE SET "
                "name = :n, description = :d, requested_by = :u, created_at = :at, "
                "status = 'pending', approved_by = NULL, approved_at = NULL, decided_reason = '' "
                f"WHERE mall_shop.status IN ('refused', 'closed') RETURNING {SHOP}"
            ),
            values,
        ).first()
        if row is None:
            raise ShopAlreadyAsked()
        return Shop(*row)

    def shop(self, session: Session, shop_id: int, *, lock: bool = False) -> Shop:
        row = session.execute(
            text(f"SELECT {SHOP} FROM mall_shop WHERE id = :id {'FOR UPDATE' if lock else ''}"),  # noqa: S608
            {"id": shop_id},
        ).first()
        if row is None:
            raise ShopNotFound(shop_id=shop_id)
        return Shop(*row)

    def shop_of(self, session: Session, merchant_id: int) -> Shop:
        row = session.execute(
            text(f"SELECT {SHOP} FROM mall_shop WHERE merchant_id = :m"),  # noqa: S608
            {"m": merchant_id},
        ).first()
        if row is None:
            raise NoShop()
        return Shop(*row)

    def shops(self, session: Session, *, status: str | None = None, limit: int = 100) -> list[Shop]:
        """Shops of one status (all: None), those waiting oldest first, others newest."""
        order = "id" if status == "pending" else "id DESC"
        rows = session.execute(
            text(
                f"SELECT {SHOP} FROM mall_shop "  # noqa: S608
                f"WHERE CAST(:s AS text) IS NULL OR status = :s ORDER BY {order} LIMIT :l"
            ),
            {"s": status, "l": limit},
        ).all()
        return [Shop(*r) for r in rows]

    def shop_names(self, session: Session, shop_ids: list[int]) -> dict[int, str]:
        rows = session.execute(
            text("SELECT id, name FROM mall_shop WHERE id = ANY(:ids)"), {"ids": shop_ids}
        ).all()
        return {int(r[0]): str(r[1]) for r in rows}

    def decide_shop(
        self, session: Session, *, shop_id: int, staff_id: int, approve: bool, reason: str = ""
    ) -> Shop:
        """Operations open a waiting shop, or refuse it with a reason its owner sees."""
        shop = self.shop(session, shop_id, lock=True)
        if shop.status != "pending":
            raise ShopNotPending(status=shop.status)
        if approve:
            self.payments.active_merchant(session, shop.merchant_id)
        row = session.execute(
            text(
                "UPDATE mall_shop SET status = :s, approved_by = :by, approved_at = :at, "  # noqa: S608
                f"decided_reason = :r WHERE id = :id RETURNING {SHOP}"
            ),
            {
                "s": "open" if approve else "refused",
                "by": staff_id if approve else None,
                "at": self.clock.now() if approve else None,
                "r": reason.strip(),
                "id": shop_id,
            },
        ).one()
        return Shop(*row)

    # -- suspension, reinstatement, closure ---------------------------------------------

    def suspend_shop(self, session: Session, *, shop_id: int, staff_id: int, reason: str) -> Shop:
        """Operations take an open shop off the mall: its products leave search and
        cannot be bought; its open orders still ship, return and settle (the buying
        side does not ask the shop's status). Its seller reads the reason. A repeat
        answers the suspended shop."""
        shop = self.shop(session, shop_id, lock=True)
        if shop.status == "suspended":
            return shop
        if shop.status != "open":
            raise ShopStateInvalid(status=shop.status)
        return self._set_status(session, shop, "suspended", reason, "suspend", staff_id=staff_id)

    def reinstate_shop(self, session: Session, *, shop_id: int, staff_id: int, reason: str) -> Shop:
        """Operations open a suspended shop again (its merchant must be active in
        e-Pay). A repeat answers the open shop."""
        shop = self.shop(session, shop_id, lock=True)
        if shop.status == "open":
            return shop
        if shop.status != "suspended":
            raise ShopStateInvalid(status=shop.status)
        self.payments.active_merchant(session, shop.merchant_id)
        return self._set_status(
            session, shop, "open", "", "reinstate", staff_id=staff_id, why=reason
        )

    def close_shop(self, session: Session, actor: MerchantActor, *, reason: str) -> Shop:
        """The owner closes the shop for good (asking again later starts over with
        operations). Refused while a closing check refuses (orders open, money
        unsettled) and while operations hold it suspended. A repeat answers it."""
        if actor.role != "owner" or actor.user_id is None:
            raise ShopOwnerOnly()
        shop = self.shop(session, self.shop_of(session, actor.merchant_id).id, lock=True)
        if shop.status == "closed":
            return shop
        if shop.status == "suspended":
            raise ShopStateInvalid(status=shop.status)
        for check in self.closing_checks:
            check(session, shop)
        return self._set_status(session, shop, "closed", reason, "close", user_id=actor.user_id)

    def _set_status(
        self,
        session: Session,
        shop: Shop,
        status: str,
        shown: str,
        action: str,
        *,
        staff_id: int | None = None,
        user_id: int | None = None,
        why: str | None = None,
    ) -> Shop:
        """The new status with the reason its seller reads (``shown``); the event kept
        with who acted and why."""
        now = self.clock.now()
        row = session.execute(
            text(
                "UPDATE mall_shop SET status = :s, decided_reason = :r "  # noqa: S608
                f"WHERE id = :id RETURNING {SHOP}"
            ),
            {"s": status, "r": shown.strip(), "id": shop.id},
        ).one()
        session.execute(
            text(
                "INSERT INTO mall_shop_event (shop_id, action, status_before, staff_id, "
                "user_id, reason, at) VALUES (:shop, :a, :b, :staff, :u, :r, :at)"
            ),
            {
                "shop": shop.id,
                "a": action,
                "b": shop.status,
                "staff": staff_id,
                "u": user_id,
                "r": (shown if why is None else why).strip(),
                "at": now,
            },
        )
        return Shop(*row)

    def shop_events(self, session: Session, shop_id: int) -> list[ShopEvent]:
        """The shop's suspensions, reinstatements and closure, oldest first."""
        rows = session.execute(
            text(
                f"SELECT {SHOP_EVENT} FROM mall_shop_event WHERE shop_id = :s ORDER BY id"  # noqa: S608
            ),
            {"s": shop_id},
        ).all()
        return [ShopEvent(*r) for r in rows]

    def selling_shop(self, session: Session, actor: MerchantActor) -> Shop:
        """The actor's shop, when its catalogue may be edited."""
        shop = self.shop_of(session, actor.merchant_id)
        if shop.status not in SELLING:
            raise ShopNotOpen(status=shop.status)
        return shop

    # -- categories ----------------------------------------------------------------------

    def categories(self, session: Session) -> list[Category]:
        rows = session.execute(text(f"SELECT {CATEGORY} FROM mall_category ORDER BY id")).all()  # noqa: S608
        return [Category(*r) for r in rows]

    def category(self, session: Session, category_id: int) -> Category:
        row = session.execute(
            text(f"SELECT {CATEGORY} FROM mall_category WHERE id = :id"),  # noqa: S608
            {"id": category_id},
        ).first()
        if row is None:
            raise CategoryNotFound(category_id=category_id)
        return Category(*row)

    def category_by_code(self, session: Session, code: str) -> Category | None:
        row = session.execute(
            text(f"SELECT {CATEGORY} FROM mall_category WHERE code = :c"),  # noqa: S608
            {"c": code},
        ).first()
        return None if row is None else Category(*row)

    def add_category(
        self,
        session: Session,
        *,
        code: str,
        name_zh: str,
        name_en: str,
        commission_bp: int,
        parent_id: int | None = None,
        staff_id: int | None = None,
    ) -> Category:
        if parent_id is not None:
            self.category(session, parent_id)
        if self.category_by_code(session, code) is not None:
            raise CategoryCodeTaken(code=code)
        row = session.execute(
            text(
                "INSERT INTO mall_category (parent_id, code, name_zh, name_en, commission_bp) "  # noqa: S608
                f"VALUES (:p, :c, :zh, :en, :bp) RETURNING {CATEGORY}"
            ),
            {
                "p": parent_id,
                "c": code,
                "zh": name_zh.strip(),
                "en": name_en.strip(),
                "bp": commission_bp,
            },
        ).one()
        self._commission_changed(session, row[0], None, commission_bp, staff_id)
        return Category(*row)

    def set_commission(
        self, session: Session, *, category_id: int, commission_bp: int, staff_id: int
    ) -> tuple[Category, int]:
        """A category's new commission; returns it and the rate before."""
        before = session.execute(
            text("SELECT commission_bp FROM mall_category WHERE id = :id FOR UPDATE"),
            {"id": category_id},
        ).scalar()
        if before is None:
            raise CategoryNotFound(category_id=category_id)
        row = session.execute(
            text(
                f"UPDATE mall_category SET commission_bp = :bp WHERE id = :id RETURNING {CATEGORY}"  # noqa: S608
            ),
            {"bp": commission_bp, "id": category_id},
        ).one()
        self._commission_changed(session, category_id, int(before), commission_bp, staff_id)
        return Category(*row), int(before)

    def _commission_changed(
        self,
        session: Session,
        category_id: int,
        before: int | None,
        after: int,
        staff_id: int | None,
    ) -> None:
        session.execute(
            text(
                "INSERT INTO mall_commission_change (category_id, before_bp, after_bp, "
                "staff_id, at) VALUES (:c, :b, :a, :s, :at)"
            ),
            {"c": category_id, "b": before, "a": after, "s": staff_id, "at": self.clock.now()},
        )

    def subcategories(self, session: Session, category_id: int) -> list[int]:
        """The category and every category under it, however deep."""
        rows = session.execute(
            text(
                "WITH RECURSIVE t(id) AS (SELECT id FROM mall_category WHERE id = :id "
                "UNION SELECT c.id FROM mall_category c JOIN t ON c.parent_id = t.id) "
                "SELECT id FROM t"
            ),
            {"id": category_id},
        ).all()
        if not rows:
            raise CategoryNotFound(category_id=category_id)
        return [int(r[0]) for r in rows]

    # -- products ------------------------------------------------------------------------

    def create_product(
        self,
        session: Session,
        actor: MerchantActor,
        *,
        category_id: int,
        title: str,
        description: str = "",
        attributes: dict[str, str] | None = None,
    ) -> Product:
        shop = self.selling_shop(session, actor)
        return self.insert_product(
            session, shop.id, category_id, title, description, attributes or {}
        )

    def insert_product(
        self,
        session: Session,
        shop_id: int,
        category_id: int,
        title: str,
        description: str,
        attributes: dict[str, str],
        status: str = "draft",
    ) -> Product:
        """A new product of ``shop_id`` (which the caller checked is the actor's)."""
        self.category(session, category_id)
        title, description = title.strip(), description.strip()
        now = self.clock.now()
        row = session.execute(
            text(
                "INSERT INTO mall_product (shop_id, category_id, title, description, attributes, "  # noqa: S608
                "status, created_at, updated_at, search) VALUES (:s, :c, :t, :d, "
                f"CAST(:a AS jsonb), :st, :at, :at, {SEARCH_VECTOR}) RETURNING {PRODUCT}"
            ),
            {
                "s": shop_id,
                "c": category_id,
                "t": title,
                "d": description,
                "a": json.dumps(attributes, ensure_ascii=False),
                "st": status,
                "at": now,
                **search_values(title, description, attributes),
            },
        ).one()
        return Product(*row)

    def product_of_seller(
        self, session: Session, actor: MerchantActor, product_id: int, *, lock: bool = False
    ) -> Product:
        """One of the actor's shop's products; another shop's is not found."""
        shop = self.shop_of(session, actor.merchant_id)
        row = session.execute(
            text(
                f"SELECT {PRODUCT} FROM mall_product WHERE id = :id AND shop_id = :s "  # noqa: S608
                f"{'FOR UPDATE' if lock else ''}"
            ),
            {"id": product_id, "s": shop.id},
        ).first()
        if row is None:
            raise ProductNotFound(product_id=product_id)
        return Product(*row)

    def seller_products(
        self,
        session: Session,
        actor: MerchantActor,
        *,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[Product]:
        """The actor's shop's products, newest first, after ``after_id`` (keyset)."""
        shop = self.shop_of(session, actor.merchant_id)
        rows = session.execute(
            text(
                f"SELECT {PRODUCT} FROM mall_product WHERE shop_id = :s "  # noqa: S608
                "AND (CAST(:after AS bigint) IS NULL OR id < :after) ORDER BY id DESC LIMIT :l"
            ),
            {"s": shop.id, "after": after_id, "l": limit},
        ).all()
        return [Product(*r) for r in rows]

    def update_product(
        self,
        session: Session,
        actor: MerchantActor,
        product_id: int,
        *,
        title: str | None = None,
        description: str | None = None,
        attributes: dict[str, str] | None = None,
        category_id: int | None = None,
    ) -> Product:
        self.selling_shop(session, actor)
        current = self.product_of_seller(session, actor, product_id, lock=True)
        if category_id is not None:
            self.category(session, category_id)
        new_title = current.title if title is None else title.strip()
        new_description = current.description if description is None else description.strip()
        new_attributes = current.attributes if attributes is None else attributes
        row = session.execute(
            text(
                "UPDATE mall_product SET title = :t, description = :d, "  # noqa: S608
                "attributes = CAST(:a AS jsonb), category_id = :c, updated_at = :at, "
                f"search = {SEARCH_VECTOR} WHERE id = :id RETURNING {PRODUCT}"
            ),
            {
                "t": new_title,
                "d": new_description,
                "a": json.dumps(new_attributes, ensure_ascii=False),
                "c": category_id or current.category_id,
                "at": self.clock.now(),
                "id": product_id,
                **search_values(new_title, new_description, new_attributes),
            },
        ).one()
        return Product(*row)

    def set_published(
        self, session: Session, actor: MerchantActor, product_id: int, *, published: bool
    ) -> Product:
        """Publish (shown to customers once the shop is open) or unpublish."""
        self.selling_shop(session, actor)
        self.product_of_seller(session, actor, product_id, lock=True)
        if published and not any(s.active for s in self.skus(session, product_id)):
            raise NothingToSell()
        row = session.execute(
            text(
                f"UPDATE mall_product SET status = :s, updated_at = :at WHERE id = :id "  # noqa: S608
                f"RETURNING {PRODUCT}"
            ),
            {
                "s": "published" if published else "unpublished",
                "at": self.clock.now(),
                "id": product_id,
            },
        ).one()
        return Product(*row)

    # -- SKUs ----------------------------------------------------------------------------

    def skus(self, session: Session, product_id: int) -> list[Sku]:
        rows = session.execute(
            text(f"SELECT {SKU} FROM mall_sku WHERE product_id = :p ORDER BY id"),  # noqa: S608
            {"p": product_id},
        ).all()
        return [Sku(*r) for r in rows]

    def add_sku(
        self,
        session: Session,
        actor: MerchantActor,
        product_id: int,
        *,
        code: str,
        price: int,
        stock: int,
        attributes: dict[str, str] | None = None,
    ) -> Sku:
        self.selling_shop(session, actor)
        self.product_of_seller(session, actor, product_id, lock=True)
        return self.insert_sku(session, product_id, code, price, stock, attributes or {})

    def insert_sku(
        self,
        session: Session,
        product_id: int,
        code: str,
        price: int,
        stock: int,
        attributes: dict[str, str],
    ) -> Sku:
        row = session.execute(
            text(
                "INSERT INTO mall_sku (product_id, code, attributes, price, stock) "  # noqa: S608
                "VALUES (:p, :c, CAST(:a AS jsonb), :price, :stock) "
                f"ON CONFLICT (product_id, code) DO NOTHING RETURNING {SKU}"
            ),
            {
                "p": product_id,
                "c": code.strip(),
                "a": json.dumps(attributes, ensure_ascii=False),
                "price": price,
                "stock": stock,
            },
        ).first()
        if row is None:
            raise SkuCodeTaken(code=code)
        return Sku(*row)

    def update_sku(
        self,
        session: Session,
        actor: MerchantActor,
        product_id: int,
        sku_id: int,
        *,
        price: int | None = None,
        stock_change: int = 0,
        active: bool | None = None,
        attributes: dict[str, str] | None = None,
    ) -> Sku:
        """Change a SKU's price, attributes or active flag, and its stock *by* a
        number of units (goods arrived: positive; damaged: negative). The stock is
        never set outright: checkout takes units off it concurrently, and a seller
        writing a count read a moment ago would sell those units again."""
        self.selling_shop(session, actor)
        self.product_of_seller(session, actor, product_id)
        row = session.execute(
            text(
                "UPDATE mall_sku SET price = coalesce(:price, price), "  # noqa: S608
                "stock = stock + :d, active = coalesce(:active, active), "
                "attributes = coalesce(CAST(:a AS jsonb), attributes) "
                f"WHERE id = :id AND product_id = :p AND stock + :d >= 0 RETURNING {SKU}"
            ),
            {
                "price": price,
                "d": stock_change,
                "active": active,
                "a": None if attributes is None else json.dumps(attributes, ensure_ascii=False),
                "id": sku_id,
                "p": product_id,
            },
        ).first()
        if row is None:
            found = session.execute(
                text("SELECT 1 FROM mall_sku WHERE id = :id AND product_id = :p"),
                {"id": sku_id, "p": product_id},
            ).first()
            raise SkuNotFound(sku_id=sku_id) if found is None else StockBelowZero()
        return Sku(*row)

    # -- images --------------------------------------------------------------------------

    def add_image(
        self, session: Session, actor: MerchantActor, product_id: int, *, name: str, data: bytes
    ) -> Image:
        """An image of the product, checked and re-encoded as a chat image is (type by
        content, size and pixel limits, metadata stripped, a thumbnail made)."""
        self.selling_shop(session, actor)
        inspected = inspect(data, name=name, limits=self.image_limits)
        self.product_of_seller(session, actor, product_id, lock=True)
        count = session.execute(
            text("SELECT count(*) FROM mall_product_image WHERE product_id = :p"),
            {"p": product_id},
        ).scalar_one()
        if count >= MAX_IMAGES:
            raise TooManyImages(max_images=MAX_IMAGES)
        row = session.execute(
            text(
                "INSERT INTO mall_product_image (product_id, position, content_type, name, size, "  # noqa: S608
                "sha256, width, height, content, thumbnail, thumbnail_type, created_at) VALUES "
                "(:p, :pos, :ct, :n, :size, :sha, :w, :h, :c, :th, :tt, :at) "
                f"RETURNING {IMAGE}"
            ),
            {
                "p": product_id,
                "pos": count,
                "ct": inspected.content_type,
                "n": inspected.name,
                "size": inspected.size,
                "sha": inspected.sha256,
                "w": inspected.width,
                "h": inspected.height,
                "c": inspected.content,
                "th": inspected.thumbnail,
                "tt": inspected.thumbnail_type,
                "at": self.clock.now(),
            },
        ).one()
        return Image(*row)

    def images(self, session: Session, product_id: int) -> list[Image]:
        rows = session.execute(
            text(
                f"SELECT {IMAGE} FROM mall_product_image WHERE product_id = :p "  # noqa: S608
                "ORDER BY position, id"
            ),
            {"p": product_id},
        ).all()
        return [Image(*r) for r in rows]

    def first_images(self, session: Session, product_ids: list[int]) -> dict[int, int]:
        """The first image of each of these products that has one: product -> image."""
        rows = session.execute(
            text(
                "SELECT DISTINCT ON (product_id) product_id, id FROM mall_product_image "
                "WHERE product_id = ANY(:ids) ORDER BY product_id, position, id"
            ),
            {"ids": product_ids},
        ).all()
        return {int(r[0]): int(r[1]) for r in rows}

    def image_content(
        self, session: Session, image_id: int, *, thumbnail: bool = False
    ) -> Download:
        """An image of a product customers can see (published, in an open shop)."""
        row = session.execute(
            text(
                "SELECT i.name, i.content_type, i.content, i.thumbnail_type, i.thumbnail "
                "FROM mall_product_image i JOIN mall_product p ON p.id = i.product_id "
                "JOIN mall_shop s ON s.id = p.shop_id "
                "WHERE i.id = :id AND p.status = 'published' AND s.status = 'open'"
            ),
            {"id": image_id},
        ).first()
        if row is None:
            raise ImageNotFound(image_id=image_id)
        if thumbnail:
            return Download(f"thumbnail-{row[0]}", str(row[3]), bytes(row[4]))
        return Download(str(row[0]), str(row[1]), bytes(row[2]))

    # -- what customers see --------------------------------------------------------------

    def product_on_sale(self, session: Session, product_id: int) -> tuple[Product, Shop]:
        """A published product of an open shop, and its shop."""
        row = session.execute(
            text(
                f"SELECT {_columns(Product, 'p.')}, {_columns(Shop, 's.')} "  # noqa: S608
                "FROM mall_product p JOIN mall_shop s ON s.id = p.shop_id "
                "WHERE p.id = :id AND p.status = 'published' AND s.status = 'open'"
            ),
            {"id": product_id},
        ).first()
        if row is None:
            raise ProductNotFound(product_id=product_id)
        width = len(fields(Product))
        return Product(*row[:width]), Shop(*row[width:])
