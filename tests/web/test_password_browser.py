"""Changing and resetting the login password in a real browser, on a desktop and a
phone, in Chinese and in English: a change signs the customer's other devices out;
a forgotten password is reset with the code sent to the registered mobile, which
signs every device out, and the new password logs in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from rongbank.platform import Platform
from tests.factories.identity import resident_id
from tests.web.conftest import (
    PASSWORD,
    VIEWS,
    View,
    needs_chromium,
    register_and_login,
    sms_code,
    someone,
    submit,
)

pytestmark = needs_chromium

CHANGED = "Mima-2027-changed"
RESET = "Mima-2028-was-reset"
WORDS = {
    "zh": {
        "change": "修改登录密码",
        "changed": "登录密码已修改，其他 1 处登录已退出。",
        "reset": "重置登录密码",
        "reset_done": "密码已重置，所有设备均已退出，请用新密码登录。",
    },
    "en": {
        "change": "Change your login password",
        "changed": "Your password is changed; 1 other sessions were signed out.",
        "reset": "Reset your login password",
        "reset_done": (
            "Your password is reset and every device signed out. Log in with the new one."
        ),
    },
}


def log_in(page: Page, base: str, mobile: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login_name]", mobile)
    page.fill("input[name=password]", password)
    submit(page)
    expect(page.locator("#assets-total")).to_be_visible()


@pytest.mark.parametrize("view", VIEWS, indirect=True)
def test_a_password_changed_then_forgotten_and_reset(
    server: tuple[str, Platform], view: View
) -> None:
    base, platform = server
    words = WORDS[view.lang]
    mobile, n = someone()
    page = view.tab()
    register_and_login(page, base, "赵敏", mobile, n)
    phone = view.tab()  # the same customer on another device
    log_in(phone, base, mobile, PASSWORD)

    page.click("nav a[href='/security']")
    page.click("#security-more a[href='/security/password']")
    expect(page.locator("h1")).to_have_text(words["change"])
    page.fill("input[name=current_password]", PASSWORD)
    page.fill("input[name=new_password]", CHANGED)
    view.fits(page)
    submit(page)
    expect(page.locator("#sessions-notice")).to_have_text(words["changed"])
    view.fits(page)
    view.snap(page, "sessions")
    phone.reload()
    expect(phone).to_have_url(re.compile(r"/login"))  # signed out by the change

    stranger = view.tab()  # the password forgotten: from a browser not logged in
    stranger.goto(f"{base}/login")
    stranger.click("#forgot-password")
    expect(stranger.locator("h1")).to_have_text(words["reset"])
    stranger.fill("input[name=mobile]", mobile)
    stranger.fill("input[name=resident_id]", resident_id(n))
    view.fits(stranger)
    submit(stranger)
    expect(stranger.locator("#reset-code-sent")).to_contain_text(f"{mobile[:3]}****{mobile[-4:]}")
    stranger.fill("input[name=code]", sms_code(platform, mobile))
    stranger.fill("input[name=new_password]", RESET)
    view.fits(stranger)
    submit(stranger)
    expect(stranger.locator("#login-notice")).to_have_text(words["reset_done"])
    view.fits(stranger)

    page.reload()
    expect(page).to_have_url(re.compile(r"/login"))  # every device signed out
    stranger.fill("input[name=login_name]", mobile)
    stranger.fill("input[name=password]", CHANGED)  # the old one no longer works
    submit(stranger)
    expect(stranger.locator(".alert")).to_be_visible()
    log_in(stranger, base, mobile, RESET)
