"""Raising risk alerts as the sources do (an event in the outbox), and filing them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import text

from rongbank import outbox
from rongbank.auth.service import PrincipalKind
from rongbank.platform import Platform
from rongbank.risk.events import RiskAlertRaised
from tests.factories.people import PASSWORD, V1
from tests.support.sms import sms_code

STAFF_PASSWORD = "Risk-Desk-2026!"


def raise_alert(
    platform: Platform,
    customer_id: int,
    *,
    ref: str,
    action: str = "review",
    source: str = "engine",
    score: float = 0.91,
    reasons: str = "new_device,fan_out",
    amount: int | None = 120_000,
    hold_ref: str | None = "hold-1",
    at: datetime | None = None,
    file: bool = True,
) -> None:
    """Record ``RiskAlertRaised`` as the engine (or AML) would, then run the filing job."""
    with platform.transaction() as session:
        outbox.record(
            session,
            RiskAlertRaised(
                occurred_at=at or platform.clock.now(),
                source=source,
                source_ref=ref,
                customer_id=customer_id,
                action=action,
                score=score,
                reasons=reasons,
                amount=amount,
                hold_ref=hold_ref if action == "review" else None,
            ),
        )
    if file:
        platform.risk_desk.file(platform.transaction)


def decisions(platform: Platform) -> list[dict[str, Any]]:
    """The ``RiskCaseDecided`` events recorded, oldest first, as the engine reads them."""
    with platform.transaction() as session:
        rows = session.execute(
            text("SELECT payload FROM outbox_event WHERE name = 'risk.case_decided' ORDER BY id")
        ).all()
    return [dict(r[0]) for r in rows]


@dataclass(frozen=True)
class Staff:
    id: int
    headers: dict[str, str]


def staff_member(platform: Platform, *, username: str, role: str) -> Staff:
    """A member of staff with a session: their id and the headers they send."""
    with platform.transaction() as session:
        staff_id = platform.accounts.create_staff(
            session, username=username, name=f"员工{username}", role=role
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.STAFF,
            principal_id=staff_id,
            username=username,
            password=STAFF_PASSWORD,
        )
        login = platform.auth.open_session(
            session, kind=PrincipalKind.STAFF, principal_id=staff_id, client="tests"
        )
    return Staff(staff_id, {"Authorization": f"Bearer {login.token}"})


def answer_question(
    api: TestClient,
    platform: Platform,
    who: dict[str, Any],
    question_id: int,
    said: str,
    *,
    confirm: bool = True,
) -> Any:
    """Answer "was this you?" over the API; a yes's SMS challenge answered with the
    code the fake gateway sent (unless ``confirm`` is False)."""
    path = f"{V1}/me/risk/questions/{question_id}/answer"
    response = api.post(path, headers=who["headers"], json={"answer": said})
    if not confirm or response.status_code != 403:
        return response
    challenge = response.json()["error"]["details"]["challenge"]
    code = sms_code(platform, who["login_name"])
    body = {"answer": said, "challenge_id": challenge["id"], "response": code}
    return api.post(path, headers=who["headers"], json=body)


def analyst_logged_in(tab: Page, base: str, platform: Platform, username: str) -> Page:
    """A new risk analyst, logged in to the staff console in ``tab`` (a browser's)."""
    with platform.transaction() as session:
        staff_id = platform.accounts.create_staff(
            session, username=username, name=f"风控{username}", role="risk_analyst"
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.STAFF,
            principal_id=staff_id,
            username=username,
            password=PASSWORD,
        )
    tab.goto(f"{base}/staff/login")
    tab.fill("input[name=username]", username)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("main form button[type=submit]")
    expect(tab).to_have_url(re.compile(r"/staff$"))
    return tab
