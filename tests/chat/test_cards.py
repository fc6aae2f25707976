"""Service cards: transfer, payment request, merchant order, wealth product, flight."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rongbank.auth.sms import FakeSmsGateway
from rongbank.chat.airline import FakeAirline
from rongbank.chat.schemas import CardOut
from rongbank.chat.service import CUSTOMER, Member
from rongbank.clock import FrozenClock
from tests.chat.conftest import CHAT, STAFF_CHAT, V1, Chat
from tests.payments.helpers import Shop
from tests.wealth.helpers import assessed

CARD_FEN = 50_000  # 500.00: over the password-free allowance, within an SMS code's


class Cards:
    """The customer's side of cards, answering SMS challenges as they would."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    def send(self, who: dict[str, Any], conversation: int, body: dict[str, Any]) -> Any:
        base = STAFF_CHAT if "customer_id" not in who else CHAT
        return self.chat.client.post(
            f"{base}/conversations/{conversation}/cards", headers=who["headers"], json=body
        )

    def sent(self, who: dict[str, Any], conversation: int, body: dict[str, Any]) -> dict[str, Any]:
        response = self.send(who, conversation, body)
        assert response.status_code == 201, response.text
        card: dict[str, Any] = response.json()["card"]
        return card

    def act(self, who: dict[str, Any], card: dict[str, Any], **body: Any) -> Any:
        return self.chat.client.post(
            f"{CHAT}/conversations/{card['conversation_id']}/cards/{card['id']}/act",
            headers=who["headers"],
            json=body,
        )

    def act_confirmed(self, who: dict[str, Any], card: dict[str, Any], **body: Any) -> Any:
        """Act; when a challenge is asked, answer it with the SMS code and act again."""
        response = self.act(who, card, **body)
        error = response.json().get("error", {}) if response.status_code == 403 else {}
        if error.get("code") != "challenge_required":
            return response
        challenge = error["details"]["challenge"]
        assert challenge["tool"] == "sms", challenge
        return self.act(who, card, **body, challenge_id=challenge["id"], response=self.sms(who))

    def sms(self, who: dict[str, Any]) -> str:
        platform = self.chat.platform
        with platform.transaction() as session:
            _, message = FakeSmsGateway.outbox(session, who["login_name"])[0]
        return message.split("】", 1)[1][:6]

    def state(self, who: dict[str, Any], card: dict[str, Any]) -> dict[str, Any]:
        base = STAFF_CHAT if "customer_id" not in who else CHAT
        response = self.chat.client.get(
            f"{base}/conversations/{card['conversation_id']}/cards/{card['id']}",
            headers=who["headers"],
        )
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state

    def available(self, person: dict[str, Any]) -> int:
        platform = self.chat.platform
        with platform.transaction() as session:
            account = platform.accounts.account(session, person["account"]["number"])
            return platform.accounts.available(session, account)

    def outcomes(self, who: dict[str, Any], card: dict[str, Any]) -> list[dict[str, Any]]:
        """The card's state changes posted into its conversation, oldest first."""
        return [
            json.loads(m["body"])["card"]
            for m in self.chat.history(who, card["conversation_id"])
            if m["kind"] == "card" and m["ref_seq"] == card["seq"]
        ]


@pytest.fixture
def cards(chat: Chat) -> Cards:
    return Cards(chat)


@pytest.fixture
def pair(chat: Chat) -> dict[str, Any]:
    """Alice and Bob with money, in a direct conversation."""
    alice, bob = chat.customer("王小明"), chat.customer("李雷")
    chat.fund(alice, 2_000_000)
    chat.fund(bob, 2_000_000)
    return {"alice": alice, "bob": bob, "conversation": chat.direct(alice, bob)}


def transfer_card(pair: dict[str, Any], amount: str = "500.00") -> dict[str, Any]:
    return {
        "kind": "transfer",
        "client_id": f"t-{amount}",
        "account": pair["alice"]["account"]["number"],
        "amount": amount,
        "note": "午饭钱",
    }


def request_card(pair: dict[str, Any], amount: str = "36.50", client_id: str = "r1") -> Any:
    return {
        "kind": "request",
        "client_id": client_id,
        "account": pair["alice"]["account"]["number"],
        "amount": amount,
    }


