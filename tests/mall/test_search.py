"""Search over the catalogue: Chinese by bigrams, filters, sorting, keyset pages."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rongbank.mall.catalogue.errors import PriceRangeInvalid, SearchCursorInvalid
from rongbank.mall.catalogue.rules import SORTS, Cursor
from rongbank.mall.catalogue.search import SearchQuery, search
from rongbank.platform import Platform
from tests.factories.mall import categories, on_sale, open_shop


@pytest.fixture
def mall(platform: Platform) -> dict[str, int]:
    """Two shops, a category tree, and products whose titles share words."""
    cats = categories(platform)
    a, b = open_shop(platform, "甲数码"), open_shop(platform, "乙食品")
    ids = {
        "mate": on_sale(platform, a, cats["phones"], "华为 Mate 60 Pro 智能手机", 699900),
        "xiaomi": on_sale(platform, a, cats["phones"], "小米14 智能手机 徕卡影像", 399900, 429900),
        "thinkpad": on_sale(
            platform, a, cats["laptops"], "联想ThinkPad笔记本电脑", 899900, description="智能办公"
        ),
        "case": on_sale(platform, a, cats["phones"], "手机壳 防摔", 2990),
        "rice": on_sale(platform, b, cats["food"], "五常大米 5kg", 5990),
        "dates": on_sale(platform, b, cats["food"], "新疆若羌红枣 手机下单更优惠", 3990),
    }
    ids |= {f"shop_{k}": v for k, v in (("a", a.merchant_id), ("b", b.merchant_id))}
    ids |= {f"cat_{k}": v for k, v in cats.items()}
    return ids


def titles(platform: Platform, query: SearchQuery) -> list[str]:
    with platform.transaction() as session:
        return [h.title for h in search(session, query).hits]


def shop_id(platform: Platform, merchant_id: int) -> int:
    with platform.transaction() as session:
        return platform.mall.shop_of(session, merchant_id).id


def test_chinese_is_found_by_its_bigrams_not_by_single_characters(
    platform: Platform, mall: dict[str, int]
) -> None:
    assert set(titles(platform, SearchQuery("智能手机"))) == {
        "华为 Mate 60 Pro 智能手机",
        "小米14 智能手机 徕卡影像",
    }
    # "大米" is in 五常大米, not in 小米 (which shares only a character).
    assert titles(platform, SearchQuery("大米")) == ["五常大米 5kg"]
    assert titles(platform, SearchQuery("mate")) == ["华为 Mate 60 Pro 智能手机"]
    assert titles(platform, SearchQuery("ＭＡＴＥ")) == ["华为 Mate 60 Pro 智能手机"]  # full width
    assert titles(platform, SearchQuery("苹果")) == []


def test_the_title_weighs_more_than_the_description(
    platform: Platform, mall: dict[str, int]
) -> None:
    found = titles(platform, SearchQuery("智能"))
    assert found[-1] == "联想ThinkPad笔记本电脑"  # "智能" only in its description
    assert len(found) == 3


def test_filters_by_category_with_subcategories_price_of_any_sku_and_seller(
    platform: Platform, mall: dict[str, int]
) -> None:
    with platform.transaction() as session:
        digital = platform.mall.subcategories(session, mall["cat_digital"])
    assert len(titles(platform, SearchQuery(category_ids=digital))) == 4
    phones = SearchQuery("手机", category_ids=[mall["cat_phones"]])
    assert set(titles(platform, phones)) == {
        "华为 Mate 60 Pro 智能手机",
        "小米14 智能手机 徕卡影像",
        "手机壳 防摔",
    }
    # 小米 has SKUs at 3999 and 4299: a range between them finds neither SKU.
    assert titles(platform, SearchQuery(min_price=400000, max_price=420000)) == []
    assert titles(platform, SearchQuery(min_price=420000, max_price=430000)) == [
        "小米14 智能手机 徕卡影像"
    ]
    assert set(titles(platform, SearchQuery(max_price=6000))) == {
        "手机壳 防摔",
        "五常大米 5kg",
        "新疆若羌红枣 手机下单更优惠",
    }
    seller_b = shop_id(platform, mall["shop_b"])
    assert set(titles(platform, SearchQuery("手机", shop_id=seller_b))) == {
        "新疆若羌红枣 手机下单更优惠"
    }
    with pytest.raises(PriceRangeInvalid):
        titles(platform, SearchQuery(min_price=2, max_price=1))


def test_sorts_by_price_and_newest(platform: Platform, mall: dict[str, int]) -> None:
    by_price = titles(platform, SearchQuery(sort="price_asc"))
    assert by_price[0] == "手机壳 防摔"
    assert by_price[-1] == "联想ThinkPad笔记本电脑"
    assert titles(platform, SearchQuery(sort="price_desc")) == by_price[::-1]
    assert titles(platform, SearchQuery(sort="newest"))[0] == "新疆若羌红枣 手机下单更优惠"


def test_a_cursor_of_another_sort_or_made_up_is_refused(
    platform: Platform, mall: dict[str, int]
) -> None:
    with platform.transaction() as session:
        page = search(session, SearchQuery(sort="price_asc", limit=2))
        assert page.next_cursor is not None
        for bad in (page.next_cursor, "bm9wZQ", "!!"):
            with pytest.raises(SearchCursorInvalid):
                search(session, SearchQuery(sort="newest", cursor=bad))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sort=st.sampled_from(SORTS),
    limit=st.integers(1, 4),
    text=st.sampled_from(["", "手机", "智能", "5kg"]),
)
def test_pages_put_together_are_the_whole_result_once_in_order(
    platform: Platform, mall: dict[str, int], sort: str, limit: int, text: str
) -> None:
    whole = SearchQuery(text, sort=sort, limit=50)  # type: ignore[arg-type]
    with platform.transaction() as session:
        expected = [h.id for h in search(session, whole).hits]
        seen: list[int] = []
        query = replace(whole, limit=limit)
        while True:
            page = search(session, query)
            seen += [h.id for h in page.hits]
            if page.next_cursor is None:
                break
            query = replace(query, cursor=page.next_cursor)
    assert seen == expected


def test_cursor_round_trips_a_relevance_rank() -> None:
    cursor = Cursor("relevance", 0.0607927, 42)
    assert Cursor.decode(cursor.encode(), "relevance") == cursor


def test_relevance_ranks_only_the_newest_matches_up_to_the_cap(
    platform: Platform, mall: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rongbank.mall.catalogue import search as module

    everything = titles(platform, SearchQuery("智能"))
    assert everything[0] in ("华为 Mate 60 Pro 智能手机", "小米14 智能手机 徕卡影像")
    monkeypatch.setattr(module, "RANK_CAP", 2)

    # Of the three matches, the oldest (华为, a title match) is past the cap: the two
    # newest are ranked, the title match above the description's.
    assert titles(platform, SearchQuery("智能")) == [
        "小米14 智能手机 徕卡影像",
        "联想ThinkPad笔记本电脑",
    ]
    # Paged one at a time, the cursor walks the same ranked set, then stops.
    seen, cursor = [], ""
    for _ in range(4):
        with platform.transaction() as session:
            page = search(session, SearchQuery("智能", limit=1, cursor=cursor))
        seen += [h.title for h in page.hits]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["小米14 智能手机 徕卡影像", "联想ThinkPad笔记本电脑"]
    # Other sorts are not capped: they read their own index in order.
    assert len(titles(platform, SearchQuery("智能", sort="newest"))) == 3
