"""The risk desk in the staff console and "was this you?" in the web bank, as an
analyst and a customer use them without JavaScript. Which roles may open the desk
is proven in ``tests/test_authorization.py``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.platform import Platform
from rongbank.web.pages import LANG_COOKIE
from tests.support.risk import decisions, raise_alert
from tests.support.sms import sms_code
from tests.support.web import WebCustomer, WebStaff


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def customer(platform: Platform) -> WebCustomer:
    with TestClient(create_app(platform, background=False)) as client:
        return WebCustomer(client, platform, "韩梅梅", "13900000001", 1)


def analyst(platform: Platform, username: str) -> WebStaff:
    client = TestClient(create_app(platform, background=False))
    return WebStaff(client, platform, username, f"风控{username}", "risk_analyst")


def chart_data(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="risk-data">(.*?)</script>', page)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def case_link(page: str) -> str:
    found = re.search(r'href="(/staff/risk/cases/\d+)"', page)
    assert found is not None, page
    return found.group(1)


def test_an_analyst_takes_and_decides_a_case_and_a_second_confirms_fraud(
    platform: Platform, customer: WebCustomer
) -> None:
    alice, bob = analyst(platform, "alice"), analyst(platform, "bob")
    raise_alert(platform, customer.id, ref="d1", score=0.93, amount=880_000)

    alice.get("/staff/risk")
    assert 'href="/staff/risk"' in alice.page.text  # in the risk analyst's menu
    assert "韩梅梅" in alice.page.text
    assert 'hx-get="/staff/risk/alerts" hx-trigger="every 10s"' in alice.page.text
    data = chart_data(alice.page.text)
    assert sum(data["per_hour"]) == 1
    assert data["scores"][9] == 1  # 0.93 in 0.9–1.0
    case = case_link(alice.page.text)

    alice.get(case)
    assert "new_device, fan_out" in alice.page.text
    assert "开户天数" in alice.page.text  # the alert's features
    alice.submit(f"{case}/take")
    assert alice.notice == "案件已由您领取。"
    alice.submit(f"{case}/decide", outcome="fraud", note="设备在境外，客户否认")
    assert alice.notice == "结论已提交。"
    assert "待复核" in alice.page.text
    assert 'id="confirm-form"' not in alice.page.text  # not for the proposer

    bob.get(case)
    bob.submit(f"{case}/confirm", note="同意")
    assert bob.notice == "已复核，结论生效。"
    assert re.search(r'id="case-outcome">欺诈<', bob.page.text)
    assert customer.account in bob.page.text  # the frozen account, named
    assert [d["outcome"] for d in decisions(platform)] == ["fraud"]

    bob.get("/staff/risk")
    assert chart_data(bob.page.text)["decisions"]["fraud"][-1] == 1
    assert re.search(r"<td>engine</td><td[^>]*>1</td><td[^>]*>1</td>", bob.page.text)


def test_another_analyst_is_refused_while_the_case_is_assigned(
    platform: Platform, customer: WebCustomer
) -> None:
    alice, bob = analyst(platform, "alice"), analyst(platform, "bob")
    raise_alert(platform, customer.id, ref="d1")
    alice.get("/staff/risk")
    case = case_link(alice.page.text)
    alice.get(case)
    alice.submit(f"{case}/take")
    bob.get(case)
    assert 'id="decide-form"' not in bob.page.text
    bob.post(f"{case}/decide", outcome="genuine", note="x")
    assert bob.page.status_code == 409
    assert "该案件正由另一名分析师处理" in bob.page.text


def test_the_live_alerts_refresh_as_a_fragment(platform: Platform, customer: WebCustomer) -> None:
    alice = analyst(platform, "alice")
    alice.get("/staff/risk/alerts")
    assert "暂无告警" in alice.page.text
    raise_alert(platform, customer.id, ref="d1", action="block", hold_ref=None)
    alice.get("/staff/risk/alerts")
    assert "<html" not in alice.page.text
    assert "实时引擎 · 已拦截" in alice.page.text


def test_the_customer_answers_from_the_notice(platform: Platform, customer: WebCustomer) -> None:
    raise_alert(platform, customer.id, ref="d1", amount=880_000)
    customer.get("/chat")
    box = re.search(r'href="(/chat/\d+)"', customer.page.text)
    assert box is not None
    customer.get(box.group(1))
    link = re.search(r'href="(/risk/questions/\d+)"', customer.page.text)
    assert link is not None, customer.page.text
    customer.get(link.group(1))
    assert "这笔付款是您本人操作的吗？" in customer.page.text
    assert "8,800.00" in customer.page.text
    customer.submit(link.group(1), press=("answer", "yes"))
    # Yes releases the money: the session alone cannot say it, a code to the mobile does.
    assert 'id="confirm-change"' in customer.page.text
    assert decisions(platform) == []
    customer.submit(link.group(1), response=sms_code(platform, customer.mobile))
    assert "您已确认是本人操作" in customer.page.text
    assert [d["outcome"] for d in decisions(platform)] == ["genuine"]


def test_the_desk_speaks_english_too(platform: Platform, customer: WebCustomer) -> None:
    alice = analyst(platform, "alice")
    alice.client.cookies.set(LANG_COOKIE, "en")
    raise_alert(platform, customer.id, ref="d1")
    alice.get("/staff/risk")
    assert "Case queue" in alice.page.text
    assert "Engine · held for review" in alice.page.text
