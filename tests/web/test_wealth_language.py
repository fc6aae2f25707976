"""The wealth page in English names the regulator's risk levels in English (they were
shown in Chinese on it, beside English text)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.platform import Platform
from rongbank.wealth import rules
from rongbank.wealth.rules import Terms
from rongbank.web.i18n import LEVEL_NAMES_EN
from tests.support.web import WebCustomer
from tests.wealth.helpers import assessed


@pytest.fixture
def me(platform: Platform) -> Iterator[WebCustomer]:
    """Assessed C2, with a PR3 product on sale."""
    with TestClient(create_app(platform, background=False)) as client:
        customer = WebCustomer(client, platform, "韩梅梅", "13900000802", 802)
        assessed(platform, customer.id, level=2)
        now = platform.clock.now()
        with platform.transaction() as session:
            staff_id = platform.accounts.create_staff(
                session, username="ops", name="李四", role="operations"
            )
            platform.wealth.create_product(
                session,
                staff_id=staff_id,
                code="RBPH",
                name="融银平衡一号",
                terms=Terms(
                    risk_level=3,
                    yield_bps=350,
                    min_amount=100_00,
                    step_amount=1_00,
                    sale_start=now - timedelta(days=1),
                    sale_end=now + timedelta(days=300),
                ),
            )
        yield customer


def test_the_english_page_names_the_levels_in_english(me: WebCustomer) -> None:
    me.get("/lang/en")
    me.get("/wealth")
    assert re.search(r'id="wealth-level">C2 Prudent<', me.page.text)
    assert "products up to PR2 Prudent" in me.page.text
    assert "PR3 Balanced" in me.page.text
    assert not re.search(r"[\u4e00-\u9fff]+型", me.page.text)


def test_the_chinese_page_keeps_the_chinese_names(me: WebCustomer) -> None:
    me.get("/wealth")
    assert re.search(r'id="wealth-level">C2 稳健型<', me.page.text)
    assert "PR3 平衡型" in me.page.text


def test_every_level_has_an_english_name() -> None:
    for label in [*rules.RISK_LEVELS.values(), *rules.CUSTOMER_LEVELS.values()]:
        assert re.fullmatch(r"(PR|C)[1-5] [A-Z][a-z]+", LEVEL_NAMES_EN[label]), label
