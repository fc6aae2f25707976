"""A transfer the fraud engine sends to review, made in the web bank: the page says it
is held for a security review, in either language, and the browser got a device."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.platform import Platform
from tests.support.risk_engine import decisions, in_force
from tests.support.web import WebCustomer
from tests.web.conftest import deposit


@pytest.fixture
def me(platform: Platform) -> Iterator[WebCustomer]:
    with TestClient(create_app(platform, background=False)) as client:
        customer = WebCustomer(client, platform, "韩梅梅", "13900000451", 451)
        deposit(platform, customer.account, 5_000_00)
        yield customer


@pytest.fixture
def payee(platform: Platform) -> Iterator[WebCustomer]:
    with TestClient(create_app(platform, background=False)) as other:
        yield WebCustomer(other, platform, "李雷", "13900000452", 452)


@pytest.mark.parametrize(
    ("lang", "says"),
    [("zh", "正在进行安全审核"), ("en", "held for a security review")],
)
def test_a_held_transfer_says_so(
    me: WebCustomer, payee: WebCustomer, platform: Platform, lang: str, says: str
) -> None:
    in_force(platform, name="hold_web", condition="amount >= 1000", action="review", reason="t")
    me.client.cookies.set("rb_lang", lang)
    me.transfer(payee.account, "20.00")
    assert me.page.status_code == 200, me.error
    assert 'id="transfer-held"' in me.page.text
    assert says in me.page.text
    assert (me.balance(), payee.balance()) == (5_000_00 - 20_00, 0)
    assert decisions(platform)[-1].device is not None  # the browser's rb_device cookie
    assert me.client.cookies.get("rb_device")
