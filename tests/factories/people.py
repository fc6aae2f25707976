"""Customers and staff, registered and logged in over the API as they would be."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from rongbank.auth.service import PrincipalKind
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.platform import Platform
from tests.factories.identity import resident_id

V1 = "/api/v1"
PASSWORD = "Mima-2026-secure"


class People:
    def __init__(self, client: TestClient, platform: Platform) -> None:
        self.client = client
        self.platform = platform
        self.count = 0

    def register(self, name: str = "张三") -> dict[str, Any]:
        self.count += 1
        body = {
            "name": name,
            "mobile": f"1390000{self.count:04d}",
            "resident_id": resident_id(self.count),
            "password": PASSWORD,
        }
        response = self.client.post(f"{V1}/customers", json=body)
        assert response.status_code == 201, response.text
        registered: dict[str, Any] = response.json()
        token = self.login(registered["login_name"])
        registered["headers"] = {"Authorization": f"Bearer {token}"}
        return registered

    def login(self, login_name: str, password: str = PASSWORD) -> str:
        response = self.client.post(
            f"{V1}/sessions", json={"login_name": login_name, "password": password}
        )
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token

    def fund(self, person: dict[str, Any], amount: int) -> None:
        with self.platform.transaction() as session:
            vault, _ = self.platform.ledger.create_account(
                session, code="bank:vault", currency="CNY", type=AccountType.ASSET
            )
            account = self.platform.accounts.account(session, person["account"]["number"])
            self.platform.ledger.transfer(
                session,
                Transfer(
                    client_id=f"fund-{account.number}-{amount}",
                    debit_account=vault.id,
                    credit_account=account.ledger_account_id,
                    amount=amount,
                    currency="CNY",
                ),
            )

    def staff(self, role: str, username: str = "") -> dict[str, str]:
        username = username or f"{role}-1"
        with self.platform.transaction() as session:
            staff_id = self.platform.accounts.create_staff(
                session, username=username, name="李四", role=role
            )
            self.platform.auth.set_password(
                session,
                kind=PrincipalKind.STAFF,
                principal_id=staff_id,
                username=username,
                password=PASSWORD,
            )
        return {"Authorization": f"Bearer {self.login(username)}"}
