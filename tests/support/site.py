"""A bank with a little of everything in it, made over the API of a live server as
its users would make it: for tests that walk every page (``tests/web/test_layout.py``).

Customers with money from a bound card, a transfer between them, a wealth product
bought, a loan, a merchant paid online and by QR code, a chat with the bank and one between
two customers with a transfer card, notices delivered; staff of each role. And a row
in each list of the pages (a page empty of rows proves little at phone width): a
saved payee and a monthly transfer, a refused login beside the sessions, a merchant
waiting for approval, a broadcast and a reported message for staff."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx2 as httpx
from PIL import Image
from sqlalchemy import text

from rongbank.auth.service import PrincipalKind
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.overview.service import MovementFilter
from rongbank.platform import Platform
from rongbank.risk.engine import backtests, store
from rongbank.risk.engine.rules import RuleSpec
from tests.factories import mall_orders as mall
from tests.factories.aml import seed_aml
from tests.factories.cards import card_number
from tests.factories.liquidity import seed_liquidity as _liquidity
from tests.factories.people import PASSWORD, V1, People
from tests.support.funding import CardHolder
from tests.support.lending import FORM
from tests.support.risk import raise_alert
from tests.support.risk_rules import paid, payer
from tests.support.sms import sms_code
from tests.wealth.helpers import assessed

STAFF_ROLES = (
    "account_manager",
    "operations",
    "administrator",
    "supervisor",
    "risk_analyst",
    "credit_officer",
    "credit_manager",
)
"""Every staff role, in the order a page is tried until one may see it."""
MERCHANT_OWNER = "laowang"


@dataclass
class Site:
    """What was made, and the values a page's path parameters take."""

    customer: dict[str, Any]
    """Who logs in to the web bank: 韩梅梅, with a long history."""
    values: dict[str, str] = field(default_factory=dict)
    """A value for each path parameter of the pages (``conversation_id``...)."""
    by_route: dict[str, dict[str, str]] = field(default_factory=dict)
    """Values for one route where the common one would not do (a paid order's token
    for its receipt, an open one's for its payment page)."""

    def url(self, path: str, params: list[str]) -> str:
        """``path`` with its parameters filled in; KeyError names one with no value."""
        values = {**self.values, **self.by_route.get(path, {})}
        for name in params:
            path = path.replace(f"{{{name}}}", values[name])
        return path


def _ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def build(base: str, platform: Platform) -> Site:
    with httpx.Client(base_url=base, timeout=30) as client:
        return _build(client, platform)


