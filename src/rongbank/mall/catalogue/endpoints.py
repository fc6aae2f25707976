"""融e购's catalogue over HTTP: customers browse and search (``/mall``), a
merchant's users keep their shop's catalogue (``/merchant/mall``: the owner asks for
the shop; the owner and the merchant's API key edit; cashiers read), and operations
approve shops and set the commission table (``/staff/mall``), every change audited.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.api.deps import CustomerPrincipal, PlatformDep, require_staff
from rongbank.api.docs import file_answer
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.chat.attachment_endpoints import CappedUploadRoute
from rongbank.chat.errors import AttachmentTooLarge
from rongbank.inputs import IdParam
from rongbank.mall.catalogue import schemas as s
from rongbank.mall.catalogue.imports import import_csv
from rongbank.mall.catalogue.rules import MAX_BYTES, SORTS, Sort
from rongbank.mall.catalogue.search import MAX_PAGE, SearchQuery, search
from rongbank.mall.catalogue.service import (
    Catalogue,
    Category,
    Image,
    Product,
    Shop,
    ShopEvent,
    Sku,
)
from rongbank.money import format_amount, parse_positive_amount
from rongbank.payments.counter import audited_as_merchant
from rongbank.payments.endpoints import require_merchant
from rongbank.payments.merchants import MerchantActor
from rongbank.platform import Platform

customer = APIRouter(tags=["e-Mall"], prefix="/mall", route_class=OneHopRoute)
merchant = APIRouter(
    tags=["e-Mall sellers"], prefix="/merchant/mall", route_class=CappedUploadRoute
)
staff = APIRouter(tags=["e-Mall operations"], prefix="/staff/mall", route_class=OneHopRoute)

Seller = Annotated[MerchantActor, Depends(require_merchant("owner", "cashier", "api"))]
"""Reads the shop's catalogue: any of the merchant's users or its API key."""
Editor = Annotated[MerchantActor, Depends(require_merchant("owner", "api"))]
"""Changes the catalogue (prices, stock, what is on sale): never a cashier."""
Owner = Annotated[MerchantActor, Depends(require_merchant("owner"))]
Operations = Annotated[Principal, Depends(require_staff(*roles.MALL))]
_IMAGE = file_answer("image/jpeg", description="The image (JPEG, PNG, WebP or GIF).")


def money(minor: int | None) -> str | None:
    return None if minor is None else format_amount(minor, scale=2)


def price(text: str) -> int:
    return parse_positive_amount(text, scale=2, currency="CNY")


def shop_out(shop: Shop) -> s.MallShopOut:
    return s.MallShopOut(
        id=shop.id,
        merchant_id=shop.merchant_id,
        name=shop.name,
        description=shop.description,
        status=shop.status,
        reason=shop.decided_reason,
        created_at=shop.created_at,
        approved_at=shop.approved_at,
    )


def sku_out(sku: Sku) -> s.MallSkuOut:
    return s.MallSkuOut(
        id=sku.id,
        code=sku.code,
        attributes=sku.attributes,
        price=format_amount(sku.price, scale=2),
        stock=sku.stock,
        active=sku.active,
    )


def image_out(image: Image) -> s.MallImageOut:
    url = f"/api/v1/mall/images/{image.id}"
    return s.MallImageOut(
        id=image.id,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        url=url,
        thumbnail_url=f"{url}?thumbnail=true",
    )


def product_out(catalogue: Catalogue, session: Session, product: Product) -> s.MallProductOut:
    return s.MallProductOut(
        id=product.id,
        shop_id=product.shop_id,
        category_id=product.category_id,
        title=product.title,
        description=product.description,
        attributes=product.attributes,
        status=product.status,
        min_price=money(product.min_price),
        max_price=money(product.max_price),
        created_at=product.created_at,
        updated_at=product.updated_at,
        skus=[sku_out(k) for k in catalogue.skus(session, product.id)],
        images=[image_out(i) for i in catalogue.images(session, product.id)],
    )


def _audited(
    platform: Platform, actor: MerchantActor, action: str, target: str, **details: Any
) -> AbstractContextManager[Session]:
    return audited_as_merchant(platform, actor, action, target, channel="api", **details)


def _read(upload: UploadFile, limit: int) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise AttachmentTooLarge(max_bytes=limit)
    return data


class FileIn(BaseModel):
    file: UploadFile = Field(description="The file; what it is, is read from its content.")


Upload = Annotated[FileIn, Form(media_type="multipart/form-data")]


# -- customers -------------------------------------------------------------------------


def category_out(category: Category) -> s.MallCategoryOut:
    return s.MallCategoryOut(
        id=category.id,
        parent_id=category.parent_id,
        code=category.code,
        name_zh=category.name_zh,
        name_en=category.name_en,
    )


@customer.get("/categories")
def categories(platform: PlatformDep, _: CustomerPrincipal) -> list[s.MallCategoryOut]:
    """The mall's categories (a tree: ``parent_id``)."""
    with platform.transaction() as session:
        return [category_out(c) for c in platform.mall.categories(session)]


