"""Payees and receipts in the web bank, as plain forms: a payee saved (its holder shown
masked), picked on the transfer form and paid; the receipt of that transfer for each
party and for nobody else; renaming, deleting, and another customer's payee left alone."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.platform import Platform
from tests.support.sms import sms_code
from tests.support.web import WebCustomer
from tests.web.conftest import deposit


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


def customer(client: TestClient, platform: Platform, name: str, n: int) -> WebCustomer:
    """A customer in a browser of their own (cookies apart), logged in."""
    own = TestClient(client.app)
    return WebCustomer(own, platform, name, f"139000006{n:02d}", 600 + n)


@pytest.fixture
def payer(client: TestClient, platform: Platform) -> WebCustomer:
    me = customer(client, platform, "韩梅梅", 1)
    deposit(platform, me.account, 1_000_00)
    return me


@pytest.fixture
def landlord(client: TestClient, platform: Platform) -> WebCustomer:
    return customer(client, platform, "李雷", 2)


def confirm(me: WebCustomer) -> None:
    """Press confirm on the review page, answering the SMS code if the bank asks."""
    me.submit("/transfer/confirm")
    if me.asked == "sms":
        me.submit("/transfer/confirm", response=sms_code(me.platform, me.mobile))
    assert "转账成功" in me.page.text, me.error or me.page.text


def saved(platform: Platform, me: WebCustomer) -> list[tuple[str, str]]:
    with platform.transaction() as session:
        return [(p.name, p.account_number) for p in platform.payees.saved(session, me.id)]


def entry_id(me: WebCustomer) -> str:
    match = re.search(r'id="entry-id">(\d+)<', me.page.text)
    assert match, me.page.text
    return match.group(1)


class TestSavedPayees:
    def test_a_payee_saved_is_picked_on_the_transfer_form_and_paid(
        self, payer: WebCustomer, landlord: WebCustomer, platform: Platform
    ) -> None:
        payer.get("/payees")
        payer.submit("/payees", name="房东", account=landlord.account)
        assert payer.page.status_code == 200
        assert "已添加收款人" in payer.page.text
        assert "*雷" in payer.page.text  # the holder, masked, to check it is whom they mean
        assert "李雷" not in payer.page.text
        assert saved(platform, payer) == [("房东", landlord.account)]

        page = payer.get("/transfer").text
        assert f'href="/transfer?to={landlord.account}"' in page
        page = payer.get(f"/transfer?to={landlord.account}").text
        assert f'name="destination" value="{landlord.account}"' in page
        payer.submit("/transfer", amount="120.50")
        confirm(payer)
        assert payer.balance() == 879_50
        assert landlord.balance() == 120_50
        assert "保存为收款人" not in payer.page.text  # already one

    def test_an_account_not_of_this_bank_is_not_saved(
        self, payer: WebCustomer, platform: Platform
    ) -> None:
        payer.get("/payees")
        payer.submit("/payees", name="房东", account="6288000000000000")
        assert payer.page.status_code == 422
        assert payer.error
        assert 'value="房东"' in payer.page.text  # the form keeps what was typed
        assert saved(platform, payer) == []

    def test_the_same_account_twice_is_refused(
        self, payer: WebCustomer, landlord: WebCustomer, platform: Platform
    ) -> None:
        payer.get("/payees")
        payer.submit("/payees", name="房东", account=landlord.account)
        payer.submit("/payees", name="又一个", account=landlord.account)
        assert payer.page.status_code == 422
        assert "已在您的收款人中" in payer.error
        assert saved(platform, payer) == [("房东", landlord.account)]

    def test_renaming_and_deleting_a_payee(
        self, payer: WebCustomer, landlord: WebCustomer, platform: Platform
    ) -> None:
        payer.get("/payees")
        payer.submit("/payees", name="房东", account=landlord.account)
        (payee_id,) = re.findall(r'data-payee="(\d+)"', payer.page.text)
        payer.submit(f"/payees/{payee_id}/rename", name="  李 房东 ")
        assert "已修改备注名" in payer.page.text
        assert saved(platform, payer) == [("李 房东", landlord.account)]
        payer.submit(f"/payees/{payee_id}/delete")
        assert "已删除收款人" in payer.page.text
        assert saved(platform, payer) == []
        with platform.transaction() as session:
            actions = session.execute(
                text(
                    "SELECT action FROM audit_log WHERE actor_kind = 'customer' "
                    "AND actor_id = :c AND action LIKE 'payee.%' ORDER BY id"
                ),
                {"c": payer.id},
            ).scalars()
            assert list(actions) == ["payee.add", "payee.rename", "payee.delete"]

    def test_another_customers_payee_can_be_neither_renamed_nor_deleted(
        self, payer: WebCustomer, landlord: WebCustomer, platform: Platform
    ) -> None:
        payer.get("/payees")
        payer.submit("/payees", name="房东", account=landlord.account)
        (payee_id,) = re.findall(r'data-payee="(\d+)"', payer.page.text)
        landlord.get("/payees")
        landlord.client.post(
            f"/payees/{payee_id}/rename", data={"csrf": landlord.csrf, "name": "x"}
        )
        page = landlord.client.post(f"/payees/{payee_id}/delete", data={"csrf": landlord.csrf})
        assert page.status_code == 422
        assert "没有找到这个收款人" in page.text
        assert saved(platform, payer) == [("房东", landlord.account)]

    def test_a_payee_paid_lately_is_offered_and_saved_from_the_done_page(
        self, payer: WebCustomer, landlord: WebCustomer, platform: Platform
    ) -> None:
        payer.transfer(landlord.account, "10.00")
        if payer.asked == "sms":
            payer.submit("/transfer/confirm", response=sms_code(platform, payer.mobile))
        assert "保存为收款人" in payer.page.text
        payer.submit("/payees", name="李雷同学")
        assert saved(platform, payer) == [("李雷同学", landlord.account)]
        page = payer.get("/payees").text
        recent = page.split('id="recent-payees"')[1]
        assert landlord.account in recent
        assert "李雷同学" in recent


class TestReceipts:
    def test_each_party_sees_the_receipt_masked_and_no_one_else(
        self,
        client: TestClient,
        payer: WebCustomer,
        landlord: WebCustomer,
        platform: Platform,
    ) -> None:
        payer.transfer(landlord.account, "88.00")
        if payer.asked == "sms":
            payer.submit("/transfer/confirm", response=sms_code(platform, payer.mobile))
        entry = entry_id(payer)
        assert f'href="/receipts/{entry}"' in payer.page.text
        for party in (payer, landlord):
            page = party.get(f"/receipts/{entry}")
            assert page.status_code == 200
            assert "¥ 88.00" in page.text
            assert "*梅梅" in page.text
            assert "*雷" in page.text
            assert payer.account not in page.text
            assert landlord.account not in page.text
            assert f"{landlord.account[:4]}****{landlord.account[-4:]}" in page.text
        assert f'href="/receipts/{entry}"' in payer.get("/history").text

        stranger = customer(client, platform, "王芳", 3)
        page = stranger.get(f"/receipts/{entry}")
        assert page.status_code == 404
        assert "88.00" not in page.text
        assert "*雷" not in page.text
        assert stranger.get("/receipts/999999").status_code == 404

    def test_a_double_submitted_transfer_shows_the_same_receipt(
        self, payer: WebCustomer, landlord: WebCustomer, platform: Platform
    ) -> None:
        payer.get(f"/transfer?to={landlord.account}")
        payer.submit("/transfer", amount="5.00")
        review = payer.page
        confirm(payer)
        first = entry_id(payer)
        payer.page = review  # the same confirmation form sent again
        confirm(payer)
        assert entry_id(payer) == first
        assert payer.balance() == 995_00
