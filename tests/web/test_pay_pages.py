"""工银e支付 pages as plain forms (no JavaScript, no browser): the customer pays QR
codes and web-shop orders and shows a payment code; the merchant console takes
payments, refunds (the owner only) and downloads its files."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.auth.service import PrincipalKind
from rongbank.payments.orders import OrderRequest
from rongbank.payments.settlement import settle_all
from rongbank.platform import Platform
from tests.support.web import browser
from tests.web.conftest import PASSWORD, deposit, sms_code
from tests.web.test_security_pages import WebCustomer


class WebMerchant(WebCustomer):
    """A merchant user's browser without JavaScript, logged in to the console."""

    home = "/merchant"

    def __init__(self, client: TestClient, platform: Platform, username: str) -> None:
        self.client, self.platform = client, platform
        self.page = client.get("/merchant/login")
        self.submit("/merchant/login", username=username, password=PASSWORD)
        assert self.page.status_code == 200, self.page.text

    def figure(self, name: str) -> str:
        """One of today's takings, as the console shows it."""
        self.get("/merchant")
        match = re.search(rf'id="takings-{name}">(.*?)</dd>', self.page.text)
        assert match, self.page.text
        return match.group(1)


def shop(
    platform: Platform, *, customer_id: int, account: str, name: str = "老王面馆", n: int = 1
) -> int:
    """A merchant of ``seller``, approved, with an owner and a cashier login."""
    with platform.transaction() as session:
        onboarder, approver = (
            platform.accounts.create_staff(
                session, username=f"ops{n}{i}", name="张三", role="operations"
            )
            for i in (1, 2)
        )
        merchant = platform.payments.onboard(
            session,
            staff_id=onboarder,
            customer_id=customer_id,
            name=name,
            mcc="5812",
            settlement_account=account,
            fee_bps=60,
        )
        platform.payments.approve(session, merchant_id=merchant.id, staff_id=approver)
        for role, login in (("owner", f"owner{n}"), ("cashier", f"cashier{n}")):
            user = platform.payments.add_user(
                session, merchant_id=merchant.id, role=role, name=role
            )
            platform.auth.set_password(
                session,
                kind=PrincipalKind.MERCHANT,
                principal_id=user,
                username=login,
                password=PASSWORD,
            )
    return merchant.id


@pytest.fixture
def clients(platform: Platform) -> Iterator[list[TestClient]]:
    """One browser (cookie jar) per person."""
    made: list[TestClient] = []
    try:
        yield made
    finally:
        for client in made:
            client.__exit__(None, None, None)


@pytest.fixture
def seller(platform: Platform, clients: list[TestClient]) -> WebCustomer:
    return WebCustomer(browser(platform, clients), platform, "王老板", "13900000501", 501)


@pytest.fixture
def merchant_id(platform: Platform, seller: WebCustomer) -> int:
    return shop(platform, customer_id=seller.id, account=seller.account)


@pytest.fixture
def me(platform: Platform, clients: list[TestClient], merchant_id: int) -> WebCustomer:
    customer = WebCustomer(browser(platform, clients), platform, "韩梅梅", "13900000502", 502)
    deposit(platform, customer.account, 10_000_00)
    return customer


@pytest.fixture
def owner(platform: Platform, clients: list[TestClient], merchant_id: int) -> WebMerchant:
    return WebMerchant(browser(platform, clients), platform, "owner1")


@pytest.fixture
def cashier(platform: Platform, clients: list[TestClient], merchant_id: int) -> WebMerchant:
    return WebMerchant(browser(platform, clients), platform, "cashier1")


def counter_code(owner: WebMerchant) -> str:
    owner.get("/merchant/qr")
    owner.submit("/merchant/qr/static", label="一号柜台")
    match = re.search(r'class="static-qr" data-content="([^"]+)"', owner.page.text)
    assert match, owner.page.text
    return match.group(1)


def pay_counter(me: WebCustomer, content: str, amount: str) -> None:
    """Paste a counter code's content, type the amount and pay."""
    me.get(f"/pay/scan?content={content}")
    assert me.page.status_code == 200, me.error
    me.submit(pay_action(me), amount=amount)


