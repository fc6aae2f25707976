"""The staff console as staff use it all day, without JavaScript: the day's work of
each role on the home page, the search, and the pages for what staff do by API
(merchants, wealth products, notices, moderation, tools, staff logins, settlement),
each acting through the same services and audit as the API. Which role may open
which page is proven in ``tests/test_authorization.py``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.accounts.clearing import FakeClearingNetwork, TimeOut
from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.web import staff_merchant_pages
from rongbank.web.pages import LANG_COOKIE
from tests.factories.cards import CARD
from tests.factories.identity import resident_id
from tests.payments.helpers import CommittedShop, break_settlement_of, mend_settlement
from tests.support.sms import sms_code
from tests.support.web import WebCustomer, WebStaff, direct, say
from tests.web.conftest import deposit

Browser = Callable[[], TestClient]


@pytest.fixture
def browser(platform: Platform) -> Iterator[Browser]:
    """A fresh browser (its own cookies) on the bank, for each person."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(TestClient(create_app(platform, background=False)))


@pytest.fixture
def ops(platform: Platform, browser: Browser) -> WebStaff:
    return WebStaff(browser(), platform, "ops1", "赵运营", "operations")


@pytest.fixture
def ops2(platform: Platform, browser: Browser) -> WebStaff:
    return WebStaff(browser(), platform, "ops2", "钱运营", "operations")


@pytest.fixture
def manager(platform: Platform, browser: Browser) -> WebStaff:
    """An account manager, made before any customer: every customer is theirs."""
    return WebStaff(browser(), platform, "wang", "王经理", "account_manager")


@pytest.fixture
def me(platform: Platform, browser: Browser, manager: WebStaff) -> WebCustomer:
    customer = WebCustomer(browser(), platform, "韩梅梅", "13900000801", 801)
    deposit(platform, customer.account, 1_000_00)
    return customer


@pytest.fixture
def friend(platform: Platform, browser: Browser, manager: WebStaff) -> WebCustomer:
    return WebCustomer(browser(), platform, "李雷", "13900000802", 802)


def work(page: Any) -> dict[str, int]:
    """The home page's lines of work, with how many wait on each."""
    found = re.findall(
        r'data-work="(\w+)"[^>]*><span>[^<]*</span><span class="badge[^"]*">(\d+)</span>',
        page.text,
    )
    return {word: int(count) for word, count in found}


def menu(page: Any) -> set[str]:
    """The addresses in the console's menu."""
    return set(re.findall(r'<a href="(/staff[^"?]*)"(?: hx-boost="false")?>', page.text))


def listed(page: Any, attribute: str) -> dict[str, str]:
    """``data-<attribute>`` of each item listed, with the status it shows."""
    found = re.findall(rf'data-{attribute}="([^"]+)" data-\w+="([^"]+)"', page.text)
    return dict(found)


def audit(platform: Platform, action: str) -> list[tuple[int, str]]:
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT actor_id, details->>'channel' FROM audit_log "
                "WHERE actor_kind = 'staff' AND action = :a AND result = 'ok' ORDER BY id"
            ),
            {"a": action},
        ).all()
    return [(int(r[0]), str(r[1])) for r in rows]


