"""Which customers a member of staff may look at, by one rule for the API and the
console (``Desk.check_customer``): an account manager sees the customers assigned to
them and those whose chat the desk has them serving now, nobody else's tools, risk
assessments or profile. And canned replies shared by every manager come only from a
supervisor."""

from __future__ import annotations

import re
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import text

from rongbank.web.pages import STAFF_COOKIE
from tests.accounts.test_statements import register_enterprise
from tests.chat.conftest import CHAT, STAFF_CHAT, V1, Chat

DENIED = ("403 staff_customer_not_served",) * 3 + ("not listed",)
SEEN = ("200", "200", "200", "listed")


def _code(answer: Response) -> str:
    """A refusal's code: the API's JSON, or the console's error page."""
    if answer.headers["content-type"].startswith("application/json"):
        return str(answer.json()["error"]["code"])
    found = re.search(r'id="error-code">([^<]+)<', answer.text)
    return found.group(1) if found else "no code"


def looks(chat: Chat, staff: dict[str, Any], customer: dict[str, Any]) -> tuple[str, ...]:
    """What each place answers this member of staff about the customer: the API's
    tools and risk assessments, the console's customer page and its search."""
    cid, console = customer["customer_id"], {"Cookie": f"{STAFF_COOKIE}={staff['token']}"}
    answers = [
        chat.client.get(f"{V1}/staff/customers/{cid}/tools", headers=staff["headers"]),
        chat.client.get(f"{V1}/staff/wealth/customers/{cid}/assessments", headers=staff["headers"]),
        chat.client.get(f"/staff/customers/{cid}", headers=console),
    ]
    seen = tuple(
        str(a.status_code) if a.status_code == 200 else f"{a.status_code} {_code(a)}"
        for a in answers
    )
    search = chat.client.get("/staff/search", params={"q": customer["mobile"]}, headers=console)
    assert search.status_code == 200, search.text
    listed = f'href="/staff/customers/{cid}"' in search.text
    return (*seen, "listed" if listed else "not listed")


def duty(chat: Chat, manager: dict[str, Any], *, on: bool) -> None:
    answer = chat.client.put(f"{STAFF_CHAT}/duty", headers=manager["headers"], json={"on_duty": on})
    assert answer.status_code == 200, answer.text


@pytest.fixture
def team(chat: Chat) -> dict[str, Any]:
    """Two account managers; the customer is the first's (registration gives the least
    loaded), with a chat open with the bank."""
    manager, colleague = chat.staff_member("m1"), chat.staff_member("m2")
    customer = chat.customer()
    bank = chat.client.post(f"{CHAT}/conversations/bank", headers=customer["headers"])
    assert bank.status_code == 201, bank.text
    return {"manager": manager, "colleague": colleague, "customer": customer, "bank": bank.json()}