def pay_action(me: WebCustomer) -> str:
    """Where the payment page's form (or its confirmation's) posts."""
    match = re.search(r'action="(/pay/[^"]+/confirm)"', me.page.text)
    assert match, me.page.text
    return match.group(1)


def shown(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert match, page
    return html.unescape(match.group(1)).strip()


def payment_code(me: WebCustomer) -> str:
    me.get("/pay/code")
    me.submit("/pay/code")
    match = re.search(r'id="payment-code" data-code="(\d{18})"', me.page.text)
    assert match, me.page.text
    return match.group(1)


def order_no_of(page: str) -> str:
    match = re.search(r'href="/merchant/orders/([^"]+)"', page)
    assert match, page
    return match.group(1)


class TestScanToPay:
    def test_the_nav_leads_to_paying(self, me: WebCustomer) -> None:
        me.get("/accounts")
        assert re.search(r'<a class="tab" href="/pay">付款</a>', me.page.text)  # in the tab bar
        me.get("/pay")
        assert "扫码付款" in me.page.text

    def test_a_counter_code_asks_the_amount_and_pays_it(
        self, me: WebCustomer, owner: WebMerchant
    ) -> None:
        content = counter_code(owner)
        me.get(f"/pay/scan?content={content}")
        assert "老王面馆" in shown(me.page.text, "merchant-name")
        me.submit(pay_action(me), amount="25")
        assert shown(me.page.text, "receipt-amount") == "¥ 25.00"
        assert shown(me.page.text, "receipt-status") == "已付款"
        assert me.balance() == 10_000_00 - 25_00
        assert owner.figure("count") == "1"
        assert owner.figure("total") == "¥ 25.00"

    def test_a_bad_amount_is_refused_and_pays_nothing(
        self, me: WebCustomer, owner: WebMerchant
    ) -> None:
        content = counter_code(owner)
        me.get(f"/pay/scan?content={content}")
        me.submit(pay_action(me), amount="12.345")
        assert me.page.status_code == 422
        assert me.error == "金额最多保留两位小数。"
        assert me.balance() == 10_000_00
        assert owner.figure("count") == "0"

    def test_an_unknown_code_is_refused(self, me: WebCustomer) -> None:
        me.get("/pay/scan?content=http://elsewhere.example/pay/Snot-a-real-code-xyz")
        assert me.page.status_code == 404
        assert me.error == "这不是融银行的收款码或付款码，请核对。"
        me.get("/pay/scan?content=<script>")
        assert me.page.status_code == 422

    def test_a_counter_payment_over_the_static_limit_is_refused(
        self, me: WebCustomer, owner: WebMerchant
    ) -> None:
        content = counter_code(owner)
        me.get(f"/pay/scan?content={content}")
        me.submit(pay_action(me), amount="500.01")
        assert me.page.status_code == 422
        assert "今日还可支付 ¥ 500.00" in me.error
        assert me.balance() == 10_000_00

    def test_a_counter_form_pays_once_and_a_refused_one_stays_refused(
        self, platform: Platform, clients: list[TestClient], owner: WebMerchant
    ) -> None:
        poor = WebCustomer(browser(platform, clients), platform, "李雷", "13900000503", 503)
        deposit(platform, poor.account, 10_00)
        poor.get(f"/pay/scan?content={counter_code(owner)}")
        form = poor.page
        poor.submit(pay_action(poor), amount="20")
        assert (poor.page.status_code, poor.error) == (422, "可用余额不足。")
        refused = poor.page
        deposit(platform, poor.account, 100_00)

        poor.page = form  # back, and the same form sent again: its answer stands
        poor.submit(pay_action(poor), amount="20")
        assert (poor.page.status_code, poor.error) == (422, "可用余额不足。")
        assert poor.balance() == 110_00

        poor.page = refused  # the form the refusal showed: a new payment, once
        poor.submit(pay_action(poor), amount="20")
        assert shown(poor.page.text, "receipt-status") == "已付款"
        poor.page = refused  # pressed twice
        poor.submit(pay_action(poor), amount="20")
        assert shown(poor.page.text, "receipt-status") == "已付款"
        assert poor.balance() == 110_00 - 20_00
        assert owner.figure("count") == "1"

    def test_a_refused_order_form_stays_refused_and_its_page_pays_the_order(
        self, platform: Platform, clients: list[TestClient], merchant_id: int
    ) -> None:
        poor = WebCustomer(browser(platform, clients), platform, "李雷", "13900000503", 503)
        deposit(platform, poor.account, 10_00)
        with platform.transaction() as session:
            order, _ = platform.payments.create_order(
                session,
                merchant_id=merchant_id,
                order=OrderRequest(order_no="WEB-2", amount=18_00, channel="online"),
            )
        poor.get(f"/pay/{order.token}")
        form = poor.page
        poor.submit(pay_action(poor))
        assert (poor.page.status_code, poor.error) == (422, "可用余额不足。")
        refused = poor.page
        deposit(platform, poor.account, 100_00)

        poor.page = form
        poor.submit(pay_action(poor))
        assert (poor.page.status_code, poor.error) == (422, "可用余额不足。")
        assert poor.balance() == 110_00

        poor.page = refused
        poor.submit(pay_action(poor))
        assert shown(poor.page.text, "receipt-status") == "已付款"
        assert poor.balance() == 110_00 - 18_00

    def test_a_dynamic_code_carries_its_amount(self, me: WebCustomer, cashier: WebMerchant) -> None:
        cashier.get("/merchant/qr")
        cashier.submit("/merchant/qr/dynamic", amount="18", description="牛肉面")
        assert shown(cashier.page.text, "dynamic-amount") == "¥ 18.00"
        me.get(f"/pay/scan?content={shown(cashier.page.text, 'dynamic-content')}")
        assert shown(me.page.text, "pay-amount") == "¥ 18.00"
        assert "牛肉面" in me.page.text
        me.submit(pay_action(me))
        assert shown(me.page.text, "receipt-amount") == "¥ 18.00"
        assert me.balance() == 10_000_00 - 18_00
        cashier.get(f"/merchant/orders/{order_no_of(cashier.page.text)}")
        assert shown(cashier.page.text, "order-status") == "已付款"

    def test_a_larger_payment_is_confirmed_with_the_challenge_form(
        self, me: WebCustomer, platform: Platform, merchant_id: int
    ) -> None:
        with platform.transaction() as session:
            order, _ = platform.payments.create_order(
                session,
                merchant_id=merchant_id,
                order=OrderRequest(order_no="WEB-1", amount=300_00, channel="online"),
            )
        me.get(f"/pay/{order.token}")
        assert shown(me.page.text, "pay-amount") == "¥ 300.00"
        me.submit(pay_action(me))
        assert me.asked == "sms"
        assert shown(me.page.text, "confirm-amount") == "¥ 300.00"
        me.submit(pay_action(me), response="000000")
        assert me.page.status_code == 422
        assert "口令不正确" in me.error
        assert me.balance() == 10_000_00
        me.submit(pay_action(me), response=sms_code(platform, me.mobile))
        assert shown(me.page.text, "receipt-status") == "已付款"
        assert me.balance() == 10_000_00 - 300_00

    def test_a_web_shop_order_returns_to_the_shop(
        self, me: WebCustomer, platform: Platform, merchant_id: int
    ) -> None:
        with platform.transaction() as session:
            order, _ = platform.payments.create_order(
                session,
                merchant_id=merchant_id,
                order=OrderRequest(
                    order_no="WEB-2",
                    amount=66_00,
                    channel="online",
                    description="茶叶",
                    return_url="https://shop.example/orders/WEB-2",
                ),
            )
        me.get(
            platform.payments.qr_content(order.token).removeprefix(platform.settings.public_address)
        )
        assert "茶叶" in me.page.text
        me.submit(pay_action(me))
        assert shown(me.page.text, "receipt-amount") == "¥ 66.00"
        assert 'href="https://shop.example/orders/WEB-2"' in me.page.text
        # Paid: the link now shows the receipt, not the form.
        me.get(f"/pay/{order.token}")
        assert 'id="receipt"' in me.page.text

    def test_another_customers_receipt_is_not_shown(
        self,
        me: WebCustomer,
        owner: WebMerchant,
        platform: Platform,
        clients: list[TestClient],
    ) -> None:
        pay_counter(me, counter_code(owner), "10")
        receipt = me.page.url.path
        other = WebCustomer(browser(platform, clients), platform, "李雷", "13900000503", 503)
        other.get(receipt)
        assert other.page.status_code == 404
        assert "10.00" not in other.page.text
        other.get("/pay/payments")
        assert "老王面馆" not in other.page.text

    def test_pages_need_a_login(self, platform: Platform, clients: list[TestClient]) -> None:
        client = browser(platform, clients)
        for path in ("/pay", "/pay/code", "/pay/payments", "/pay/Sabc", "/pay/receipts/Pabc"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"] == "/login"

    def test_a_post_without_the_csrf_token_is_refused(self, me: WebCustomer) -> None:
        response = me.client.post("/pay/code", data={"account": me.account})
        assert response.status_code == 403


class TestPaymentCode:
    def test_the_code_is_shown_as_qr_and_digits_until_it_expires(self, me: WebCustomer) -> None:
        code = payment_code(me)
        assert code.startswith("88")
        assert me.page.headers["cache-control"] == "no-store"
        assert "<svg" in me.page.text
        assert shown(me.page.text, "payment-code") == " ".join(
            code[i : i + 4] for i in range(0, 18, 4)
        )
        assert shown(me.page.text, "payment-code-until") == "有效期至 09:31:00，仅可使用一次"

    def test_the_cashier_collects_it_once(self, me: WebCustomer, cashier: WebMerchant) -> None:
        code = payment_code(me)
        cashier.get("/merchant/collect")
        cashier.submit("/merchant/collect", code=code, amount="32.50")
        assert shown(cashier.page.text, "collected-status") == "已付款"
        assert shown(cashier.page.text, "collected-amount") == "¥ 32.50"
        assert me.balance() == 10_000_00 - 32_50
        cashier.submit("/merchant/collect", code=code, amount="32.50")
        assert cashier.page.status_code == 422
        assert cashier.error == "付款码已过期或已使用，请顾客刷新付款码。"
        assert me.balance() == 10_000_00 - 32_50
        assert cashier.figure("total") == "¥ 32.50"
        me.get("/pay/payments")
        assert "老王面馆" in me.page.text
        assert "32.50" in me.page.text

    def test_an_expired_or_unknown_code_takes_nothing(
        self, me: WebCustomer, cashier: WebMerchant, platform: Platform
    ) -> None:
        code = payment_code(me)
        platform.clock.advance(timedelta(seconds=61))
        cashier.get("/merchant/collect")
        cashier.submit("/merchant/collect", code=code, amount="5")
        assert cashier.error == "付款码已过期或已使用，请顾客刷新付款码。"
        cashier.submit("/merchant/collect", code="12345", amount="5")
        assert cashier.error == "这不是融银行的收款码或付款码，请核对。"
        assert me.balance() == 10_000_00

    def test_a_larger_amount_waits_for_the_customer(
        self, me: WebCustomer, cashier: WebMerchant, platform: Platform
    ) -> None:
        code = payment_code(me)
        cashier.get("/merchant/collect")
        cashier.submit("/merchant/collect", code=code, amount="300")
        assert cashier.page.status_code == 202
        assert shown(cashier.page.text, "collected-status") == "待支付"
        assert me.balance() == 10_000_00
        me.get("/pay")
        assert 'id="awaiting"' in me.page.text
        assert "300.00" in me.page.text
        token = re.search(r'id="awaiting".*?href="(/pay/P[^"]+)"', me.page.text, re.S)
        assert token
        me.get(token.group(1))
        me.submit(pay_action(me))
        assert me.asked == "sms"
        me.submit(pay_action(me), response=sms_code(platform, me.mobile))
        assert shown(me.page.text, "receipt-status") == "已付款"
        assert me.balance() == 10_000_00 - 300_00
        assert cashier.figure("total") == "¥ 300.00"

    def test_a_yidai_code_waits_for_the_customer_who_is_offered_instalments(
        self, me: WebCustomer, cashier: WebMerchant
    ) -> None:
        me.get("/pay/code")
        me.submit("/pay/code", instalments="1")
        assert "收银员扫码后，请在“付款”中找到这笔待支付订单" in me.page.text
        code = re.search(r'id="payment-code" data-code="(\d{18})"', me.page.text)
        assert code
        cashier.get("/merchant/collect")
        cashier.submit("/merchant/collect", code=code.group(1), amount="800")
        assert cashier.page.status_code == 202
        assert shown(cashier.page.text, "collected-status") == "待支付"
        assert me.balance() == 10_000_00
        me.get("/pay")
        token = re.search(r'id="awaiting".*?href="(/pay/P[^"]+)"', me.page.text, re.S)
        assert token
        me.get(token.group(1))
        assert f'href="{token.group(1)}/instalments" id="pay-yidai"' in me.page.text


class TestMerchantConsole:
    def test_login_refusals_and_login_required(
        self, platform: Platform, clients: list[TestClient], merchant_id: int
    ) -> None:
        client = browser(platform, clients)
        response = client.get("/merchant", follow_redirects=False)
        assert response.headers["location"] == "/merchant/login"
        page = client.get("/merchant/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        refused = client.post(
            "/merchant/login",
            data={"username": "owner1", "password": "wrong-password", "csrf": csrf.group(1)},
        )
        assert refused.status_code == 401

    def test_a_customer_session_does_not_open_the_console(self, me: WebCustomer) -> None:
        response = me.client.get("/merchant", follow_redirects=False)
        assert response.headers["location"] == "/merchant/login"

    def test_the_owner_refunds_part_and_never_more_than_was_paid(
        self, me: WebCustomer, owner: WebMerchant
    ) -> None:
        pay_counter(me, counter_code(owner), "25")
        receipt = me.page.url.path
        owner.get("/merchant")
        order_no = order_no_of(owner.page.text)
        owner.get(f"/merchant/orders/{order_no}")
        action = re.search(r'action="(/merchant/orders/[^"]+/refund)"', owner.page.text)
        assert action
        owner.submit(action.group(1), amount="10", reason="少一份")
        assert shown(owner.page.text, "order-refunded") == "¥ 10.00"
        assert shown(owner.page.text, "order-refundable") == "¥ 15.00"
        assert me.balance() == 10_000_00 - 15_00
        owner.submit(action.group(1), amount="15.01")
        assert owner.page.status_code == 422
        assert owner.error == "退款总额不能超过实付金额，最多还可退 ¥ 15.00。"
        assert me.balance() == 10_000_00 - 15_00
        assert owner.figure("refunds") == "¥ 10.00"
        me.get(receipt)
        assert shown(me.page.text, "receipt-refunded") == "¥ 10.00"
        me.get("/history")
        # The refund comes back in under the payment's own (language-free) words.
        rows = re.findall(
            r'<tr class="(in|out)" data-id="\d+"><td>[^<]*</td><td><a href="[^"]+">([^<]*)<',
            me.page.text,
        )
        assert [(d, w.strip()) for d, w in rows if "老王面馆" in w] == [  # newest first
            ("in", f"老王面馆 {order_no}"),
            ("out", f"老王面馆 {order_no}"),
        ]

    def test_a_cashier_cannot_refund(
        self, me: WebCustomer, owner: WebMerchant, cashier: WebMerchant
    ) -> None:
        pay_counter(me, counter_code(owner), "25")
        cashier.get("/merchant")
        order_no = order_no_of(cashier.page.text)
        cashier.get(f"/merchant/orders/{order_no}")
        assert 'id="refund-form"' not in cashier.page.text
        owner.get(f"/merchant/orders/{order_no}")
        refund_no = re.search(r'name="refund_no" value="([^"]+)"', owner.page.text)
        assert refund_no
        csrf = re.search(r'name="csrf" value="([^"]+)"', cashier.page.text)
        assert csrf
        refused = cashier.client.post(
            f"/merchant/orders/{order_no}/refund",
            data={"amount": "25", "refund_no": refund_no.group(1), "csrf": csrf.group(1)},
        )
        assert refused.status_code == 403
        assert "退款和设置仅限店主" in refused.text
        assert me.balance() == 10_000_00 - 25_00
        cashier.get("/merchant/settlements")
        assert cashier.page.status_code == 403
        cashier.get("/merchant/transactions.csv?day=2026-03-02")
        assert cashier.page.status_code == 403
        cashier.get("/merchant/qr")
        cashier.submit("/merchant/qr/dynamic", amount="1")  # a cashier may show amounts
        assert cashier.page.status_code == 200
        assert 'action="/merchant/qr/static"' not in cashier.page.text

    def test_a_refund_without_the_csrf_token_is_refused(
        self, me: WebCustomer, owner: WebMerchant
    ) -> None:
        pay_counter(me, counter_code(owner), "25")
        owner.get("/merchant")
        order_no = order_no_of(owner.page.text)
        refused = owner.client.post(
            f"/merchant/orders/{order_no}/refund", data={"amount": "1", "refund_no": "R1"}
        )
        assert refused.status_code == 403
        assert me.balance() == 10_000_00 - 25_00

    def test_a_merchant_sees_only_its_own_orders(
        self,
        me: WebCustomer,
        owner: WebMerchant,
        platform: Platform,
        clients: list[TestClient],
    ) -> None:
        pay_counter(me, counter_code(owner), "25")
        owner.get("/merchant")
        order_no = order_no_of(owner.page.text)
        rival_seller = WebCustomer(
            browser(platform, clients), platform, "赵老板", "13900000504", 504
        )
        shop(
            platform,
            customer_id=rival_seller.id,
            account=rival_seller.account,
            name="赵记包子",
            n=2,
        )
        rival = WebMerchant(browser(platform, clients), platform, "owner2")
        assert rival.figure("count") == "0"
        rival.get(f"/merchant/orders/{order_no}")
        assert rival.page.status_code == 404
        assert "25.00" not in rival.page.text

    def test_settlements_and_downloads(
        self, me: WebCustomer, owner: WebMerchant, platform: Platform
    ) -> None:
        pay_counter(me, counter_code(owner), "25")
        owner.get("/merchant/transactions.csv?day=2026-03-02")
        assert owner.page.headers["content-type"].startswith("text/csv")
        assert ",payment," in owner.page.text
        assert ",25.00," in owner.page.text
        owner.get("/merchant/settlement.csv?day=2026-03-02")
        assert owner.error == "该营业日尚未结算。"
        platform.clock.advance(timedelta(days=1))
        settle_all(platform.session_factory, platform.payments, date(2026, 3, 2))
        owner = WebMerchant(owner.client, platform, "owner1")  # the idle session ended
        owner.get("/merchant/settlements")
        assert 'data-day="2026-03-02"' in owner.page.text
        owner.get("/merchant/settlement.csv?day=2026-03-02")
        assert ",paid," in owner.page.text


class TestMerchantTeam:
    def test_the_owner_revokes_the_cashier_whose_next_page_asks_to_log_in(
        self, owner: WebMerchant, cashier: WebMerchant
    ) -> None:
        cashier.get("/merchant")
        assert cashier.page.status_code == 200
        owner.get("/merchant/team")
        rows = dict(
            re.findall(r'class="team-user" data-user="(\d+)" data-active="(\w+)"', owner.page.text)
        )
        forms = re.findall(r'action="(/merchant/team/users/\d+/revoke)"', owner.page.text)
        assert len(rows) == 2
        assert len(forms) == 1  # not the owner's own login
        owner.submit(forms[0])
        assert owner.page.status_code == 200
        assert 'id="revoke-done"' in owner.page.text
        assert sorted(re.findall(r'data-active="(\w+)"', owner.page.text)) == ["no", "yes"]
        refused = cashier.client.get("/merchant", follow_redirects=False)
        assert refused.headers["location"] == "/merchant/login"

    def test_a_cashier_sees_no_team_and_cannot_revoke(
        self, owner: WebMerchant, cashier: WebMerchant
    ) -> None:
        cashier.get("/merchant/team")
        assert cashier.page.status_code == 403
        assert 'action="/merchant/team/' not in cashier.page.text
        owner.get("/merchant/team")
        owner_form = re.search(r'action="(/merchant/team/users/\d+/revoke)"', owner.page.text)
        assert owner_form
        csrf = re.search(r'name="csrf" value="([^"]+)"', cashier.page.text)
        assert csrf
        refused = cashier.client.post(owner_form.group(1), data={"csrf": csrf.group(1)})
        assert refused.status_code == 403
        owner.get("/merchant/team")
        assert re.findall(r'data-active="(\w+)"', owner.page.text) == ["yes", "yes"]