class TestTheDaysWork:
    def test_each_role_sees_its_own_work_and_pages(
        self, platform: Platform, browser: Browser, ops: WebStaff, manager: WebStaff
    ) -> None:
        admin = WebStaff(browser(), platform, "root", "孙管理", "administrator")
        supervisor = WebStaff(browser(), platform, "lead", "周主管", "supervisor")
        assert set(work(ops.get("/staff"))) == {
            "work_reports",
            "work_tools_blocked",
            "work_settlements_failed",
            "work_funding_unknown",
            "work_wealth_payouts_due",
            "work_merchants_pending",
        }
        assert "待审批的商户" in ops.page.text
        assert menu(ops.page) == {
            "/staff",
            "/staff/merchants",
            "/staff/settlements",
            "/staff/wealth",
            "/staff/broadcasts",
            "/staff/moderation",
            "/staff/tools",
            "/staff/mall",
            "/staff/invest",
            "/staff/ops",
        }
        assert set(work(manager.get("/staff"))) == {"work_chats_waiting", "work_chats_queued"}
        assert menu(manager.page) == {"/staff", "/staff/chat", "/staff/wealth"}
        assert "/staff/members" in menu(admin.get("/staff"))
        assert work(supervisor.get("/staff")) == {}
        assert "今天没有等待您处理的事项。" in supervisor.page.text
        assert menu(supervisor.page) == {"/staff"}

    def test_in_english_the_work_and_the_menu_are_in_english(self, ops: WebStaff) -> None:
        ops.client.cookies.set(LANG_COOKIE, "en")
        ops.get("/staff")
        assert "Merchants waiting for approval" in ops.page.text
        assert ">Moderation</a>" in ops.page.text
        assert "待审批的商户" not in ops.page.text

    def test_the_search_lists_customers_with_their_numbers_masked(
        self, ops: WebStaff, me: WebCustomer
    ) -> None:
        ops.page = ops.client.get("/staff/search", params={"q": me.mobile[-4:]})
        assert f'href="/staff/customers/{me.id}"' in ops.page.text
        assert "139****0801" in ops.page.text
        assert me.mobile not in ops.page.text
        assert me.account not in ops.page.text
        ops.page = ops.client.get("/staff/search", params={"q": "080"})  # too few digits
        assert f'href="/staff/customers/{me.id}"' not in ops.page.text
        assert "至少4位" in ops.page.text


