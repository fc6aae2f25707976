"""A stolen password must not empty an account (issue 15, defect 1).

The thief holds the customer's login name and password and nothing else: they log
in, try to bind a card of their own (in the customer's name: only the name is
compared) and send everything to it. Binding is a security change confirmed with an
SMS code to the customer's mobile, bound to that very card; a withdrawal is a payment
with the same step-up and limits as a transfer; a card in its first days receives
little; every step is audited and the customer is told in 融e联. Then the customer's
own way through the same doors.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.accounts.clearing import FakeClearingNetwork
from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.factories.cards import CARD, card_number
from tests.factories.people import V1, People
from tests.support.funding import CardHolder, challenge_of, error_code
from tests.support.sms import sms_texts

YUAN = 100
SAVINGS = 20_000 * YUAN
THIEFS_CARD = card_number(666, bin_="621700")
MASKED = f"{THIEFS_CARD[:6]}*********{THIEFS_CARD[-4:]}"


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def network(platform: Platform) -> FakeClearingNetwork:
    assert isinstance(platform.funding.network, FakeClearingNetwork)
    return platform.funding.network


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


@pytest.fixture
def victim(people: People) -> dict[str, Any]:
    person = people.register("张三")
    people.fund(person, SAVINGS)
    return person


@pytest.fixture
def customer(client: TestClient, platform: Platform, victim: dict[str, Any]) -> CardHolder:
    """The customer, at their own device."""
    return CardHolder(client, platform, victim)


@pytest.fixture
def thief(
    client: TestClient, platform: Platform, people: People, victim: dict[str, Any]
) -> CardHolder:
    """Someone else, logged in with the customer's stolen password: a session of their
    own, and no access to the customer's phone."""
    token = people.login(victim["login_name"])
    return CardHolder(client, platform, victim | {"headers": {"Authorization": f"Bearer {token}"}})


def later(clock: FrozenClock, people: People, holder: CardHolder, *, days: int) -> None:
    """``days`` on, logged in again (sessions end after 15 idle minutes)."""
    clock.advance(timedelta(days=days))
    holder.headers = {"Authorization": f"Bearer {people.login(holder.mobile)}"}


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def audit(platform: Platform, customer_id: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT action, result, target, details FROM audit_log "
                "WHERE actor_kind = 'customer' AND actor_id = :c AND action <> 'login' "
                "ORDER BY id"
            ),
            {"c": customer_id},
        ).all()
    return [(str(r[0]), str(r[1]), str(r[2]), dict(r[3])) for r in rows]


def security_events(platform: Platform, customer_id: int) -> list[str]:
    """The card and withdrawal events recorded in the outbox for the customer."""
    with platform.transaction() as session:
        return [
            str(name)
            for name in session.execute(
                text(
                    "SELECT name FROM outbox_event WHERE payload->>'customer_id' = :c "
                    "AND name IN ('accounts.payout_card_bound', 'accounts.payout_card_unbound', "
                    "'accounts.withdrawal_made') ORDER BY id"
                ),
                {"c": str(customer_id)},
            ).scalars()
        ]


def bind_with_stolen_sms(thief: CardHolder) -> int:
    """The thief also reads the customer's texts (a swapped SIM): binding succeeds."""
    challenge = challenge_of(thief.bind(THIEFS_CARD))
    bound = thief.bind(THIEFS_CARD, challenge_id=challenge["id"], response=thief.code())
    assert bound.status_code == 201, bound.text
    return int(bound.json()["id"])


