"""Scheduled and recurring transfers: set up over the API (with the step-up a payment
of that amount needs), paid by the job on their Beijing dates with a frozen clock,
refused runs recorded and told, and each customer's schedules their own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.auth.limits import PASSWORD_FREE, OwnLimit
from rongbank.clock import BUSINESS_TIME_ZONE, FrozenClock
from rongbank.platform import Platform
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.sms import sms_texts

TODAY = date(2026, 3, 2)  # the test clock's Beijing date


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> list[ApiCustomer]:
    """张三 (10,000.00), 李雷 (nothing) and 韩梅梅 (nothing)."""
    register = People(client, platform)
    registered = [register.register(name) for name in ("张三", "李雷", "韩梅梅")]
    register.fund(registered[0], 1_000_000)
    return [ApiCustomer(client, platform, person) for person in registered]


def schedule(
    payer: ApiCustomer, payee: ApiCustomer, amount: str, key: str, **when: Any
) -> dict[str, Any]:
    body = {
        "client_id": key,
        "source": payer.account,
        "destination": payee.account,
        "amount": amount,
        **when,
    }
    response = payer.confirmed("/me/scheduled-transfers", body)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def beijing_morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 0, 5, tzinfo=BUSINESS_TIME_ZONE).astimezone(UTC)


def move_to(clock: FrozenClock, day: date) -> None:
    clock.advance(beijing_morning(day) - clock.now())


def balance(platform: Platform, number: str) -> int:
    with platform.transaction() as session:
        return platform.accounts.available(session, platform.accounts.account(session, number))


def schedule_row(platform: Platform, schedule_id: int) -> tuple[str, date | None]:
    with platform.transaction() as session:
        row = session.execute(
            text("SELECT status, next_on FROM scheduled_transfer WHERE id = :id"),
            {"id": schedule_id},
        ).one()
    return str(row[0]), row[1]


def runs(platform: Platform, schedule_id: int) -> list[tuple[date, str, str]]:
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT occurrence, status, error_code FROM scheduled_transfer_run "
                "WHERE schedule_id = :id ORDER BY occurrence"
            ),
            {"id": schedule_id},
        ).all()
    return [(r[0], str(r[1]), str(r[2])) for r in rows]


def notices(platform: Platform, customer_id: int, kind: str) -> list[dict[str, Any]]:
    """The bodies of the customer's delivered notices of ``kind``, oldest first."""
    platform.deliver_push()
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT m.body FROM chat_push_delivery d JOIN chat_message m "
                "ON m.conversation_id = d.conversation_id AND m.seq = d.seq "
                "WHERE d.customer_id = :c AND d.kind = :k ORDER BY d.id"
            ),
            {"c": customer_id, "k": kind},
        ).all()
    return [json.loads(r[0]) for r in rows]


