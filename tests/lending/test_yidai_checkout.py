"""逸贷 at checkout: an e-Pay order paid by instalments after an instant decision, the
merchant paid in full once, and a refund unwinding the loan."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from rongbank.payments.orders import OrderRequest
from rongbank.platform import Platform
from tests.factories import payments as epay
from tests.factories.loans import assert_balanced
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.lending import SHORT_FORM, FakeScorecard, notices


@pytest.fixture
def merchant_id(client: TestClient, platform: Platform, people: People) -> int:
    owner = ApiCustomer(client, platform, people.register("李四"))
    return epay.merchant(platform, customer_id=owner.id, account=owner.account, name="好物商城")


def order(platform: Platform, merchant_id: int, amount: int, order_no: str = "W1") -> str:
    with platform.transaction() as session:
        payment, _ = platform.payments.create_order(
            session,
            merchant_id=merchant_id,
            order=OrderRequest(order_no=order_no, amount=amount, channel="online"),
        )
    return payment.token


def ask(customer: ApiCustomer, token: str, term: int = 12, key: str = "k1", **form: Any) -> Any:
    return customer.post(
        f"/me/orders/{token}/instalments",
        {"client_id": key, "term_months": term, **SHORT_FORM, **form},
    )


def pay(customer: ApiCustomer, token: str, offer_id: int) -> Any:
    return customer.confirmed(f"/me/orders/{token}/instalments/pay", {"offer_id": offer_id})


def payment_of(platform: Platform, token: str) -> Any:
    with platform.transaction() as session:
        return platform.payments.by_token(session, token)


def held_for(platform: Platform, merchant_id: int) -> int:
    with platform.transaction() as session:
        merchant = platform.payments.merchant(session, merchant_id)
        return platform.payments.merchant_funds(session, merchant).held


def test_an_order_is_offered_instalments_with_the_apr_and_schedule(
    customer: ApiCustomer, platform: Platform, merchant_id: int
) -> None:
    token = order(platform, merchant_id, 6000_00)

    decided = ask(customer, token, term=12)

    assert decided.status_code == 201, decided.text
    body = decided.json()
    assert body["status"] == "offered"
    offer = body["offer"]
    assert offer["product"] == "yidai"
    assert offer["amount"] == "6000.00"
    assert offer["term_months"] == 12
    # 12 instalments with a 0.6% monthly flat fee: about 13.0% APR (the case).
    assert 1290 <= offer["apr_bps"] <= 1310
    schedule = offer["schedule"]
    assert len(schedule) == 12
    assert sum(int(i["principal"].replace(".", "")) for i in schedule) == 6000_00
    assert {i["fee"] for i in schedule} == {"36.00"}
    assert ask(customer, token, term=12).status_code == 200  # a retry: the same decision


def test_paying_by_instalments_lends_and_pays_the_merchant_in_full_once(
    customer: ApiCustomer, platform: Platform, merchant_id: int
) -> None:
    token = order(platform, merchant_id, 6000_00)
    offer = ask(customer, token).json()["offer"]

    unsigned = customer.post(f"/me/orders/{token}/instalments/pay", {"offer_id": offer["id"]})
    assert unsigned.status_code == 403
    assert unsigned.json()["error"]["code"] == "challenge_required"
    assert payment_of(platform, token).status == "created"

    paid = pay(customer, token, offer["id"])

    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert payment_of(platform, token).status == "paid"
    assert held_for(platform, merchant_id) == 6000_00
    assert customer.available() == "0.00"  # lent straight to the merchant
    with platform.transaction() as session:
        loan = platform.loans.loan(session, loan_id=paid.json()["loan_id"])
        assert (loan.product_code, loan.principal, loan.term_months) == ("yidai", 6000_00, 12)
        assert_balanced(session, platform.ledger)

    again = pay(customer, token, offer["id"])

    assert again.status_code == 200
    assert again.json()["loan_id"] == paid.json()["loan_id"]
    assert held_for(platform, merchant_id) == 6000_00
    with platform.transaction() as session:
        assert len(platform.loans.loans_of(session, customer.id)) == 1


def test_an_order_above_a_class_ii_accounts_daily_outflow_is_paid_in_full(
    customer: ApiCustomer, platform: Platform, merchant_id: int
) -> None:
    token = order(platform, merchant_id, 20000_00)  # class II pays out 10,000 a day
    offer = ask(customer, token, term=24).json()["offer"]

    paid = pay(customer, token, offer["id"])

    assert paid.status_code == 200, paid.text
    assert held_for(platform, merchant_id) == 20000_00
    with platform.transaction() as session:
        assert platform.loans.outstanding_personal_principal(session, customer.id) == 20000_00
        assert_balanced(session, platform.ledger)


def test_an_order_paid_by_e_pay_meanwhile_is_not_lent_for(
    customer: ApiCustomer, platform: Platform, people: People, merchant_id: int
) -> None:
    token = order(platform, merchant_id, 6000_00)
    offer = ask(customer, token).json()["offer"]
    people.fund({"account": {"number": customer.account}, "customer_id": customer.id}, 6000_00)
    with platform.transaction() as session:
        platform.payments.pay_order(
            session,
            customer_id=customer.id,
            payment=platform.payments.by_token(session, token),
            account_number=customer.account,
        )

    refused = pay(customer, token, offer["id"])

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "order_not_payable"
    with platform.transaction() as session:
        assert platform.loans.loans_of(session, customer.id) == []
    assert held_for(platform, merchant_id) == 6000_00


@pytest.mark.parametrize("scorer", [FakeScorecard(points=480)])
def test_a_decline_says_why_and_leaves_the_order_payable(
    customer: ApiCustomer, platform: Platform, merchant_id: int
) -> None:
    token = order(platform, merchant_id, 6000_00)

    declined = ask(customer, token).json()

    assert declined["status"] == "declined"
    assert declined["offer"] is None
    assert "score_too_low" in declined["reasons"]
    assert payment_of(platform, token).status == "created"


def test_an_offer_for_another_order_cannot_pay_this_one(
    customer: ApiCustomer, platform: Platform, merchant_id: int
) -> None:
    first = order(platform, merchant_id, 6000_00, "W1")
    second = order(platform, merchant_id, 6000_00, "W2")
    offer = ask(customer, first).json()["offer"]

    refused = pay(customer, second, offer["id"])

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "lending_checkout_offer_not_for_order"
    assert payment_of(platform, second).status == "created"


def test_a_term_the_product_does_not_offer_is_refused(
    customer: ApiCustomer, platform: Platform, merchant_id: int
) -> None:
    token = order(platform, merchant_id, 6000_00)

    refused = ask(customer, token, term=9)

    assert refused.status_code in (400, 409, 422), refused.text
    assert refused.json()["error"]["code"] == "loan_term_not_offered"


def test_another_customers_order_paid_by_them_is_not_found(
    customer: ApiCustomer, client: TestClient, platform: Platform, people: People, merchant_id: int
) -> None:
    token = order(platform, merchant_id, 6000_00)
    offer = ask(customer, token).json()["offer"]
    pay(customer, token, offer["id"])
    other = ApiCustomer(client, platform, people.register("王五"))

    assert pay(other, token, offer["id"]).status_code == 404


def refund(platform: Platform, merchant_id: int, refund_no: str, amount: int) -> None:
    with platform.transaction() as session:
        platform.payments.refund(
            session, merchant_id=merchant_id, order_no="W1", refund_no=refund_no, amount=amount
        )


def test_a_full_refund_closes_the_loan_and_nothing_is_owed(
    customer: ApiCustomer, platform: Platform, merchant_id: int
) -> None:
    token = order(platform, merchant_id, 6000_00)
    offer = ask(customer, token).json()["offer"]
    loan_id = pay(customer, token, offer["id"]).json()["loan_id"]

    refund(platform, merchant_id, "R1", 6000_00)

    with platform.transaction() as session:
        loan = platform.loans.loan(session, loan_id=loan_id)
        assert (loan.status, loan.principal_outstanding) == ("repaid", 0)
        assert sum(i.fee for i in platform.loans.schedule(session, loan_id)) == 0
        assert_balanced(session, platform.ledger)
    assert customer.available() == "0.00"  # the refund repaid the loan
    [told] = notices(platform, customer.id, "announcement")[-1:]
    assert told["title"] == "逸贷分期已结清"
    assert told["text"] == "好物商城退款已提前归还您的逸贷分期 6,000.00元，该笔分期已结清。"
    assert told["en"]["title"] == "Instalments repaid"


def test_a_partial_refund_lowers_the_principal_and_the_fees_pro_rata(
    customer: ApiCustomer, platform: Platform, merchant_id: int
) -> None:
    token = order(platform, merchant_id, 6000_00)
    offer = ask(customer, token).json()["offer"]
    loan_id = pay(customer, token, offer["id"]).json()["loan_id"]

    refund(platform, merchant_id, "R1", 1500_00)
    refund(platform, merchant_id, "R1", 1500_00)  # a retry: unwound once

    with platform.transaction() as session:
        loan = platform.loans.loan(session, loan_id=loan_id)
        assert loan.principal_outstanding == 4500_00
        ahead = [i for i in platform.loans.schedule(session, loan_id) if i.paid_at is None]
        assert len(ahead) == 12
        assert sum(i.principal for i in ahead) == 4500_00
        assert sum(i.fee for i in ahead) == 12 * 27_00  # 0.6% a month of 4,500 (was 36.00)
        assert_balanced(session, platform.ledger)
        first = ahead[0]
    assert customer.available() == "0.00"
    # Told once (the retry unwound nothing more), with the new schedule in short.
    told = [n for n in notices(platform, customer.id, "announcement") if "逸贷" in n["title"]]
    assert [n["title"] for n in told] == ["逸贷分期已调整"]
    assert told[0]["text"] == (
        "好物商城退款已提前归还您的逸贷分期本金 1,500.00元，剩余本金 4,500.00元，还有12期；"
        f"下期{first.due_date.isoformat()}应还402.00元，手续费按剩余本金重新计算。"
    )  # 4,500 / 12 = 375.00 principal and its 27.00 fee
    assert "4,500.00 CNY is left over 12 instalments" in told[0]["en"]["text"]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(parts=st.lists(st.integers(min_value=1, max_value=3000_00), min_size=1, max_size=4))
def test_after_any_partial_refunds_what_is_left_and_refunded_make_the_loan(
    client: TestClient, platform: Platform, people: People, merchant_id: int, parts: list[int]
) -> None:
    # A new buyer each time: a class II account pays out 10,000 yuan a day at most.
    customer = ApiCustomer(client, platform, people.register())
    with platform.transaction() as session:
        used = session.execute(text("SELECT count(*) FROM payment")).scalar_one()
    order_no = f"P{used}"
    with platform.transaction() as session:
        payment, _ = platform.payments.create_order(
            session,
            merchant_id=merchant_id,
            order=OrderRequest(order_no=order_no, amount=6000_00, channel="online"),
        )
    offer = ask(customer, payment.token, key=order_no).json()["offer"]
    paid = pay(customer, payment.token, offer["id"])
    assert paid.status_code == 200, paid.text
    loan_id = paid.json()["loan_id"]
    refunded = 0
    for n, amount in enumerate(parts):
        amount = min(amount, 6000_00 - refunded)
        if amount == 0:
            break
        with platform.transaction() as session:
            platform.payments.refund(
                session,
                merchant_id=merchant_id,
                order_no=order_no,
                refund_no=f"R{n}",
                amount=amount,
            )
        refunded += amount

    with platform.transaction() as session:
        loan = platform.loans.loan(session, loan_id=loan_id)
        assert loan.principal_outstanding + refunded == 6000_00
        assert (
            sum(i.principal - i.principal_paid for i in platform.loans.schedule(session, loan_id))
            == loan.principal_outstanding
        )
        assert loan.status == ("repaid" if refunded == 6000_00 else "active")
        assert_balanced(session, platform.ledger)
