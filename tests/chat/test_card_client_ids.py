"""A card's payment is the card's, not one of the customer's own keys: a customer
whose app names a request after the card (``card:7``, the id the chat shows) neither
pays, blocks nor is answered by the card's payment."""

from __future__ import annotations

from typing import Any

from tests.accounts.test_endpoints import V1, pay
from tests.chat.conftest import Chat
from tests.chat.test_cards import Cards, bank, cards, pair, request_card
from tests.wealth.test_wealth import buy

__all__ = ["bank", "cards", "pair"]  # the fixtures


def _key(card: dict[str, Any]) -> str:
    """The key a card's payment used before (``Card.payment_client_id``): one a
    customer's own request could take too."""
    return f"card:{card['id']}"


class TestTransferCards:
    def test_a_customer_key_named_after_the_card_does_not_block_it(
        self, chat: Chat, cards: Cards, pair: dict[str, Any]
    ) -> None:
        alice, bob = pair["alice"], pair["bob"]
        card = cards.sent(alice, pair["conversation"], request_card(pair, "36.50"))
        own = pay(chat.client, bob, alice["account"]["number"], "1.00", _key(card))
        assert own.status_code == 201, own.text

        paid = cards.act(bob, card, account=bob["account"]["number"])

        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "paid"
        assert cards.available(bob) == 2_000_000 - 100 - 3_650
        assert cards.available(alice) == 2_000_000 + 100 + 3_650

    def test_the_cards_payment_does_not_answer_a_customer_key_named_after_it(
        self, chat: Chat, cards: Cards, pair: dict[str, Any]
    ) -> None:
        alice, bob = pair["alice"], pair["bob"]
        card = cards.sent(alice, pair["conversation"], request_card(pair, "36.50"))
        assert cards.act(bob, card, account=bob["account"]["number"]).status_code == 200

        same = pay(chat.client, bob, alice["account"]["number"], "36.50", _key(card))
        other = pay(chat.client, bob, alice["account"]["number"], "1.00", _key(card) + "x")

        assert same.status_code == 201, same.text
        assert other.status_code == 201, other.text
        assert cards.available(bob) == 2_000_000 - 2 * 3_650 - 100


class TestWealthCards:
    def test_a_purchase_keyed_after_the_card_does_not_block_it(
        self, chat: Chat, cards: Cards, bank: dict[str, Any]
    ) -> None:
        customer = bank["customer"]
        offer = {"kind": "wealth", "client_id": "w1", "product_code": "GYLC2026A"}
        card = cards.sent(bank["manager"], bank["conversation"], offer)
        own = buy(chat.client, chat.platform, customer, client_id=_key(card), amount="1000.00")
        assert own.status_code == 201, own.text

        bought = cards.act_confirmed(
            customer, card, account=customer["account"]["number"], amount="1500.00"
        )

        assert bought.status_code == 200, bought.text
        holdings = chat.client.get(f"{V1}/me/wealth/holdings", headers=customer["headers"])
        assert sorted(h["amount"] for h in holdings.json()) == ["1000.00", "1500.00"]
        assert cards.available(customer) == 1_000_000 - 250_000
