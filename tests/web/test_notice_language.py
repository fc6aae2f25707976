"""A notice in the notice box is shown in the reader's language: Chinese, or English
for a customer who reads the bank in English; never both run together."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.chat import notices
from rongbank.chat.records import Message
from rongbank.chat.service import Member
from rongbank.platform import Platform
from rongbank.web import chat_views
from rongbank.web.i18n import translate
from rongbank.web.pages import templates
from tests.factories.accounts import People
from tests.support.web import WebCustomer

REFUND = {"source": "refund", "amount": 1234, "currency": "CNY", "merchant": "茶叶铺"}


def _shown(platform: Platform, body: str, lang: str) -> str:
    message = Message(
        1, 1, "system", None, "push:1", "notice", body, None, None, (),
        platform.clock.now(), recalled=False, hidden=False,
    )  # fmt: skip
    view = chat_views.message_view(
        message,
        member=Member("customer", 1),
        names={},
        now=platform.clock.now(),
        recall_window=timedelta(minutes=2),
        delivered_to=0,
        read_to=0,
    )
    return templates.get_template("_chat_messages.html").render(
        t=translate(lang),
        lang=lang,
        entries=[view],
        last_seq=1,
        people={"delivered_to": 0, "read_to": 0},
        conversation={"id": 1},
        prefix="/chat",
        csrf="c",
    )


@pytest.mark.parametrize(
    ("lang", "shown", "not_shown"),
    [
        ("zh", ["退款到账", "茶叶铺 退款 12.34元 已退回您的账户。"], ["Refund", "refunded"]),
        ("en", ["Refund received", "茶叶铺 refunded 12.34 CNY to your account."], ["退款到账"]),
    ],
)
def test_an_event_notice_is_in_the_readers_language(
    platform: Platform, lang: str, shown: list[str], not_shown: list[str]
) -> None:
    text = notices.render("money_received", REFUND)
    body = json.dumps(
        {"kind": "money_received", "title": text.zh[0], "text": text.zh[1],
         "en": {"title": text.en[0], "text": text.en[1]}},
        ensure_ascii=False,
    )  # fmt: skip
    page = _shown(platform, body, lang)
    for words in shown:
        assert words in page
    for words in not_shown:
        assert words not in page


def test_a_broadcast_is_shown_as_staff_wrote_it_in_either_language(platform: Platform) -> None:
    body = json.dumps({"kind": "announcement", "title": "系统维护", "text": "今晚维护"})
    assert "今晚维护" in _shown(platform, body, "en")
    assert "今晚维护" in _shown(platform, body, "zh")


def test_the_chat_list_previews_a_notice_in_the_readers_language(platform: Platform) -> None:
    """The conversation list shows the notice box's newest notice by its title."""
    people = People(platform.accounts, platform.ledger)
    with platform.transaction() as session:
        bob = people.person(session, name="李雷")
        people.fund(session, bob, 1_000_00)
    with TestClient(create_app(platform, background=False)) as client:
        me = WebCustomer(client, platform, "韩梅梅", "13900000961", 961)
        with platform.transaction() as session:
            platform.accounts.transfer(
                session,
                customer_id=bob.customer_id,
                source=bob.number,
                destination=me.account,
                amount=88_00,
                client_id="red-packet",
                description="红包",
            )
        platform.push.deliver(platform.transaction)
        previews = {}
        for lang in ("zh", "en"):
            client.cookies.set("rb_lang", lang)
            page = me.get("/chat").text
            previews[lang] = re.findall(r'<span class="muted block preview">([^<]*)</span>', page)
    assert "收到转账" in previews["zh"]
    assert "Money received" in previews["en"]
    assert "收到转账" not in previews["en"]