def _build(client: httpx.Client, platform: Platform) -> Site:
    people = People(client, platform)  # type: ignore[arg-type]  # the same calls
    staff = {role: people.staff(role) for role in STAFF_ROLES}  # managers before customers
    meimei = people.register("韩梅梅")
    lilei = people.register("李雷")
    seller = people.register("王老板")
    holder = CardHolder(client, platform, meimei)  # type: ignore[arg-type]
    card = holder.bind_confirmed(card_number(7, bin_="622202"), "韩梅梅")
    _ok(holder.top_up(card["id"], "12345.67", "topup-1"))
    mine, his = meimei["account"]["number"], lilei["account"]["number"]
    for n, (amount, note) in enumerate((("88.00", ""), ("2350.00", "三月房租"), ("66.60", ""))):
        body = {"client_id": f"t{n}", "source": mine, "destination": his, "amount": amount}
        _confirmed(client, platform, f"{V1}/me/transfers", meimei, body | {"description": note})
    _ok(
        client.post(
            f"{V1}/me/payees", headers=meimei["headers"], json={"name": "房东", "account": his}
        )
    )
    monthly = {
        "client_id": "rent",
        "source": mine,
        "destination": his,
        "amount": "2350.00",
        "description": "房租",
        "frequency": "monthly",
        "start_on": "2026-04-01",
        "day_of_month": 1,
    }
    _confirmed(client, platform, f"{V1}/me/scheduled-transfers", meimei, monthly)
    wrong = {"login_name": meimei["login_name"], "password": "not-the-password"}
    assert client.post(f"{V1}/sessions", json=wrong).status_code == 401
    with platform.transaction() as session:
        rent = platform.overview.movements(
            session, meimei["customer_id"], MovementFilter(text="三月房租")
        ).movements[0]
    back = {"client_id": "back", "source": his, "destination": mine, "amount": "10.00"}
    _confirmed(client, platform, f"{V1}/me/transfers", lilei, back | {"description": "午饭钱"})

    # 理财: a product on sale, bought
    product = "GYLC2026A"
    _ok(
        client.post(
            f"{V1}/staff/wealth/products",
            headers=staff["operations"],
            json={
                "code": product,
                "name": "工银理财·稳健成长2026年第1期",
                "risk_level": 2,
                "yield_bps": 285,
                "min_amount": "1000.00",
                "step_amount": "100.00",
                "sale_start": "2026-03-01T00:00:00+08:00",
                "sale_end": "2026-03-31T15:00:00+08:00",
            },
        )
    )
    assessed(platform, meimei["customer_id"], level=3)
    purchase = {"client_id": "w1", "product_code": product, "account": mine, "amount": "2000.00"}
    _confirmed(client, platform, f"{V1}/me/wealth/purchases", meimei, purchase)

    # credit: an application with an offer, and one a credit officer reviews
    application = {"client_id": "credit-1", **FORM, "term_months": 24}
    offered = _ok(
        client.post(f"{V1}/me/lending/applications", headers=meimei["headers"], json=application)
    )
    referred = _ok(
        client.post(
            f"{V1}/me/lending/applications",
            headers=lilei["headers"],
            json=application | {"debts": "58000.00"},  # the test scorecard's grey zone
        )
    )
    assert (offered["status"], referred["status"]) == ("offered", "review")

    # e-Pay: a merchant with an owner login, paid online, an order still open
    with platform.transaction() as session:
        ops_ids = [
            platform.accounts.create_staff(
                session, username=f"onboard{i}", name="孙运营", role="operations"
            )
            for i in (1, 2)
        ]
        merchant = platform.payments.onboard(
            session,
            staff_id=ops_ids[0],
            customer_id=seller["customer_id"],
            name="老王面馆（朝阳门店）",
            mcc="5812",
            settlement_account=seller["account"]["number"],
            fee_bps=60,
        )
        platform.payments.approve(session, merchant_id=merchant.id, staff_id=ops_ids[1])
        owner = platform.payments.add_user(
            session, merchant_id=merchant.id, role="owner", name="王老板"
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.MERCHANT,
            principal_id=owner,
            username=MERCHANT_OWNER,
            password=PASSWORD,
        )
        platform.payments.static_qr(session, merchant_id=merchant.id, label="收银台1")
        platform.payments.onboard(  # waits for a second officer's approval
            session,
            staff_id=ops_ids[0],
            customer_id=lilei["customer_id"],
            name="李记水果店",
            mcc="5411",
            settlement_account=his,
            fee_bps=38,
        )
    merchant_headers = {"Authorization": f"Bearer {people.login(MERCHANT_OWNER)}"}
    mall_product = _mall(client, merchant_headers, staff["operations"])
    orders = {}
    for order_no, amount in (("20260302000123456789", "36.50"), ("20260302000123456790", "128.00")):
        orders[order_no] = _ok(
            client.post(
                f"{V1}/merchant/orders",
                headers=merchant_headers,
                json={
                    "order_no": order_no,
                    "amount": amount,
                    "description": "牛肉面两碗、凉菜一份",
                },
            )
        )
    paid_no, open_no = list(orders)
    tokens = {no: order["pay_url"].rsplit("/", 1)[-1] for no, order in orders.items()}
    paid_token = tokens[paid_no]
    _ok(
        client.post(
            f"{V1}/me/orders/{paid_token}/pay",
            headers=meimei["headers"],
            json={"account": mine, "client_id": "pay-1"},
        ),
        200,
    )

    # 逸贷: an open order of 6,000 yuan offered in 12 instalments (its pay page's decision)
    yidai_order = _ok(
        client.post(
            f"{V1}/merchant/orders",
            headers=merchant_headers,
            json={"order_no": "20260302000123456791", "amount": "6000.00", "description": "洗衣机"},
        )
    )
    yidai_token = yidai_order["pay_url"].rsplit("/", 1)[-1]
    short_form = {
        k: v for k, v in application.items() if k not in ("product", "amount", "method", "purpose")
    }
    yidai = _ok(
        client.post(
            f"{V1}/me/orders/{yidai_token}/instalments",
            headers=meimei["headers"],
            json=short_form | {"client_id": "yidai-1", "term_months": 12},
        )
    )
    assert yidai["status"] == "offered", yidai

    # 融e联: a chat with the bank, a direct chat with a transfer card, notices
    bank_chat = _ok(client.post(f"{V1}/me/chat/conversations/bank", headers=meimei["headers"]))
    _send(client, meimei["headers"], bank_chat["id"], "您好，我想咨询一下理财产品的赎回规则。")
    direct = _ok(
        client.post(
            f"{V1}/me/chat/conversations/direct",
            headers=meimei["headers"],
            json={"mobile": lilei["login_name"]},
        )
    )
    _ok(
        client.post(f"{V1}/me/chat/conversations/{direct['id']}/accept", headers=lilei["headers"]),
        200,
    )
    invitation = _send(client, meimei["headers"], direct["id"], "晚上一起吃饭吗？我请客。")
    _ok(
        client.post(
            f"{V1}/me/chat/conversations/{direct['id']}/messages/{invitation['message']['seq']}/report",
            headers=lilei["headers"],
            json={"reason": "骚扰信息"},
        )
    )
    notice = {
        "client_id": "spring",
        "segment": "all",
        "kind": "announcement",
        "title": "春节期间营业时间调整",
        "text": "2月9日至2月17日网点营业时间调整为9:00-16:00，网上银行照常服务。",
    }
    _ok(client.post(f"{V1}/staff/chat/broadcasts", headers=staff["operations"], json=notice))
    card_message = _ok(
        client.post(
            f"{V1}/me/chat/conversations/{direct['id']}/cards",
            headers=meimei["headers"],
            json={
                "kind": "transfer",
                "client_id": "card-1",
                "account": mine,
                "amount": "50.00",
                "note": "电影票",
            },
        )
    )
    # 网络融资: a loan lent into 韩梅梅's account (its schedule, a repayment page)
    with platform.transaction() as session:
        account = platform.accounts.account(session, mine)
        loan_id = platform.loans.disburse(
            session,
            customer_id=meimei["customer_id"],
            account_id=account.id,
            product_code="personal_credit",
            principal_fen=5_000_000,
            term_months=12,
            method="equal_instalment",
            annual_rate_bps=720,
            grade="B",
            application_id=None,
            idempotency_key="site-loan",
        )
    # 风控: a payment of hers held for review, a case for the analysts, a question for her
    raise_alert(platform, meimei["customer_id"], ref="site-held", amount=250_000)
    case_id, question_id = _risk_case(platform, meimei["customer_id"])
    platform.push.deliver(platform.transaction)
    _liquidity(platform)
    seed_aml(platform)
    rule_id = _shadow_rule(platform)
    backtest_id = _backtest(platform, rule_id)
    mall_order = _mall_orders(client, platform, people, meimei, merchant.id, owner)

    return Site(
        customer=meimei,
        values={
            "conversation_id": str(bank_chat["id"]),
            "card_id": str(card_message["card"]["id"]),
            "token": paid_token,
            "order_no": paid_no,
            "code": product,
            "customer_id": str(meimei["customer_id"]),
            "posting_id": str(rent.posting_id),
            "entry_id": str(rent.entry_id),
            "merchant_id": str(merchant.id),
            "loan_id": str(loan_id),
            "kind": "prepay",
            "application_id": str(offered["id"]),
            "case_id": str(case_id),
            "question_id": str(question_id),
            "order_id": str(mall_order),
            "product_id": str(mall_product),
            "rule_id": str(rule_id),
            "backtest_id": str(backtest_id),
        },
        by_route={
            "/staff/lending/reviews/{application_id}": {"application_id": str(referred["id"])},
            "/pay/{token}": {"token": tokens[open_no]},
            "/pay/{token}/instalments": {"token": yidai_token},
            "/pay/{token}/instalments/{application_id}": {
                "token": yidai_token,
                "application_id": str(yidai["application_id"]),
            },
            "/chat/{conversation_id}/cards/{card_id}": {"conversation_id": str(direct["id"])},
        },
    )


