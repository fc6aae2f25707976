"""逸贷 from the other places an e-Pay order reaches a customer: a 融e联 merchant-order
card, and a payment code (逸贷付款码) scanned at the counter. The same decision and
signing as the order's pay page (``lending.checkout``), as the customer sees them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.payments.counter import collect_payment_code
from rongbank.payments.merchants import MerchantActor
from rongbank.payments.orders import OrderRequest
from rongbank.platform import Platform
from tests.factories import payments as epay
from tests.factories.loans import assert_balanced
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.lending import SHORT_FORM

CHAT = "/me/chat/conversations"


@pytest.fixture
def seller(client: TestClient, platform: Platform, people: People) -> ApiCustomer:
    return ApiCustomer(client, platform, people.register("李四"))


@pytest.fixture
def merchant_id(platform: Platform, seller: ApiCustomer) -> int:
    return epay.merchant(platform, customer_id=seller.id, account=seller.account, name="好物商城")


def held_for(platform: Platform, merchant_id: int) -> int:
    with platform.transaction() as session:
        merchant = platform.payments.merchant(session, merchant_id)
        return platform.payments.merchant_funds(session, merchant).held


def status_of(platform: Platform, merchant_id: int, order_no: str) -> str:
    with platform.transaction() as session:
        return platform.payments.get(session, merchant_id=merchant_id, order_no=order_no).status


# -- the merchant-order card ------------------------------------------------------------


@pytest.fixture
def card(
    platform: Platform, seller: ApiCustomer, customer: ApiCustomer, merchant_id: int
) -> dict[str, Any]:
    """A 1,000-yuan web-shop order sent by its merchant's owner to the customer."""
    with platform.transaction() as session:
        platform.payments.create_order(
            session,
            merchant_id=merchant_id,
            order=OrderRequest(order_no="C1", amount=1000_00, channel="online"),
        )
    asked = seller.post(f"{CHAT}/direct", {"mobile": customer.mobile})
    assert asked.status_code == 201, asked.text
    conversation = asked.json()["id"]
    assert customer.post(f"{CHAT}/{conversation}/accept").status_code == 200
    sent = seller.post(
        f"{CHAT}/{conversation}/cards",
        {"kind": "merchant_order", "client_id": "m1", "merchant_id": merchant_id, "order_no": "C1"},
    )
    assert sent.status_code == 201, sent.text
    made: dict[str, Any] = sent.json()["card"]
    return made


def card_path(card: dict[str, Any], tail: str = "") -> str:
    return f"{CHAT}/{card['conversation_id']}/cards/{card['id']}{tail}"


def ask_on_card(customer: ApiCustomer, card: dict[str, Any], key: str = "k1") -> Any:
    return customer.post(
        card_path(card, "/instalments"), {"client_id": key, "term_months": 6, **SHORT_FORM}
    )


def test_a_merchant_order_card_is_paid_by_instalments_and_closes(
    platform: Platform,
    customer: ApiCustomer,
    seller: ApiCustomer,
    merchant_id: int,
    card: dict[str, Any],
) -> None:
    decided = ask_on_card(customer, card)

    assert decided.status_code == 201, decided.text
    offer = decided.json()["offer"]
    assert decided.json()["status"] == "offered"
    assert (offer["amount"], offer["term_months"]) == ("1000.00", 6)
    assert len(offer["schedule"]) == 6
    assert ask_on_card(customer, card).status_code == 200  # a retry: the same decision

    unsigned = customer.post(card_path(card, "/instalments/pay"), {"offer_id": offer["id"]})
    assert unsigned.status_code == 403
    assert unsigned.json()["error"]["code"] == "challenge_required"
    assert customer.get(card_path(card)).json()["status"] == "open"

    paid = customer.confirmed(card_path(card, "/instalments/pay"), {"offer_id": offer["id"]})

    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert status_of(platform, merchant_id, "C1") == "paid"
    assert held_for(platform, merchant_id) == 1000_00
    assert customer.available() == "0.00"  # lent straight to the merchant
    # Both sides see the card paid, and its outcome posted into the conversation.
    for who in (customer, seller):
        state = who.get(card_path(card)).json()
        assert (state["status"], state["outcome"]) == ("paid", {"by": "instalments"})
    history = seller.get(f"{CHAT}/{card['conversation_id']}/messages").json()
    posted = [json.loads(m["body"])["card"] for m in history if m["ref_seq"] == card["seq"]]
    assert [c["status"] for c in posted] == ["paid"]
    with platform.transaction() as session:
        (loan,) = platform.loans.loans_of(session, customer.id)
        assert (loan.product_code, loan.principal) == ("yidai", 1000_00)
        assert_balanced(session, platform.ledger)

    again = customer.confirmed(card_path(card, "/instalments/pay"), {"offer_id": offer["id"]})

    assert again.status_code == 200, again.text
    assert again.json()["loan_id"] == paid.json()["loan_id"]
    assert held_for(platform, merchant_id) == 1000_00
    act = customer.post(card_path(card, "/act"), {"account": customer.account})
    assert act.status_code == 409
    assert act.json()["error"]["code"] == "chat_card_used"


