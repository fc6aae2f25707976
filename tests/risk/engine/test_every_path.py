"""The engine is asked on every customer money path: each leaves its decision."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from rongbank.api.app import create_app
from rongbank.auth.limits import Risk
from rongbank.auth.stepup import NewPayeeRiskCheck
from rongbank.clock import FrozenClock
from rongbank.lending.loan_endpoints import repayment_request
from rongbank.payments.orders import OrderRequest
from rongbank.platform import Platform
from tests.factories import payments as epay
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.funding import CardHolder
from tests.support.lending import SHORT_FORM, FakeScorecard, apply, credit_platform
from tests.support.path_cost import Scene, paths, send


@pytest.fixture
def platform(connection: Connection, clock: FrozenClock) -> Platform:
    return credit_platform(connection, clock, scorer=FakeScorecard(), reports={})


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


def decided_since(platform: Platform, last: int) -> list[Any]:
    with platform.transaction() as session:
        return list(
            session.execute(
                text(
                    "SELECT id, purpose, payee, action, features, client_id FROM risk_decision "
                    "WHERE id > :last ORDER BY id"
                ),
                {"last": last},
            ).all()
        )


def last_id(platform: Platform) -> int:
    with platform.transaction() as session:
        return int(
            session.execute(text("SELECT coalesce(max(id), 0) FROM risk_decision")).scalar_one()
        )


def test_the_payment_paths_each_leave_a_decision(client, platform) -> None:
    scene = Scene(platform)
    scene.set_up()
    expected: dict[str, str | None] = {
        "transfer": "transfer",
        "static_qr": "merchant_payment",
        "online_order": "merchant_payment",
        "payment_code": "merchant_payment",
        "chat_card": "transfer",
        "wealth": "wealth_purchase",
        # 融e购: a checkout only reserves stock, its one payment is an e-Pay payment,
        # and a refund is the merchant's money going back (no customer spends it).
        "mall_checkout": None,
        "mall_pay": "merchant_payment",
        "mall_refund": None,
    }
    for name, prepare in paths(scene, 1).items():
        request = prepare(0)
        before = last_id(platform)
        send(client, request)
        found = decided_since(platform, before)
        if expected[name] is None:
            assert found == [], name
            continue
        assert [d.purpose for d in found] == [expected[name]], name
        assert found[0].action == "allow"


def test_a_withdrawal_leaves_a_decision(client, platform, people) -> None:
    person = people.register()
    people.fund(person, 100_000)
    holder = CardHolder(client, platform, person)
    card = holder.bind_confirmed()
    before = last_id(platform)
    assert holder.withdraw_confirmed(card["id"], "100.00", "w1").status_code in (200, 201, 202)
    assert [d.purpose for d in decided_since(platform, before)] == ["withdrawal"]


def test_a_loan_paid_out_and_repaid_each_leave_a_decision_the_repayment_low_risk(
    client, platform, people, clock: FrozenClock
) -> None:
    customer = ApiCustomer(client, platform, people.register())
    body = apply(customer).json()
    assert body["status"] == "offered", body
    before = last_id(platform)
    accepted = customer.confirmed(f"/me/lending/offers/{body['offer']['id']}/accept", {})
    assert accepted.status_code == 201, accepted.text
    (paid_out,) = decided_since(platform, before)
    assert (paid_out.purpose, paid_out.client_id, paid_out.action) == (
        "loan",
        f"offer:{body['offer']['id']}",
        "allow",
    )
    loan_id = accepted.json()["loan_id"]

    clock.advance(timedelta(days=10))  # before the first instalment falls due
    customer.headers = {"Authorization": f"Bearer {people.login(customer.mobile)}"}
    before = last_id(platform)
    repaid = customer.confirmed(
        f"/me/loans/{loan_id}/early-repayments", {"client_id": "p1", "principal": "2000.00"}
    )
    assert repaid.status_code == 201, repaid.text
    (repayment,) = decided_since(platform, before)
    assert repayment.purpose == "loan_early_repayment"
    assert (repayment.action, repayment.features["new_payee"]) == ("allow", False)
    assert repayment.features["to_bank"] is True


def test_yidai_instalments_leave_a_decision(client, platform, people) -> None:
    customer = ApiCustomer(client, platform, people.register())
    owner = ApiCustomer(client, platform, people.register("李四"))
    merchant_id = epay.merchant(platform, customer_id=owner.id, account=owner.account, name="店")
    with platform.transaction() as session:
        order, _ = platform.payments.create_order(
            session,
            merchant_id=merchant_id,
            order=OrderRequest(order_no="W1", amount=3000_00, channel="online"),
        )
    offered = customer.post(
        f"/me/orders/{order.token}/instalments",
        {"client_id": "k1", "term_months": 12, **SHORT_FORM},
    )
    assert offered.status_code in (200, 201), offered.text
    offer_id = offered.json()["offer"]["id"]
    before = last_id(platform)
    paid = customer.confirmed(f"/me/orders/{order.token}/instalments/pay", {"offer_id": offer_id})
    assert paid.status_code in (200, 201), paid.text
    signed = [d for d in decided_since(platform, before) if d.client_id.startswith("checkout:")]
    assert [(d.purpose, d.action) for d in signed] == [("loan", "allow")]


def test_a_large_repayment_to_the_bank_is_low_risk_where_the_old_check_said_elevated(
    platform: Platform, people: People
) -> None:
    customer = people.register()
    with platform.transaction() as session:
        account = platform.accounts.account(session, customer["account"]["number"])
        loan_id = platform.loans.disburse(
            session,
            customer_id=customer["customer_id"],
            account_id=account.id,
            product_code="personal_credit",
            principal_fen=1_200_000,
            term_months=12,
            method="equal_principal",
            annual_rate_bps=1200,
            grade="B",
            application_id=None,
            idempotency_key="offer-1",
        )
        loan = platform.loans.loan(session, loan_id=loan_id)
        request = repayment_request(loan, amount=600_000, client_id="r1", early=True)
        assert (
            NewPayeeRiskCheck().assess(session, customer["customer_id"], request) is Risk.ELEVATED
        )
        assert platform.risk_engine.assess(session, customer["customer_id"], request) is Risk.LOW
