"""The staff console's liquidity page, as a risk analyst uses it without JavaScript.
Which roles may open it is proven in ``tests/test_authorization.py``."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.platform import Platform
from rongbank.web.pages import LANG_COOKIE
from tests.factories.liquidity import YUAN, Books
from tests.support.web import WebStaff


@pytest.fixture
def analyst(platform: Platform) -> Iterator[WebStaff]:
    with TestClient(create_app(platform, background=False)) as client:
        yield WebStaff(client, platform, "risk1", "周风控", "risk_analyst")


def chart_data(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="liquidity-data">(.*?)</script>', page)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


def test_the_analyst_computes_today_and_sees_the_trend(
    platform: Platform, analyst: WebStaff
) -> None:
    with platform.transaction() as session:
        books = Books(platform, session)
        books.capital(100_000 * YUAN)
        books.person(50_000 * YUAN)
    analyst.get("/staff/liquidity")
    assert "尚未计算任何一天的指标" in analyst.page.text
    assert 'href="/staff/liquidity"' in analyst.page.text  # in the risk analyst's menu
    analyst.submit("/staff/liquidity/report")
    assert analyst.notice == "今日的流动性覆盖率和净稳定资金比例已计算。"
    # HQLA 150,000 against 50,000 x 10%: 3000%.
    assert "3000.00%" in analyst.page.text
    data = chart_data(analyst.page.text)
    assert data["lcr"] == [3000.0]
    assert data["run"] is None
    with platform.transaction() as session:
        action = session.execute(
            text("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert action == "risk.liquidity.report"


def test_the_page_speaks_english_too(platform: Platform, analyst: WebStaff) -> None:
    analyst.client.cookies.set(LANG_COOKIE, "en")
    analyst.get("/staff/liquidity")
    page = html.unescape(analyst.page.text)
    assert "No day's figures computed yet." in page
    assert "No bank-run simulation yet" in page