class TestSettingUp:
    def test_a_small_transfer_is_set_up_at_once_and_counts_nothing_today(
        self, people: list[ApiCustomer], platform: Platform
    ) -> None:
        zhang, li, _ = people
        response = zhang.post(
            "/me/scheduled-transfers",
            {
                "client_id": "rent",
                "source": zhang.account,
                "destination": li.account,
                "amount": "150.00",
                "frequency": "monthly",
                "day_of_month": 31,
                "start_on": "2026-03-03",
            },
        )
        assert response.status_code == 201, response.text
        found = response.json()
        assert (found["status"], found["next_on"], found["amount"]) == (
            "active",
            "2026-03-31",
            "150.00",
        )
        with platform.transaction() as session:
            assert platform.stepup.usage(session, zhang.id) == {}
        assert [s["id"] for s in zhang.get("/me/scheduled-transfers").json()] == [found["id"]]

    def test_beyond_the_password_free_allowance_it_is_confirmed_with_a_code_naming_it(
        self, people: list[ApiCustomer], platform: Platform
    ) -> None:
        zhang, li, _ = people
        body = {
            "client_id": "big",
            "source": zhang.account,
            "destination": li.account,
            "amount": "3000.00",
            "frequency": "once",
            "start_on": "2026-04-01",
        }
        asked = zhang.post("/me/scheduled-transfers", body)
        assert asked.json()["error"]["code"] == "challenge_required"
        assert zhang.get("/me/scheduled-transfers").json() == []
        done = zhang.confirmed("/me/scheduled-transfers", body)
        assert done.status_code == 201, done.text
        # The code's text says what it confirms: the payee, the amount and the date.
        assert (
            f"schedule 3000.00 CNY to account ending {li.account[-4:]} on 2026-04-01"
            in (sms_texts(platform, zhang.mobile)[0])
        )
        with platform.transaction() as session:
            assert platform.stepup.usage(session, zhang.id) == {}  # counted on its day

    def test_a_retry_answers_the_same_schedule_and_another_request_under_its_key_is_refused(
        self, people: list[ApiCustomer]
    ) -> None:
        zhang, li, _ = people
        body = {
            "client_id": "k1",
            "source": zhang.account,
            "destination": li.account,
            "amount": "50.00",
            "frequency": "weekly",
            "weekday": 5,
            "start_on": "2026-03-03",
        }
        first = zhang.post("/me/scheduled-transfers", body)
        again = zhang.post("/me/scheduled-transfers", body)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"]
        other = zhang.post("/me/scheduled-transfers", {**body, "amount": "60.00"})
        assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_conflict")
        assert len(zhang.get("/me/scheduled-transfers").json()) == 1

    @pytest.mark.parametrize(
        ("when", "code"),
        [
            ({"frequency": "once", "start_on": "2026-03-02"}, "schedule_date_invalid"),
            ({"frequency": "once", "start_on": "2027-03-10"}, "schedule_date_invalid"),
            ({"frequency": "monthly", "start_on": "2026-04-01"}, "schedule_invalid"),
            ({"frequency": "once", "start_on": "2026-04-01", "weekday": 1}, "schedule_invalid"),
        ],
    )
    def test_a_schedule_without_a_valid_first_date_is_refused_before_any_code(
        self, people: list[ApiCustomer], platform: Platform, when: dict[str, Any], code: str
    ) -> None:
        zhang, li, _ = people
        body = {
            "client_id": "x",
            "source": zhang.account,
            "destination": li.account,
            "amount": "3000.00",
            **when,
        }
        response = zhang.post("/me/scheduled-transfers", body)
        assert (response.status_code, response.json()["error"]["code"]) == (422, code)
        assert sms_texts(platform, zhang.mobile) == []

    def test_only_from_ones_own_account(self, people: list[ApiCustomer]) -> None:
        zhang, li, _ = people
        stolen = li.post(
            "/me/scheduled-transfers",
            {
                "client_id": "s",
                "source": zhang.account,
                "destination": li.account,
                "amount": "10.00",
                "frequency": "once",
                "start_on": "2026-04-01",
            },
        )
        assert (stolen.status_code, stolen.json()["error"]["code"]) == (
            403,
            "account_not_accessible",
        )


