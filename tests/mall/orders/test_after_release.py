"""Returns after the seller was paid: the refund still goes back the way it came (an
e-Pay refund, or the 逸贷 plan unwound), and the money comes back from the seller:
the commission pro rata from the bank's income, the seller's part owed to the mall
and taken from its next e-Pay settlement, to the fen."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.clock import FrozenClock
from rongbank.lending.repayment import periods_of
from rongbank.platform import Platform
from tests.factories.loans import assert_balanced
from tests.factories.people import V1, People
from tests.support.api import ApiCustomer
from tests.support.mall_orders import (
    Shops,
    ask_return,
    buy,
    customer,
    instalments_offered,
    log_in_again,
    paid_checkout,
    received_and_released,
    settle_yesterday,
    ship_all,
)


def released_and_settled(platform: Platform, clock: FrozenClock, people: People) -> None:
    """Receipt confirms itself, the return window passes (released), and e-Pay's
    settlement of the next day pays the sellers out."""
    _, released = received_and_released(platform, clock)
    assert released >= 1
    clock.advance(timedelta(days=1))
    settle_yesterday(platform)


def balance(platform: Platform, code: str) -> int:
    with platform.transaction() as session:
        row = session.execute(
            text("SELECT debits_posted - credits_posted FROM ledger_account WHERE code = :c"),
            {"c": code},
        ).scalar()
    return int(row or 0)


def deposit(platform: Platform, account: str) -> int:
    with platform.transaction() as session:
        row = session.execute(
            text(
                "SELECT l.credits_posted - l.debits_posted FROM e_account e "
                "JOIN ledger_account l ON l.id = e.ledger_account_id WHERE e.number = :n"
            ),
            {"n": account},
        ).scalar_one()
    return int(row)


def test_a_return_after_the_seller_was_paid_takes_the_money_back_to_the_fen(
    buyer: ApiCustomer,
    shops: Shops,
    client: TestClient,
    platform: Platform,
    clock: FrozenClock,
    people: People,
) -> None:
    kettle = shops.sku(0, price=199_90, stock=5, commission_bp=333)
    cup = shops.sku(0, price=12_50, stock=9, commission_bp=333)
    checkout = paid_checkout(buyer, {kettle: 1, cup: 3})
    ship_all(client, shops, checkout)
    order = checkout["orders"][0]
    seller = shops.sellers[0]
    before_payout = deposit(platform, seller.account)
    released_and_settled(platform, clock, people)
    # 237.40 kept at 3.33%: 6.66 (199.90: 6.65667 -> 6.66; 37.50: 1.24875 -> 1.25).
    assert shops.income() == 6_66 + 1_25
    assert deposit(platform, seller.account) - before_payout == 237_40 - 7_91
    log_in_again(buyer, people)

    # Within the after-sales days, one cup comes back; the seller agrees.
    asked = ask_return(buyer, order, [0, 1], "质量问题")
    assert asked.status_code == 201, asked.text
    agreed = client.post(
        f"{V1}/merchant/mall/returns/{asked.json()['id']}/agree", headers=shops.headers(0)
    )

    assert agreed.status_code == 200, agreed.text
    assert agreed.json()["status"] == "refunded"
    assert buyer.available() == "4775.10"  # 5000.00 - 237.40 + 12.50
    # The commission on the cups went from 1.25 (37.50) to 0.83 (25.00: 0.8325):
    # 0.42 comes back from the bank's income; 12.08 is owed by the seller.
    assert shops.income() == 6_66 + 83
    assert balance(platform, f"mall:owed:{seller.shop_id}") == 12_50 - 42
    assert shops.clearing_held() == 0  # what came back went straight out to the buyer
    assert shops.stock(cup) == 7
    seen = buyer.get(f"/me/mall/orders/{order['id']}").json()
    assert (seen["status"], seen["refunded"]) == ("released", "12.50")

    # The seller cannot close the shop while it owes the mall.
    closing = client.post(f"{V1}/merchant/mall/shop/close", headers=shops.headers(0), json={})
    assert closing.json()["error"]["code"] in ("mall_shop_orders_open", "mall_shop_money_unsettled")

    # The seller's next sale is settled, and the debt is taken from that payout.
    another = customer(client, platform, people, "李小红", 100_00)
    later = paid_checkout(another, {cup: 2}, key="c2")
    ship_all(client, shops, later)
    before_payout = deposit(platform, seller.account)
    released_and_settled(platform, clock, people)

    payout = 25_00 - 83  # 25.00 at 3.33%
    assert deposit(platform, seller.account) - before_payout == payout - (12_50 - 42)
    assert balance(platform, f"mall:owed:{seller.shop_id}") == 0
    assert shops.income() == 6_66 + 83 + 83
    with platform.transaction() as session:
        assert_balanced(session, platform.ledger)


def test_a_return_after_release_of_an_instalment_checkout_unwinds_the_loan(
    buyer: ApiCustomer,
    shops: Shops,
    client: TestClient,
    platform: Platform,
    clock: FrozenClock,
    people: People,
) -> None:
    phone = shops.sku(1, price=3000_00, stock=2, commission_bp=200)
    checkout = buy(buyer, {phone: 1}).json()
    token = checkout["payment_token"]
    offer = instalments_offered(buyer, checkout).json()["offer"]
    paid = buyer.confirmed(f"/me/orders/{token}/instalments/pay", {"offer_id": offer["id"]})
    assert paid.status_code == 200, paid.text
    ship_all(client, shops, checkout)
    released_and_settled(platform, clock, people)
    log_in_again(buyer, people)
    assert shops.income() == 60_00

    asked = ask_return(buyer, checkout["orders"][0], [1], "质量问题").json()
    seller = shops.headers(1)
    refused = client.post(f"{V1}/merchant/mall/returns/{asked['id']}/refuse", headers=seller)
    assert refused.json()["status"] == "refused"
    assert buyer.post(f"/me/mall/returns/{asked['id']}/dispute").json()["status"] == "disputed"
    ruled = client.post(
        f"{V1}/staff/mall/returns/{asked['id']}/ruling",
        headers=people.staff("operations"),
        json={"refund": True},
    )

    assert ruled.status_code == 200, ruled.text
    with platform.transaction() as session:
        loan = platform.loans.loan(session, loan_id=paid.json()["loan_id"])
        left = sum(p.principal - p.principal_paid for p in periods_of(session, loan.id))
    assert left == 0  # the whole principal repaid by the refund
    assert shops.income() == 0  # the whole commission given back
    assert balance(platform, f"mall:owed:{shops.sellers[1].shop_id}") == 3000_00 - 60_00
    assert shops.clearing_held() == 0
    assert buyer.get(f"/me/mall/orders/{checkout['orders'][0]['id']}").json()["status"] == "closed"