class TestStolenPassword:
    def test_a_password_alone_binds_no_card(
        self,
        thief: CardHolder,
        customer: CardHolder,
        platform: Platform,
        network: FakeClearingNetwork,
    ) -> None:
        asked = thief.bind(THIEFS_CARD)
        challenge = challenge_of(asked)
        assert challenge["tool"] == "sms"
        # The code went to the customer's phone, naming the card being bound.
        (sms,) = sms_texts(platform, customer.mobile)
        assert f"绑定银行卡{MASKED}" in sms
        assert network.count("enrol_card") == 0  # the issuer is not asked before the code
        guessed = wrong(customer.code())
        refused = thief.bind(THIEFS_CARD, challenge_id=challenge["id"], response=guessed)
        assert (refused.status_code, error_code(refused)) == (401, "challenge_failed")
        without = thief.bind(THIEFS_CARD, response=customer.code())  # a code, no challenge
        assert error_code(without) == "challenge_required"
        assert customer.cards() == []
        assert network.count("enrol_card") == 0
        assert customer.available() == "20000.00"

    def test_a_code_for_another_change_does_not_bind_this_card(
        self, thief: CardHolder, customer: CardHolder, platform: Platform
    ) -> None:
        own_card = card_number(7)
        # The customer binds a card of their own; the thief talks them into reading
        # out the code (or sees it on their lock screen).
        own = challenge_of(customer.bind(own_card))
        code = customer.code()
        theirs = challenge_of(thief.bind(THIEFS_CARD))
        replayed = thief.bind(THIEFS_CARD, challenge_id=own["id"], response=code)
        assert (replayed.status_code, error_code(replayed)) == (409, "challenge_mismatch")
        answered = thief.bind(THIEFS_CARD, challenge_id=theirs["id"], response=code)
        assert error_code(answered) == "challenge_failed"
        # A code for raising a limit binds no card either.
        raised = thief.client.put(
            f"{V1}/me/limits/sms", headers=thief.headers, json={"per_payment": "100.00"}
        )
        assert raised.status_code == 204  # lowering needs no code
        limit = challenge_of(
            thief.client.put(
                f"{V1}/me/limits/sms", headers=thief.headers, json={"per_payment": "5000.00"}
            )
        )
        limit_code = customer.code()
        reused = thief.bind(THIEFS_CARD, challenge_id=limit["id"], response=limit_code)
        assert error_code(reused) == "challenge_mismatch"
        assert customer.cards() == []
        # The customer's own change still goes through with their code.
        bound = customer.bind(own_card, challenge_id=own["id"], response=code)
        assert bound.status_code == 201, bound.text
        assert [c["masked"][-4:] for c in customer.cards()] == [own_card[-4:]]

    def test_with_the_code_too_a_new_card_receives_little_each_day(
        self, thief: CardHolder, customer: CardHolder, clock: FrozenClock, people: People
    ) -> None:
        card = bind_with_stolen_sms(thief)
        everything = thief.withdraw(card, "20000.00", "w0")
        assert (everything.status_code, error_code(everything)) == (403, "new_card_limit_exceeded")
        assert everything.json()["error"]["details"]["remaining"] == "1000.00"
        # Within the password-free allowance it goes at once; above it, a code.
        assert thief.withdraw(card, "150.00", "w1").status_code == 201
        assert challenge_of(thief.withdraw(card, "300.00", "w2"))["tool"] == "sms"
        assert thief.withdraw_confirmed(card, "300.00", "w2").status_code == 201
        over = thief.withdraw_confirmed(card, "600.00", "w3")
        assert error_code(over) == "new_card_limit_exceeded"
        assert over.json()["error"]["details"]["remaining"] == "550.00"
        assert thief.withdraw_confirmed(card, "550.00", "w4").status_code == 201
        assert error_code(thief.withdraw(card, "0.01", "w5")) == "new_card_limit_exceeded"
        assert customer.available() == "19000.00"
        later(clock, people, thief, days=1)  # a new day, the card still new
        assert error_code(thief.withdraw(card, "1000.01", "w6")) == "new_card_limit_exceeded"
        assert thief.available() == "19000.00"

    def test_a_second_new_card_shares_the_first_ones_limit(
        self, thief: CardHolder, customer: CardHolder
    ) -> None:
        first = bind_with_stolen_sms(thief)
        assert thief.withdraw_confirmed(first, "800.00", "w1").status_code == 201
        thief.client.delete(f"{V1}/me/cards/{first}", headers=thief.headers)
        second = bind_with_stolen_sms(thief)  # the same card, bound again: new again
        refused = thief.withdraw_confirmed(second, "300.00", "w2")
        assert error_code(refused) == "new_card_limit_exceeded"
        assert customer.available() == "19200.00"

    def test_the_customer_is_told_and_every_step_is_audited(
        self, thief: CardHolder, customer: CardHolder, platform: Platform, victim: dict[str, Any]
    ) -> None:
        card = bind_with_stolen_sms(thief)
        thief.withdraw(card, "20000.00", "w0")
        assert thief.withdraw(card, "100.00", "w1").status_code == 201
        rows = audit(platform, victim["customer_id"])
        assert [(action, result) for action, result, _, _ in rows] == [
            ("challenge.open", "ok"),
            ("challenge.answer", "ok"),
            ("card.bind", "ok"),
            ("withdrawal", "refused"),
            ("withdrawal", "ok"),
        ]
        assert rows[2][2] == MASKED
        assert rows[3][3]["error"] == "new_card_limit_exceeded"
        assert rows[4][3]["amount"] == 100 * YUAN
        assert security_events(platform, victim["customer_id"]) == [
            "accounts.payout_card_bound",
            "accounts.withdrawal_made",
        ]
        platform.deliver_push()
        bound, withdrawn = customer.notices()
        assert bound["kind"] == withdrawn["kind"] == "security"
        assert MASKED in bound["text"]
        assert "如非本人操作" in bound["text"]
        assert "100.00元" in withdrawn["text"]
        assert MASKED in withdrawn["text"]

    def test_security_notices_cannot_be_switched_off(
        self, thief: CardHolder, customer: CardHolder, client: TestClient, platform: Platform
    ) -> None:
        everything_off = dict.fromkeys(
            ("announcement", "promotion", "money_received", "payment_made", "due_soon"), False
        )
        switched = client.put(
            f"{V1}/me/chat/notice-preferences", headers=customer.headers, json=everything_off
        )
        assert switched.status_code == 200, switched.text
        security = client.put(
            f"{V1}/me/chat/notice-preferences", headers=customer.headers, json={"security": False}
        )
        assert security.status_code == 422
        bind_with_stolen_sms(thief)
        platform.deliver_push()
        assert [n["data"]["event"] for n in customer.notices()] == ["card_bound"]