class TestMerchants:
    def test_one_onboards_another_approves_then_suspended_and_reinstated(
        self, platform: Platform, ops: WebStaff, ops2: WebStaff, me: WebCustomer
    ) -> None:
        ops.get(f"/staff/customers/{me.id}")
        onboarding = re.search(r'href="(/staff/merchants\?customer_id=\d+)#onboard"', ops.page.text)
        assert onboarding, ops.page.text
        ops.get(onboarding.group(1))
        ops.submit(
            "/staff/merchants",
            name="韩记小馆",
            mcc="5812",
            settlement_account=me.account,
            fee_bps="60",
        )
        assert ops.page.status_code == 200, ops.error
        assert ops.notice == "已提交入驻，等待另一位员工审批。"
        merchant = int(ops.page.url.path.rsplit("/", 1)[1])
        assert work(ops.get("/staff"))["work_merchants_pending"] == 1
        ops2.get("/staff/merchants?status=pending")
        assert listed(ops2.page, "merchant") == {str(merchant): "pending"}

        ops.get(f"/staff/merchants/{merchant}")
        ops.submit(f"/staff/merchants/{merchant}/approve")
        assert ops.page.status_code == 422
        assert ops.error == "商户须由入驻以外的另一位员工审批。"

        ops2.get(f"/staff/merchants/{merchant}")
        ops2.submit(f"/staff/merchants/{merchant}/approve")
        assert ops2.notice == "已审批通过，商户可以收款。"
        assert 'id="merchant-status">正常' in ops2.page.text
        assert work(ops.get("/staff"))["work_merchants_pending"] == 0

        ops2.submit(f"/staff/merchants/{merchant}/suspend", reason="涉嫌套现")
        assert 'id="merchant-status">已暂停' in ops2.page.text
        assert "涉嫌套现" in ops2.page.text
        ops2.submit(f"/staff/merchants/{merchant}/reinstate")
        assert ops2.notice == "已恢复。"
        with platform.transaction() as session:
            assert platform.payments.merchant(session, merchant).status == "active"
        ops.get(f"/staff/customers/{me.id}")
        assert listed(ops.page, "merchant") == {str(merchant): "active"}
        assert audit(platform, "merchant.onboard") == [(ops.id, "console")]
        assert audit(platform, "merchant.approve") == [(ops2.id, "console")]

    def test_a_field_refused_is_named_and_what_was_typed_is_kept(
        self, platform: Platform, ops: WebStaff, me: WebCustomer, friend: WebCustomer
    ) -> None:
        ops.get("/staff/merchants")
        ops.submit(
            "/staff/merchants",
            customer_id=me.id,
            name="韩记小馆",
            mcc="58",
            settlement_account=me.account,
        )
        assert ops.page.status_code == 422
        assert ops.error == "请检查填写的内容。（商户类别码（MCC））"
        assert 'value="韩记小馆"' in ops.page.text
        ops.submit("/staff/merchants", mcc="5812", settlement_account=friend.account)
        assert ops.page.status_code == 422
        assert ops.error == "结算账户必须是该客户名下的正常状态电子账户。"
        with platform.transaction() as session:
            assert platform.payments.merchants(session) == []

    def test_a_long_list_shows_the_newest_or_the_longest_waiting(
        self, platform: Platform, ops: WebStaff, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(staff_merchant_pages, "SHOWN", 2)
        with platform.transaction() as session:
            made = []
            for n in range(3):
                customer, account = platform.accounts.register_person(
                    session,
                    name=f"店主{n}",
                    mobile=f"1360000{n:04d}",
                    resident_id=resident_id(900 + n),
                )
                merchant = platform.payments.onboard(
                    session,
                    staff_id=ops.id,
                    customer_id=customer.id,
                    name=f"小店{n}",
                    mcc="5812",
                    settlement_account=account.number,
                    fee_bps=60,
                )
                made.append(str(merchant.id))
        assert list(listed(ops.get("/staff/merchants"), "merchant")) == made[:0:-1]
        assert "仅列出 2 家" in ops.page.text
        assert list(listed(ops.get("/staff/merchants?status=pending"), "merchant")) == made[:2]


PRODUCT: dict[str, Any] = {
    "code": "GYLC2026A",
    "name": "稳健理财30天",
    "risk_level": "2",
    "yield": "2.85",
    "min_amount": "1000.00",
    "step_amount": "100.00",
    "sale_start": "2026-03-02T09:00",  # the clock is at 09:30 Beijing time
    "sale_end": "2026-03-09T15:00",
    "maturity_date": "2026-04-09",
}


class TestWealthProducts:
    def test_operations_put_a_product_on_sale_and_close_it_managers_read_it(
        self, platform: Platform, ops: WebStaff, manager: WebStaff
    ) -> None:
        ops.get("/staff/wealth")
        ops.submit("/staff/wealth/products", **PRODUCT)
        assert ops.page.status_code == 200, ops.error
        assert ops.notice == "产品已上架。"
        assert listed(ops.page, "code") == {"GYLC2026A": "on_sale"}
        assert "2.85%" in ops.page.text

        manager.get("/staff/wealth")
        assert listed(manager.page, "code") == {"GYLC2026A": "on_sale"}
        assert 'id="new-product"' not in manager.page.text
        assert "/close" not in manager.page.text

        ops.submit("/staff/wealth/products/GYLC2026A/close")
        assert ops.notice == "已结束销售，已购持仓不受影响。"
        assert listed(ops.page, "code") == {"GYLC2026A": "closed"}
        assert audit(platform, "wealth.product.close") == [(ops.id, "console")]

    def test_terms_refused_name_the_field(self, platform: Platform, ops: WebStaff) -> None:
        ops.get("/staff/wealth")
        ops.submit("/staff/wealth/products", **(PRODUCT | {"yield": "百分之三"}))
        assert ops.page.status_code == 422
        assert ops.error.endswith("（业绩比较基准（年化 %））")
        assert 'value="稳健理财30天"' in ops.page.text
        ops.submit("/staff/wealth/products", **(PRODUCT | {"sale_end": "2026-03-01T15:00"}))
        assert ops.page.status_code == 422
        assert ops.error.endswith("（结束销售（北京时间））")
        with platform.transaction() as session:
            assert platform.wealth.products(session) == []


class TestBroadcasts:
    def test_a_notice_to_a_segment_is_sent_once_and_counted(
        self, ops: WebStaff, me: WebCustomer, friend: WebCustomer
    ) -> None:
        compose = ops.get("/staff/broadcasts")
        assert "全部客户 (2 位客户)" in compose.text
        ops.submit(
            "/staff/broadcasts",
            segment="all",
            title="春节营业安排",
            text="初一至初三暂停柜台服务。",
        )
        assert ops.notice.startswith("已发送")
        assert re.search(r'data-figure="recipients">2<', ops.page.text)
        ops.page = compose  # the same form sent again, as a double click does
        ops.submit(
            "/staff/broadcasts",
            segment="all",
            title="春节营业安排",
            text="初一至初三暂停柜台服务。",
        )
        assert ops.page.text.count('class="broadcast"') == 1

    def test_an_unknown_segment_is_refused_and_nothing_sent(self, ops: WebStaff) -> None:
        ops.get("/staff/broadcasts")
        ops.submit("/staff/broadcasts", segment="everyone", title="标题", text="内容")
        assert ops.page.status_code == 422
        assert ops.error.endswith("（发送对象）")
        assert "尚未发送过通知。" in ops.page.text


class TestModeration:
    def test_a_reported_message_is_hidden_with_a_reason_another_dismissed(
        self, platform: Platform, ops: WebStaff, me: WebCustomer, friend: WebCustomer
    ) -> None:
        conversation = direct(me, friend)
        say(me, "/chat", conversation, "加我私聊领红包")
        say(me, "/chat", conversation, "明天见")
        for seq in (1, 2):
            friend.get(f"/chat/{conversation}")
            friend.submit(f"/chat/{conversation}/messages/{seq}/report", reason="诈骗")
        assert work(ops.get("/staff"))["work_reports"] == 2

        ops.get("/staff/moderation")
        assert "加我私聊领红包" in ops.page.text
        ops.submit(f"/staff/moderation/{conversation}/1/hide", reason="冒充红包诈骗")
        assert ops.notice == "消息已对所有人隐藏，内容留存备查。"
        report = re.search(r'data-report="(\d+)" data-outcome="open"', ops.page.text)
        assert report, ops.page.text
        ops.submit(f"/staff/moderation/reports/{report.group(1)}/dismiss")
        assert ops.notice == "举报已关闭，消息保留。"
        assert "没有待处理的举报。" in ops.page.text
        assert work(ops.get("/staff"))["work_reports"] == 0

        seen = friend.get(f"/chat/{conversation}").text
        assert "加我私聊领红包" not in seen
        assert "明天见" in seen
        assert audit(platform, "chat.hide") == [(ops.id, "console")]


class TestTools:
    def test_a_blocked_tool_waits_until_operations_unblock_it(
        self, ops: WebStaff, manager: WebStaff, me: WebCustomer, friend: WebCustomer
    ) -> None:
        me.transfer(friend.account, "300.00")
        for _ in range(5):
            me.submit("/transfer/confirm", response="000000")
        assert "已被锁定" in me.error
        assert work(ops.get("/staff"))["work_tools_blocked"] == 1

        ops.get("/staff/tools")
        assert f'href="/staff/customers/{me.id}/tools">韩梅梅' in ops.page.text
        tool = re.search(r'data-tool="(\d+)"', ops.page.text)
        assert tool, ops.page.text
        manager.get(f"/staff/customers/{me.id}")
        assert 'id="customer-merchants"' not in manager.page.text
        manager.get(f"/staff/customers/{me.id}/tools")
        assert listed(manager.page, "tool") == {tool.group(1): "blocked"}
        assert "/unblock" not in manager.page.text  # managers see, operations act

        ops.submit(f"/staff/tools/{tool.group(1)}/unblock", reason="柜台核验身份证")
        assert ops.notice == "已解锁，客户可以继续使用。"
        assert listed(ops.page, "tool") == {tool.group(1): "active"}
        assert work(ops.get("/staff"))["work_tools_blocked"] == 0
        me.get("/security")
        assert 'data-kind="sms" data-status="active"' in me.page.text


class TestStaffLogins:
    def test_an_administrator_deactivates_a_member_whose_session_ends(
        self, platform: Platform, browser: Browser, ops: WebStaff
    ) -> None:
        admin = WebStaff(browser(), platform, "root", "孙管理", "administrator")
        admin.get("/staff/members")
        assert listed(admin.page, "member") == {"ops1": "true", "root": "true"}
        assert f"/staff/members/{admin.id}/deactivate" not in admin.page.text  # not oneself
        admin.submit(f"/staff/members/{ops.id}/deactivate", reason="离职")
        assert admin.notice == "已停用，该员工的会话已全部结束。"
        assert listed(admin.page, "member")["ops1"] == "false"
        assert ops.get("/staff").url.path == "/staff/login"

        admin.submit(f"/staff/members/{ops.id}/reactivate")
        assert listed(admin.page, "member")["ops1"] == "true"
        assert audit(platform, "staff.deactivate") == [(admin.id, "console")]


class TestSettlement:
    def test_a_day_is_settled_and_a_day_not_over_is_refused(
        self, platform: Platform, ops: WebStaff
    ) -> None:
        ops.get("/staff/settlements")
        ops.submit("/staff/settlements", business_day="2026-03-01")
        assert ops.page.status_code == 200, ops.error
        assert "2026-03-01 的结算" in ops.page.text
        assert "已结算 0 家商户" in ops.page.text
        ops.submit("/staff/settlements", business_day="2026-03-02")
        assert ops.page.status_code == 422
        assert ops.error == "营业日结束后才能结算。"
        ops.submit("/staff/settlements", business_day="2026-02-30")
        assert ops.page.status_code == 422
        assert ops.error.endswith("（营业日）")

    def test_a_merchant_whose_settlement_failed_waits_until_a_run_settles_it(
        self, platform: Platform, clock: FrozenClock, browser: Browser
    ) -> None:
        broken = CommittedShop.open(platform, funds=1_000_000)
        fine = CommittedShop.open(platform, funds=1_000_000, number=2)
        broken.pay("B-1", 10_000)
        fine.pay("F-1", 5_000)
        with platform.transaction() as session:
            break_settlement_of(session, broken.merchant_id)
        clock.advance(timedelta(days=1))  # 2026-03-02 is over
        ops = WebStaff(browser(), platform, "ops1", "赵运营", "operations")
        ops.get("/staff/settlements")
        ops.submit("/staff/settlements", business_day="2026-03-02")
        assert "已结算 1 家商户，入账 ¥ 49.70；失败 1 家。" in ops.page.text
        failures = ops.page.text.split('id="failures"')[1].split("</ul>")[0]
        assert f'data-merchant="{broken.merchant_id}" data-day="2026-03-02"' in failures
        assert f'data-merchant="{fine.merchant_id}"' not in failures
        assert work(ops.get("/staff"))["work_settlements_failed"] == 1

        with platform.transaction() as session:
            mend_settlement(session)
        ops.get("/staff/settlements")
        ops.submit("/staff/settlements", business_day="2026-03-02")
        assert "已结算 2 家商户" in ops.page.text
        assert "没有结算失败的商户。" in ops.page.text
        assert work(ops.get("/staff"))["work_settlements_failed"] == 0


class TestFunding:
    def test_a_top_up_the_card_network_has_not_answered_is_watched(
        self, platform: Platform, ops: WebStaff, me: WebCustomer
    ) -> None:
        network = platform.funding.network
        assert isinstance(network, FakeClearingNetwork)
        me.get("/topup")
        me.submit("/cards", card_number=CARD, holder_name="韩梅梅")
        me.submit("/cards", response=sms_code(platform, me.mobile))
        network.script(CARD, TimeOut(carried_out=True))
        me.get("/topup")
        me.submit("/topup", amount="10.00")
        assert work(ops.get("/staff"))["work_funding_unknown"] == 1
        ops.get("/staff/funding")
        assert "韩梅梅" in ops.page.text
        assert "¥ 10.00" in ops.page.text
        assert me.account not in ops.page.text  # masked
