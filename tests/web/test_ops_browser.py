"""The staff operations page (issue 22) in a real browser, at phone width in Chinese
and on a desktop in English: the jobs with their last runs and lag, the database's
role and archiving, the recent server errors; and only for the back office."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from rongbank import roles
from rongbank.api.observe import RECENT_ERRORS, RecentError
from rongbank.auth.service import PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.jobs import run_recorded
from rongbank.platform import Platform
from tests.factories.people import PASSWORD
from tests.web.conftest import View, needs_chromium, submit

pytestmark = needs_chromium


def _staff(platform: Platform, username: str, role: str) -> None:
    with platform.transaction() as session:
        staff_id = platform.accounts.create_staff(
            session, username=username, name="运维员", role=role
        )
        platform.auth.set_password(
            session,
            kind=PrincipalKind.STAFF,
            principal_id=staff_id,
            username=username,
            password=PASSWORD,
        )


def _login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/staff/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    submit(page)
    expect(page).to_have_url(re.compile(r"/staff$"))


def _broken() -> None:
    raise ConnectionError("the card network did not answer")


@pytest.fixture(scope="module")
def ops_bank(server: tuple[str, Platform]) -> tuple[str, Platform]:
    base, platform = server
    assert isinstance(platform.clock, FrozenClock)
    run_recorded("audit-sealer", 5.0, lambda: None, platform.session_factory, platform.clock)
    with pytest.raises(ConnectionError):
        run_recorded("funding-resolver", 15.0, _broken, platform.session_factory, platform.clock)
    platform.clock.advance(timedelta(seconds=5))
    RECENT_ERRORS.append(
        RecentError(
            platform.clock.now(),
            "haproxy-5e1f",
            "POST",
            "/api/v1/me/transfers",
            500,
            "internal_error",
        )
    )
    _staff(platform, "ops-1", roles.OPERATIONS)
    _staff(platform, "manager-1", roles.ACCOUNT_MANAGER)
    return base, platform


@pytest.mark.parametrize("view", [(360, "zh"), (1280, "en")], indirect=True)
def test_the_operations_page_shows_jobs_database_and_errors(
    ops_bank: tuple[str, Platform], view: View
) -> None:
    base, _ = ops_bank
    page = view.tab()
    _login(page, base, "ops-1")
    page.locator("header nav a[href='/staff/ops']").click()
    expect(page).to_have_url(re.compile(r"/staff/ops$"))
    zh = view.lang == "zh"
    jobs = page.locator("#ops-jobs tbody tr")
    expect(jobs).to_have_count(2)
    expect(jobs.filter(has_text="audit-sealer")).to_contain_text("成功" if zh else "OK")
    failed = jobs.filter(has_text="funding-resolver")
    expect(failed).to_contain_text("失败 (ConnectionError)" if zh else "Failed (ConnectionError)")
    expect(failed).to_have_class(re.compile(r"\bout\b"))  # never succeeded: shown as late
    expect(page.locator("#ops-role")).to_have_text("主库（可写）" if zh else "Primary (writable)")
    expect(page.locator("#ops-replicas")).to_contain_text(
        "没有备库连接" if zh else "No replica is connected"
    )
    errors = page.locator("#ops-errors tbody tr").first
    expect(errors).to_contain_text("haproxy-5e1f")
    expect(errors).to_contain_text("POST /api/v1/me/transfers")
    view.fits(page)
    view.snap(page, "staff-ops")


def test_an_account_manager_cannot_open_it(ops_bank: tuple[str, Platform], page: Page) -> None:
    base, _ = ops_bank
    _login(page, base, "manager-1")
    expect(page.locator("header nav a[href='/staff/ops']")).to_have_count(0)
    response = page.goto(f"{base}/staff/ops")
    assert response is not None
    assert response.status == 403
