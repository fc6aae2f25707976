"""融e购's catalogue over the API: shops asked for and approved, the commission
table, products and SKUs kept only by their own seller, CSV import, images, and
what customers find."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from rongbank.platform import Platform
from tests.factories.mall import V1, Seller, categories, seller
from tests.factories.people import People


@pytest.fixture
def people(api: TestClient, platform: Platform) -> People:
    return People(api, platform)


@pytest.fixture
def ops(people: People) -> dict[str, str]:
    return people.staff("operations")


@pytest.fixture
def cats(platform: Platform) -> dict[str, int]:
    return categories(platform)


def product(
    api: TestClient, who: Seller, category: int, title: str, *skus: tuple[str, str, int]
) -> dict[str, Any]:
    body = {
        "category_id": category,
        "title": title,
        "skus": [{"code": c, "price": p, "stock": n} for c, p, n in skus],
    }
    made = api.post(f"{V1}/merchant/mall/products", headers=who.owner, json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def audit_actions(platform: Platform) -> list[str]:
    with platform.transaction() as session:
        rows = session.execute(text("SELECT action, result FROM audit_log ORDER BY id")).all()
    return [f"{a}:{r}" for a, r in rows]


def test_a_shop_is_asked_for_by_the_owner_and_opened_or_refused_by_operations(
    api: TestClient, platform: Platform, people: People, ops: dict[str, str]
) -> None:
    shop = seller(api, platform, people, name="老王数码")
    assert shop.shop is not None
    assert shop.shop["status"] == "pending"
    # A cashier cannot ask; the owner cannot ask twice.
    again = api.post(f"{V1}/merchant/mall/shop", headers=shop.owner, json={"name": "又一个"})
    assert again.json()["error"]["code"] == "mall_shop_exists"
    cashier = api.post(f"{V1}/merchant/mall/shop", headers=shop.cashier, json={"name": "x"})
    assert cashier.status_code == 403
    waiting = api.get(f"{V1}/staff/mall/shops", headers=ops).json()
    assert [s["name"] for s in waiting] == ["老王数码"]
    refused = api.post(
        f"{V1}/staff/mall/shops/{shop.shop['id']}/refuse", headers=ops, json={"reason": "资质不全"}
    )
    assert refused.json()["status"] == "refused"
    seen = api.get(f"{V1}/merchant/mall/shop", headers=shop.cashier).json()
    assert (seen["status"], seen["reason"]) == ("refused", "资质不全")
    # Asked again after a refusal: back in the queue, then opened.
    asked = api.post(f"{V1}/merchant/mall/shop", headers=shop.owner, json={"name": "老王数码城"})
    assert asked.json()["status"] == "pending"
    opened = api.post(f"{V1}/staff/mall/shops/{shop.shop['id']}/approve", headers=ops)
    assert opened.json()["status"] == "open"
    twice = api.post(f"{V1}/staff/mall/shops/{shop.shop['id']}/approve", headers=ops)
    assert twice.json()["error"]["code"] == "mall_shop_not_pending"
    actions = audit_actions(platform)
    assert "mall.shop.refuse:ok" in actions
    assert "mall.shop.approve:ok" in actions
    assert "mall.shop.approve:refused" in actions


def test_a_suspended_merchant_cannot_ask_for_a_shop(
    api: TestClient, platform: Platform, people: People, ops: dict[str, str]
) -> None:
    shop = seller(api, platform, people, name="甲店")
    with platform.transaction() as session:
        platform.payments.set_status(
            session, merchant_id=shop.merchant_id, status="suspended", reason="fraud"
        )
    # Operations cannot open the shop of a suspended merchant either.
    opened = api.post(f"{V1}/staff/mall/shops/{shop.shop['id']}/approve", headers=ops)  # type: ignore[index]
    assert opened.json()["error"]["code"] == "merchant_not_active"


def test_operations_keep_the_commission_table_audited_and_others_cannot(
    api: TestClient, platform: Platform, people: People, ops: dict[str, str], cats: dict[str, int]
) -> None:
    changed = api.put(
        f"{V1}/staff/mall/categories/{cats['phones']}/commission",
        headers=ops,
        json={"commission_bp": 250},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["commission_bp"], changed.json()["before_bp"]) == (250, 300)
    table = {
        c["code"]: c["commission_bp"]
        for c in api.get(f"{V1}/staff/mall/categories", headers=ops).json()
    }
    assert table["phones"] == 250
    assert table["laptops"] == 400
    too_high = api.put(
        f"{V1}/staff/mall/categories/{cats['phones']}/commission",
        headers=ops,
        json={"commission_bp": 5001},
    )
    assert too_high.status_code == 422
    manager = people.staff("account_manager")
    refused = api.put(
        f"{V1}/staff/mall/categories/{cats['phones']}/commission",
        headers=manager,
        json={"commission_bp": 1},
    )
    assert refused.status_code == 403
    assert "mall.commission.set:ok" in audit_actions(platform)
    with platform.transaction() as session:
        history = session.execute(
            text(
                "SELECT before_bp, after_bp FROM mall_commission_change "
                "WHERE category_id = :c ORDER BY id"
            ),
            {"c": cats["phones"]},
        ).all()
    assert [tuple(h) for h in history] == [(None, 300), (300, 250)]


def test_a_seller_never_sees_or_changes_another_sellers_products(
    api: TestClient, platform: Platform, people: People, ops: dict[str, str], cats: dict[str, int]
) -> None:
    a = seller(api, platform, people, name="甲店", staff=ops)
    b = seller(api, platform, people, name="乙店", staff=ops)
    mine = product(api, a, cats["phones"], "华为手机", ("BLACK", "3999.00", 5))
    sku = mine["skus"][0]["id"]
    path = f"{V1}/merchant/mall/products/{mine['id']}"
    attempts = [
        ("GET", path, None),
        ("PATCH", path, {"title": "偷改"}),
        ("POST", f"{path}/publish", None),
        ("POST", f"{path}/unpublish", None),
        ("POST", f"{path}/skus", {"code": "X", "price": "1.00", "stock": 1}),
        ("PATCH", f"{path}/skus/{sku}", {"price": "0.01"}),
    ]
    for who in (b.owner, b.cashier):
        for method, url, body in attempts:
            answer = api.request(method, url, headers=who, json=body)
            assert answer.status_code in (403, 404), (method, url, answer.text)
            if answer.status_code == 404:
                assert answer.json()["error"]["code"] == "mall_product_not_found"
        listed = api.get(f"{V1}/merchant/mall/products", headers=who).json()
        assert listed["products"] == []
    # Image upload to another's product: not found either.
    image = api.post(
        f"{path}/images", headers=b.owner, files={"file": ("a.png", png(), "image/png")}
    )
    assert image.status_code == 404
    # A's cashier reads but does not edit; A's owner edits.
    assert api.get(path, headers=a.cashier).status_code == 200
    assert api.patch(path, headers=a.cashier, json={"title": "x"}).status_code == 403
    assert api.patch(path, headers=a.owner, json={"title": "华为 Mate 手机"}).status_code == 200
    # Customers and staff reach no seller endpoint.
    customer = people.register("顾客")
    assert api.get(path, headers=customer["headers"]).status_code == 403
    assert api.get(path, headers=ops).status_code == 403
    with platform.transaction() as session:
        title, price = session.execute(
            text(
                "SELECT p.title, k.price FROM mall_product p "
                "JOIN mall_sku k ON k.product_id = p.id WHERE p.id = :p"
            ),
            {"p": mine["id"]},
        ).one()
    assert (title, price) == ("华为 Mate 手机", 399900)


def test_stock_is_changed_by_units_and_never_goes_below_zero(
    api: TestClient, platform: Platform, people: People, ops: dict[str, str], cats: dict[str, int]
) -> None:
    a = seller(api, platform, people, name="甲店", staff=ops)
    made = product(api, a, cats["food"], "五常大米", ("5KG", "59.90", 10), ("10KG", "99.00", 3))
    url = f"{V1}/merchant/mall/products/{made['id']}/skus/{made['skus'][0]['id']}"
    assert api.patch(url, headers=a.owner, json={"stock_change": 5}).json()["stock"] == 15
    below = api.patch(url, headers=a.owner, json={"stock_change": -16})
    assert below.json()["error"]["code"] == "mall_stock_below_zero"
    cheaper = api.patch(url, headers=a.owner, json={"price": "49.90", "stock_change": -15})
    assert (cheaper.json()["price"], cheaper.json()["stock"]) == ("49.90", 0)
    seen = api.get(f"{V1}/merchant/mall/products/{made['id']}", headers=a.owner).json()
    assert (seen["min_price"], seen["max_price"]) == ("49.90", "99.00")
    api.patch(url, headers=a.owner, json={"active": False})
    seen = api.get(f"{V1}/merchant/mall/products/{made['id']}", headers=a.owner).json()
    assert (seen["min_price"], seen["max_price"]) == ("99.00", "99.00")


def test_publishing_needs_an_active_sku_and_customers_see_only_open_shops_products(
    api: TestClient, platform: Platform, people: People, ops: dict[str, str], cats: dict[str, int]
) -> None:
    a = seller(api, platform, people, name="甲店", staff=ops)
    waiting = seller(api, platform, people, name="乙店")
    empty = product(api, a, cats["food"], "空的商品")
    refused = api.post(f"{V1}/merchant/mall/products/{empty['id']}/publish", headers=a.owner)
    assert refused.json()["error"]["code"] == "mall_nothing_to_sell"
    shown = product(api, a, cats["food"], "新疆红枣", ("500G", "29.90", 100))
    hidden = product(api, waiting, cats["food"], "新疆葡萄干", ("500G", "19.90", 100))
    for who, made in ((a, shown), (waiting, hidden)):
        published = api.post(f"{V1}/merchant/mall/products/{made['id']}/publish", headers=who.owner)
        assert published.json()["status"] == "published"
    customer = people.register("顾客")["headers"]
    found = api.get(f"{V1}/mall/products", params={"q": "新疆"}, headers=customer).json()
    assert [h["title"] for h in found["hits"]] == ["新疆红枣"]
    assert api.get(f"{V1}/mall/products/{hidden['id']}", headers=customer).status_code == 404
    assert api.get(f"{V1}/mall/products/{empty['id']}", headers=customer).status_code == 404
    page = api.get(f"{V1}/mall/products/{shown['id']}", headers=customer).json()
    assert (page["shop_name"], page["min_price"], page["skus"][0]["code"]) == (
        "甲店",
        "29.90",
        "500G",
    )
    api.post(f"{V1}/merchant/mall/products/{shown['id']}/unpublish", headers=a.owner)
    assert api.get(f"{V1}/mall/products/{shown['id']}", headers=customer).status_code == 404


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_images_go_through_the_checked_upload_path(
    api: TestClient, platform: Platform, people: People, ops: dict[str, str], cats: dict[str, int]
) -> None:
    a = seller(api, platform, people, name="甲店", staff=ops)
    made = product(api, a, cats["phones"], "手机壳", ("RED", "9.90", 10))
    url = f"{V1}/merchant/mall/products/{made['id']}/images"
    # Named .png, sent as image/png, but HTML: refused by its content.
    fake = api.post(url, headers=a.owner, files={"file": ("x.png", b"<html><script>", "image/png")})
    assert fake.json()["error"]["code"] == "chat_attachment_type_refused"
    # A PDF is an accepted chat file, but not a product image.
    pdf = api.post(
        url, headers=a.owner, files={"file": ("a.pdf", b"%PDF-1.4 x", "application/pdf")}
    )
    assert pdf.status_code == 422 or pdf.status_code == 415, pdf.text
    sent = api.post(url, headers=a.owner, files={"file": ("red.png", png(), "image/png")})
    assert sent.status_code == 201, sent.text
    image = sent.json()
    assert (image["width"], image["height"], image["content_type"]) == (40, 30, "image/png")
    api.post(f"{V1}/merchant/mall/products/{made['id']}/publish", headers=a.owner)
    customer = people.register("顾客")["headers"]
    got = api.get(image["url"], headers=customer)
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert Image.open(io.BytesIO(got.content)).size == (40, 30)
    thumb = api.get(image["thumbnail_url"], headers=customer)
    assert thumb.status_code == 200
    hits = api.get(f"{V1}/mall/products", params={"q": "手机壳"}, headers=customer).json()["hits"]
    assert hits[0]["image_url"] == image["thumbnail_url"]


CSV_OK = """product,title,category,attributes,sku,options,price,stock,publish
P1,小米 14 手机,phones,品牌=小米,P1-BLK,颜色=黑色,3999.00,20,yes
P1,小米 14 手机,phones,品牌=小米,P1-WHT,颜色=白色,3999.00,15,yes
P2,联想 拯救者 笔记本电脑,laptops,品牌=联想,P2-16G,内存=16GB,7499,5,
"""

CSV_BAD = """product,title,category,sku,price,stock
P1,好手机,phones,A,12.345,3
P2,坏分类,nothing,B,10.00,1
P3,,phones,C,10.00,1
P4,负库存,phones,D,10.00,-1
P5,正常的,phones,E,10.00,1
"""


def test_a_csv_import_is_all_or_nothing_with_each_bad_row_reported(
    api: TestClient, platform: Platform, people: People, ops: dict[str, str], cats: dict[str, int]
) -> None:
    a = seller(api, platform, people, name="甲店", staff=ops)
    url = f"{V1}/merchant/mall/imports"
    bad = api.post(url, headers=a.owner, files={"file": ("p.csv", CSV_BAD.encode(), "text/csv")})
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "mall_import_refused"
    assert [(e["line"], e["column"]) for e in error["details"]["errors"]] == [
        (2, "price"),
        (3, "category"),
        (4, "title"),
        (5, "stock"),
    ]
    assert api.get(f"{V1}/merchant/mall/products", headers=a.owner).json()["products"] == []
    # The same file as Excel on Chinese Windows writes it (GB18030) goes in whole.
    good = api.post(
        url, headers=a.owner, files={"file": ("p.csv", CSV_OK.encode("gb18030"), "text/csv")}
    )
    assert good.status_code == 201, good.text
    assert good.json()["rows"] == 3
    assert len(good.json()["products"]) == 2
    listed = api.get(f"{V1}/merchant/mall/products", headers=a.owner).json()["products"]
    assert {(p["title"], p["status"]) for p in listed} == {
        ("小米 14 手机", "published"),
        ("联想 拯救者 笔记本电脑", "draft"),
    }
    first = api.get(
        f"{V1}/merchant/mall/products/{good.json()['products'][0]}", headers=a.owner
    ).json()
    assert first["attributes"] == {"品牌": "小米"}
    assert [(k["code"], k["attributes"], k["stock"]) for k in first["skus"]] == [
        ("P1-BLK", {"颜色": "黑色"}, 20),
        ("P1-WHT", {"颜色": "白色"}, 15),
    ]
    # A cashier cannot import.
    cashier = api.post(
        url, headers=a.cashier, files={"file": ("p.csv", CSV_OK.encode(), "text/csv")}
    )
    assert cashier.status_code == 403
    assert "mall.import:refused" in audit_actions(platform)