def run_search(
    platform: Platform,
    *,
    q: str = "",
    category: int | None = None,
    shop: int | None = None,
    min_price: str = "",
    max_price: str = "",
    sort: Sort = "relevance",
    cursor: str = "",
    limit: int = 20,
) -> tuple[Any, dict[int, int]]:
    """A page of search results, and the first image of each product on it (the API
    and the shop front's pages search alike)."""
    with platform.transaction() as session:
        page = search(
            session,
            SearchQuery(
                text=q,
                category_ids=None
                if category is None
                else platform.mall.subcategories(session, category),
                shop_id=shop,
                min_price=price(min_price) if min_price else None,
                max_price=price(max_price) if max_price else None,
                sort=sort,
                cursor=cursor,
                limit=limit,
            ),
        )
        images = platform.mall.first_images(session, [h.id for h in page.hits])
    return page, images


@customer.get("/products")
def search_products(
    platform: PlatformDep,
    _: CustomerPrincipal,
    q: Annotated[str, Query(max_length=100, description="Words to find (Chinese works).")] = "",
    category: Annotated[IdParam | None, Query(description="With its subcategories.")] = None,
    shop: Annotated[IdParam | None, Query(description="One seller's shop.")] = None,
    min_price: Annotated[str, Query(max_length=20, description="Yuan, e.g. 50.00")] = "",
    max_price: Annotated[str, Query(max_length=20)] = "",
    sort: Annotated[Sort, Query(description=", ".join(SORTS))] = "relevance",
    cursor: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> s.MallSearchOut:
    """Search what the mall sells: a product matches when any of its active SKUs is
    in the price range. Page on with ``next_cursor``."""
    page, images = run_search(
        platform,
        q=q,
        category=category,
        shop=shop,
        min_price=min_price,
        max_price=max_price,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return s.MallSearchOut(
        hits=[
            s.MallHitOut(
                id=h.id,
                title=h.title,
                shop_id=h.shop_id,
                shop_name=h.shop_name,
                category_id=h.category_id,
                min_price=format_amount(h.min_price, scale=2),
                max_price=format_amount(h.max_price, scale=2),
                image_url=f"/api/v1/mall/images/{images[h.id]}?thumbnail=true"
                if h.id in images
                else None,
            )
            for h in page.hits
        ],
        next_cursor=page.next_cursor,
    )


@customer.get("/products/{product_id}")
def product_on_sale(
    product_id: IdParam, platform: PlatformDep, _: CustomerPrincipal
) -> s.MallProductOnSale:
    """A product on sale, with its SKUs that can be bought."""
    with platform.transaction() as session:
        product, shop = platform.mall.product_on_sale(session, product_id)
        skus = [sku_out(k) for k in platform.mall.skus(session, product.id) if k.active]
        images = [image_out(i) for i in platform.mall.images(session, product.id)]
    return s.MallProductOnSale(
        id=product.id,
        shop_id=shop.id,
        shop_name=shop.name,
        category_id=product.category_id,
        title=product.title,
        description=product.description,
        attributes=product.attributes,
        min_price=money(product.min_price) or "",
        max_price=money(product.max_price) or "",
        skus=skus,
        images=images,
    )


def image_response(platform: Platform, image_id: int, thumbnail: bool) -> Response:
    """A product image, for an ``<img>``: its type was decided from its content when
    it was uploaded, and ``nosniff`` keeps the browser to it."""
    with platform.transaction() as session:
        found = platform.mall.image_content(session, image_id, thumbnail=thumbnail)
    return Response(
        found.content,
        media_type=found.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


@customer.get("/images/{image_id}", response_class=Response, responses=_IMAGE)
def product_image(
    image_id: IdParam,
    platform: PlatformDep,
    _: CustomerPrincipal,
    thumbnail: Annotated[bool, Query(description="The small preview instead.")] = False,
) -> Response:
    """An image of a product on sale."""
    return image_response(platform, image_id, thumbnail)


# -- sellers ---------------------------------------------------------------------------


@merchant.post("/shop", status_code=201)
def ask_for_shop(body: s.MallShopIn, platform: PlatformDep, actor: Owner) -> s.MallShopOut:
    """Ask for the merchant's shop in the mall (the owner; the merchant must be an
    active e-Pay merchant); operations open or refuse it."""
    with _audited(platform, actor, "mall.shop.ask", body.name) as session:
        return shop_out(
            platform.mall.ask_for_shop(session, actor, name=body.name, description=body.description)
        )


@merchant.post("/shop/close")
def close_shop(body: s.MallDecisionIn, platform: PlatformDep, actor: Owner) -> s.MallShopOut:
    """Close the shop for good (the owner): its products leave the mall. Refused while
    orders are open (paid, shipped, received, or still within after-sales) or the
    shop's money is unsettled, and while operations hold it suspended."""
    with _audited(platform, actor, "mall.shop.close", str(actor.merchant_id)) as session:
        return shop_out(platform.mall.close_shop(session, actor, reason=body.reason))


@merchant.get("/shop")
def my_shop(platform: PlatformDep, actor: Seller) -> s.MallShopOut:
    with platform.transaction() as session:
        return shop_out(platform.mall.shop_of(session, actor.merchant_id))


@merchant.get("/categories")
def seller_categories(platform: PlatformDep, _: Seller) -> list[s.MallStaffCategoryOut]:
    """The categories, with the mall's commission in each (basis points)."""
    with platform.transaction() as session:
        return [staff_category_out(c) for c in platform.mall.categories(session)]


@merchant.get("/products")
def seller_products(
    platform: PlatformDep,
    actor: Seller,
    after: Annotated[IdParam | None, Query(description="next_after of the page before")] = None,
) -> s.MallProductsPage:
    """The shop's products, newest first, 50 a page."""
    with platform.transaction() as session:
        found = platform.mall.seller_products(session, actor, after_id=after, limit=50)
    return s.MallProductsPage(
        products=[
            s.MallProductListed(
                id=p.id,
                title=p.title,
                status=p.status,
                min_price=money(p.min_price),
                max_price=money(p.max_price),
                updated_at=p.updated_at,
            )
            for p in found
        ],
        next_after=found[-1].id if len(found) == 50 else None,
    )


@merchant.post("/products", status_code=201)
def create_mall_product(
    body: s.MallProductIn, platform: PlatformDep, actor: Editor
) -> s.MallProductOut:
    """A new product (a draft until published), with its SKUs if given."""
    skus = [(k, price(k.price)) for k in body.skus]
    with _audited(platform, actor, "mall.product.create", body.title) as session:
        made = platform.mall.create_product(
            session,
            actor,
            category_id=body.category_id,
            title=body.title,
            description=body.description,
            attributes=body.attributes,
        )
        for sku, minor in skus:
            platform.mall.insert_sku(session, made.id, sku.code, minor, sku.stock, sku.attributes)
        return product_out(
            platform.mall, session, platform.mall.product_of_seller(session, actor, made.id)
        )


@merchant.get("/products/{product_id}")
def seller_product(product_id: IdParam, platform: PlatformDep, actor: Seller) -> s.MallProductOut:
    with platform.transaction() as session:
        found = platform.mall.product_of_seller(session, actor, product_id)
        return product_out(platform.mall, session, found)


@merchant.patch("/products/{product_id}")
def change_product(
    product_id: IdParam, body: s.MallProductChange, platform: PlatformDep, actor: Editor
) -> s.MallProductOut:
    with _audited(platform, actor, "mall.product.change", str(product_id)) as session:
        changed = platform.mall.update_product(
            session,
            actor,
            product_id,
            title=body.title,
            description=body.description,
            attributes=body.attributes,
            category_id=body.category_id,
        )
        return product_out(platform.mall, session, changed)


def _publish(
    platform: Platform, actor: MerchantActor, product_id: int, on: bool
) -> s.MallProductOut:
    action = "mall.product.publish" if on else "mall.product.unpublish"
    with _audited(platform, actor, action, str(product_id)) as session:
        changed = platform.mall.set_published(session, actor, product_id, published=on)
        return product_out(platform.mall, session, changed)


@merchant.post("/products/{product_id}/publish")
def publish(product_id: IdParam, platform: PlatformDep, actor: Editor) -> s.MallProductOut:
    """Put the product on sale (shown once the shop is open); it needs an active SKU."""
    return _publish(platform, actor, product_id, True)


@merchant.post("/products/{product_id}/unpublish")
def unpublish(product_id: IdParam, platform: PlatformDep, actor: Editor) -> s.MallProductOut:
    return _publish(platform, actor, product_id, False)


@merchant.post("/products/{product_id}/skus", status_code=201)
def add_sku(
    product_id: IdParam, body: s.MallSkuIn, platform: PlatformDep, actor: Editor
) -> s.MallSkuOut:
    minor = price(body.price)
    with _audited(platform, actor, "mall.sku.add", str(product_id), code=body.code) as session:
        return sku_out(
            platform.mall.add_sku(
                session,
                actor,
                product_id,
                code=body.code,
                price=minor,
                stock=body.stock,
                attributes=body.attributes,
            )
        )


@merchant.patch("/products/{product_id}/skus/{sku_id}")
def change_sku(
    product_id: IdParam,
    sku_id: IdParam,
    body: s.MallSkuChange,
    platform: PlatformDep,
    actor: Editor,
) -> s.MallSkuOut:
    """Change a SKU's price, attributes or whether it is sold, and add units to its
    stock or take them off (``stock_change``)."""
    minor = None if body.price is None else price(body.price)
    with _audited(
        platform,
        actor,
        "mall.sku.change",
        str(sku_id),
        price=body.price,
        stock_change=body.stock_change,
    ) as session:
        return sku_out(
            platform.mall.update_sku(
                session,
                actor,
                product_id,
                sku_id,
                price=minor,
                stock_change=body.stock_change,
                active=body.active,
                attributes=body.attributes,
            )
        )


@merchant.post(
    "/products/{product_id}/images",
    status_code=201,
    form_limits={"max_files": 1, "max_fields": 2},
)
def add_image(
    product_id: IdParam, platform: PlatformDep, actor: Editor, form: Upload
) -> s.MallImageOut:
    """An image of the product (JPEG, PNG, WebP, GIF; checked by its content and
    re-encoded without metadata, as chat images are); at most 9."""
    data = _read(form.file, platform.mall.image_limits.image_max_bytes)
    with _audited(platform, actor, "mall.image.add", str(product_id)) as session:
        return image_out(
            platform.mall.add_image(
                session, actor, product_id, name=form.file.filename or "image", data=data
            )
        )


@merchant.post("/imports", status_code=201, form_limits={"max_files": 1, "max_fields": 2})
def import_products(platform: PlatformDep, actor: Editor, form: Upload) -> s.MallImportOut:
    """Add products from a CSV file (UTF-8 or GB18030; columns ``product, title,
    category, description, attributes, sku, options, price, stock, publish``;
    one row per SKU). All or nothing: when any row is wrong, nothing is added and the
    refusal (``mall_import_refused``) lists each bad row's line, column and problem."""
    data = _read(form.file, MAX_BYTES)
    with _audited(platform, actor, "mall.import", form.file.filename or "") as session:
        run = import_csv(platform.mall, session, actor, data)
    return s.MallImportOut(id=run.id, rows=run.rows, products=run.products)


# -- operations ------------------------------------------------------------------------


def staff_category_out(category: Category) -> s.MallStaffCategoryOut:
    return s.MallStaffCategoryOut(
        **category_out(category).model_dump(), commission_bp=category.commission_bp
    )


@staff.get("/shops")
def staff_shops(
    platform: PlatformDep,
    _: Operations,
    status: Annotated[str, Query(pattern="^(pending|open|refused|suspended|closed)?$")] = "pending",
) -> list[s.MallShopOut]:
    """Shops of one status (``pending``: waiting for approval, oldest first)."""
    with platform.transaction() as session:
        return [shop_out(x) for x in platform.mall.shops(session, status=status or None)]


def _decide(
    platform: Platform, me: Principal, shop_id: int, approve: bool, reason: str
) -> s.MallShopOut:
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="mall.shop.approve" if approve else "mall.shop.refuse",
        target=str(shop_id),
        details={"reason": reason} if reason else None,
    ) as session:
        return shop_out(
            platform.mall.decide_shop(
                session, shop_id=shop_id, staff_id=me.id, approve=approve, reason=reason
            )
        )


@staff.post("/shops/{shop_id}/approve")
def approve_shop(shop_id: IdParam, platform: PlatformDep, me: Operations) -> s.MallShopOut:
    """Open a shop that is waiting."""
    return _decide(platform, me, shop_id, True, "")


@staff.post("/shops/{shop_id}/refuse")
def refuse_shop(
    shop_id: IdParam, body: s.MallDecisionIn, platform: PlatformDep, me: Operations
) -> s.MallShopOut:
    """Refuse a shop that is waiting, saying why (its owner sees the reason and may
    ask again)."""
    return _decide(platform, me, shop_id, False, body.reason)


def event_out(event: ShopEvent) -> s.MallShopEventOut:
    return s.MallShopEventOut(
        id=event.id,
        action=event.action,
        status_before=event.status_before,
        staff_id=event.staff_id,
        user_id=event.user_id,
        reason=event.reason,
        at=event.at,
    )


def shop_status_change(
    platform: Platform, me: Principal, shop_id: int, action: str, reason: str, channel: str
) -> Shop:
    """Suspend or reinstate a shop, audited with the member of staff and the reason
    (the API and the console's page alike)."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action=f"mall.shop.{action}",
        target=str(shop_id),
        details={"reason": reason, "channel": channel},
    ) as session:
        change = platform.mall.suspend_shop if action == "suspend" else platform.mall.reinstate_shop
        return change(session, shop_id=shop_id, staff_id=me.id, reason=reason)


@staff.post("/shops/{shop_id}/suspend")
def suspend_shop(
    shop_id: IdParam, body: s.MallReasonIn, platform: PlatformDep, me: Operations
) -> s.MallShopOut:
    """Take an open shop off the mall, saying why (its seller reads it): its products
    leave search and cannot be bought; its open orders still ship, return and settle."""
    return shop_out(shop_status_change(platform, me, shop_id, "suspend", body.reason, "api"))


@staff.post("/shops/{shop_id}/reinstate")
def reinstate_shop(
    shop_id: IdParam, body: s.MallReasonIn, platform: PlatformDep, me: Operations
) -> s.MallShopOut:
    """Open a suspended shop again (its merchant must be active in e-Pay)."""
    return shop_out(shop_status_change(platform, me, shop_id, "reinstate", body.reason, "api"))


@staff.get("/shops/{shop_id}/events")
def shop_events(shop_id: IdParam, platform: PlatformDep, _: Operations) -> list[s.MallShopEventOut]:
    """The shop's suspensions, reinstatements and closure: who, why, when."""
    with platform.transaction() as session:
        platform.mall.shop(session, shop_id)
        return [event_out(e) for e in platform.mall.shop_events(session, shop_id)]


@staff.get("/categories")
def staff_categories(platform: PlatformDep, _: Operations) -> list[s.MallStaffCategoryOut]:
    """The commission table: every category with the mall's commission."""
    with platform.transaction() as session:
        return [staff_category_out(c) for c in platform.mall.categories(session)]


@staff.post("/categories", status_code=201)
def add_category(
    body: s.MallCategoryIn, platform: PlatformDep, me: Operations
) -> s.MallStaffCategoryOut:
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="mall.category.add",
        target=body.code,
        details={"commission_bp": body.commission_bp, "parent_id": body.parent_id},
    ) as session:
        return staff_category_out(
            platform.mall.add_category(
                session,
                code=body.code,
                name_zh=body.name_zh,
                name_en=body.name_en,
                commission_bp=body.commission_bp,
                parent_id=body.parent_id,
                staff_id=me.id,
            )
        )


@staff.put("/categories/{category_id}/commission")
def set_commission(
    category_id: IdParam, body: s.MallCommissionIn, platform: PlatformDep, me: Operations
) -> s.MallCommissionChanged:
    """Change the mall's commission in a category (from the next order on)."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="mall.commission.set",
        target=str(category_id),
        details={"commission_bp": body.commission_bp},
    ) as session:
        category, before = platform.mall.set_commission(
            session, category_id=category_id, commission_bp=body.commission_bp, staff_id=me.id
        )
    return s.MallCommissionChanged(**staff_category_out(category).model_dump(), before_bp=before)
