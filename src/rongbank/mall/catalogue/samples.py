"""What a Chinese marketplace sells, in words: the category tree with the mall's
commission, brands per department and the goods of each category with a typical
price. The demo's shops (``rongbank seed-demo``) and the search benchmark's 100,000
products are made from them, so both look like a real shop front."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import AccountsService
from rongbank.mall.catalogue.service import Catalogue
from rongbank.payments.merchants import MerchantActor
from rongbank.payments.service import PaymentsService


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name_zh: str
    name_en: str
    commission_bp: int
    brands: tuple[str, ...]
    categories: tuple[tuple[str, str, str, tuple[tuple[str, int], ...]], ...]
    """(code, 中文名, English name, ((goods, typical price in fen), ...))."""


DEPARTMENTS: tuple[Department, ...] = (
    Department(
        "digital",
        "数码",
        "Digital",
        300,
        ("华为", "小米", "荣耀", "联想", "OPPO", "vivo"),
        (
            ("phones", "手机", "Phones", (("智能手机", 299900), ("手机壳", 3900))),
            ("laptops", "笔记本电脑", "Laptops", (("笔记本电脑", 599900), ("游戏本", 799900))),
            ("tablets", "平板电脑", "Tablets", (("平板电脑", 249900),)),
            ("audio", "耳机音箱", "Audio", (("蓝牙耳机", 29900), ("降噪耳机", 89900))),
            ("wearables", "智能穿戴", "Wearables", (("智能手表", 129900), ("运动手环", 19900))),
        ),
    ),
    Department(
        "appliances",
        "家电",
        "Appliances",
        400,
        ("美的", "格力", "九阳", "苏泊尔", "海尔", "科沃斯"),
        (
            (
                "kitchen",
                "厨房电器",
                "Kitchen appliances",
                (("电饭煲", 39900), ("破壁机", 59900), ("空气炸锅", 29900)),
            ),
            ("cleaning", "清洁电器", "Cleaning", (("扫地机器人", 199900), ("吸尘器", 89900))),
            ("climate", "空调", "Air conditioning", (("变频空调", 329900), ("电风扇", 19900))),
        ),
    ),
    Department(
        "food",
        "食品",
        "Food",
        600,
        ("三只松鼠", "良品铺子", "西湖", "金龙鱼", "五常", "百草味"),
        (
            ("snacks", "休闲零食", "Snacks", (("每日坚果", 8900), ("牛肉干", 5900))),
            ("tea", "茶叶", "Tea", (("龙井茶", 25800), ("普洱茶", 16800), ("红茶", 9800))),
            ("grain", "粮油", "Grain and oil", (("大米", 5990), ("菜籽油", 7990))),
            ("fruit", "生鲜水果", "Fresh fruit", (("红枣", 3990), ("猕猴桃", 4990))),
        ),
    ),
    Department(
        "clothing",
        "服饰鞋包",
        "Clothing",
        800,
        ("李宁", "安踏", "海澜之家", "波司登", "特步", "太平鸟"),
        (
            ("menswear", "男装", "Menswear", (("衬衫", 19900), ("夹克", 39900), ("羽绒服", 89900))),
            ("womenswear", "女装", "Womenswear", (("连衣裙", 29900), ("针织衫", 19900))),
            ("shoes", "鞋靴", "Shoes", (("运动鞋", 49900), ("皮鞋", 39900))),
        ),
    ),
    Department(
        "home",
        "家居",
        "Home",
        700,
        ("罗莱", "富安娜", "全友", "宜家", "水星家纺"),
        (
            ("bedding", "床上用品", "Bedding", (("四件套", 39900), ("蚕丝被", 99900))),
            ("furniture", "家具", "Furniture", (("书桌", 69900), ("布艺沙发", 299900))),
        ),
    ),
    Department(
        "beauty",
        "美妆个护",
        "Beauty",
        1000,
        ("百雀羚", "珀莱雅", "完美日记", "自然堂", "薇诺娜"),
        (
            ("skincare", "护肤", "Skincare", (("保湿面霜", 19900), ("精华液", 29900))),
            ("makeup", "彩妆", "Make-up", (("口红", 14900), ("粉底液", 21900))),
        ),
    ),
)

ADJECTIVES = (
    "新款",
    "旗舰",
    "轻薄",
    "大容量",
    "家用",
    "便携",
    "高端",
    "经典",
    "正品",
    "官方",
    "加厚",
    "纯棉",
    "有机",
    "特级",
    "限量",
    "升级版",
)

VARIANTS = (
    ("颜色", ("黑色", "白色", "蓝色")),
    ("规格", ("标准版", "加大版", "礼盒装")),
)
"""SKU attributes the demo and the benchmark vary: a name and its values."""


@dataclass(frozen=True, slots=True)
class Goods:
    department: Department
    category: str
    name: str
    price: int


def goods() -> list[Goods]:
    """Every kind of goods, with its department and category code."""
    return [
        Goods(d, code, name, price)
        for d in DEPARTMENTS
        for code, _, _, items in d.categories
        for name, price in items
    ]


def plant_categories(catalogue: Catalogue, session: Session) -> dict[str, int]:
    """The category tree of :data:`DEPARTMENTS` (those already there are kept as
    they are); code -> id."""
    ids = {c.code: c.id for c in catalogue.categories(session)}
    for d in DEPARTMENTS:
        if d.code not in ids:
            ids[d.code] = catalogue.add_category(
                session,
                code=d.code,
                name_zh=d.name_zh,
                name_en=d.name_en,
                commission_bp=d.commission_bp,
            ).id
        for code, zh, en, _ in d.categories:
            if code not in ids:
                ids[code] = catalogue.add_category(
                    session,
                    code=code,
                    name_zh=zh,
                    name_en=en,
                    commission_bp=d.commission_bp,
                    parent_id=ids[d.code],
                ).id
    return ids


def open_shop(
    session: Session,
    *,
    accounts: AccountsService,
    payments: PaymentsService,
    catalogue: Catalogue,
    owner: tuple[int, int],
    staff: tuple[int, int],
    name: str,
    description: str = "",
) -> MerchantActor:
    """An open shop of a customer's: the customer onboarded as an e-Pay merchant
    (by ``staff[0]``, approved by ``staff[1]``), its owner login ``owner`` (customer
    id, e-account id; the caller gives the login a password), the shop asked for and
    opened. Returns the owner acting for it."""
    customer_id, account_id = owner
    number = session.execute(
        text("SELECT number FROM e_account WHERE id = :id"), {"id": account_id}
    ).scalar_one()
    merchant = payments.onboard(
        session,
        staff_id=staff[0],
        customer_id=customer_id,
        name=name,
        mcc="5311",
        settlement_account=str(number),
        fee_bps=60,
    )
    payments.approve(session, merchant_id=merchant.id, staff_id=staff[1])
    user_id = payments.add_user(
        session,
        merchant_id=merchant.id,
        role="owner",
        name=accounts.customer(session, customer_id).name,
    )
    actor = MerchantActor(merchant.id, "owner", user_id)
    shop = catalogue.ask_for_shop(session, actor, name=name, description=description)
    catalogue.decide_shop(session, shop_id=shop.id, staff_id=staff[1], approve=True)
    return actor