def test_only_the_cards_customer_may_ask_for_instalments_on_it(
    seller: ApiCustomer, card: dict[str, Any]
) -> None:
    refused = ask_on_card(seller, card)

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "chat_card_not_for_you"


def test_a_card_paid_by_e_pay_is_not_lent_for(
    platform: Platform, customer: ApiCustomer, merchant_id: int, card: dict[str, Any]
) -> None:
    offer = ask_on_card(customer, card).json()["offer"]
    platform_people_fund(platform, customer, 1000_00)
    acted = customer.confirmed(card_path(card, "/act"), {"account": customer.account})
    assert acted.status_code == 200, acted.text

    refused = customer.confirmed(card_path(card, "/instalments/pay"), {"offer_id": offer["id"]})

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "chat_card_used"
    assert held_for(platform, merchant_id) == 1000_00
    with platform.transaction() as session:
        assert platform.loans.loans_of(session, customer.id) == []


def platform_people_fund(platform: Platform, customer: ApiCustomer, amount: int) -> None:
    People(customer.client, platform).fund({"account": {"number": customer.account}}, amount)


# -- the payment code -------------------------------------------------------------------


def issue_code(customer: ApiCustomer, *, instalments: bool) -> str:
    issued = customer.post(
        "/me/payment-codes", {"account": customer.account, "instalments": instalments}
    )
    assert issued.status_code == 201, issued.text
    return str(issued.json()["code"])


def scan(platform: Platform, merchant_id: int, code: str, order_no: str, amount: int) -> Any:
    return collect_payment_code(
        platform,
        MerchantActor(merchant_id, "api"),
        code=code,
        order_no=order_no,
        amount=amount,
        channel="api",
    )


def test_a_yidai_payment_code_waits_for_the_customer_who_pays_by_instalments(
    platform: Platform, customer: ApiCustomer, merchant_id: int
) -> None:
    code = issue_code(customer, instalments=True)

    waiting = scan(platform, merchant_id, code, "T1", 3000_00)

    assert waiting.status == "created"  # the till waits: 202 to the merchant's API
    assert waiting.challenge_id is None  # for the customer's choice, not a step-up
    assert scan(platform, merchant_id, code, "T1", 3000_00).id == waiting.id  # a rescan
    listed = customer.get("/me/payments").json()
    assert [(p["order_no"], p["status"]) for p in listed] == [("T1", "created")]
    token = waiting.token
    decided = customer.post(
        f"/me/orders/{token}/instalments", {"client_id": "k1", "term_months": 3, **SHORT_FORM}
    )
    assert decided.status_code == 201, decided.text
    offer = decided.json()["offer"]
    assert (offer["amount"], offer["term_months"]) == ("3000.00", 3)

    paid = customer.confirmed(f"/me/orders/{token}/instalments/pay", {"offer_id": offer["id"]})

    assert paid.status_code == 200, paid.text
    assert status_of(platform, merchant_id, "T1") == "paid"
    assert held_for(platform, merchant_id) == 3000_00
    assert customer.available() == "0.00"
    assert scan(platform, merchant_id, code, "T1", 3000_00).status == "paid"


def test_an_ordinary_payment_code_still_pays_at_once(
    platform: Platform, customer: ApiCustomer, merchant_id: int
) -> None:
    platform_people_fund(platform, customer, 100_00)
    code = issue_code(customer, instalments=False)

    paid = scan(platform, merchant_id, code, "T2", 20_00)

    assert paid.status == "paid"
    assert customer.available() == "80.00"