class TestTransferCard:
    def test_completes_with_a_challenge_and_the_money_moves(
        self, chat: Chat, cards: Cards, pair: dict[str, Any]
    ) -> None:
        alice, bob = pair["alice"], pair["bob"]
        card = cards.sent(alice, pair["conversation"], transfer_card(pair))
        assert (card["status"], card["amount"], card["actor"]["id"]) == (
            "open", "500.00", alice["customer_id"],
        )  # fmt: skip
        assert card["payee_account"] == bob["account"]["number"][-4:]
        assert card["payee_name"] == "*雷"
        first = cards.act(alice, card)
        assert first.status_code == 403
        assert first.json()["error"]["code"] == "challenge_required"
        assert cards.state(bob, card)["status"] == "open"
        done = cards.act_confirmed(alice, card)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "paid"
        assert cards.available(alice) == 2_000_000 - CARD_FEN
        assert cards.available(bob) == 2_000_000 + CARD_FEN
        assert [o["status"] for o in cards.outcomes(bob, card)] == ["paid"]

    def test_the_card_message_carries_the_card_for_clients_to_draw(
        self, chat: Chat, cards: Cards, pair: dict[str, Any]
    ) -> None:
        card = cards.sent(pair["alice"], pair["conversation"], transfer_card(pair))
        [message] = chat.history(pair["bob"], pair["conversation"])
        assert (message["kind"], message["seq"], message["ref_seq"]) == ("card", card["seq"], None)
        drawn = CardOut.model_validate(json.loads(message["body"])["card"])
        assert (drawn.id, drawn.kind, drawn.status, drawn.amount) == (
            card["id"], "transfer", "open", "500.00",
        )  # fmt: skip
        assert pair["alice"]["account"]["number"] not in message["body"]

    def test_a_used_card_is_refused_and_moves_nothing(
        self, cards: Cards, pair: dict[str, Any]
    ) -> None:
        alice, bob = pair["alice"], pair["bob"]
        card = cards.sent(alice, pair["conversation"], transfer_card(pair))
        assert cards.act_confirmed(alice, card).status_code == 200
        again = cards.act_confirmed(alice, card)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "chat_card_used"
        assert cards.available(bob) == 2_000_000 + CARD_FEN

    def test_the_other_member_cannot_use_it(self, cards: Cards, pair: dict[str, Any]) -> None:
        card = cards.sent(pair["alice"], pair["conversation"], transfer_card(pair))
        refused = cards.act(pair["bob"], card, account=pair["bob"]["account"]["number"])
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "chat_card_not_for_you"
        assert cards.state(pair["alice"], card)["status"] == "open"

    def test_a_resend_answers_the_original_card(self, cards: Cards, pair: dict[str, Any]) -> None:
        first = cards.sent(pair["alice"], pair["conversation"], transfer_card(pair))
        again = cards.send(pair["alice"], pair["conversation"], transfer_card(pair))
        assert again.status_code == 200
        assert (again.json()["card"]["id"], again.json()["created"]) == (first["id"], False)

    def test_only_from_ones_own_account(self, cards: Cards, pair: dict[str, Any]) -> None:
        body = transfer_card(pair) | {"account": pair["bob"]["account"]["number"]}
        refused = cards.send(pair["alice"], pair["conversation"], body)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "account_not_accessible"


