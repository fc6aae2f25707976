"""The bank's runs of scheduled transfers ask the fraud engine as the customer's own
transfer does: a review holds the run, a block or a challenge (nobody is there to
answer it) refuses it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank import outbox
from rongbank.api.app import create_app
from rongbank.clock import BUSINESS_TIME_ZONE, FrozenClock
from rongbank.platform import Platform
from rongbank.risk.events import RiskCaseDecided
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.risk_engine import decisions, in_force


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> list[ApiCustomer]:
    """张三 (10,000.00) and 李雷 (nothing)."""
    register = People(client, platform)
    registered = [register.register(name) for name in ("张三", "李雷")]
    register.fund(registered[0], 1_000_000)
    return [ApiCustomer(client, platform, person) for person in registered]


def schedule(payer: ApiCustomer, payee: ApiCustomer, amount: str, key: str) -> dict[str, Any]:
    body = {
        "client_id": key,
        "source": payer.account,
        "destination": payee.account,
        "amount": amount,
        "frequency": "once",
        "start_on": "2026-03-05",
    }
    response = payer.confirmed("/me/scheduled-transfers", body)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def run_on_the_day(platform: Platform, clock: FrozenClock) -> None:
    morning = datetime(2026, 3, 5, 0, 5, tzinfo=BUSINESS_TIME_ZONE).astimezone(UTC)
    clock.advance(morning - clock.now())
    platform.run_scheduled_transfers()


def balance(platform: Platform, number: str) -> int:
    with platform.transaction() as session:
        return platform.accounts.available(session, platform.accounts.account(session, number))


def runs(platform: Platform, schedule_id: int) -> list[tuple[date, str, str]]:
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT occurrence, status, error_code FROM scheduled_transfer_run "
                "WHERE schedule_id = :id"
            ),
            {"id": schedule_id},
        ).all()
    return [(r[0], str(r[1]), str(r[2])) for r in rows]


def test_a_run_the_engine_reviews_is_held_until_the_customer_says_yes(
    people: list[ApiCustomer], platform: Platform, clock: FrozenClock
) -> None:
    zhang, li = people
    gift = schedule(zhang, li, "300.00", "gift")
    in_force(platform, name="big", condition="amount >= 20000", action="review", reason="large")
    run_on_the_day(platform, clock)
    assert runs(platform, gift["id"]) == [(date(2026, 3, 5), "held", "")]
    last = decisions(platform)[-1]
    assert (last.action, last.reasons) == ("review", ["large"])
    assert (balance(platform, zhang.account), balance(platform, li.account)) == (970_000, 0)
    with platform.transaction() as session:
        hold_ref = session.execute(text("SELECT hold_ref FROM risk_hold")).scalar_one()
        outbox.record(
            session,
            RiskCaseDecided(
                occurred_at=clock.now(),
                decision_ref="answer:1",
                customer_id=zhang.id,
                outcome="genuine",
                source="engine",
                source_ref="1",
                hold_ref=hold_ref,
            ),
        )
    assert platform.resolve_risk_holds().released == 1
    assert runs(platform, gift["id"]) == [(date(2026, 3, 5), "paid", "")]
    assert (balance(platform, zhang.account), balance(platform, li.account)) == (970_000, 30_000)


@pytest.mark.parametrize(
    ("action", "code"),
    [("block", "payment_refused_risk"), ("challenge", "scheduled_run_challenged")],
)
def test_a_run_the_engine_blocks_or_would_challenge_is_refused(
    people: list[ApiCustomer], platform: Platform, clock: FrozenClock, action: str, code: str
) -> None:
    zhang, li = people
    gift = schedule(zhang, li, "300.00", "gift")
    in_force(platform, name="big", condition="amount >= 20000", action=action, reason="large")
    run_on_the_day(platform, clock)
    assert runs(platform, gift["id"]) == [(date(2026, 3, 5), "failed", code)]
    if action == "block":  # kept for the analysts, as a customer's blocked transfer's
        assert [d.action for d in decisions(platform)][-1] == "block"
    assert (balance(platform, zhang.account), balance(platform, li.account)) == (1_000_000, 0)
