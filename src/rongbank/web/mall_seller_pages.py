"""The seller's side of 融e购 in the merchant console: ask for the shop, see its
products, add one, change SKUs' prices and stock, publish, add images and import a
CSV file. The owner changes; a cashier sees. The same service calls and audit
actions as ``/api/v1/merchant/mall``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from rongbank.chat.attachment_endpoints import CappedUploadRoute
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.mall.catalogue.endpoints import price
from rongbank.mall.catalogue.errors import NoShop
from rongbank.mall.catalogue.imports import import_csv
from rongbank.mall.catalogue.rules import MAX_BYTES, parse_attributes
from rongbank.mall.catalogue.service import Shop
from rongbank.payments.errors import MerchantRoleForbidden
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.mall_pages import category_name
from rongbank.web.merchant_pages import Console, Me, console_audited, console_page
from rongbank.web.pages import PlatformDep, lang_of, see_other
from rongbank.web.staff_pages import FormFieldInvalid, refusal

# Uploads (images, CSV files) are refused past the attachments' limit before the form
# is read, as the API's are.
router = APIRouter(include_in_schema=False, prefix="/merchant/mall", route_class=CappedUploadRoute)
Csrf = Annotated[str, Form()]
Text = Annotated[str, Form(max_length=200)]


def _owner(me: Console) -> None:
    if not me.is_owner:
        raise MerchantRoleForbidden(required_roles=["owner"])


def _shop(platform: Platform, me: Console) -> Shop | None:
    with platform.transaction() as session:
        try:
            return platform.mall.shop_of(session, me.merchant.id)
        except NoShop:
            return None


def _categories(platform: Platform, lang: str) -> list[dict[str, Any]]:
    with platform.transaction() as session:
        found = platform.mall.categories(session)
    return [
        {"id": c.id, "name": category_name(c, lang), "sub": c.parent_id is not None} for c in found
    ]


def _console(
    request: Request, platform: Platform, me: Console, status_code: int = 200, **context: Any
) -> Response:
    shop = _shop(platform, me)
    products = []
    if shop is not None:
        with platform.transaction() as session:
            products = platform.mall.seller_products(session, me.actor, limit=100)
    return console_page(
        request,
        me,
        "mall_seller.html",
        status_code,
        shop=shop,
        products=products,
        categories=_categories(platform, lang_of(request)),
        **context,
    )


@router.get("")
def seller_home(request: Request, platform: PlatformDep, me: Me) -> Response:
    return _console(request, platform, me)


def _acted(request: Request, platform: Platform, me: Console, then: str, act: Any) -> Response:
    """Run ``act`` (a form's change); on a refusal, the page again with the reason."""
    try:
        act()
    except DomainError as refused:
        if then.startswith("/merchant/mall/products/"):
            product_id = int(then.rsplit("/", 1)[-1])
            return _product(
                request, platform, me, product_id, refused.status, error=refusal(request, refused)
            )
        return _console(request, platform, me, refused.status, error=refusal(request, refused))
    return see_other(then)


@router.post("/shop")
def ask_for_shop(
    request: Request,
    platform: PlatformDep,
    me: Me,
    name: Annotated[str, Form(max_length=60)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)

    def act() -> None:
        if not name.strip():
            raise FormFieldInvalid(field="name")
        with console_audited(platform, me, "mall.shop.ask", name) as session:
            platform.mall.ask_for_shop(session, me.actor, name=name, description=description)

    return _acted(request, platform, me, "/merchant/mall", act)


@router.post("/shop/close")
def close_shop(
    request: Request,
    platform: PlatformDep,
    me: Me,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Csrf = "",
) -> Response:
    """The owner closes the shop (refused while orders are open or money unsettled)."""
    check_csrf(request, csrf)

    def act() -> None:
        _owner(me)
        with console_audited(platform, me, "mall.shop.close", str(me.merchant.id)) as session:
            platform.mall.close_shop(session, me.actor, reason=reason)

    return _acted(request, platform, me, "/merchant/mall", act)


@router.post("/products")
def create_product(
    request: Request,
    platform: PlatformDep,
    me: Me,
    title: Annotated[str, Form(max_length=120)] = "",
    category_id: Annotated[str, Form(max_length=20)] = "",
    description: Annotated[str, Form(max_length=10000)] = "",
    sku: Annotated[str, Form(max_length=64)] = "",
    sku_price: Annotated[str, Form(max_length=20)] = "",
    stock: Annotated[str, Form(max_length=9)] = "",
    csrf: Csrf = "",
) -> Response:
    """A product with its first SKU, as a draft."""
    check_csrf(request, csrf)
    made: list[int] = []

    def act() -> None:
        _owner(me)
        if not title.strip():
            raise FormFieldInvalid(field="title")
        if not category_id.isascii() or not category_id.isdigit():
            raise FormFieldInvalid(field="category_id")
        if not stock.isascii() or not stock.isdigit():
            raise FormFieldInvalid(field="stock")
        minor = price(sku_price)
        with console_audited(platform, me, "mall.product.create", title) as session:
            product = platform.mall.create_product(
                session,
                me.actor,
                category_id=int(category_id),
                title=title,
                description=description,
            )
            platform.mall.insert_sku(session, product.id, sku or "default", minor, int(stock), {})
        made.append(product.id)

    response = _acted(request, platform, me, "/merchant/mall", act)
    return see_other(f"/merchant/mall/products/{made[0]}") if made else response


def _product(
    request: Request,
    platform: Platform,
    me: Console,
    product_id: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with platform.transaction() as session:
        product = platform.mall.product_of_seller(session, me.actor, product_id)
        skus = platform.mall.skus(session, product_id)
        images = platform.mall.images(session, product_id)
        category = platform.mall.category(session, product.category_id)
    return console_page(
        request,
        me,
        "mall_seller_product.html",
        status_code,
        product=product,
        skus=skus,
        images=images,
        category=category_name(category, lang_of(request)),
        **context,
    )


@router.get("/products/{product_id}")
def seller_product(
    request: Request, platform: PlatformDep, me: Me, product_id: IdParam
) -> Response:
    return _product(request, platform, me, product_id)


@router.post("/products/{product_id}/{action}")
def publish(
    request: Request,
    platform: PlatformDep,
    me: Me,
    product_id: IdParam,
    action: str,
    csrf: Csrf = "",
) -> Response:
    """``publish`` or ``unpublish``."""
    check_csrf(request, csrf)
    if action not in ("publish", "unpublish"):
        raise FormFieldInvalid(field="action")

    def act() -> None:
        _owner(me)
        with console_audited(platform, me, f"mall.product.{action}", str(product_id)) as session:
            platform.mall.set_published(
                session, me.actor, product_id, published=action == "publish"
            )

    return _acted(request, platform, me, f"/merchant/mall/products/{product_id}", act)


@router.post("/products/{product_id}/skus/new")
def add_sku(
    request: Request,
    platform: PlatformDep,
    me: Me,
    product_id: IdParam,
    code: Annotated[str, Form(max_length=64)] = "",
    sku_price: Annotated[str, Form(max_length=20)] = "",
    stock: Annotated[str, Form(max_length=9)] = "",
    attributes: Text = "",
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)

    def act() -> None:
        _owner(me)
        if not code.strip():
            raise FormFieldInvalid(field="code")
        if not stock.isascii() or not stock.isdigit():
            raise FormFieldInvalid(field="stock")
        try:
            parsed = parse_attributes(attributes)
        except ValueError:
            raise FormFieldInvalid(field="attributes") from None
        minor = price(sku_price)
        with console_audited(platform, me, "mall.sku.add", str(product_id), code=code) as session:
            platform.mall.add_sku(
                session,
                me.actor,
                product_id,
                code=code,
                price=minor,
                stock=int(stock),
                attributes=parsed,
            )

    return _acted(request, platform, me, f"/merchant/mall/products/{product_id}", act)


@router.post("/products/{product_id}/skus/{sku_id}")
def change_sku(
    request: Request,
    platform: PlatformDep,
    me: Me,
    product_id: IdParam,
    sku_id: IdParam,
    sku_price: Annotated[str, Form(max_length=20)] = "",
    stock_change: Annotated[str, Form(max_length=10)] = "",
    csrf: Csrf = "",
) -> Response:
    """A new price, and units added to the stock or taken off it (``-3``)."""
    check_csrf(request, csrf)

    def act() -> None:
        _owner(me)
        change = stock_change.strip() or "0"
        digits = change.removeprefix("-").removeprefix("+")
        if not digits.isascii() or not digits.isdigit():
            raise FormFieldInvalid(field="stock_change")
        minor = price(sku_price) if sku_price.strip() else None
        with console_audited(
            platform, me, "mall.sku.change", str(sku_id), stock_change=int(change)
        ) as session:
            platform.mall.update_sku(
                session, me.actor, product_id, sku_id, price=minor, stock_change=int(change)
            )

    return _acted(request, platform, me, f"/merchant/mall/products/{product_id}", act)


@router.post("/products/{product_id}/images/new")
def add_image(
    request: Request,
    platform: PlatformDep,
    me: Me,
    product_id: IdParam,
    file: Annotated[UploadFile, File()],
    csrf: Csrf = "",
) -> Response:
    """An image, checked by its content as chat images are."""
    check_csrf(request, csrf)
    limit = platform.mall.image_limits.image_max_bytes
    data = file.file.read(limit + 1)

    def act() -> None:
        _owner(me)
        with console_audited(platform, me, "mall.image.add", str(product_id)) as session:
            platform.mall.add_image(
                session, me.actor, product_id, name=file.filename or "image", data=data
            )

    return _acted(request, platform, me, f"/merchant/mall/products/{product_id}", act)


@router.post("/import")
def import_products(
    request: Request,
    platform: PlatformDep,
    me: Me,
    file: Annotated[UploadFile, File()],
    csrf: Csrf = "",
) -> Response:
    """Products from a CSV file: all of them, or none and the rows to fix."""
    check_csrf(request, csrf)
    data = file.file.read(MAX_BYTES + 1)
    try:
        _owner(me)
        with console_audited(platform, me, "mall.import", file.filename or "") as session:
            run = import_csv(platform.mall, session, me.actor, data)
    except DomainError as refused:
        rows = refused.details.get("errors", [])
        return _console(
            request,
            platform,
            me,
            refused.status,
            error=refusal(request, refused),
            import_errors=rows,
        )
    return _console(request, platform, me, imported=len(run.products))
