"""融e购's shop front for customers: the home with the categories and a search box,
search results with filters, sorts and a next page, and a product's page where a
SKU is chosen and added to the cart (the form posts to ``/mall/cart``, the order
side's). The same search as ``GET /api/v1/mall/products``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from rongbank.api.one_hop import OneHopRoute
from rongbank.errors import DomainError
from rongbank.inputs import IdParam
from rongbank.mall.catalogue.endpoints import image_response, run_search
from rongbank.mall.catalogue.rules import SORTS, Sort
from rongbank.mall.catalogue.service import Category
from rongbank.platform import Platform
from rongbank.web.pages import Me, PlatformDep, lang_of, refusal_text, render

router = APIRouter(include_in_schema=False, prefix="/mall", route_class=OneHopRoute)
PAGE = 20


def category_name(category: Category, lang: str) -> str:
    return category.name_en if lang == "en" else category.name_zh


def _tree(platform: Platform, lang: str) -> list[dict[str, Any]]:
    """The top categories, each with those under it."""
    with platform.transaction() as session:
        found = platform.mall.categories(session)
    return [
        {
            "id": top.id,
            "name": category_name(top, lang),
            "children": [
                {"id": c.id, "name": category_name(c, lang)} for c in found if c.parent_id == top.id
            ],
        }
        for top in found
        if top.parent_id is None
    ]


def _hits(page: Any, images: dict[int, int]) -> list[dict[str, Any]]:
    return [
        {
            "id": h.id,
            "title": h.title,
            "shop": h.shop_name,
            "price": h.min_price,
            "several": h.min_price != h.max_price,
            "image": images.get(h.id),
        }
        for h in page.hits
    ]


@router.get("")
def mall_home(request: Request, platform: PlatformDep, me: Me) -> Response:
    """The shop front: categories, the search box, what is new."""
    page, images = run_search(platform, sort="newest", limit=12)
    return render(
        request,
        "mall_home.html",
        categories=_tree(platform, lang_of(request)),
        hits=_hits(page, images),
    )


@router.get("/search")
def mall_search(
    request: Request,
    platform: PlatformDep,
    me: Me,
    q: Annotated[str, Query(max_length=100)] = "",
    category: Annotated[str, Query(max_length=20)] = "",
    min_price: Annotated[str, Query(max_length=20)] = "",
    max_price: Annotated[str, Query(max_length=20)] = "",
    sort: Annotated[str, Query(max_length=20)] = "relevance",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Search results with their filters; a wrong filter is said on the page."""
    chosen: Sort = sort if sort in SORTS else "relevance"
    category_id = int(category) if category.isascii() and category.isdigit() else None
    form = {
        "q": q,
        "category": category_id,
        "min_price": min_price,
        "max_price": max_price,
        "sort": chosen,
    }
    error = None
    hits: list[dict[str, Any]] = []
    next_cursor = None
    try:
        page, images = run_search(
            platform,
            q=q,
            category=category_id,
            min_price=min_price,
            max_price=max_price,
            sort=chosen,
            cursor=cursor,
            limit=PAGE,
        )
        hits, next_cursor = _hits(page, images), page.next_cursor
    except DomainError as refused:
        error = refusal_text(request, refused)
    return render(
        request,
        "mall_search.html",
        422 if error else 200,
        categories=_tree(platform, lang_of(request)),
        form=form,
        sorts=SORTS,
        hits=hits,
        next_cursor=next_cursor,
        error=error,
    )


@router.get("/products/{product_id}")
def mall_product(request: Request, platform: PlatformDep, me: Me, product_id: IdParam) -> Response:
    """A product on sale: its pictures, what it is, its SKUs to choose from."""
    with platform.transaction() as session:
        product, shop = platform.mall.product_on_sale(session, product_id)
        skus = [k for k in platform.mall.skus(session, product.id) if k.active]
        images = platform.mall.images(session, product.id)
        category = platform.mall.category(session, product.category_id)
    return render(
        request,
        "mall_product.html",
        product=product,
        shop=shop,
        category=category_name(category, lang_of(request)),
        skus=skus,
        images=images,
        first_in_stock=next((k.id for k in skus if k.stock > 0), None),
    )


@router.get("/images/{image_id}")
def mall_image(
    platform: PlatformDep, me: Me, image_id: IdParam, thumbnail: bool = False
) -> Response:
    """A product's image for the pages' ``<img>`` (the API's, with the page's login)."""
    return image_response(platform, image_id, thumbnail)
