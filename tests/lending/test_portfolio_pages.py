"""The staff console's lending portfolio page, as a credit manager reads it without
JavaScript (the tables) and as its chart script gets it (the JSON). Which roles may
open it is proven in ``tests/test_authorization.py``."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.platform import Platform
from rongbank.web.pages import LANG_COOKIE
from tests.factories.loans import GOOD, LATE, Borrowers, late_and_good
from tests.support.web import WebStaff


@pytest.fixture
def manager(platform: Platform) -> Iterator[WebStaff]:
    with TestClient(create_app(platform, background=False)) as client:
        yield WebStaff(client, platform, "credit1", "钱信贷", "credit_manager")


def chart_data(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="portfolio-data">(.*?)</script>', page)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


def test_an_empty_book_says_so(manager: WebStaff) -> None:
    manager.get("/staff/lending/portfolio")
    assert "尚未运行过贷款日终，暂无数据。" in manager.page.text
    assert 'href="/staff/lending/portfolio"' in manager.page.text  # in the manager's menu


def test_the_manager_reads_the_book_in_tables_and_charts(
    platform: Platform, borrowers: Borrowers, manager: WebStaff
) -> None:
    late_and_good(platform, borrowers)

    manager.get("/staff/lending/portfolio")

    page = html.unescape(manager.page.text)
    assert "数据截至 2026-05-31 日终" in page
    rolls = page[page.index('id="portfolio-rolls"') :]
    # April's month end to May's: the 1-30 loan went to 31-60, the current one stayed.
    assert re.search(r"<td>逾期1-30天</td>(<td[^>]*>0.0%</td>){2}<td[^>]*>100.0%</td>", rolls)
    vintages = page[page.index('id="portfolio-vintages"') :]
    assert re.search(r"<td>2026-03</td>(<td[^>]*>0.0%</td>){2}<td[^>]*>66.7%</td>", vintages)
    data = chart_data(manager.page.text)
    assert data["roll_month"] == "2026-04"
    assert data["vintages"] == [{"month": "2026-03", "shares": [0.0, 0.0, 66.67]}]
    buckets = {b["name"]: b["principal"] for b in data["buckets"]}  # type: ignore[attr-defined]
    assert buckets["逾期31-60天"] == LATE
    assert buckets["未逾期"] < GOOD
    assert '<script src="/static/portfolio.js"' in manager.page.text


def test_the_page_speaks_english_too(
    platform: Platform, borrowers: Borrowers, manager: WebStaff
) -> None:
    late_and_good(platform, borrowers)
    manager.client.cookies.set(LANG_COOKIE, "en")
    manager.get("/staff/lending/portfolio")
    page = html.unescape(manager.page.text)
    assert "Figures as of the end of day of 2026-05-31" in page
    assert "Vintage curves (share of principal 30+ days past due)" in page
    assert "31-60 days" in page
