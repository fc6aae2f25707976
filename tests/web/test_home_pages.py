"""The customer's home in the web bank, as a customer without JavaScript reads it:
the dashboard they land on (total assets, recent movements, unread notices with the
menu's badge, spending as a list beside the charts' figures), their history across
accounts newest first with filters, and a page per movement; another customer's
movement is not found, a filter that makes no sense is refused in words."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from rongbank.accounts.service import EAccount
from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.overview.service import MovementFilter
from rongbank.platform import Platform
from rongbank.wealth.rules import Terms
from rongbank.web import home_pages
from tests.factories.accounts import People
from tests.factories.payments import merchant, paid
from tests.support.web import Forms, WebCustomer
from tests.wealth.helpers import assessed
from tests.web.conftest import PASSWORD, deposit


@pytest.fixture
def me(platform: Platform) -> Iterator[WebCustomer]:
    with TestClient(create_app(platform, background=False)) as client:
        customer = WebCustomer(client, platform, "韩梅梅", "13900000901", 901)
        deposit(platform, customer.account, 12_345_00)
        yield customer


@pytest.fixture
def bob(platform: Platform) -> EAccount:
    people = People(platform.accounts, platform.ledger)
    with platform.transaction() as session:
        account = people.person(session, name="李雷")
        people.fund(session, account, 1_000_00)
    return account


def pay(
    platform: Platform, payer: int, source: str, destination: str, amount: int, memo: str
) -> None:
    with platform.transaction() as session:
        platform.accounts.transfer(
            session,
            customer_id=payer,
            source=source,
            destination=destination,
            amount=amount,
            client_id=f"t-{source}-{amount}-{memo}",
            description=memo,
        )


def search(me: WebCustomer, **filters: str) -> None:
    """Fill in the history's filter and search (the form is sent by GET)."""
    me.get("/history")
    fields = dict(next(f for a, f in Forms(me.page.text).forms if a == "/history"))
    me.get("/history?" + urlencode(fields | filters))


def later(me: WebCustomer, clock: FrozenClock, by: timedelta) -> None:
    """``by`` on, logged in again (a login does not last days)."""
    clock.advance(by)
    me.client.cookies.clear()
    me.get("/login")
    me.submit("/login", login_name=me.mobile, password=PASSWORD)
    assert me.page.url.path == "/home", me.error


