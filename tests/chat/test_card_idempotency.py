"""Acting on a card with a client id: a refusal is that request's answer for good,
the id for another body is a conflict. The card itself stays open: a new request
(a new id, or none) may still pay it once."""

from __future__ import annotations

from typing import Any

from tests.chat.conftest import Chat
from tests.chat.test_cards import Cards, cards, request_card

__all__ = ["cards"]  # the fixture


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_refused_act_stays_refused_under_its_client_id(chat: Chat, cards: Cards) -> None:
    alice, bob = chat.customer("王小明"), chat.customer("李雷")
    chat.fund(bob, 1_000)  # 10.00
    conversation = chat.direct(alice, bob)
    pair = {"alice": alice, "bob": bob}
    card = cards.sent(alice, conversation, request_card(pair, "36.50"))
    pay = {"account": bob["account"]["number"], "client_id": "k1"}

    refused = cards.act(bob, card, **pay)
    chat.fund(bob, 10_000)
    again = cards.act(bob, card, **pay)
    other = cards.act(bob, card, **pay | {"account": alice["account"]["number"]})

    assert error(refused) == error(again) == (422, "insufficient_funds")
    assert refused.json() == again.json()
    assert error(other) == (409, "idempotency_conflict")
    assert cards.state(bob, card)["status"] == "open"
    assert cards.available(bob) == 11_000

    paid = cards.act(bob, card, account=bob["account"]["number"], client_id="k2")
    assert paid.status_code == 200, paid.text
    assert cards.available(bob) == 11_000 - 3_650