def _risk_case(platform: Platform, customer_id: int) -> tuple[int, int]:
    with platform.transaction() as session:
        row = session.execute(
            text(
                "SELECT a.case_id, q.id FROM risk_alert a JOIN risk_question q "
                "ON q.alert_id = a.id WHERE a.customer_id = :c"
            ),
            {"c": customer_id},
        ).one()
    return int(row[0]), int(row[1])


def _shadow_rule(platform: Platform) -> int:
    """风控规则: a rule in shadow that a payment has met since (its page's chart and
    table), switched on by one analyst and approved by another."""
    with platform.transaction() as session:
        first, second = (
            platform.accounts.create_staff(
                session, username=f"site-rules-{n}", name="风控规则", role="risk_analyst"
            )
            for n in (1, 2)
        )
        spec = RuleSpec("very_large", "amount >= 50000000", "review", "very_large", 30)
        rule = store.add(session, spec, by=first, now=platform.clock.now(), mode="shadow")
        store.approve(session, rule.id, by=second, now=platform.clock.now())
    platform.risk_engine.forget_rules()
    paid(platform, payer(platform, "赵大"), 60_000_000)
    return rule.id


def _backtest(platform: Platform, rule_id: int) -> int:
    """The rule's backtest over the last week, run by its job (its page's figures)."""
    today = platform.clock.now().astimezone(BUSINESS_TIME_ZONE).date()
    with platform.transaction() as session:
        analyst = platform.accounts.staff_member_named(session, "site-rules-1").id
        asked = backtests.ask(
            session,
            rule_id,
            first=today - timedelta(days=6),
            last=today,
            by=analyst,
            now=platform.clock.now(),
        )
    backtests.run_waiting(platform.transaction, platform.clock)
    return asked


