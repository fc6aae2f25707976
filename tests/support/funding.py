"""A customer's cards at other banks and withdrawals to them, over the API.

:class:`CardHolder` is whoever holds a customer's login: it answers an SMS challenge
only when told to (reading the code the fake gateway "sent" to the customer's mobile),
so that the same driver plays the customer and the thief who has only the password.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from rongbank.platform import Platform
from tests.factories.cards import CARD
from tests.factories.people import V1
from tests.support.sms import sms_code


def challenge_of(response: Any) -> dict[str, Any]:
    """The challenge a ``403 challenge_required`` answer carries."""
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "challenge_required", error
    challenge: dict[str, Any] = error["details"]["challenge"]
    return challenge


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


class CardHolder:
    def __init__(self, client: TestClient, platform: Platform, person: dict[str, Any]) -> None:
        """``person`` as :meth:`tests.factories.people.People.register` returns it."""
        self.client, self.platform = client, platform
        self.headers: dict[str, str] = person["headers"]
        self.mobile: str = person["login_name"]
        self.account: str = person["account"]["number"]

    def code(self) -> str:
        """The newest code sent to the customer's mobile."""
        return sms_code(self.platform, self.mobile)

    def bind(self, number: str = CARD, holder: str = "张三", **answer: str) -> Any:
        return self.client.post(
            f"{V1}/me/cards",
            headers=self.headers,
            json={"card_number": number, "holder_name": holder, **answer},
        )

    def bind_confirmed(self, number: str = CARD, holder: str = "张三") -> dict[str, Any]:
        """Bind a card as its owner does: asked for a code, answering it."""
        challenge = challenge_of(self.bind(number, holder))
        bound = self.bind(number, holder, challenge_id=challenge["id"], response=self.code())
        assert bound.status_code == 201, bound.text
        card: dict[str, Any] = bound.json()
        return card

    def cards(self) -> list[dict[str, Any]]:
        cards: list[dict[str, Any]] = self.client.get(f"{V1}/me/cards", headers=self.headers).json()
        return cards

    def withdraw(self, card_id: int, amount: str, key: str, **extra: Any) -> Any:
        return self._move("withdrawals", card_id, amount, key, **extra)

    def withdraw_confirmed(self, card_id: int, amount: str, key: str) -> Any:
        """A withdrawal, answering the SMS code when the bank asks for one."""
        response = self.withdraw(card_id, amount, key)
        if response.status_code != 403 or error_code(response) != "challenge_required":
            return response
        challenge = challenge_of(response)
        assert challenge["tool"] == "sms", challenge
        return self.withdraw(
            card_id, amount, key, challenge_id=challenge["id"], response=self.code()
        )

    def top_up(self, card_id: int, amount: str, key: str) -> Any:
        return self._move("top-ups", card_id, amount, key)

    def notices(self) -> list[dict[str, Any]]:
        """The bodies in the customer's 融e联 notice box, oldest first (delivered)."""
        listed = self.client.get(f"{V1}/me/chat/conversations", headers=self.headers).json()
        boxes = [c["id"] for c in listed if c["kind"] == "notice"]
        if not boxes:
            return []
        messages = self.client.get(
            f"{V1}/me/chat/conversations/{boxes[0]}/messages", headers=self.headers
        ).json()
        return [json.loads(m["body"]) for m in messages]

    def available(self) -> str:
        response = self.client.get(f"{V1}/me/accounts", headers=self.headers)
        assert response.status_code == 200, response.text
        return str(next(a["available"] for a in response.json() if a["number"] == self.account))

    def _move(self, kind: str, card_id: int, amount: str, key: str, **extra: Any) -> Any:
        return self.client.post(
            f"{V1}/me/{kind}",
            headers={**self.headers, "Idempotency-Key": key},
            json={"account": self.account, "card_id": card_id, "amount": amount, **extra},
        )
