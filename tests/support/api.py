"""A customer over the API, answering the SMS challenges the bank asks as they would."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from rongbank.platform import Platform
from tests.factories.people import V1
from tests.support.sms import sms_code


class ApiCustomer:
    def __init__(self, client: TestClient, platform: Platform, person: dict[str, Any]) -> None:
        """``person`` as :meth:`tests.factories.people.People.register` returns it."""
        self.client, self.platform = client, platform
        self.id: int = person["customer_id"]
        self.headers: dict[str, str] = person["headers"]
        self.mobile: str = person["login_name"]
        self.account: str = person["account"]["number"]

    def get(self, path: str) -> Any:
        return self.client.get(f"{V1}{path}", headers=self.headers)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(f"{V1}{path}", headers=self.headers, json=body or {})

    def confirmed(self, path: str, body: dict[str, Any]) -> Any:
        """Post ``body``; when the bank asks for an SMS code, send it again with the
        code read from the customer's phone."""
        response = self.post(path, body)
        if response.status_code != 403 or response.json()["error"]["code"] != "challenge_required":
            return response
        challenge = response.json()["error"]["details"]["challenge"]
        assert challenge["tool"] == "sms", challenge
        answer = {"challenge_id": challenge["id"], "response": sms_code(self.platform, self.mobile)}
        return self.post(path, {**body, **answer})

    def available(self) -> str:
        accounts = self.get("/me/accounts").json()
        return str(next(a["available"] for a in accounts if a["number"] == self.account))
