"""e-Pay payments the fraud engine sends to review: held, not paid, until the review
releases them (paid, the merchant told) or voids them (declined, the money back)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank import outbox
from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.payments.orders import OrderRequest
from rongbank.platform import Platform
from rongbank.risk.events import RiskCaseDecided
from tests.support.path_cost import FUNDING, Scene, paths
from tests.support.risk_engine import in_force


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


def decide(platform: Platform, hold_ref: str, outcome: str, ref: str) -> None:
    with platform.transaction() as session:
        outbox.record(
            session,
            RiskCaseDecided(
                occurred_at=platform.clock.now(),
                decision_ref=ref,
                customer_id=1,
                outcome=outcome,
                source="engine",
                source_ref=ref,
                hold_ref=hold_ref,
            ),
        )


def held_payments(platform: Platform) -> dict[str, tuple[str, str, int, int]]:
    """Each held payment's channel: its hold, status, amount and payer's account id."""
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT p.channel, h.hold_ref, p.status, p.amount, p.e_account_id "
                "FROM risk_hold h JOIN payment p ON p.entry_id = h.entry_id ORDER BY p.id"
            )
        ).all()
    return {r[0]: (r[1], r[2], int(r[3]), int(r[4])) for r in rows}


def available(platform: Platform, e_account_id: int) -> int:
    with platform.transaction() as session:
        account = platform.payments.e_account(session, e_account_id)
        return platform.accounts.available(session, account)


def merchant_holds(platform: Platform, merchant_id: int) -> int:
    """What the merchant has been paid and not settled (held holds count nothing)."""
    with platform.transaction() as session:
        merchant = platform.payments.merchant(session, merchant_id)
        return platform.payments.merchant_funds(session, merchant).held


def send(client: TestClient, request: Any) -> Any:
    response = client.request(
        request.method, request.url, headers=request.headers, json=request.body
    )
    assert response.status_code in request.ok, response.text
    return response


def test_each_way_to_pay_holds_a_review_and_the_review_decides_it_once(
    client: TestClient, platform: Platform, clock: FrozenClock
) -> None:
    scene = Scene(platform)
    scene.set_up()
    in_force(
        platform, name="epay_review", condition="merchant_payment", action="review", reason="test"
    )
    ways = paths(scene, 1)
    static = ways["static_qr"](0)
    answers = {"static_qr": send(client, static).json()["status"]}
    answers["payment_code"] = send(client, ways["payment_code"](0)).json()["status"]
    payer = scene.person()
    with platform.transaction() as session:
        order, _ = platform.payments.create_order(
            session,
            merchant_id=scene.merchant_id,
            order=OrderRequest(
                order_no="N-1", amount=500, channel="online", notify_url="http://127.0.0.1:9/n"
            ),
        )
    paid = client.post(
        f"/api/v1/me/orders/{order.token}/pay",
        headers=payer.headers,
        json={"account": payer.account, "client_id": "n1"},
    )
    answers["online"] = paid.json()["status"]
    # The customer and the merchant's cashier are told it is held; nothing is paid.
    assert answers == {"static_qr": "held", "payment_code": "held", "online": "held"}
    held = held_payments(platform)
    assert {channel: h[1] for channel, h in held.items()} == dict.fromkeys(answers, "held")
    for _, _, amount, account in held.values():
        assert available(platform, account) == FUNDING - amount
    assert merchant_holds(platform, scene.merchant_id) == 0
    # A retry answers the held payment and moves nothing more.
    again = client.request(static.method, static.url, headers=static.headers, json=static.body)
    assert (again.status_code, again.json()["status"]) == (200, "held")

    # "Yes, it was me" (said twice) releases the static one; "no" voids the online one;
    # nobody decides the code's, which the policy voids once it times out.
    decide(platform, held["static_qr"][0], "genuine", "answer:1")
    decide(platform, held["static_qr"][0], "genuine", "answer:1-again")
    decide(platform, held["online"][0], "fraud", "answer:2")
    decide(platform, held["online"][0], "genuine", "case:late")  # too late: voided
    done = platform.resolve_risk_holds()
    assert (done.released, done.voided) == (1, 1)
    clock.advance(timedelta(hours=25))
    assert platform.resolve_risk_holds().voided == 1
    assert platform.resolve_risk_holds() == type(done)()

    after = held_payments(platform)
    assert {channel: h[1] for channel, h in after.items()} == {
        "static_qr": "paid",
        "payment_code": "declined",
        "online": "declined",
    }
    static_amount = held["static_qr"][2]
    assert merchant_holds(platform, scene.merchant_id) == static_amount
    assert available(platform, held["static_qr"][3]) == FUNDING - static_amount
    for channel in ("payment_code", "online"):
        assert available(platform, held[channel][3]) == FUNDING
    with platform.transaction() as session:
        told = session.execute(
            text(
                "SELECT n.event, n.body::jsonb ->> 'status' FROM payment_notification n "
                "JOIN payment p ON p.id = n.payment_id WHERE p.order_no = 'N-1' ORDER BY n.id"
            )
        ).all()
        announced = session.execute(
            text(
                "SELECT payload ->> 'status' FROM outbox_event "
                "WHERE name = 'payments.payment_made' ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in told] == [
        ("payment.held", "held"),
        ("payment.declined", "declined"),
    ]
    assert [r[0] for r in announced] == ["paid"]  # only the payment that was made