def _mall_orders(
    client: httpx.Client,
    platform: Platform,
    people: People,
    buyer: dict[str, Any],
    merchant_id: int,
    owner: int,
) -> int:
    """融e购: 老王's shop, 韩梅梅's cart, an order paid and shipped with a return
    refused and disputed; the order's id."""
    bank = people.register("融e购")
    clearing = mall.clearing(
        platform, customer_id=bank["customer_id"], account=bank["account"]["number"]
    )
    assert platform.mall_orders.merchant_id == clearing
    with platform.transaction() as session:
        shop = mall.shop_of(session, merchant_id) or mall.open_shop(
            session, merchant_id=merchant_id, user_id=owner, name="老王面馆"
        )
        category = mall.category(session, commission_bp=500)
        noodles = mall.sku(
            session, shop_id=shop, category_id=category, price=39_80, stock=50, title="手工拉面礼盒"
        )
        sauce = mall.sku(
            session, shop_id=shop, category_id=category, price=12_50, stock=50, title="秘制辣酱"
        )
    me = buyer["headers"]
    _ok(
        client.post(
            f"{V1}/me/mall/cart/lines", headers=me, json={"sku_id": noodles, "quantity": 2}
        ),
        204,
    )
    checkout = _ok(client.post(f"{V1}/me/mall/checkouts", headers=me, json={"client_id": "mall-1"}))
    pay = f"{V1}/me/mall/checkouts/{checkout['id']}/pay"
    body = {"account": buyer["account"]["number"]}
    paid = client.post(pay, headers=me, json=body)
    if paid.status_code == 403:  # above the password-free allowance: the SMS code
        challenge = paid.json()["error"]["details"]["challenge"]
        answer = {
            "challenge_id": challenge["id"],
            "response": sms_code(platform, buyer["login_name"]),
        }
        paid = client.post(pay, headers=me, json=body | answer)
    _ok(paid, 200)
    order = checkout["orders"][0]
    seller = {"Authorization": f"Bearer {people.login(MERCHANT_OWNER)}"}
    _ok(
        client.post(
            f"{V1}/merchant/mall/orders/{order['id']}/ship",
            headers=seller,
            json={"carrier": "顺丰速运", "tracking_no": "SF1234567890"},
        ),
        200,
    )
    asked = _ok(
        client.post(
            f"{V1}/me/mall/orders/{order['id']}/returns",
            headers=me,
            json={
                "lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}],
                "reason": "包装破损",
            },
        )
    )
    _ok(client.post(f"{V1}/merchant/mall/returns/{asked['id']}/refuse", headers=seller), 200)
    _ok(client.post(f"{V1}/me/mall/returns/{asked['id']}/dispute", headers=me), 200)
    _ok(
        client.post(f"{V1}/me/mall/cart/lines", headers=me, json={"sku_id": sauce, "quantity": 1}),
        204,
    )
    return int(order["id"])