class TestTheCustomersOwnWay:
    def test_bind_with_the_code_withdraw_and_retry_without_a_new_code(
        self, customer: CardHolder, platform: Platform
    ) -> None:
        card = customer.bind_confirmed(CARD)
        assert card["masked"] == f"{CARD[:6]}*********{CARD[-4:]}"
        assert customer.withdraw(card["id"], "200.00", "w1").status_code == 201
        challenge = challenge_of(customer.withdraw(card["id"], "500.00", "w2"))
        texts = len(sms_texts(platform, customer.mobile))
        paid = customer.withdraw(
            card["id"], "500.00", "w2", challenge_id=challenge["id"], response=customer.code()
        )
        assert paid.status_code == 201, paid.text
        assert "的银行卡提现500.00元" in sms_texts(platform, customer.mobile)[0]
        # A retry (the answer lost on the way) returns the same withdrawal, no new code.
        again = customer.withdraw(card["id"], "500.00", "w2")
        answered_again = customer.withdraw(
            card["id"], "500.00", "w2", challenge_id=challenge["id"], response=customer.code()
        )
        assert (again.status_code, answered_again.status_code) == (200, 200)
        assert again.json() == answered_again.json() == paid.json()
        assert len(sms_texts(platform, customer.mobile)) == texts
        assert customer.available() == "19300.00"

    def test_a_code_answers_for_its_own_withdrawal_only(
        self, customer: CardHolder, clock: FrozenClock
    ) -> None:
        card = customer.bind_confirmed(CARD)["id"]
        challenge = challenge_of(customer.withdraw(card, "300.00", "w1"))
        code = customer.code()
        more = customer.withdraw(card, "900.00", "w1", challenge_id=challenge["id"], response=code)
        other = customer.withdraw(card, "300.00", "w2", challenge_id=challenge["id"], response=code)
        assert [error_code(r) for r in (more, other)] == ["challenge_mismatch"] * 2
        assert customer.available() == "20000.00"

    def test_full_limits_once_the_card_is_no_longer_new(
        self, customer: CardHolder, clock: FrozenClock, people: People
    ) -> None:
        card = customer.bind_confirmed(CARD)["id"]
        later(clock, people, customer, days=3)
        assert customer.withdraw_confirmed(card, "3000.00", "w1").status_code == 201
        assert customer.available() == "17000.00"

    def test_withdrawals_and_transfers_share_the_daily_tool_limits(
        self, customer: CardHolder, people: People, client: TestClient, clock: FrozenClock
    ) -> None:
        card = customer.bind_confirmed(CARD)["id"]
        later(clock, people, customer, days=3)
        payee = people.register("李雷")
        body = {
            "client_id": "t1",
            "source": customer.account,
            "destination": payee["account"]["number"],
            "amount": "300.00",
        }

        def transfer() -> Any:
            return client.post(f"{V1}/me/transfers", headers=customer.headers, json=body)

        assert challenge_of(transfer())["tool"] == "sms"  # before: an SMS code would do
        assert customer.withdraw_confirmed(card, "4900.00", "w1").status_code == 201
        # The SMS code's 5,000 a day went to the card: only a stronger tool may pay now.
        assert error_code(transfer()) == "stronger_tool_required"
        assert error_code(customer.withdraw(card, "300.00", "w2")) == "stronger_tool_required"
        assert customer.available() == "15100.00"

    def test_unbinding_is_audited_and_told(
        self, customer: CardHolder, platform: Platform, victim: dict[str, Any]
    ) -> None:
        card = customer.bind_confirmed(CARD)["id"]
        gone = customer.client.delete(f"{V1}/me/cards/{card}", headers=customer.headers)
        assert gone.status_code == 204
        assert customer.cards() == []
        assert error_code(customer.withdraw(card, "1.00", "w1")) == "card_not_found"
        unbound = [r for r in audit(platform, victim["customer_id"]) if r[0] == "card.unbind"]
        assert [(r[1], r[2]) for r in unbound] == [("ok", f"card:{card}")]
        assert (
            security_events(platform, victim["customer_id"])[-1] == "accounts.payout_card_unbound"
        )

    def test_a_top_up_is_audited(
        self, customer: CardHolder, platform: Platform, victim: dict[str, Any]
    ) -> None:
        card = customer.bind_confirmed(CARD)["id"]
        assert customer.top_up(card, "5000.00", "t1").status_code == 201
        rows = [r for r in audit(platform, victim["customer_id"]) if r[0] == "top_up"]
        assert [(r[1], r[3]["amount"]) for r in rows] == [("ok", 5000 * YUAN)]

    def test_a_refused_card_is_said_before_a_code_is_sent(
        self, customer: CardHolder, platform: Platform
    ) -> None:
        someone_elses = customer.bind(CARD, holder="李四")
        mistyped = customer.bind(CARD[:-1] + str((int(CARD[-1]) + 1) % 10))
        assert [error_code(r) for r in (someone_elses, mistyped)] == [
            "card_holder_mismatch",
            "card_number_invalid",
        ]
        assert sms_texts(platform, customer.mobile) == []

    def test_the_issuer_refusing_after_the_code_leaves_it_usable_for_a_retry(
        self, customer: CardHolder, network: FakeClearingNetwork
    ) -> None:
        challenge = challenge_of(customer.bind(CARD))
        code = customer.code()
        network.unreachable = True
        down = customer.bind(CARD, challenge_id=challenge["id"], response=code)
        assert (down.status_code, error_code(down)) == (503, "clearing_unavailable")
        network.unreachable = False
        bound = customer.bind(CARD, challenge_id=challenge["id"], response=code)
        assert bound.status_code == 201, bound.text