class TestRequestCard:
    def test_the_other_pays_it_password_free(
        self, chat: Chat, cards: Cards, pair: dict[str, Any]
    ) -> None:
        alice, bob = pair["alice"], pair["bob"]
        card = cards.sent(alice, pair["conversation"], request_card(pair))
        assert card["actor"]["id"] == bob["customer_id"]
        refused = cards.act(alice, card, account=alice["account"]["number"])
        assert refused.json()["error"]["code"] == "chat_card_not_for_you"
        paid = cards.act(bob, card, account=bob["account"]["number"])
        assert paid.status_code == 200, paid.text
        assert cards.available(alice) == 2_000_000 + 3_650
        assert cards.available(bob) == 2_000_000 - 3_650

    def test_someone_outside_the_conversation_does_not_see_it(
        self, chat: Chat, cards: Cards, pair: dict[str, Any]
    ) -> None:
        card = cards.sent(pair["alice"], pair["conversation"], request_card(pair))
        carol = chat.customer("韩梅梅")
        chat.fund(carol, 100_000)
        refused = cards.act(carol, card, account=carol["account"]["number"])
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "chat_conversation_not_found"

    def test_over_the_account_limit_is_refused_and_nothing_changes(
        self, chat: Chat, cards: Cards, pair: dict[str, Any]
    ) -> None:
        alice, bob = pair["alice"], pair["bob"]
        card = cards.sent(alice, pair["conversation"], request_card(pair, "10000.01"))
        seq_before = chat.history(bob, pair["conversation"])[-1]["seq"]
        refused = cards.act_confirmed(bob, card, account=bob["account"]["number"])
        assert refused.status_code in (400, 403, 409, 422), refused.text
        assert refused.json()["error"]["code"] == "daily_limit_exceeded"
        assert cards.available(alice) == 2_000_000
        assert cards.available(bob) == 2_000_000
        assert cards.state(bob, card)["status"] == "open"
        assert chat.history(bob, pair["conversation"])[-1]["seq"] == seq_before

    def test_declined_then_refused(self, cards: Cards, pair: dict[str, Any]) -> None:
        alice, bob = pair["alice"], pair["bob"]
        card = cards.sent(alice, pair["conversation"], request_card(pair))
        declined = cards.chat.client.post(
            f"{CHAT}/conversations/{card['conversation_id']}/cards/{card['id']}/decline",
            headers=bob["headers"],
        )
        assert declined.status_code == 200, declined.text
        assert declined.json()["outcome"] == {"by": "actor"}
        late = cards.act(bob, card, account=bob["account"]["number"])
        assert late.json()["error"]["code"] == "chat_card_used"
        assert [o["status"] for o in cards.outcomes(alice, card)] == ["declined"]

    def test_expires_and_says_so_in_the_conversation(
        self, cards: Cards, pair: dict[str, Any], clock: FrozenClock
    ) -> None:
        alice, bob = pair["alice"], pair["bob"]
        card = cards.sent(alice, pair["conversation"], request_card(pair))
        clock.advance(timedelta(hours=24))
        for person in (alice, bob):  # their sessions have lapsed meanwhile
            token = cards.chat.login(person["login_name"])
            person["headers"] = {"Authorization": f"Bearer {token}"}
        late = cards.act(bob, card, account=bob["account"]["number"])
        assert late.status_code == 409
        assert late.json()["error"]["code"] == "chat_card_expired"
        assert [o["status"] for o in cards.outcomes(alice, card)] == ["expired"]
        assert cards.available(bob) == 2_000_000

    def test_the_expiry_job_closes_open_cards(
        self, chat: Chat, cards: Cards, pair: dict[str, Any], clock: FrozenClock
    ) -> None:
        card = cards.sent(pair["alice"], pair["conversation"], request_card(pair))
        clock.advance(timedelta(hours=25))
        with chat.platform.transaction() as session:
            assert chat.platform.cards.expire_due(session) == 1
        with chat.platform.transaction() as session:
            state = chat.platform.cards.card(
                session,
                _member(pair["bob"]),
                conversation_id=card["conversation_id"],
                card_id=card["id"],
            )
        assert state.status == "expired"

    def test_not_in_a_bank_conversation(self, chat: Chat, cards: Cards) -> None:
        alice = chat.customer()
        bank = chat.client.post(f"{CHAT}/conversations/bank", headers=alice["headers"]).json()
        body = {"kind": "request", "client_id": "r", "account": alice["account"]["number"]}
        refused = cards.send(alice, bank["id"], body | {"amount": "1.00"})
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "chat_card_not_allowed_here"


def test_a_card_used_twice_at_once_pays_once(live_chat: Chat) -> None:
    """Two requests acting on one card at the same moment: the card's row lock lets
    one pay; the other finds it used."""
    chat, cards = live_chat, Cards(live_chat)
    alice, bob = chat.customer(), chat.customer("李雷")
    chat.fund(bob, 100_000)
    card = cards.sent(alice, chat.direct(alice, bob), request_card({"alice": alice}, "100.00"))
    start = threading.Barrier(2)
    answers: list[Any] = []

    def use() -> None:
        start.wait()
        answers.append(cards.act(bob, card, account=bob["account"]["number"]))

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert [a.json()["error"]["code"] for a in answers if a.status_code == 409] == [
        "chat_card_used"
    ]
    assert cards.available(bob) == 100_000 - 10_000
    assert cards.available(alice) == 10_000


class TestMerchantOrderCard:
    def test_the_customer_pays_the_merchants_order_from_the_chat(
        self, chat: Chat, cards: Cards
    ) -> None:
        shop = Shop(chat.client, chat.platform, chat)
        payer = shop.customer("李雷", fen=100_000)
        for person in (shop.seller, payer):
            person["mobile"] = person["login_name"]
        token = shop.token(shop.order("A-1", "36.50", channel="online"))
        conversation = chat.direct(shop.seller, payer)
        body = {"kind": "merchant_order", "client_id": "m1", "merchant_id": shop.id}
        card = cards.sent(shop.seller, conversation, body | {"order_no": "A-1"})
        assert card["merchant"] == {
            "number": f"M{shop.id:08d}",
            "name": "老王面馆",
            "order_no": "A-1",
        }
        paid = cards.act_confirmed(payer, card, account=payer["account"]["number"])
        assert paid.status_code == 200, paid.text
        assert shop.query("A-1")["status"] == "paid"
        assert cards.available(payer) == 100_000 - 3_650
        assert token

    def test_only_the_merchants_own_customer_sends_its_orders(
        self, chat: Chat, cards: Cards
    ) -> None:
        shop = Shop(chat.client, chat.platform, chat)
        shop.order("A-2", "10.00", channel="online")
        stranger, payer = chat.customer("路人"), chat.customer("李雷")
        conversation = chat.direct(stranger, payer)
        body = {"kind": "merchant_order", "client_id": "m", "merchant_id": shop.id}
        refused = cards.send(stranger, conversation, body | {"order_no": "A-2"})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "chat_card_merchant_not_yours"