def _mall(client: httpx.Client, owner: dict[str, str], ops: dict[str, str]) -> int:
    """融e购: categories, 老王's shop opened, a product with two SKUs and an image on
    sale; the product's id."""
    food = _ok(
        client.post(
            f"{V1}/staff/mall/categories",
            headers=ops,
            json={"code": "food", "name_zh": "食品", "name_en": "Food", "commission_bp": 600},
        )
    )
    noodles = {"code": "noodles", "name_zh": "方便面食", "name_en": "Noodles"}
    noodles_id = _ok(
        client.post(
            f"{V1}/staff/mall/categories",
            headers=ops,
            json=noodles | {"commission_bp": 500, "parent_id": food["id"]},
        )
    )["id"]
    shop = _ok(client.post(f"{V1}/merchant/mall/shop", headers=owner, json={"name": "老王面馆"}))
    _ok(client.post(f"{V1}/staff/mall/shops/{shop['id']}/approve", headers=ops), 200)
    product = {
        "category_id": noodles_id,
        "title": "老王手工刀削面 山西特产 非油炸 家庭装 1.5kg×2袋 送秘制卤料包",
        "description": "每天现做，真空包装，全国包邮。",
        "attributes": {"产地": "山西大同", "保质期": "180天"},
        "skus": [
            {"code": "1.5KG", "price": "39.90", "stock": 120, "attributes": {"规格": "1.5kg"}},
            {"code": "3KG", "price": "69.90", "stock": 0, "attributes": {"规格": "3kg 家庭装"}},
        ],
    }
    made = _ok(client.post(f"{V1}/merchant/mall/products", headers=owner, json=product))
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (230, 180, 90)).save(out, "JPEG")
    image = ("noodles.jpg", out.getvalue(), "image/jpeg")
    url = f"{V1}/merchant/mall/products/{made['id']}"
    _ok(client.post(f"{url}/images", headers=owner, files={"file": image}))
    _ok(client.post(f"{url}/publish", headers=owner), 200)
    return int(made["id"])


def _confirmed(
    client: httpx.Client, platform: Platform, url: str, who: dict[str, Any], body: dict[str, Any]
) -> Any:
    """A money-moving request, answering the SMS code when the bank asks for one."""
    response = client.post(url, headers=who["headers"], json=body)
    if response.status_code == 403 and response.json()["error"]["code"] == "challenge_required":
        challenge = response.json()["error"]["details"]["challenge"]
        code = sms_code(platform, who["login_name"])
        answer = {"challenge_id": challenge["id"], "response": code}
        response = client.post(url, headers=who["headers"], json=body | answer)
    return _ok(response)


def _send(client: httpx.Client, headers: dict[str, str], conversation: int, text: str) -> Any:
    return _ok(
        client.post(
            f"{V1}/me/chat/conversations/{conversation}/messages",
            headers=headers,
            json={"client_id": uuid.uuid4().hex, "text": text},
        )
    )
