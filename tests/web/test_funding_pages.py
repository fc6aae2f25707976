"""Cards at other banks in the web bank, as plain forms: binding one is confirmed with
the code sent to the mobile on the top-up page itself (as on the API, the code names
the card), unbinding one, and the audit and notices behind both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.platform import Platform
from tests.factories.cards import CARD, card_number
from tests.support.sms import sms_code, sms_texts
from tests.support.web import WebCustomer

MASKED = f"{CARD[:6]}*********{CARD[-4:]}"


@pytest.fixture
def me(platform: Platform) -> Iterator[WebCustomer]:
    with TestClient(create_app(platform, background=False)) as client:
        yield WebCustomer(client, platform, "韩梅梅", "13900000501", 501)


def cards(platform: Platform, me: WebCustomer) -> list[str]:
    with platform.transaction() as session:
        return [card.masked for card in platform.funding.cards(session, me.id)]


def audited(platform: Platform, me: WebCustomer) -> list[tuple[str, str, str]]:
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT action, result, target FROM audit_log WHERE actor_kind = 'customer' "
                "AND actor_id = :c AND action LIKE 'card.%' ORDER BY id"
            ),
            {"c": me.id},
        ).all()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def ask_to_bind(me: WebCustomer, number: str = CARD) -> Any:
    me.get("/topup")
    return me.submit("/cards", card_number=number, holder_name="韩梅梅")


class TestBindingOnTheWeb:
    def test_binding_asks_for_the_code_on_the_same_page_and_binds_with_it(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        page = ask_to_bind(me)
        assert page.status_code == 200
        assert 'id="confirm-change"' in page.text
        assert "139****0501" in page.text
        assert page.headers["cache-control"] == "no-store"  # the form carries the number
        assert f"绑定银行卡{MASKED}" in sms_texts(platform, me.mobile)[0]
        assert cards(platform, me) == []
        me.submit("/cards", response=sms_code(platform, me.mobile))
        assert "银行卡已绑定" in me.page.text
        assert cards(platform, me) == [MASKED]
        assert audited(platform, me) == [("card.bind", "ok", MASKED)]

    def test_a_wrong_code_binds_nothing_and_asks_again(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        ask_to_bind(me)
        code = sms_code(platform, me.mobile)
        me.submit("/cards", response="000000" if code != "000000" else "111111")
        assert me.page.status_code == 422
        assert "口令不正确" in me.error
        assert 'id="confirm-change"' in me.page.text
        assert cards(platform, me) == []
        me.submit("/cards", response=code)
        assert cards(platform, me) == [MASKED]

    def test_a_code_for_one_card_binds_no_other(self, me: WebCustomer, platform: Platform) -> None:
        ask_to_bind(me)
        code = sms_code(platform, me.mobile)
        other = card_number(9)
        me.submit("/cards", card_number=other, response=code)  # the number edited in the form
        assert me.page.status_code == 422
        assert me.error
        assert cards(platform, me) == []

    def test_a_card_that_cannot_be_bound_is_said_before_a_code_is_sent(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        me.get("/topup")
        me.submit("/cards", card_number=CARD, holder_name="李雷")
        assert me.page.status_code == 422
        assert me.error == "只能绑定本人名下的银行卡。"
        assert sms_texts(platform, me.mobile) == []

    def test_unbinding_ends_the_card_and_is_audited(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        ask_to_bind(me)
        me.submit("/cards", response=sms_code(platform, me.mobile))
        (card_id,) = (c.id for c in _bound(platform, me))
        me.submit(f"/cards/{card_id}/unbind")
        assert "银行卡已解绑" in me.page.text
        assert cards(platform, me) == []
        assert audited(platform, me)[-1] == ("card.unbind", "ok", f"card:{card_id}")


def _bound(platform: Platform, me: WebCustomer) -> list[Any]:
    with platform.transaction() as session:
        return list(platform.funding.cards(session, me.id))