@pytest.fixture
def bank(chat: Chat) -> dict[str, Any]:
    """A customer with money in their conversation with the bank, served by their
    account manager; a product on sale."""
    manager = chat.staff_member("m1")
    operations = chat.staff_member("ops", role="operations")
    customer = chat.customer("张三")
    chat.fund(customer, 1_000_000)
    conversation = chat.client.post(f"{CHAT}/conversations/bank", headers=customer["headers"])
    assert conversation.status_code == 201, conversation.text
    product = chat.client.post(
        f"{V1}/staff/wealth/products",
        headers=operations["headers"],
        json={
            "code": "GYLC2026A",
            "name": "工银理财·稳享90天",
            "risk_level": 2,
            "yield_bps": 285,
            "min_amount": "1000.00",
            "step_amount": "100.00",
            "sale_start": "2026-03-01T00:00:00Z",
            "sale_end": "2026-03-10T00:00:00Z",
        },
    )
    assert product.status_code == 201, product.text
    assessed(chat.platform, customer["customer_id"])  # 理财 suitability: before any purchase
    return {"manager": manager, "customer": customer, "conversation": conversation.json()["id"]}


class TestWealthCard:
    def test_the_manager_offers_a_product_and_the_customer_buys_it(
        self, chat: Chat, cards: Cards, bank: dict[str, Any]
    ) -> None:
        customer = bank["customer"]
        body = {"kind": "wealth", "client_id": "w1", "product_code": "GYLC2026A"}
        card = cards.sent(bank["manager"], bank["conversation"], body)
        assert (card["product"]["expected_yield"], card["product"]["cutoff"]) == ("2.85%", "15:00")
        assert card["actor"]["id"] == customer["customer_id"]
        uneven = cards.act(customer, card, account=customer["account"]["number"], amount="1050")
        assert uneven.json()["error"]["code"] == "wealth_amount_not_in_steps"
        bought = cards.act_confirmed(
            customer, card, account=customer["account"]["number"], amount="1500.00"
        )
        assert bought.status_code == 200, bought.text
        assert bought.json()["outcome"]["amount"] == "1500.00"
        assert bought.json()["outcome"]["value_date"] == "2026-03-02"  # Monday 09:30
        holdings = chat.client.get(f"{V1}/me/wealth/holdings", headers=customer["headers"])
        assert [(h["product_code"], h["amount"]) for h in holdings.json()] == [
            ("GYLC2026A", "1500.00")
        ]
        assert cards.available(customer) == 1_000_000 - 150_000
        assert [o["status"] for o in cards.outcomes(bank["manager"], card)] == ["paid"]

    def test_no_offer_above_the_customers_risk_level(
        self, chat: Chat, cards: Cards, bank: dict[str, Any]
    ) -> None:
        assessed(chat.platform, bank["customer"]["customer_id"], level=1)
        body = {"kind": "wealth", "client_id": "w1", "product_code": "GYLC2026A"}  # PR2
        refused = cards.send(bank["manager"], bank["conversation"], body)
        assert refused.json()["error"]["code"] == "wealth_risk_level_exceeded"
        assert chat.history(bank["customer"], bank["conversation"]) == []

    def test_a_customer_cannot_send_one(self, cards: Cards, bank: dict[str, Any]) -> None:
        body = {"kind": "wealth", "client_id": "w", "product_code": "GYLC2026A"}
        refused = cards.send(bank["customer"], bank["conversation"], body)
        assert refused.status_code == 422  # not a card kind customers send


@pytest.fixture
def airline(chat: Chat) -> FakeAirline:
    shop = Shop(chat.client, chat.platform, chat)  # the airline, an e-Pay merchant
    chat.platform.cards.airline_merchant_id = shop.id
    fake = chat.platform.cards.airline
    assert isinstance(fake, FakeAirline)
    return fake