def by_id(page: str, element_id: str) -> str:
    """The text of the element with ``element_id``, tags left out."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert match, element_id
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def history_rows(page: str) -> list[tuple[str, str, str]]:
    """(direction, words, amount) of each row of the history table, top first."""
    return [
        (d, html.unescape(w).strip(), a)
        for d, w, a in re.findall(
            r'<tr class="(in|out)" data-id="\d+"><td>[^<]*</td><td><a href="/history/\d+">'
            r'([^<]*)</a>.*?<td class="num amount">([^<]*)</td>',
            page,
            re.S,
        )
    ]


class TestDashboard:
    def test_login_lands_on_the_dashboard_with_the_total_grouped(self, me: WebCustomer) -> None:
        assert me.page.url.path == "/home"
        me.get("/home")
        assert by_id(me.page.text, "assets-total") == "¥ 12,345.00"
        assert 'href="/home"' in me.page.text  # the menu's first item
        assert "韩梅梅，您好" in me.page.text

    def test_total_assets_count_wealth_with_its_yield(
        self, me: WebCustomer, platform: Platform, clock: FrozenClock
    ) -> None:
        bought_wealth(platform, me)
        later(me, clock, timedelta(days=10))
        accrued = 3_000_00 * 200 * 10 // (10_000 * 365)  # 2% a year, 10 days since bought
        assert accrued > 0
        assert by_id(me.page.text, "assets-total") == money(12_345_00 + accrued)
        figures = dict(
            re.findall(r'id="assets-(\w+)"[^>]*><dt>[^<]*</dt><dd[^>]*>([^<]*)<', me.page.text)
        )
        assert figures == {
            "accounts": "¥ 9,345.00",
            "wealth": money(3_000_00 + accrued),
            "loans": "暂未开通",
            "investments": "暂未开通",
        }
        assert "含未付收益 ¥ 1.64" in me.page.text

    def test_recent_movements_newest_first_and_linked(
        self, me: WebCustomer, platform: Platform, bob: EAccount, clock: FrozenClock
    ) -> None:
        pay(platform, me.id, me.account, bob.number, 250_50, "午饭")
        later(me, clock, timedelta(minutes=5))
        pay(platform, bob.customer_id, bob.number, me.account, 1_000_00, "还款")
        me.get("/home")
        recent = re.search(r'id="recent">(.*?)</section>', me.page.text, re.S)
        assert recent
        items = re.findall(r'<li class="(in|out)"><a class="row" href="(/history/\d+)">', recent[1])
        assert [d for d, _ in items] == ["in", "out", "in"]
        assert "+1,000.00" in recent[1]
        assert "-250.50" in recent[1]
        me.get(items[0][1])
        assert me.page.status_code == 200
        assert by_id(me.page.text, "movement-amount") == "+1,000.00 元"

    def test_unread_notices_show_with_a_badge_in_the_menu(
        self, me: WebCustomer, platform: Platform, bob: EAccount
    ) -> None:
        me.get("/home")
        assert 'id="notices-badge"' not in me.page.text
        assert 'data-unread="0"' in me.page.text
        pay(platform, bob.customer_id, bob.number, me.account, 88_00, "红包")
        platform.push.deliver(platform.transaction)
        me.get("/accounts")
        assert by_id(me.page.text, "notices-badge") == "1"  # on every customer page
        me.get("/home")
        assert 'data-unread="1"' in me.page.text
        notices = re.search(r'id="notices"(.*?)</section>', me.page.text, re.S)
        assert notices
        assert "88.00" in notices[1]

    def test_spending_by_category_and_month_for_the_charts(
        self, me: WebCustomer, platform: Platform, bob: EAccount, clock: FrozenClock
    ) -> None:
        shop = merchant(platform, customer_id=bob.customer_id, account=bob.number, name="老王面馆")
        paid(
            platform,
            merchant_id=shop,
            customer_id=me.id,
            account=me.account,
            amount=45_00,
            order_no="A1",
        )
        later(me, clock, timedelta(days=31))  # 2026-04
        pay(platform, me.id, me.account, bob.number, 1_200_00, "房租")
        me.get("/home")
        assert me.page.status_code == 200
        assert by_id(me.page.text, "spending-total") == "¥ 1,245.00"
        chart = json.loads(by_id(me.page.text, "spending-data"))
        assert chart["months"] == ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]
        assert [(c["key"], c["total"]) for c in chart["categories"]] == [
            ("transfer", 1_200_00),
            ("dining", 45_00),
        ]
        assert chart["series"]["dining"] == [0, 0, 0, 0, 45_00, 0]
        assert chart["series"]["transfer"] == [0, 0, 0, 0, 0, 1_200_00]
        # ECharts is the bank's own copy; the figures are data, not script.
        assert (
            '<script src="/static/charts.js" data-echarts="/static/echarts-6.1.0.min.js">'
            in me.page.text
        )
        assert '<script src="/static/home.js"' in me.page.text
        listed = re.findall(r'data-category="(\w+)"><a href="([^"]+)">([^<]+)</a>', me.page.text)
        assert [(k, w) for k, _, w in listed] == [("transfer", "转账"), ("dining", "餐饮")]
        me.get(html.unescape(listed[1][1]))  # the category's history
        assert [w for _, w, _ in history_rows(me.page.text)] == ["老王面馆 A1"]

    def test_in_english(self, me: WebCustomer) -> None:
        me.client.get("/lang/en")
        me.get("/home")
        assert "Hello, 韩梅梅" in me.page.text
        assert "Total assets (CNY)" in me.page.text


def money(fen: int) -> str:
    return f"¥ {fen // 100:,}.{fen % 100:02d}"


def bought_wealth(platform: Platform, me: WebCustomer) -> None:
    """3,000.00 of an open-ended product yielding 2% (bought through the service)."""
    assessed(platform, me.id, level=2)
    now = platform.clock.now()
    with platform.transaction() as session:
        staff_id = platform.accounts.create_staff(
            session, username="ops", name="李四", role="operations"
        )
        platform.wealth.create_product(
            session,
            staff_id=staff_id,
            code="RBHQ",
            name="融银活期宝",
            terms=Terms(
                risk_level=1,
                yield_bps=200,
                min_amount=100_00,
                step_amount=1_00,
                sale_start=now - timedelta(days=1),
                sale_end=now + timedelta(days=300),
            ),
        )
        platform.wealth.buy(
            session,
            customer_id=me.id,
            code="RBHQ",
            account_number=me.account,
            amount=3_000_00,
            client_id="web-1",
        )


class TestHistory:
    @pytest.fixture
    def moved(self, me: WebCustomer, platform: Platform, bob: EAccount, clock: FrozenClock) -> None:
        """Opening 12,345.00 on 3/2; out 250.50 (午饭) on 3/3; in 1,000.00 (还款) on
        3/5; out 60.00 (电影票) on 3/5."""
        clock.advance(timedelta(days=1))
        pay(platform, me.id, me.account, bob.number, 250_50, "午饭")
        clock.advance(timedelta(days=2))
        pay(platform, bob.customer_id, bob.number, me.account, 1_000_00, "还款")
        later(me, clock, timedelta(minutes=1))
        pay(platform, me.id, me.account, bob.number, 60_00, "电影票")

    def test_newest_first_with_the_other_side_masked(self, me: WebCustomer, moved: None) -> None:
        me.get("/history")
        assert history_rows(me.page.text) == [
            ("out", "电影票", "-60.00"),
            ("in", "还款", "+1,000.00"),
            ("out", "午饭", "-250.50"),
            ("in", "开户存入", "+12,345.00"),
        ]
        assert "*雷" in me.page.text
        assert "李雷" not in me.page.text

    @pytest.mark.parametrize(
        ("filters", "words"),
        [
            ({"start": "2026-03-03", "end": "2026-03-04"}, ["午饭"]),
            ({"start": "2026-03-05"}, ["电影票", "还款"]),
            ({"min": "100", "max": "1000"}, ["还款", "午饭"]),
            ({"direction": "out"}, ["电影票", "午饭"]),
            ({"q": "影"}, ["电影票"]),
            ({"category": "transfer", "direction": "in"}, ["还款"]),
        ],
    )
    def test_filters(
        self, me: WebCustomer, moved: None, filters: dict[str, str], words: list[str]
    ) -> None:
        search(me, **filters)
        assert me.page.status_code == 200, me.error
        assert [w for _, w, _ in history_rows(me.page.text)] == words
        assert "清除筛选" in me.page.text

    def test_the_banks_own_movements_are_found_by_the_name_shown_in_either_language(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        """A top-up stored in English (before the bank named its movements) and one
        stored in Chinese are both shown and found as 银行卡充值 / Top-up from bound card."""
        with platform.transaction() as session:
            vault, _ = platform.ledger.create_account(
                session, code="bank:vault", currency="CNY", type=AccountType.ASSET
            )
            mine = platform.accounts.account(session, me.account).ledger_account_id
            for n, stored in ((9001, "top-up from bound card"), (9002, "银行卡充值")):
                platform.ledger.transfer(
                    session,
                    Transfer(
                        client_id=f"funding:{n}:credit",
                        debit_account=vault.id,
                        credit_account=mine,
                        amount=n,
                        currency="CNY",
                        description=stored,
                    ),
                )
        for lang, words in (("zh", "银行卡充值"), ("en", "top-up from bound")):
            me.client.cookies.set("rb_lang", lang)
            shown = "银行卡充值" if lang == "zh" else "Top-up from bound card"
            search(me, q=words)
            assert [(w, a) for _, w, a in history_rows(me.page.text)] == [
                (shown, "+90.02"),
                (shown, "+90.01"),
            ]
        search(me, q="充值")  # in English too, the Chinese name finds them
        assert len(history_rows(me.page.text)) == 2
        search(me, q="开户")  # a description someone gave is still found by its words
        assert [w for _, w, _ in history_rows(me.page.text)] == ["开户存入"]

    def test_a_page_at_a_time_keeping_the_filter(
        self, me: WebCustomer, moved: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(home_pages, "HISTORY_PAGE", 1)
        seen: list[str] = []
        me.get("/history?direction=out")
        while True:
            seen += [w for _, w, _ in history_rows(me.page.text)]
            older = re.search(r'href="([^"]+)" id="history-older"', me.page.text)
            if not older:
                break
            assert "direction=out" in older[1]
            me.get(html.unescape(older[1]))
        assert seen == ["电影票", "午饭"]

    @pytest.mark.parametrize(
        "filters",
        [
            {"start": "2026-03-05", "end": "2026-03-01"},
            {"min": "100", "max": "10"},
            {"start": "5 March"},
            {"end": "20260305"},
            {"category": "lottery"},
        ],
    )
    def test_a_filter_that_makes_no_sense_is_refused_in_words(
        self, me: WebCustomer, moved: None, filters: dict[str, str]
    ) -> None:
        me.get("/history?" + "&".join(f"{k}={v}" for k, v in filters.items()))
        assert me.page.status_code == 422
        assert me.error.startswith("请检查筛选条件")
        assert history_rows(me.page.text) == []

    def test_an_amount_that_is_not_one_is_refused(self, me: WebCustomer, moved: None) -> None:
        for amount in ("abc", "-5", "9" * 40):
            me.get(f"/history?min={amount}")
            assert me.page.status_code == 422
            assert me.error == "请输入正确的金额，例如 12.30。"

    @pytest.mark.parametrize(
        "query",
        ["start=0001-01-01&end=9999-12-31", "before=" + "9" * 40, "before=-1", "account=1"],
    )
    def test_the_ends_of_every_range_answer_a_page(
        self, me: WebCustomer, moved: None, query: str
    ) -> None:
        me.get(f"/history?{query}")
        assert me.page.status_code == 200
        expected = 0 if query == "account=1" else 4
        assert len(history_rows(me.page.text)) == expected

    def test_a_movement_page_tells_everything_about_it(
        self, me: WebCustomer, moved: None, bob: EAccount
    ) -> None:
        me.get("/history?q=午饭")
        found = re.search(r'href="(/history/\d+)"', me.page.text)
        assert found
        me.get(found[1])
        assert by_id(me.page.text, "movement-amount") == "-250.50 元"
        assert by_id(me.page.text, "movement-category") == "转账"
        assert by_id(me.page.text, "movement-party") == f"*雷 {bob.number[:4]}****{bob.number[-4:]}"
        assert by_id(me.page.text, "movement-memo") == "午饭"
        assert by_id(me.page.text, "movement-time") == "2026-03-03 09:30:00 （北京时间）"
        assert by_id(me.page.text, "movement-balance") == "¥ 12,094.50"
        assert by_id(me.page.text, "movement-status") == "已完成"

    def test_in_english(self, me: WebCustomer, moved: None) -> None:
        me.client.get("/lang/en")
        me.get("/history?direction=in&q=还款")
        found = re.search(r'href="(/history/\d+)"', me.page.text)
        assert found
        assert "Clear the filter" in me.page.text
        me.get(found[1])
        assert by_id(me.page.text, "movement-category") == "Transfers"
        assert by_id(me.page.text, "movement-status") == "Completed"
        assert by_id(me.page.text, "movement-time") == "2026-03-05 09:30:00 (Beijing time)"
        me.get("/history?min=9&max=1")
        assert me.error.startswith("Check the filter")

    def test_another_customers_movement_is_not_found(
        self, me: WebCustomer, moved: None, platform: Platform, bob: EAccount
    ) -> None:
        with platform.transaction() as session:
            theirs = platform.overview.movements(session, bob.customer_id, MovementFilter())
        assert len(theirs.movements) == 4  # the payments with me among them
        for movement in theirs.movements:
            me.get(f"/history/{movement.posting_id}")
            assert me.page.status_code == 404
            assert me.error == "没有找到这笔交易。"
            assert 'id="movement"' not in me.page.text
        me.get("/history/999999999")
        assert me.page.status_code == 404
