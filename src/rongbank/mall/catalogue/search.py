"""Search over what the mall sells: published products of open shops.

Chinese is matched as chat search matches it (``rules.tsquery``: every bigram of the
query must be among the product's tokens, over a GIN index); filters by category
(with everything under it), by the price of any active SKU and by seller; sorted by
relevance (the title weighs more than the description), price (the lowest SKU price,
kept on the product by a trigger) or newest; and paged by keyset (the last row's
sort key and id), so page 100 costs what page 1 does.

Relevance is ranked over at most :data:`RANK_CAP` matches, the newest (a cheap order:
the index of published products read backwards, or the few matches of a rare word
sorted by id): ``ts_rank`` reads and scores each row it ranks, so ranking every match
of a word that most products have (a word of the shared description, a big brand)
would cost in proportion to the catalogue. The newest matches are the same set from
one page to the next, so the keyset cursor pages through them.

The SQL is put together from the filters given, never with ``:x IS NULL OR ...``:
each shape gets its own plan, which can use the index that fits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.mall.catalogue.errors import PriceRangeInvalid
from rongbank.mall.catalogue.rules import Cursor, Sort, tsquery

MAX_PAGE = 50
RANK_CAP = 1000
"""The most matches a search by relevance ranks (the newest of them)."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str = ""
    category_ids: list[int] | None = None
    """The category and those under it (``Catalogue.subcategories``); None: all."""
    shop_id: int | None = None
    min_price: int | None = None
    max_price: int | None = None
    sort: Sort = "relevance"
    cursor: str = ""
    limit: int = 20


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    shop_id: int
    shop_name: str
    category_id: int
    title: str
    min_price: int
    max_price: int
    created_at: datetime
    rank: float


@dataclass(frozen=True, slots=True)
class Page:
    hits: list[Hit]
    next_cursor: str | None


_ORDER = {
    "relevance": ("x.rank DESC, x.id DESC", "(x.rank, x.id) < (CAST(:k AS real), :after)"),
    "price_asc": ("x.min_price, x.id", "(x.min_price, x.id) > (:k, :after)"),
    "price_desc": ("x.min_price DESC, x.id DESC", "(x.min_price, x.id) < (:k, :after)"),
    "newest": ("x.id DESC", "x.id < :after"),
}


def search(session: Session, query: SearchQuery) -> Page:
    sql, params, sort, limit = statement(query)
    rows = session.execute(text(sql), params).all()
    hits = [Hit(*r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = hits[-1]
        key: float | int | None = {
            "relevance": last.rank,
            "price_asc": last.min_price,
            "price_desc": last.min_price,
            "newest": None,
        }[sort]
        next_cursor = Cursor(sort, key, last.id).encode()
    return Page(hits, next_cursor)


def statement(query: SearchQuery) -> tuple[str, dict[str, Any], Sort, int]:
    """The SQL of a search and its parameters, the sort it uses and the page size."""
    if (
        query.min_price is not None
        and query.max_price is not None
        and query.min_price > query.max_price
    ):
        raise PriceRangeInvalid()
    q = tsquery(query.text)
    sort: Sort = query.sort
    if sort == "relevance" and q is None:
        sort = "newest"  # nothing to be relevant to
    limit = max(1, min(query.limit, MAX_PAGE))
    # Shops not open (waiting, refused, suspended: few) as an array, a filter on each
    # product found: not an index condition (that read every open shop's products),
    # not a join (that read the products shop by shop). A published product all of
    # whose SKUs were taken off sale has no price: not shown.
    where = [
        "p.status = 'published'",
        "p.min_price IS NOT NULL",
        "p.shop_id <> ALL(ARRAY(SELECT id FROM mall_shop WHERE status <> 'open'))",
    ]
    params: dict[str, Any] = {"limit": limit + 1}
    rank = "CAST(0 AS real)"
    if q is not None:
        # The query as a literal, not a parameter: the bank's connections plan
        # generically (``db``: plan_cache_mode), and a generic plan cannot know how
        # many products a word matches: it read every match of a word of every
        # product through the GIN index (100 ms at 100,000) where walking the newest
        # products stops at the cap. Tokens are letters, digits and Han only
        # (``rules.tsquery``); quotes are doubled all the same.
        found_by = "CAST('" + q.replace("'", "''") + "' AS tsquery)"
        where.append(f"p.search @@ {found_by}")
        rank = f"ts_rank(p.search, {found_by})"
    if query.category_ids is not None:
        where.append("p.category_id = ANY(:cats)")
        params["cats"] = query.category_ids
    if query.shop_id is not None:
        where.append("p.shop_id = :shop")
        params["shop"] = query.shop_id
    order, after = _ORDER[sort]
    capped = sort == "relevance"  # and so q is not None
    page_after: list[str] = []
    if query.cursor:
        cursor = Cursor.decode(query.cursor, sort)
        # Ranked over the capped matches, the cursor comes after the cap.
        (page_after if capped else where).append(after.replace("x.rank", rank).replace("x.", "p."))
        params |= {"k": cursor.key, "after": cursor.id}
    columns = (
        "p.id, p.shop_id, p.category_id, p.title, p.min_price, p.max_price, p.created_at, "
        f"{rank} AS rank"
    )
    inner_order = order.replace("x.rank", "rank").replace("x.", "p.")
    if query.min_price is None and query.max_price is None:
        parts = [" AND ".join(where)]
    else:
        params["lo"] = query.min_price or 0
        params["hi"] = query.max_price if query.max_price is not None else 2**62
        # A product is in the range when one of its active SKUs is: when its lowest
        # price is (most), or when its prices span the lower bound and a SKU lies in
        # the range (few: found by the GiST index of the price spans). Apart, each
        # part is read in price order from its own index.
        parts = [
            " AND ".join([*where, "p.min_price BETWEEN :lo AND :hi"]),
            " AND ".join(
                [
                    *where,
                    "int8range(p.min_price, p.max_price, '[]') @> CAST(:lo AS bigint)",
                    "p.min_price < :lo",
                    "EXISTS (SELECT 1 FROM mall_sku k WHERE k.product_id = p.id AND k.active "
                    "AND k.price BETWEEN :lo AND :hi)",
                ]
            ),
        ]

    def source(part: str) -> str:
        if not capped:
            return f"mall_product p WHERE {part}"
        ranked = f" WHERE {' AND '.join(page_after)}" if page_after else ""
        # The newest matches by id alone (a narrow sort), then their rows for ranking.
        # The cap is written in, not a parameter: a generic plan takes a parameter's
        # LIMIT for a tenth of the rows, and walked the newest products for a word
        # of one product in twenty.
        return (
            "(SELECT m.* FROM (SELECT p.id FROM mall_product p "  # noqa: S608
            f"WHERE {part} ORDER BY p.id DESC LIMIT {int(RANK_CAP)}) c "
            f"JOIN mall_product m ON m.id = c.id) p{ranked}"
        )

    found = " UNION ALL ".join(
        f"(SELECT {columns} FROM {source(part)} "  # noqa: S608
        f"ORDER BY {inner_order} LIMIT :limit)"
        for part in parts
    )
    sql = (
        "SELECT x.id, x.shop_id, s.name, x.category_id, x.title, x.min_price, x.max_price, "  # noqa: S608
        f"x.created_at, x.rank FROM ({found}) x JOIN mall_shop s ON s.id = x.shop_id "
        f"ORDER BY {order} LIMIT :limit"
    )
    return sql, params, sort, limit
