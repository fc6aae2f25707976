"""A settlement share attached with four eyes: one member of the credit staff asks,
another approves (the share then applies) or declines; nobody approves their own;
each step audited; other roles are refused (``tests/test_authorization.py`` walks
every role)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.platform import Platform
from tests.factories import payments as epay
from tests.factories.loans import merchant_operating_loan
from tests.factories.people import V1, People
from tests.support.api import ApiCustomer

SHARES = f"{V1}/staff/lending/settlement-shares"


@pytest.fixture
def owner(client: TestClient, platform: Platform, people: People) -> ApiCustomer:
    return ApiCustomer(client, platform, people.register("王老板"))


@pytest.fixture
def merchant_id(platform: Platform, owner: ApiCustomer) -> int:
    return epay.merchant(platform, customer_id=owner.id, account=owner.account, name="老王面馆")


@pytest.fixture
def loan_id(platform: Platform, owner: ApiCustomer) -> int:
    return merchant_operating_loan(platform, customer_id=owner.id, account=owner.account)


def share_of(platform: Platform, loan_id: int) -> int | None:
    with platform.transaction() as session:
        found = session.execute(
            text("SELECT share_bps FROM lending_settlement_share WHERE loan_id = :l"),
            {"l": loan_id},
        ).scalar()
    return None if found is None else int(found)


def audited(platform: Platform, action: str) -> list[Any]:
    with platform.transaction() as session:
        return list(
            session.execute(
                text("SELECT target, result FROM audit_log WHERE action = :a ORDER BY id"),
                {"a": action},
            ).all()
        )


def test_a_share_asked_by_one_officer_applies_once_another_approves(
    client: TestClient, platform: Platform, people: People, merchant_id: int, loan_id: int
) -> None:
    maker = people.staff("credit_officer", "officer-a")
    checker = people.staff("credit_manager", "manager-b")
    body = {"loan_id": loan_id, "merchant_id": merchant_id, "share_bps": 2000, "reason": "合同约定"}

    asked = client.post(SHARES, headers=maker, json=body)

    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert (request["status"], request["share_bps"]) == ("pending", 2000)
    assert share_of(platform, loan_id) is None  # nothing until a second person approves
    again = client.post(SHARES, headers=checker, json=body)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "lending_settlement_share_asked"
    listed = client.get(SHARES, headers=checker).json()
    assert [(r["id"], r["status"]) for r in listed] == [(request["id"], "pending")]

    own = client.post(f"{SHARES}/{request['id']}/approve", headers=maker)
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "lending_settlement_share_four_eyes"
    assert share_of(platform, loan_id) is None

    approved = client.post(f"{SHARES}/{request['id']}/approve", headers=checker)

    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] != request["asked_by"]
    assert share_of(platform, loan_id) == 2000
    twice = client.post(f"{SHARES}/{request['id']}/decline", headers=checker)
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "lending_settlement_share_decided"
    target = f"loan {loan_id}"
    assert audited(platform, "lending.settlement_share.ask") == [
        (target, "ok"),
        (target, "refused"),
    ]
    assert [r for _, r in audited(platform, "lending.settlement_share.approve")] == [
        "refused",
        "ok",
    ]


def test_a_declined_share_attaches_nothing(
    client: TestClient, platform: Platform, people: People, merchant_id: int, loan_id: int
) -> None:
    maker = people.staff("credit_officer", "officer-a")
    checker = people.staff("credit_officer", "officer-b")
    body = {"loan_id": loan_id, "merchant_id": merchant_id, "share_bps": 500, "reason": "试试"}
    request = client.post(SHARES, headers=maker, json=body).json()

    declined = client.post(f"{SHARES}/{request['id']}/decline", headers=checker)

    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    assert share_of(platform, loan_id) is None
    # The loan may be asked for again once the request is decided.
    assert client.post(SHARES, headers=maker, json=body).status_code == 201


def test_a_share_for_another_persons_loan_is_refused_and_nothing_is_kept(
    client: TestClient, platform: Platform, people: People, merchant_id: int
) -> None:
    stranger = people.register("路人")
    loan = merchant_operating_loan(
        platform, customer_id=stranger["customer_id"], account=stranger["account"]["number"]
    )
    maker = people.staff("credit_officer", "officer-a")
    body = {"loan_id": loan, "merchant_id": merchant_id, "share_bps": 2000, "reason": "错了"}

    refused = client.post(SHARES, headers=maker, json=body)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "lending_settlement_share_invalid"
    assert client.get(SHARES, headers=maker).json() == []


@pytest.mark.parametrize("role", ["operations", "risk_analyst", "account_manager"])
def test_other_staff_may_not_ask_for_a_share(
    client: TestClient, people: People, merchant_id: int, loan_id: int, role: str
) -> None:
    body = {"loan_id": loan_id, "merchant_id": merchant_id, "share_bps": 2000, "reason": "x"}

    refused = client.post(SHARES, headers=people.staff(role), json=body)

    assert refused.status_code == 403
