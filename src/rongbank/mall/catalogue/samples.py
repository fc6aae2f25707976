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


@dataclass(frozen=True, slots=True)
class DemoShop:
    owner: str
    """The owner's name (a customer of the bank)."""
    mobile: str
    login: str
    """The owner's login to the merchant console."""
    name: str
    description: str
    department: str
    products: tuple[tuple[str, str, str, tuple[tuple[str, int, int], ...]], ...]
    """(title, category code, description, ((SKU option, price in fen, stock), ...))."""


DEMO_SHOPS: tuple[DemoShop, ...] = (
    DemoShop(
        "周店主",
        "13800000011",
        "shop-digital",
        "极客数码旗舰店",
        "正品行货，全国联保，七天无理由退换。",
        "digital",
        (
            (
                "华为 Mate 60 Pro 智能手机 12GB+512GB",
                "phones",
                "卫星通话，昆仑玻璃。",
                (("雅川青", 699900, 20), ("白沙银", 699900, 12), ("雅丹黑", 699900, 0)),
            ),
            (
                "小米14 徕卡光学镜头 智能手机",
                "phones",
                "骁龙8 Gen3，徕卡影像。",
                (("8GB+256GB", 399900, 35), ("16GB+512GB", 479900, 18)),
            ),
            (
                "荣耀 MagicBook 14 轻薄笔记本电脑",
                "laptops",
                "14 英寸 2.8K 屏，1.4kg。",
                (("i5 16GB 512GB", 499900, 10), ("i7 32GB 1TB", 649900, 6)),
            ),
            (
                "联想 拯救者 Y9000P 游戏本",
                "laptops",
                "RTX 4060，2.5K 240Hz 电竞屏。",
                (("标准版", 899900, 8),),
            ),
            (
                "华为 FreeBuds Pro 3 降噪耳机",
                "audio",
                "星闪连接，智慧动态降噪。",
                (("陶瓷白", 119900, 40), ("雅川青", 119900, 25)),
            ),
            (
                "小米手环8 运动手环",
                "wearables",
                "150 种运动模式，16 天续航。",
                (("黑色", 23900, 100), ("浅金色", 23900, 60)),
            ),
        ),
    ),
    DemoShop(
        "吴店主",
        "13800000012",
        "shop-tea",
        "西湖龙井茶庄",
        "杭州西湖产区直供，明前头采。",
        "food",
        (
            (
                "2024 新茶 明前特级 西湖龙井 250g 礼盒",
                "tea",
                "核心产区狮峰山，手工炒制。",
                (("250g 礼盒", 58800, 30), ("500g 礼盒", 108800, 12)),
            ),
            (
                "云南普洱 熟茶 357g 茶饼",
                "tea",
                "勐海老树，七年陈化。",
                (("单饼", 16800, 50), ("一提七饼", 109900, 5)),
            ),
            ("正山小种 红茶 罐装 200g", "tea", "武夷山桐木关，松烟香。", (("200g", 9800, 80),)),
            (
                "五常大米 稻花香 5kg 真空装",
                "grain",
                "当季新米，产地直发。",
                (("5kg", 5990, 200), ("10kg", 10990, 90)),
            ),
            ("新疆若羌 灰枣 一级 1kg", "fruit", "自然晾晒，个大肉厚。", (("1kg", 3990, 150),)),
            (
                "三只松鼠 每日坚果 30 袋",
                "snacks",
                "六种坚果果干科学配比。",
                (("30 袋", 8900, 120), ("60 袋", 16900, 40)),
            ),
        ),
    ),
    DemoShop(
        "郑店主",
        "13800000013",
        "shop-home",
        "暖居家纺生活馆",
        "新疆长绒棉，A 类婴幼儿标准。",
        "home",
        (
            (
                "罗莱 60 支长绒棉 四件套 床单款",
                "bedding",
                "亲肤柔软，不起球。",
                (
                    ("1.5m 床 奶白", 59900, 30),
                    ("1.8m 床 奶白", 69900, 25),
                    ("1.8m 床 雾蓝", 69900, 10),
                ),
            ),
            (
                "水星家纺 桑蚕丝被 春秋被",
                "bedding",
                "100% 桑蚕丝填充。",
                (("200×230cm", 129900, 15),),
            ),
            (
                "全友 实木书桌 1.2m 带抽屉",
                "furniture",
                "北美白橡木，环保水性漆。",
                (("1.2m", 89900, 8), ("1.4m", 99900, 5)),
            ),
            (
                "布艺沙发 三人位 可拆洗",
                "furniture",
                "高回弹海绵，科技布面料。",
                (("浅灰", 299900, 4), ("燕麦色", 299900, 3)),
            ),
            (
                "百雀羚 水嫩保湿面霜 50g",
                "skincare",
                "补水保湿，温和不刺激。",
                (("50g", 12900, 70),),
            ),
        ),
    ),
)


def seed_demo_shops(
    session: Session,
    *,
    accounts: AccountsService,
    payments: PaymentsService,
    catalogue: Catalogue,
    staff: tuple[int, int],
    owners: list[tuple[int, int]],
) -> list[MerchantActor]:
    """:data:`DEMO_SHOPS` opened for ``owners`` (customer id, e-account id, one per
    shop), each with its products on sale; the owners acting for their shops."""
    categories = plant_categories(catalogue, session)
    made: list[MerchantActor] = []
    for shop, owner in zip(DEMO_SHOPS, owners, strict=True):
        actor = open_shop(
            session,
            accounts=accounts,
            payments=payments,
            catalogue=catalogue,
            owner=owner,
            staff=staff,
            name=shop.name,
            description=shop.description,
        )
        for title, category, description, options in shop.products:
            brand = title.split()[0]
            product = catalogue.create_product(
                session,
                actor,
                category_id=categories[category],
                title=title,
                description=description,
                attributes={"品牌": brand},
            )
            for n, (option, price, stock) in enumerate(options, start=1):
                catalogue.insert_sku(
                    session, product.id, f"{product.id}-{n}", price, stock, {"规格": option}
                )
            catalogue.set_published(session, actor, product.id, published=True)
        made.append(actor)
    return made
