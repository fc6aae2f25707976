"""Reviewing a transfer on the web: what the bank would refuse is said on the form,
before the confirmation page (more than is available, the payer's own account as
payee, someone else's account as payer), and amounts read thousands separated while
the forms carry them plain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.platform import Platform
from tests.support.web import Forms, WebCustomer
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


def review(me: WebCustomer, **fields: str) -> None:
    me.get("/transfer")
    me.submit("/transfer", **fields)


def confirm_forms(me: WebCustomer) -> list[str]:
    return [action for action, _ in Forms(me.page.text).forms if action == "/transfer/confirm"]


class TestTheReviewRefuses:
    def test_more_than_the_available_balance(self, me: WebCustomer, payee: WebCustomer) -> None:
        review(me, destination=payee.account, amount="5000.01")
        assert me.page.status_code == 422
        assert me.error == (
            "转账金额超过付款账户的可用余额 ¥ 5,000.00，请修改金额或换一个付款账户。"
        )
        assert confirm_forms(me) == []
        # The form comes back as typed, to correct.
        fields = dict(Forms(me.page.text).forms[-1][1])
        assert (fields["destination"], fields["amount"]) == (payee.account, "5000.01")
        assert me.balance() == 5_000_00
        assert payee.balance() == 0

    def test_the_whole_balance_goes_to_the_confirmation(
        self, me: WebCustomer, payee: WebCustomer
    ) -> None:
        review(me, destination=payee.account, amount="5000")
        assert me.page.status_code == 200, me.error
        assert confirm_forms(me) == ["/transfer/confirm"]

    def test_the_payers_own_account_as_payee(self, me: WebCustomer) -> None:
        review(me, destination=me.account, amount="10.00")
        assert me.page.status_code == 422
        assert me.error == "收款账户不能与付款账户相同。"
        assert confirm_forms(me) == []

    def test_the_same_account_typed_with_spaces(self, me: WebCustomer) -> None:
        spaced = " ".join(me.account[i : i + 4] for i in range(0, len(me.account), 4))
        review(me, destination=spaced, amount="10.00")
        assert me.page.status_code == 422
        assert me.error == "收款账户不能与付款账户相同。"

    def test_someone_elses_account_as_payer(self, me: WebCustomer, payee: WebCustomer) -> None:
        deposit(payee.platform, payee.account, 100_00)
        review(me, source=payee.account, destination=me.account, amount="10.00")
        assert me.page.status_code == 422
        assert me.error == "只能从本人账户付款。"
        assert confirm_forms(me) == []
        assert payee.balance() == 100_00

    def test_in_english(self, me: WebCustomer, payee: WebCustomer) -> None:
        me.client.cookies.set("rb_lang", "en")
        review(me, destination=payee.account, amount="6000")
        assert me.error == (
            "The amount is more than the paying account's available balance of ¥ 5,000.00; "
            "change the amount or pay from another account."
        )
        review(me, destination=me.account, amount="1")
        assert me.error == "You cannot transfer to the account you pay from; choose another payee."


def test_the_confirmation_shows_the_amount_grouped_and_sends_it_plain(
    me: WebCustomer, payee: WebCustomer
) -> None:
    review(me, destination=payee.account, amount="1234.5")
    assert me.page.status_code == 200, me.error
    assert 'id="confirm-amount">¥ 1,234.50<' in me.page.text
    (fields,) = [f for a, f in Forms(me.page.text).forms if a == "/transfer/confirm"]
    assert dict(fields)["amount"] == "1234.50"
