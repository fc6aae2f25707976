"""Bulk import of a seller's products from a CSV file (``rules.COLUMNS``).

All or nothing: every row is checked first (its values, its category, SKU codes
repeated in the file), and if any is wrong nothing is added and every bad row is
reported with its line, column and what is wrong (:class:`ImportRefused`), so the
seller fixes the file and sends it again. An import that goes in is one
``mall_import`` row; its products are new products (the file does not update
existing ones).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.mall.catalogue import rules
from rongbank.mall.catalogue.errors import ImportRefused
from rongbank.mall.catalogue.service import Catalogue
from rongbank.payments.merchants import MerchantActor


@dataclass(frozen=True, slots=True)
class ImportRun:
    id: int
    rows: int
    products: list[int]
    skus: int


def import_csv(
    catalogue: Catalogue, session: Session, actor: MerchantActor, data: bytes
) -> ImportRun:
    shop = catalogue.selling_shop(session, actor)
    products, errors = rules.parse_csv(data)
    categories = {c.code: c.id for c in catalogue.categories(session)}
    for product in products:
        if product.category not in categories:
            errors.append(rules.RowError(product.line, "category", "category"))
    if errors:
        errors.sort(key=lambda e: e.line)
        raise ImportRefused(
            errors=[
                {
                    "line": e.line,
                    "column": e.column,
                    "problem": e.problem,
                    "detail": e.detail,
                    "message": e.message,
                }
                for e in errors
            ]
        )
    made: list[int] = []
    skus = 0
    for product in products:
        row = catalogue.insert_product(
            session,
            shop.id,
            categories[product.category],
            product.title,
            product.description,
            product.attributes,
            "published" if product.publish else "draft",
        )
        for sku in product.skus:
            catalogue.insert_sku(session, row.id, sku.code, sku.price, sku.stock, sku.attributes)
            skus += 1
        made.append(row.id)
    run_id = session.execute(
        text(
            "INSERT INTO mall_import (shop_id, by_user, rows, products, skus, created_at) "
            "VALUES (:s, :u, :r, :p, :k, :at) RETURNING id"
        ),
        {
            "s": shop.id,
            "u": actor.user_id,
            "r": skus,
            "p": len(made),
            "k": skus,
            "at": catalogue.clock.now(),
        },
    ).scalar_one()
    return ImportRun(int(run_id), skus, made, skus)
