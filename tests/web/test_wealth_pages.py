"""理财 in the web bank: the customer takes the risk-tolerance assessment, sees their
holdings and redeems an open-ended one; a refusal reads in Chinese."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.platform import Platform
from rongbank.wealth.errors import AssessmentRequired, RiskLevelExceeded
from rongbank.wealth.rules import QUESTIONNAIRE, Terms
from rongbank.web.i18n import error_text
from tests.wealth.helpers import ANSWERS, assessed
from tests.web.conftest import deposit
from tests.web.test_security_pages import WebCustomer


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
    assert me.error == "赎回金额不能超过持有金额，当前可赎回 ¥ 2000.00。"
    me.submit(action, amount="")
    assert me.balance() == 5_000_00
    assert f'data-holding="{holding}" data-status="redeemed"' in me.page.text


def test_another_customers_holding_is_not_found(
    me: WebCustomer, platform: Platform, holding: int
) -> None:
    with TestClient(create_app(platform, background=False)) as other:
        eve = WebCustomer(other, platform, "李雷", "13900000802", 802)
        eve.get("/wealth")
        assert "data-holding" not in eve.page.text
        csrf = eve.client.cookies.get("rb_csrf")
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
