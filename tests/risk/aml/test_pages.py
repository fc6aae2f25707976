"""The staff console's AML page, as a risk analyst uses it: the day's findings and
large-value reports with their explanations, and the reports as CSV. Which roles may
open it is proven in ``tests/test_authorization.py``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.web.pages import LANG_COOKIE
from tests.factories.aml import YUAN, History
from tests.support.web import WebStaff


@pytest.fixture
def analyst(platform: Platform) -> Iterator[WebStaff]:
    with TestClient(create_app(platform, background=False)) as client:
        yield WebStaff(client, platform, "risk1", "周风控", "risk_analyst")


@pytest.fixture
def day_run(platform: Platform, clock: FrozenClock) -> tuple[int, int]:
    """A person's 600,000 yuan in, and 590,000 out an hour later: a large-value report
    each way and a rapid in-and-out finding. The two entries. (Tests ask for it before
    the analyst, whose login would not outlast the hour.)"""
    with platform.transaction() as session:
        history = History(platform, session, clock)
        person = history.person(0)
        came = history.pay_in(person, 600_000 * YUAN)
        history.later(hours=1)
        left = history.pay_out(person, 590_000 * YUAN)
        history.run()
    return came, left


def test_the_analyst_reads_the_day_s_findings_and_reports(
    day_run: tuple[int, int], analyst: WebStaff
) -> None:
    came, left = day_run
    analyst.get("/staff/risk/aml")
    page = analyst.page.text
    assert 'href="/staff/risk/aml"' in page  # in the risk analyst's menu
    assert "快进快出" in page
    assert f"#{came}, #{left}" in page
    assert page.count("自然人境内款项划转") == 2
    assert "¥ 600,000.00" in page


def test_the_page_speaks_english_too(day_run: tuple[int, int], analyst: WebStaff) -> None:
    analyst.client.cookies.set(LANG_COOKIE, "en")
    analyst.get("/staff/risk/aml")
    assert "Rapid in and out" in analyst.page.text
    assert "money passing through" in analyst.page.text


def test_another_day_shows_nothing(day_run: tuple[int, int], analyst: WebStaff) -> None:
    analyst.get("/staff/risk/aml?day=2020-01-01")
    assert "当日没有发现可疑交易线索。" in analyst.page.text
    assert "当日没有大额交易。" in analyst.page.text


def test_the_large_value_reports_as_csv(day_run: tuple[int, int], analyst: WebStaff) -> None:
    came, left = day_run
    response = analyst.client.get("/staff/risk/aml/large-value.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["direction"], r["total"], r["ledger_entries"]) for r in rows] == [
        ("in", "600000.00", str(came)),
        ("out", "590000.00", str(left)),
    ]
    with analyst.platform.transaction() as session:
        action, target = session.execute(
            text("SELECT action, target FROM audit_log ORDER BY id DESC LIMIT 1")
        ).one()
    assert (action, target) == ("risk.aml.export", str(rows[0]["day"]))