class TestFlightCard:
    def offer(self, chat: Chat, bank: dict[str, Any]) -> dict[str, Any]:
        offers = chat.client.get(
            f"{STAFF_CHAT}/flights",
            headers=bank["manager"]["headers"],
            params={"origin": "PEK", "destination": "SHA", "date": "2026-03-05"},
        )
        assert offers.status_code == 200, offers.text
        offer: dict[str, Any] = offers.json()[0]
        return offer

    def flight_card(self, chat: Chat, cards: Cards, bank: dict[str, Any]) -> dict[str, Any]:
        offer = self.offer(chat, bank)
        body = {
            "kind": "flight",
            "client_id": "f1",
            "origin": "PEK",
            "destination": "SHA",
            "date": "2026-03-05",
            "offer_id": offer["offer_id"],
        }
        return cards.sent(bank["manager"], bank["conversation"], body)

    def test_booking_pays_the_airline_once_it_confirms(
        self, chat: Chat, cards: Cards, bank: dict[str, Any], airline: FakeAirline
    ) -> None:
        customer = bank["customer"]
        card = self.flight_card(chat, cards, bank)
        fare = 90_000
        assert card["flight"]["fare"] == "900.00"
        seats = airline.seats_left(card["flight"]["flight_no"], datetime(2026, 3, 5).date())
        booked = cards.act_confirmed(customer, card, account=customer["account"]["number"])
        assert booked.status_code == 200, booked.text
        assert booked.json()["status"] == "booked"
        assert len(booked.json()["outcome"]["booking_ref"]) == 6
        assert cards.available(customer) == 1_000_000 - fare
        with chat.platform.transaction() as session:
            order = chat.platform.payments.get(
                session,
                merchant_id=chat.platform.cards.airline_merchant_id or 0,
                order_no=f"chat-card-{card['id']}",
            )
        assert (order.status, order.captured) == ("paid", fare)
        flight_day = datetime(2026, 3, 5).date()
        assert airline.seats_left(card["flight"]["flight_no"], flight_day) == seats - 1
        again = cards.act(customer, card, account=customer["account"]["number"])
        assert again.json()["error"]["code"] == "chat_card_used"

    def test_an_airline_failure_releases_the_seat_and_takes_no_money(
        self, chat: Chat, cards: Cards, bank: dict[str, Any], airline: FakeAirline
    ) -> None:
        customer = bank["customer"]
        card = self.flight_card(chat, cards, bank)
        flight_day = datetime(2026, 3, 5).date()
        seats = airline.seats_left(card["flight"]["flight_no"], flight_day)
        airline.fail_confirm = True
        failed = cards.act_confirmed(customer, card, account=customer["account"]["number"])
        assert failed.status_code == 409
        assert failed.json()["error"]["code"] == "chat_flight_booking_failed"
        assert cards.available(customer) == 1_000_000
        assert airline.seats_left(card["flight"]["flight_no"], flight_day) == seats
        state = cards.state(customer, card)
        assert (state["status"], state["outcome"]["charged"]) == ("failed", False)
        with chat.platform.transaction() as session:
            order = chat.platform.payments.get(
                session,
                merchant_id=chat.platform.cards.airline_merchant_id or 0,
                order_no=f"chat-card-{card['id']}",
            )
        assert order.status == "voided"

    def test_a_refused_payment_gives_the_seat_back_and_the_card_stays_open(
        self, chat: Chat, cards: Cards, bank: dict[str, Any], airline: FakeAirline
    ) -> None:
        customer, other = bank["customer"], chat.customer("李雷")
        card = self.flight_card(chat, cards, bank)
        flight_day = datetime(2026, 3, 5).date()
        seats = airline.seats_left(card["flight"]["flight_no"], flight_day)
        refused = cards.act_confirmed(customer, card, account=other["account"]["number"])
        assert refused.json()["error"]["code"] == "account_not_accessible"
        assert airline.seats_left(card["flight"]["flight_no"], flight_day) == seats
        assert cards.state(customer, card)["status"] == "open"
        assert cards.available(customer) == 1_000_000


def _member(person: dict[str, Any]) -> Member:
    return Member(CUSTOMER, person["customer_id"])


def test_expiry_is_never_later_than_what_the_card_offers() -> None:
    from rongbank.chat.rules import CARD_TTL, card_expiry

    now = datetime(2026, 3, 2, tzinfo=UTC)
    assert card_expiry(now, CARD_TTL) == now + CARD_TTL
    assert card_expiry(now, CARD_TTL, now + timedelta(hours=1)) == now + timedelta(hours=1)
