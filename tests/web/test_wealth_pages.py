"""理财 in the web bank: the customer takes the risk-tolerance assessment (at most
twice a day), sees the products on sale and buys one with the same challenge as a
transfer, sees their holdings and redeems an open-ended one; a refusal reads in
Chinese (or English) and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.wealth.errors import AssessmentRequired, RiskLevelExceeded
from rongbank.wealth.rules import QUESTIONNAIRE, Terms
from rongbank.web.i18n import error_text
from tests.support.web import Forms, WebCustomer
from tests.wealth.helpers import ANSWERS, assessed
from tests.web.conftest import PASSWORD, deposit, sms_code


@pytest.fixture
def me(platform: Platform) -> Iterator[WebCustomer]:
    with TestClient(create_app(platform, background=False)) as client:
        customer = WebCustomer(client, platform, "韩梅梅", "13900000801", 801)
        deposit(platform, customer.account, 5_000_00)
        yield customer


@pytest.fixture
def holding(platform: Platform, me: WebCustomer) -> int:
    """An open-ended product bought for 3,000.00 (through the service: buying is
    the chat card's, tested there)."""
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
        bought, _ = platform.wealth.buy(
            session,
            customer_id=me.id,
            code="RBHQ",
            account_number=me.account,
            amount=3_000_00,
            client_id="web-1",
        )
    return bought.id


def test_the_customer_takes_the_assessment(me: WebCustomer) -> None:
    me.get("/wealth")
    assert 'data-valid="no"' in me.page.text
    assert "您尚未完成风险承受能力评估" in me.page.text
    me.get("/wealth/assessment")
    assert me.page.text.count('type="radio"') == 4 * len(QUESTIONNAIRE)
    me.submit("/wealth/assessment", **ANSWERS[3])
    assert me.page.status_code == 200, me.error
    assert "评估已完成" in me.page.text
    assert re.search(r'id="wealth-level">C3 平衡型<', me.page.text)
    assert 'data-valid="yes"' in me.page.text
    assert "有效期至 2027-03-02 09:30" in me.page.text


def test_an_unanswered_question_is_said_in_chinese_and_nothing_is_kept(
    me: WebCustomer, platform: Platform
) -> None:
    me.get("/wealth/assessment")
    me.submit("/wealth/assessment", **(ANSWERS[3] | {"goal": []}))
    assert me.page.status_code == 422
    assert me.error == "请逐题作答，每题选择一个选项。"
    with platform.transaction() as session:
        assert platform.wealth.assessments(session, me.id) == []


def test_redeem_part_then_all_once_per_press(
    me: WebCustomer, platform: Platform, holding: int
) -> None:
    me.get("/wealth")
    assert f'data-holding="{holding}" data-status="held"' in me.page.text
    action = f"/wealth/holdings/{holding}/redeem"
    page = me.page
    me.submit(action, amount="1000.00")
    assert me.page.status_code == 200, me.error
    assert "赎回成功" in me.page.text
    assert me.balance() == 3_000_00  # 2,000.00 left after buying, 1,000.00 back, no yield yet
    me.page = page  # the same form pressed again: the same redemption, nothing more
    me.submit(action, amount="1000.00")
    assert me.balance() == 3_000_00
    me.submit(action, amount="2000.01")
    assert me.page.status_code == 422
    assert me.error == "赎回金额不能超过持有金额，当前可赎回 ¥ 2,000.00。"
    me.submit(action, amount="")
    assert me.balance() == 5_000_00
    assert f'data-holding="{holding}" data-status="redeemed"' in me.page.text


def test_a_redemption_after_the_cutoff_says_when_it_is_paid(
    me: WebCustomer, platform: Platform, clock: FrozenClock, holding: int
) -> None:
    clock.advance(timedelta(hours=6, minutes=30))  # Monday 16:00, after the cut-off
    me.get("/login")
    me.submit("/login", login_name=me.mobile, password=PASSWORD)
    me.get("/wealth")
    assert "起息日 2026-03-02" in me.page.text  # the holding, bought at 09:30
    assert "现在购买，起息日 2026-03-03" in me.page.text  # the product, bought now
    assert "工作日 15:00（北京时间）前的购买、赎回当日确认" in me.page.text
    me.submit(f"/wealth/holdings/{holding}/redeem", amount="1000.00")
    assert me.page.status_code == 200, me.error
    assert "赎回已受理" in me.page.text
    # Monday night still held: 1,000.00 × 2% × 1 / 365 = 0.054... -> 0.05
    assert "赎回 ¥ 1,000.05（含收益）将于 2026-03-03 到账" in me.page.text
    assert me.balance() == 2_000_00  # paid on its day, not before
    clock.advance(timedelta(hours=8, minutes=1))  # Tuesday 00:01
    platform.mature_wealth()
    assert me.balance() == 3_000_05
    me.get("/wealth")
    assert "将于" not in me.page.text


def test_another_customers_holding_is_not_found(
    me: WebCustomer, platform: Platform, holding: int
) -> None:
    with TestClient(me.client.app) as other:  # another browser, the same bank
        eve = WebCustomer(other, platform, "李雷", "13900000802", 802)
        eve.get("/wealth")
        assert "data-holding" not in eve.page.text
        csrf = eve.csrf
        stolen = eve.client.post(
            f"/wealth/holdings/{holding}/redeem", data={"csrf": csrf, "client_id": "x"}
        )
        assert stolen.status_code == 404
    assert me.balance() == 2_000_00


def test_the_pages_need_a_customer_login(platform: Platform) -> None:
    with TestClient(create_app(platform, background=False)) as anonymous:
        for url in ("/wealth", "/wealth/assessment"):
            response = anonymous.get(url, follow_redirects=False)
            assert response.status_code == 303, url
            assert response.headers["location"].startswith("/login")


def test_suitability_refusals_read_in_chinese_and_english() -> None:
    """What the chat card's page (and these pages) show for the refusals."""
    refused = RiskLevelExceeded(product_level="PR4 进取型", customer_level="C3 平衡型")
    args = (refused.code, refused.detail_message, refused.details)
    assert error_text("zh", *args) == (
        "该产品风险等级（PR4 进取型）高于您的风险承受能力（C3 平衡型），本行不能向您销售。"
    )
    assert error_text("en", *args).startswith("This product's risk level (PR4 进取型) is above")
    missing = AssessmentRequired(reason="none")
    assert "风险承受能力评估" in error_text("zh", missing.code, missing.message, missing.details)
    assert "risk-tolerance assessment" in error_text(
        "en", missing.code, missing.message, missing.details
    )


# -- buying on the web -------------------------------------------------------------------


@pytest.fixture
def shop(platform: Platform) -> None:
    """On sale for 300 days: an open-ended PR1 product (from 100.00 in steps of 1.00)
    and a PR4 one (from 1,000.00 in steps of 100.00); and one whose sale is over."""
    now = platform.clock.now()
    with platform.transaction() as session:
        staff_id = platform.accounts.create_staff(
            session, username="ops", name="李四", role="operations"
        )
        for code, name, level, minimum, step, start, end in (
            ("RBHQ", "融银活期宝", 1, 100_00, 1_00, -1, 300),
            ("RBJQ", "融银进取", 4, 1_000_00, 100_00, -1, 300),
            ("RBOLD", "融银旧款", 1, 100_00, 1_00, -30, -1),
        ):
            platform.wealth.create_product(
                session,
                staff_id=staff_id,
                code=code,
                name=name,
                terms=Terms(
                    risk_level=level,
                    yield_bps=350,
                    min_amount=minimum,
                    step_amount=step,
                    sale_start=now + timedelta(days=start),
                    sale_end=now + timedelta(days=end),
                ),
            )


def held(platform: Platform, customer_id: int) -> list[tuple[str, int]]:
    with platform.transaction() as session:
        return [(h.product_code, h.amount) for h in platform.wealth.holdings(session, customer_id)]


def buy_action(code: str) -> str:
    return f"/wealth/products/{code}/buy"


def buy_forms(page: str) -> list[str]:
    return [action for action, _ in Forms(page).forms if action.endswith("/buy")]


@pytest.mark.usefixtures("shop")
class TestBuying:
    def test_the_products_on_sale_are_listed_against_the_customers_level(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        me.get("/wealth")
        assert 'data-product="RBHQ" data-fit="assess"' in me.page.text
        assert 'data-product="RBJQ" data-fit="assess"' in me.page.text
        assert "RBOLD" not in me.page.text  # its sale is over
        assert "购买前请先完成风险承受能力评估" in me.page.text
        # Nothing can be bought before the assessment: no buy form, the way to it.
        assert buy_forms(me.page.text) == []
        assert 'href="/wealth/assessment">进行评估<' in me.page.text
        assessed(platform, me.id, level=2)
        me.get("/wealth")
        assert 'data-product="RBHQ" data-fit="yes"' in me.page.text
        assert 'data-product="RBJQ" data-fit="above"' in me.page.text
        assert "PR4 进取型" in me.page.text
        assert "高于您的风险承受能力（C2 稳健型）" in me.page.text
        # Above the customer's level: why, and no form to buy it with.
        assert buy_forms(me.page.text) == [buy_action("RBHQ")]
        assert 'href="/wealth/assessment">重新评估风险承受能力<' in me.page.text
        assert "3.50%" in me.page.text
        assert "起购 ¥ 1,000.00，递增 ¥ 100.00" in me.page.text
        assert "销售期 2026-03-01 09:30 至 2026-12-27 09:30" in me.page.text

    def test_buying_asks_the_transfer_challenge_and_buys_once(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        assessed(platform, me.id, level=2)
        me.get(buy_action("RBHQ"))
        assert 'id="wealth-buy-value-date">2026-03-02<' in me.page.text  # 09:30 on a Monday
        me.get("/wealth")
        me.submit(buy_action("RBHQ"), amount="1000.00")
        assert me.page.status_code == 200, me.error
        assert me.asked == "sms"  # 1,000.00: over the password-free allowance
        assert held(platform, me.id) == []  # nothing moves before the answer
        assert me.balance() == 5_000_00
        challenged = me.page
        me.submit(buy_action("RBHQ"), response=sms_code(platform, me.mobile))
        assert me.page.status_code == 200, me.error
        assert "购买成功" in me.page.text
        assert held(platform, me.id) == [("RBHQ", 1_000_00)]
        assert me.balance() == 4_000_00
        assert 'data-status="held"' in me.page.text
        # The answered form sent again (back, resubmit): the same purchase, no more.
        me.page = challenged
        me.submit(buy_action("RBHQ"), response=sms_code(platform, me.mobile))
        assert me.page.status_code == 200, me.error
        assert "购买成功" in me.page.text
        assert held(platform, me.id) == [("RBHQ", 1_000_00)]
        assert me.balance() == 4_000_00

    def test_a_small_purchase_goes_without_a_challenge_once_per_form(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        assessed(platform, me.id, level=1)
        me.get("/wealth")
        form = me.page
        me.submit(buy_action("RBHQ"), amount="150.00")
        assert me.page.status_code == 200, me.error
        assert "购买成功" in me.page.text
        me.page = form  # pressed twice: the same client id
        me.submit(buy_action("RBHQ"), amount="150.00")
        assert "购买成功" in me.page.text
        assert held(platform, me.id) == [("RBHQ", 150_00)]
        assert me.balance() == 4_850_00

    def test_a_refused_form_sent_again_is_refused_again_and_its_page_is_a_new_purchase(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        assessed(platform, me.id, level=1)
        me.get("/wealth")
        form = me.page
        me.submit(buy_action("RBHQ"), amount="6000.00")  # over the 5,000.00 held
        assert me.page.status_code == 422
        assert me.error == "可用余额不足。"
        refused = me.page
        deposit(platform, me.account, 2_000_00, description="工资")

        me.page = form  # back, and the same form sent again: its answer stands
        me.submit(buy_action("RBHQ"), amount="6000.00")
        assert (me.page.status_code, me.error) == (422, "可用余额不足。")
        assert held(platform, me.id) == []

        me.page = refused  # the form the refusal showed: a new purchase
        me.submit(buy_action("RBHQ"), amount="150.00")
        assert me.page.status_code == 200, me.error
        assert "购买成功" in me.page.text
        assert held(platform, me.id) == [("RBHQ", 150_00)]
        assert me.balance() == 7_000_00 - 150_00

    def test_without_an_assessment_it_is_refused_before_any_challenge(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        me.get(buy_action("RBHQ"))
        assert buy_forms(me.page.text) == []
        assert "购买前请先完成风险承受能力评估" in me.page.text
        # A form made by hand is refused all the same.
        me.post(buy_action("RBHQ"), client_id="k1", account=me.account, amount="1000.00")
        assert me.page.status_code == 409
        assert me.asked is None
        assert me.error.startswith("购买理财产品前，请先在“理财”页面完成风险承受能力评估")
        assert held(platform, me.id) == []
        assert me.balance() == 5_000_00

    def test_a_product_above_the_customers_level_is_refused(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        assessed(platform, me.id, level=5)
        me.get("/wealth")  # the form, while the customer was C5
        assessed(platform, me.id, level=2)
        me.submit(buy_action("RBJQ"), amount="1000.00")
        assert me.page.status_code == 409
        assert me.asked is None
        assert buy_forms(me.page.text) == []  # the page says why, with no form
        assert me.error == (
            "该产品风险等级（PR4 进取型）高于您的风险承受能力（C2 稳健型），本行不能向您销售。"
        )
        assert held(platform, me.id) == []
        assert me.balance() == 5_000_00

    def test_the_refusal_reads_in_english(self, me: WebCustomer, platform: Platform) -> None:
        assessed(platform, me.id, level=2)
        me.client.cookies.set("rb_lang", "en")
        me.get(buy_action("RBJQ"))
        assert buy_forms(me.page.text) == []
        assert "Above your risk tolerance (C2 稳健型): you cannot buy it." in me.page.text
        me.post(buy_action("RBJQ"), client_id="k1", account=me.account, amount="1000.00")
        assert me.page.status_code == 409
        assert me.error.startswith("This product's risk level (PR4 进取型) is above")

    def test_the_products_limits_and_the_tools_limits_hold(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        assessed(platform, me.id, level=5)
        deposit(platform, me.account, 6_000_00, description="工资")
        me.get("/wealth")
        me.submit(buy_action("RBJQ"), amount="999.00")
        assert me.page.status_code == 422
        assert me.error == "购买金额低于起购金额 ¥ 1,000.00。"
        me.submit(buy_action("RBJQ"), amount="1050.00")  # the buy page's form now
        assert me.page.status_code == 422
        assert me.error == "起购金额 ¥ 1,000.00 以上须按 ¥ 100.00 的整数倍递增。"
        # 6,000.00 is over what an SMS code (the customer's only tool) may authorise
        me.submit(buy_action("RBJQ"), amount="6000.00")
        assert me.page.status_code == 403, me.page.text
        assert me.asked is None
        assert me.error.startswith("这笔转账需要更高级别的安全工具（电子密码器、U盾）")
        assert held(platform, me.id) == []
        assert me.balance() == 11_000_00

    def test_another_customers_account_is_refused(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        with TestClient(me.client.app) as other:  # another browser, the same bank
            eve = WebCustomer(other, platform, "李雷", "13900000802", 802)
            assessed(platform, eve.id, level=5)
            eve.get("/wealth")
            eve.submit(buy_action("RBHQ"), account=me.account, amount="150.00")
            assert eve.page.status_code == 403
            assert eve.asked is None
            assert held(platform, eve.id) == []
        assert me.balance() == 5_000_00

    def test_the_buy_page_needs_a_login_a_product_and_its_sale(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        me.get("/wealth/products/RBHQ/buy")
        assert me.page.status_code == 200
        assert 'id="wealth-buy" data-product="RBHQ"' in me.page.text
        assert "2026-03-01 09:30 至 2026-12-27 09:30" in me.page.text
        assessed(platform, me.id, level=5)
        me.get("/wealth/products/RBOLD/buy")  # a product whose sale is over
        me.submit(buy_action("RBOLD"), amount="150.00")
        assert me.page.status_code == 409
        assert me.error == "该产品当前不在销售期内。"
        assert held(platform, me.id) == []
        me.get("/wealth/products/NOSUCH/buy")
        assert me.page.status_code == 404
        with TestClient(me.client.app) as anonymous:
            response = anonymous.get("/wealth/products/RBHQ/buy", follow_redirects=False)
            assert response.status_code == 303


# -- retaking the assessment -----------------------------------------------------------------


def test_a_third_assessment_in_a_day_is_refused_on_the_page(
    me: WebCustomer, platform: Platform
) -> None:
    for level in (2, 3):
        me.get("/wealth/assessment")
        me.submit("/wealth/assessment", **ANSWERS[level])
        assert "评估已完成" in me.page.text, me.error
    me.get("/wealth/assessment")
    assert (
        me.error == "您今天已完成 2 次风险承受能力评估，请于 2026-03-03 00:00（北京时间）后再评估。"
    )
    me.submit("/wealth/assessment", **ANSWERS[5])
    assert me.page.status_code == 429
    assert "2026-03-03 00:00" in me.error
    with platform.transaction() as session:
        assert [a.level for a in platform.wealth.assessments(session, me.id)] == [3, 2]


def test_a_refused_redemption_form_is_not_another_redemption_when_resent(
    me: WebCustomer, holding: int
) -> None:
    action = f"/wealth/holdings/{holding}/redeem"
    me.get("/wealth")
    form = me.page
    me.submit(action, amount="3000.01")  # more than is held
    assert me.page.status_code == 422
    me.page = form  # back to the form refused, changed and sent again: the same request
    me.submit(action, amount="500.00")
    assert me.page.status_code == 422
    assert me.error == "该请求编号已用于另一笔赎回。"
    assert me.balance() == 2_000_00  # nothing redeemed
    me.submit(action, amount="500.00")  # the refusal's page is a new request
    assert me.page.status_code == 200, me.error
    assert me.balance() == 2_500_00
