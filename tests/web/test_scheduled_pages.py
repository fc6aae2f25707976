"""Scheduled and recurring transfers in the web bank, as plain forms: set up from a
review in the customer's words, confirmed with the challenge one occurrence needs (a
wrong answer sets nothing up), paid by the bank's job on its date with a receipt,
paused, resumed and cancelled; bad dates come back on the form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.clock import BUSINESS_TIME_ZONE, FrozenClock
from rongbank.platform import Platform
from tests.factories.people import PASSWORD
from tests.support.sms import sms_code
from tests.support.web import WebCustomer
from tests.web.conftest import deposit

TODAY = date(2026, 3, 2)  # the test clock's Beijing date


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def payer(client: TestClient, platform: Platform) -> WebCustomer:
    me = WebCustomer(TestClient(client.app), platform, "韩梅梅", "13900000801", 801)
    deposit(platform, me.account, 1_000_00)
    return me


@pytest.fixture
def landlord(client: TestClient, platform: Platform) -> WebCustomer:
    return WebCustomer(TestClient(client.app), platform, "李雷", "13900000802", 802)


def move_to(clock: FrozenClock, day: date) -> None:
    morning = datetime(day.year, day.month, day.day, 0, 5, tzinfo=BUSINESS_TIME_ZONE)
    clock.advance(morning.astimezone(UTC) - clock.now())


def log_in_again(me: WebCustomer) -> None:
    """Days later the session has lapsed: the customer logs in anew."""
    me.get("/login")
    me.submit("/login", login_name=me.mobile, password=PASSWORD)


def set_up(me: WebCustomer, destination: str, **fields: str) -> None:
    """Fill in and review a schedule, and confirm it, answering the SMS code if asked."""
    me.get("/scheduled")
    me.submit("/scheduled", destination=destination, **fields)
    assert me.page.status_code == 200, me.error
    me.submit("/scheduled/confirm")
    if me.asked == "sms":
        me.submit("/scheduled/confirm", response=sms_code(me.platform, me.mobile))
    assert "预约成功" in me.page.text, me.error or me.page.text


def schedules(platform: Platform, me: WebCustomer) -> list[tuple[str, str, date | None]]:
    with platform.transaction() as session:
        return [
            (s.schedule.frequency.value, s.status.value, s.next_on)
            for s in platform.scheduled.schedules(session, me.id)
        ]


def schedule_id(me: WebCustomer) -> str:
    (found,) = re.findall(r'data-schedule="(\d+)"', me.get("/scheduled").text)
    return found


def test_a_monthly_transfer_is_reviewed_in_words_set_up_and_paid_on_its_date(
    payer: WebCustomer, landlord: WebCustomer, platform: Platform, clock: FrozenClock
) -> None:
    payer.get("/scheduled")
    payer.submit(
        "/scheduled",
        destination=landlord.account,
        amount="300",
        note="房租",
        frequency="monthly",
        start_on="2026-03-31",
        day_of_month="31",
        weekday="3",  # another frequency's field: ignored
    )
    assert payer.page.status_code == 200, payer.error
    assert "每月31日，自 2026-03-31 起" in payer.page.text
    assert "*雷" in payer.page.text
    assert "¥ 300.00" in payer.page.text
    payer.submit("/scheduled/confirm")
    if payer.asked == "sms":
        payer.submit("/scheduled/confirm", response=sms_code(platform, payer.mobile))
    assert "预约成功" in payer.page.text
    assert schedules(platform, payer) == [("monthly", "active", date(2026, 3, 31))]
    assert payer.balance() == 1_000_00  # nothing moves before its date

    move_to(clock, date(2026, 3, 31))
    assert platform.run_scheduled_transfers().paid == 1
    assert landlord.balance() == 300_00
    log_in_again(payer)
    page = payer.get("/scheduled").text
    assert 'data-run="paid"' in page
    assert "2026-04-30" in page  # April has no 31st: its last day
    receipt = re.search(r'href="/receipts/(\d+)"', page)
    assert receipt
    page = payer.get(f"/receipts/{receipt.group(1)}").text
    assert 'id="receipt-scheduled"' in page
    assert "¥ 300.00" in page


def test_a_wrong_code_sets_nothing_up(
    payer: WebCustomer, landlord: WebCustomer, platform: Platform
) -> None:
    payer.get("/security")
    payer.submit("/security/limits", kind="password_free", per_payment="0")
    payer.get("/scheduled")
    payer.submit(
        "/scheduled",
        destination=landlord.account,
        amount="20",
        frequency="weekly",
        start_on="2026-03-03",
        weekday="5",
    )
    assert "每周五" in payer.page.text
    payer.submit("/scheduled/confirm")
    assert payer.asked == "sms"
    code = sms_code(platform, payer.mobile)
    payer.submit("/scheduled/confirm", response="000000" if code != "000000" else "111111")
    assert payer.page.status_code == 422
    assert "口令不正确" in payer.error
    assert schedules(platform, payer) == []
    answered = payer.page
    payer.submit("/scheduled/confirm", response=code)
    assert "预约成功" in payer.page.text
    payer.page = answered  # the answered form sent again sets up no second one
    payer.submit("/scheduled/confirm", response=code)
    assert "预约成功" in payer.page.text
    assert schedules(platform, payer) == [("weekly", "active", date(2026, 3, 6))]


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"start_on": "2026-03-02"}, "首次转账日须晚于今天"),  # today: a transfer now
        ({"start_on": "2026-13-40"}, "预约设置有误"),
        ({"frequency": "monthly", "day_of_month": ""}, "预约设置有误"),
        ({"frequency": "monthly", "day_of_month": "32"}, "预约设置有误"),
        ({"frequency": "yearly"}, "预约设置有误"),
    ],
)
def test_a_schedule_without_a_valid_date_comes_back_with_the_reason(
    payer: WebCustomer,
    landlord: WebCustomer,
    platform: Platform,
    fields: dict[str, str],
    shown: str,
) -> None:
    payer.get("/scheduled")
    payer.submit(
        "/scheduled",
        destination=landlord.account,
        amount="20",
        **{"frequency": "once", "start_on": "2026-03-10", **fields},
    )
    assert payer.page.status_code == 422
    assert shown in payer.error
    assert f'value="{landlord.account}"' in payer.page.text  # the form keeps what was typed
    assert schedules(platform, payer) == []


def test_pause_resume_and_cancel(
    payer: WebCustomer, landlord: WebCustomer, platform: Platform, clock: FrozenClock
) -> None:
    set_up(
        payer, landlord.account, amount="10", frequency="weekly", start_on="2026-03-03", weekday="2"
    )
    found = schedule_id(payer)
    payer.submit(f"/scheduled/{found}/pause")
    assert "已暂停。" in payer.page.text
    move_to(clock, date(2026, 3, 3))
    assert platform.run_scheduled_transfers().paid == 0
    assert landlord.balance() == 0
    log_in_again(payer)
    payer.get("/scheduled")
    payer.submit(f"/scheduled/{found}/resume")
    assert "已恢复。" in payer.page.text
    payer.submit(f"/scheduled/{found}/cancel")
    assert "已撤销。" in payer.page.text
    assert schedules(platform, payer)[0][1] == "cancelled"
    assert f'action="/scheduled/{found}/resume"' not in payer.page.text


def test_another_customers_schedule_is_left_alone(
    payer: WebCustomer, landlord: WebCustomer, platform: Platform
) -> None:
    set_up(payer, landlord.account, amount="10", frequency="once", start_on="2026-03-10")
    found = schedule_id(payer)
    response = landlord.client.post(f"/scheduled/{found}/cancel", data={"csrf": landlord.csrf})
    assert response.status_code == 422
    assert "没有找到这笔预约转账" in response.text
    assert schedules(platform, payer) == [("once", "active", date(2026, 3, 10))]