class TestOneRuleForTheApiAndTheConsole:
    def test_the_manager_sees_their_customer_and_a_colleague_does_not(
        self, chat: Chat, team: dict[str, Any]
    ) -> None:
        assert looks(chat, team["manager"], team["customer"]) == SEEN
        assert looks(chat, team["colleague"], team["customer"]) == DENIED

    def test_a_colleague_sees_the_customer_while_serving_their_chat_only(
        self, chat: Chat, team: dict[str, Any]
    ) -> None:
        manager, colleague, customer = team["manager"], team["colleague"], team["customer"]
        duty(chat, manager, on=False)
        chat.send(customer, team["bank"]["id"], "在吗", "q1")  # the desk gives it to m2
        assert looks(chat, colleague, customer) == SEEN
        duty(chat, manager, on=True)  # the chat is handed back
        assert looks(chat, colleague, customer) == DENIED
        assert looks(chat, manager, customer) == SEEN

    def test_a_manager_the_customer_was_taken_from_no_longer_sees_them(
        self, chat: Chat, team: dict[str, Any]
    ) -> None:
        """m1 is off duty, m2 covers the chat, and operations give the customer to m3:
        m1, still a member of the chat (its record), sees the customer nowhere."""
        manager, colleague, customer = team["manager"], team["colleague"], team["customer"]
        third = chat.staff_member("m3")
        duty(chat, manager, on=False)
        chat.send(customer, team["bank"]["id"], "在吗", "q1")  # the desk gives it to m2
        ops = chat.staff_member("ops", role="operations")
        moved = chat.client.post(
            f"{V1}/staff/customers/{customer['customer_id']}/manager",
            headers=ops["headers"],
            json={"manager_id": third["id"]},
        )
        assert moved.status_code == 204, moved.text
        assert looks(chat, manager, customer) == DENIED
        assert looks(chat, colleague, customer) == SEEN
        assert looks(chat, third, customer) == SEEN
        # The console opens the chat for m1 without the customer's profile and
        # accounts beside it.
        page = chat.client.get(
            f"/staff/chat/{team['bank']['id']}",
            headers={"Cookie": f"{STAFF_COOKIE}={manager['token']}"},
        )
        assert page.status_code == 200, page.text
        assert "在吗" in page.text
        assert customer["account"]["number"] not in page.text

    def test_operations_see_any_customer(self, chat: Chat, team: dict[str, Any]) -> None:
        ops = chat.staff_member("ops", role="operations")
        assert looks(chat, ops, team["customer"]) == SEEN

    def test_an_id_no_customer_has_is_not_found_for_anyone(
        self, chat: Chat, team: dict[str, Any]
    ) -> None:
        for staff in (team["manager"], chat.staff_member("ops", role="operations")):
            missing = chat.client.get(
                f"{V1}/staff/customers/999999/tools", headers=staff["headers"]
            )
            assert (missing.status_code, missing.json()["error"]["code"]) == (
                404,
                "customer_not_found",
            )

    def test_a_group_with_an_enterprise_only_by_staff_who_serve_it(
        self, chat: Chat, team: dict[str, Any]
    ) -> None:
        company = register_enterprise(chat.client, chat)  # the least loaded: m2
        body = {"customer_id": company["customer_id"], "title": "融通贸易"}
        refused = chat.client.post(
            f"{STAFF_CHAT}/groups", headers=team["manager"]["headers"], json=body
        )
        assert (refused.status_code, refused.json()["error"]["code"]) == (
            403,
            "staff_customer_not_served",
        )
        made = chat.client.post(
            f"{STAFF_CHAT}/groups", headers=team["colleague"]["headers"], json=body
        )
        assert made.status_code == 201, made.text


class TestSharedCannedReplies:
    URL = f"{STAFF_CHAT}/canned-replies"

    def titles(self, chat: Chat, staff: dict[str, Any]) -> list[tuple[str, bool]]:
        replies = chat.client.get(self.URL, headers=staff["headers"])
        assert replies.status_code == 200, replies.text
        return [(r["title"], r["shared"]) for r in replies.json()]

    def test_a_manager_cannot_publish_to_every_colleague(
        self, chat: Chat, team: dict[str, Any]
    ) -> None:
        body = {"title": "转账", "body": "请转到 6222…", "shared": True}
        refused = chat.client.post(self.URL, headers=team["manager"]["headers"], json=body)
        assert (refused.status_code, refused.json()["error"]["code"]) == (
            403,
            "chat_canned_shared_not_allowed",
        )
        assert self.titles(chat, team["colleague"]) == []
        assert self.titles(chat, team["manager"]) == []

    def test_a_supervisor_publishes_one_every_manager_sees_and_it_is_audited(
        self, chat: Chat, team: dict[str, Any]
    ) -> None:
        supervisor = chat.staff_member("lead", role="supervisor")
        body = {"title": "问候", "body": "您好，很高兴为您服务", "shared": True}
        published = chat.client.post(self.URL, headers=supervisor["headers"], json=body)
        assert published.status_code == 201, published.text
        own = {"title": "稍等", "body": "请稍等"}
        assert (
            chat.client.post(self.URL, headers=team["manager"]["headers"], json=own).json()[
                "shared"
            ]
            is False
        )
        assert self.titles(chat, team["manager"]) == [("问候", True), ("稍等", False)]
        assert self.titles(chat, team["colleague"]) == [("问候", True)]
        with chat.platform.transaction() as session:
            audited = session.execute(
                text("SELECT actor_id, result FROM audit_log WHERE action = 'chat.canned.publish'")
            ).all()
        assert [tuple(a) for a in audited] == [(supervisor["id"], "ok")]

    def test_operations_no_longer_publish_replies(self, chat: Chat, team: dict[str, Any]) -> None:
        ops = chat.staff_member("ops", role="operations")
        body = {"title": "问候", "body": "您好", "shared": True}
        refused = chat.client.post(self.URL, headers=ops["headers"], json=body)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        assert self.titles(chat, team["manager"]) == []
