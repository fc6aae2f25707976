"""Chat test helpers: customers and staff logged in over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.auth.service import PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.accounts.test_endpoints import PASSWORD, People

V1 = "/api/v1"
CHAT = f"{V1}/me/chat"
STAFF_CHAT = f"{V1}/staff/chat"


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


class Chat(People):
    def staff_member(self, username: str, role: str = "account_manager") -> dict[str, Any]:
        with self.platform.transaction() as session:
            staff_id = self.platform.accounts.create_staff(
                session, username=username, name=f"经理{username}", role=role
            )
            self.platform.auth.set_password(
                session,
                kind=PrincipalKind.STAFF,
                principal_id=staff_id,
                username=username,
                password=PASSWORD,
            )
        token = self.login(username)
        return {"id": staff_id, "token": token, "headers": {"Authorization": f"Bearer {token}"}}

    def customer(self, name: str = "张三") -> dict[str, Any]:
        person = self.register(name)
        person["token"] = person["headers"]["Authorization"].split()[1]
        person["mobile"] = person["login_name"]
        return person

    def ask(self, one: dict[str, Any], other: dict[str, Any]) -> int:
        """``one`` asks for a direct chat by ``other``'s mobile number."""
        response = self.client.post(
            f"{CHAT}/conversations/direct", headers=one["headers"], json={"mobile": other["mobile"]}
        )
        assert response.status_code == 201, response.text
        conversation_id: int = response.json()["id"]
        return conversation_id

    def direct(self, one: dict[str, Any], other: dict[str, Any]) -> int:
        """A direct chat ``one`` asked for and ``other`` accepted: contacts."""
        conversation_id = self.ask(one, other)
        accepted = self.client.post(
            f"{CHAT}/conversations/{conversation_id}/accept", headers=other["headers"]
        )
        assert accepted.status_code == 200, accepted.text
        return conversation_id

    def send(
        self, who: dict[str, Any], conversation_id: int, text: str, client_id: str, **extra: Any
    ) -> Any:
        base = STAFF_CHAT if "customer_id" not in who else CHAT
        return self.client.post(
            f"{base}/conversations/{conversation_id}/messages",
            headers=who["headers"],
            json={"client_id": client_id, "text": text, **extra},
        )

    def history(self, who: dict[str, Any], conversation_id: int, after: int = 0) -> list[Any]:
        base = STAFF_CHAT if "customer_id" not in who else CHAT
        response = self.client.get(
            f"{base}/conversations/{conversation_id}/messages",
            headers=who["headers"],
            params={"after_seq": after},
        )
        assert response.status_code == 200, response.text
        messages: list[Any] = response.json()
        return messages


@pytest.fixture
def chat(client: TestClient, platform: Platform) -> Chat:
    return Chat(client, platform)


@contextmanager
def serving(database_url: str, clock: FrozenClock) -> Iterator[Chat]:
    """A platform over a database of its own with real commits: WebSocket handlers
    run on other threads than the requests, so they cannot share the rolled-back
    test connection."""
    platform = Platform.connect(database_url, Settings(), clock=clock, group_commit=False)
    with TestClient(create_app(platform, background=False)) as client:
        yield Chat(client, platform)


@pytest.fixture
def live_chat(fresh_db: str, clock: FrozenClock) -> Iterator[Chat]:
    with serving(fresh_db, clock) as chat:
        yield chat