class TestRuns:
    def test_a_monthly_transfer_on_the_31st_is_paid_on_each_months_last_day_once(
        self, people: list[ApiCustomer], platform: Platform, clock: FrozenClock
    ) -> None:
        zhang, li, _ = people
        rent = schedule(
            zhang, li, "150.00", "rent", frequency="monthly", day_of_month=31, start_on="2026-03-03"
        )
        move_to(clock, date(2026, 3, 30))
        assert platform.run_scheduled_transfers().paid == 0
        assert balance(platform, li.account) == 0
        for day, paid in ((date(2026, 3, 31), 15_000), (date(2026, 4, 30), 30_000)):
            move_to(clock, day)
            assert platform.run_scheduled_transfers().paid == 1
            assert platform.run_scheduled_transfers().paid == 0  # run again: nothing more
            assert balance(platform, li.account) == paid
        assert balance(platform, zhang.account) == 1_000_000 - 30_000
        assert schedule_row(platform, rent["id"]) == ("active", date(2026, 5, 31))
        assert [r[:2] for r in runs(platform, rent["id"])] == [
            (date(2026, 3, 31), "paid"),
            (date(2026, 4, 30), "paid"),
        ]

    def test_a_one_off_is_paid_on_its_day_then_finished(
        self, people: list[ApiCustomer], platform: Platform, clock: FrozenClock
    ) -> None:
        zhang, li, _ = people
        once = schedule(zhang, li, "3000.00", "gift", frequency="once", start_on="2026-03-05")
        move_to(clock, date(2026, 3, 5))
        platform.run_scheduled_transfers()
        assert balance(platform, li.account) == 300_000
        assert schedule_row(platform, once["id"]) == ("finished", None)
        with platform.transaction() as session:
            # Counted against the day it was paid, under the tool that covers it.
            usage = platform.stepup.usage(session, zhang.id)
        assert usage["sms"].day_amount == 300_000

    def test_a_run_refused_for_funds_is_recorded_told_and_the_schedule_goes_on(
        self, people: list[ApiCustomer], platform: Platform, clock: FrozenClock
    ) -> None:
        zhang, li, _ = people
        weekly = schedule(
            li, zhang, "80.00", "allowance", frequency="weekly", weekday=3, start_on="2026-03-03"
        )
        move_to(clock, date(2026, 3, 4))  # a Wednesday: li has nothing
        assert platform.run_scheduled_transfers().failed == 1
        assert runs(platform, weekly["id"]) == [(date(2026, 3, 4), "failed", "insufficient_funds")]
        assert schedule_row(platform, weekly["id"]) == ("active", date(2026, 3, 11))
        assert balance(platform, zhang.account) == 1_000_000
        [told] = notices(platform, li.id, "payment_failed")
        assert told["title"] == "预约转账未成功"
        assert "余额不足" in told["text"]
        assert told["en"]["title"] == "Scheduled transfer not made"
        assert "not enough money" in told["en"]["text"]
        assert told["data"]["occurrence"] == "2026-03-04"
        assert told["data"]["amount"] == "80.00"
        assert told["data"]["reason"] == "insufficient_funds"
        assert notices(platform, li.id, "payment_failed") == [told]  # told once

    def test_each_run_counts_against_the_days_limits(
        self, people: list[ApiCustomer], platform: Platform, clock: FrozenClock
    ) -> None:
        zhang, li, han = people
        with platform.transaction() as session:
            platform.stepup.set_own_limit(
                session, zhang.id, PASSWORD_FREE, OwnLimit(200_00, 200_00)
            )
            platform.stepup.set_own_limit(session, zhang.id, "sms", OwnLimit(0, 0))
        first = schedule(zhang, li, "150.00", "a", frequency="once", start_on="2026-03-10")
        second = schedule(zhang, han, "150.00", "b", frequency="once", start_on="2026-03-10")
        move_to(clock, date(2026, 3, 10))
        done = platform.run_scheduled_transfers()
        assert (done.paid, done.failed) == (1, 1)
        assert runs(platform, first["id"])[0][1] == "paid"
        assert runs(platform, second["id"])[0][2] == "stronger_tool_required"
        with platform.transaction() as session:
            assert platform.stepup.usage(session, zhang.id)[PASSWORD_FREE].day_amount == 150_00
        assert balance(platform, han.account) == 0

    def test_a_paused_schedule_pays_nothing_and_resumes_from_the_next_date(
        self, people: list[ApiCustomer], platform: Platform, clock: FrozenClock
    ) -> None:
        zhang, li, _ = people
        monthly = schedule(
            zhang, li, "100.00", "m", frequency="monthly", day_of_month=10, start_on="2026-03-03"
        )
        paused = zhang.post(f"/me/scheduled-transfers/{monthly['id']}/pause")
        assert paused.json()["status"] == "paused"
        move_to(clock, date(2026, 3, 10))
        platform.run_scheduled_transfers()
        assert balance(platform, li.account) == 0
        move_to(clock, date(2026, 3, 20))
        with platform.transaction() as session:
            resumed = platform.scheduled.resume(session, zhang.id, monthly["id"])
        assert resumed.next_on == date(2026, 4, 10)
        move_to(clock, date(2026, 4, 10))
        platform.run_scheduled_transfers()
        assert balance(platform, li.account) == 10_000
        assert [r[0] for r in runs(platform, monthly["id"])] == [date(2026, 4, 10)]

    def test_a_cancelled_schedule_pays_nothing_and_cannot_resume(
        self, people: list[ApiCustomer], platform: Platform, clock: FrozenClock
    ) -> None:
        zhang, li, _ = people
        once = schedule(zhang, li, "100.00", "c", frequency="once", start_on="2026-03-05")
        cancelled = zhang.post(f"/me/scheduled-transfers/{once['id']}/cancel")
        assert (cancelled.json()["status"], cancelled.json()["next_on"]) == ("cancelled", None)
        resumed = zhang.post(f"/me/scheduled-transfers/{once['id']}/resume")
        assert (resumed.status_code, resumed.json()["error"]["code"]) == (
            409,
            "scheduled_transfer_over",
        )
        move_to(clock, date(2026, 3, 5))
        platform.run_scheduled_transfers()
        assert balance(platform, li.account) == 0


def test_another_customers_schedule_is_not_found(people: list[ApiCustomer]) -> None:
    zhang, li, han = people
    theirs = schedule(zhang, li, "10.00", "x", frequency="once", start_on="2026-04-01")
    for method, path in (
        ("GET", ""),
        ("GET", "/runs"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/cancel"),
    ):
        response = han.client.request(
            method, f"/api/v1/me/scheduled-transfers/{theirs['id']}{path}", headers=han.headers
        )
        assert (response.status_code, response.json()["error"]["code"]) == (
            404,
            "scheduled_transfer_not_found",
        ), path
    assert zhang.get(f"/me/scheduled-transfers/{theirs['id']}").json()["status"] == "active"
