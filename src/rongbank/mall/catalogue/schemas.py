"""Bodies of the mall catalogue's API. Prices are yuan as decimal text ("12.30"),
as every amount in the bank's API; the bank keeps them in fen."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr

from rongbank.inputs import Flag, Id, Name, NonBlank
from rongbank.inputs import Input as Strict

Amount = Annotated[StrictStr, Field(max_length=20, examples=["129.00"])]
Attributes = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=40)], Annotated[str, Field(max_length=200)]],
    Field(max_length=30, examples=[{"品牌": "华为", "颜色": "黑色"}]),
]
Commission = Annotated[StrictInt, Field(ge=0, le=5000, examples=[500])]
"""Basis points of what a line sells for: 500 is 5%."""


class MallShopIn(Strict):
    name: Annotated[Name, Field(max_length=60)]
    description: Annotated[str, Field(max_length=2000)] = ""


class MallShopOut(BaseModel):
    id: int
    merchant_id: int
    name: str
    description: str
    status: Literal["pending", "open", "refused", "suspended", "closed"]
    reason: str
    """Why operations refused or suspended it, or why its owner closed it (empty
    otherwise)."""
    created_at: datetime
    approved_at: datetime | None


class MallDecisionIn(Strict):
    reason: Annotated[str, Field(max_length=500)] = ""


class MallReasonIn(Strict):
    """Why (a suspension's reason is shown to the shop's seller)."""

    reason: Annotated[NonBlank, Field(max_length=500, examples=["售假投诉核查中"])]


class MallShopEventOut(BaseModel):
    id: int
    action: Literal["suspend", "reinstate", "close"]
    status_before: str
    staff_id: int | None
    """The member of operations who suspended or reinstated (None: the seller closed)."""
    user_id: int | None
    """The merchant user (the owner) who closed the shop."""
    reason: str
    at: datetime


class MallCategoryIn(Strict):
    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", examples=["phones"])]
    name_zh: Annotated[Name, Field(max_length=40)]
    name_en: Annotated[Name, Field(max_length=60)]
    commission_bp: Commission
    parent_id: Id | None = None


class MallCommissionIn(Strict):
    commission_bp: Commission


class MallCategoryOut(BaseModel):
    id: int
    parent_id: int | None
    code: str
    name_zh: str
    name_en: str


class MallStaffCategoryOut(MallCategoryOut):
    commission_bp: int


class MallCommissionChanged(MallStaffCategoryOut):
    before_bp: int


class MallSkuIn(Strict):
    code: Annotated[Name, Field(max_length=64)]
    price: Amount
    stock: Annotated[StrictInt, Field(ge=0, le=2_000_000_000)]
    attributes: Attributes = Field(default_factory=dict)


class MallSkuChange(Strict):
    price: Amount | None = None
    stock_change: Annotated[StrictInt, Field(ge=-2_000_000_000, le=2_000_000_000)] = 0
    """Units to add (positive) or take off (negative): the stock is never set outright,
    as checkout takes units off it at the same time."""
    active: Flag | None = None
    attributes: Attributes | None = None


class MallSkuOut(BaseModel):
    id: int
    code: str
    attributes: dict[str, str]
    price: str
    stock: int
    active: bool


class MallProductIn(Strict):
    category_id: Id
    title: Annotated[Name, Field(max_length=120)]
    description: Annotated[str, Field(max_length=10000)] = ""
    attributes: Attributes = Field(default_factory=dict)
    skus: Annotated[list[MallSkuIn], Field(max_length=100)] = Field(default_factory=list)


class MallProductChange(Strict):
    category_id: Id | None = None
    title: Annotated[Name, Field(max_length=120)] | None = None
    description: Annotated[str, Field(max_length=10000)] | None = None
    attributes: Attributes | None = None


class MallImageOut(BaseModel):
    id: int
    content_type: str
    width: int
    height: int
    url: str
    thumbnail_url: str


class MallProductOut(BaseModel):
    id: int
    shop_id: int
    category_id: int
    title: str
    description: str
    attributes: dict[str, str]
    status: Literal["draft", "published", "unpublished"]
    min_price: str | None
    max_price: str | None
    created_at: datetime
    updated_at: datetime
    skus: list[MallSkuOut]
    images: list[MallImageOut]


class MallProductOnSale(BaseModel):
    """A product as customers see it: its active SKUs only."""

    id: int
    shop_id: int
    shop_name: str
    category_id: int
    title: str
    description: str
    attributes: dict[str, str]
    min_price: str
    max_price: str
    skus: list[MallSkuOut]
    images: list[MallImageOut]


class MallProductListed(BaseModel):
    id: int
    title: str
    status: str
    min_price: str | None
    max_price: str | None
    updated_at: datetime


class MallProductsPage(BaseModel):
    products: list[MallProductListed]
    next_after: int | None


class MallRowErrorOut(BaseModel):
    line: int
    column: str
    message: str


class MallImportOut(BaseModel):
    id: int
    rows: int
    products: list[int]


class MallHitOut(BaseModel):
    id: int
    title: str
    shop_id: int
    shop_name: str
    category_id: int
    min_price: str
    max_price: str
    image_url: str | None


class MallSearchOut(BaseModel):
    hits: list[MallHitOut]
    next_cursor: str | None
    """Send it back as ``cursor`` (with the same query) for the next page."""
