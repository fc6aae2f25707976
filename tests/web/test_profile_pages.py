"""The customer's login and password pages as plain forms (no JavaScript): changing
the password, devices and login history, a reset through the registered mobile, the
lockout's wording, errors as pages, and a form kept across an expired session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.auth import otp
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.web.pages import CUSTOMER_HOME
from tests.factories.identity import resident_id
from tests.support.web import WebCustomer
from tests.web.conftest import PASSWORD, deposit, sms_code

NEW = "Xin-mima-2027!"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
MOBILE = "13900000501"


@pytest.fixture
def app(platform: Platform) -> FastAPI:
    return create_app(platform, background=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def me(client: TestClient, platform: Platform) -> WebCustomer:
    customer = WebCustomer(client, platform, "韩梅梅", MOBILE, 501)
    deposit(platform, customer.account, 10_000_00)
    return customer


@pytest.fixture
def phone(app: FastAPI, me: WebCustomer) -> Iterator[TestClient]:
    """The same customer logged in on a second device, a Chrome on Windows."""
    with TestClient(app, headers={"User-Agent": CHROME}) as other:
        page = other.get("/login")
        other.post(
            "/login",
            data={"login_name": MOBILE, "password": PASSWORD, "csrf": token(page.text)},
        )
        assert other.get("/accounts", follow_redirects=False).status_code == 200
        yield other


def token(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def logged_in(client: TestClient) -> bool:
    return client.get("/accounts", follow_redirects=False).status_code == 200


def log_in(client: TestClient, password: str) -> Any:
    page = client.get("/login")
    return client.post(
        "/login", data={"login_name": MOBILE, "password": password, "csrf": token(page.text)}
    )


def english(client: TestClient) -> None:
    client.cookies.set("rb_lang", "en")


class TestChangePassword:
    def test_the_new_password_logs_in_and_the_other_devices_are_signed_out(
        self, me: WebCustomer, phone: TestClient, app: FastAPI
    ) -> None:
        me.get("/security")
        assert 'href="/security/password"' in me.page.text
        me.get("/security/password")
        me.submit("/security/password", current_password=PASSWORD, new_password=NEW)
        assert me.page.status_code == 200, me.error
        assert "登录密码已修改，其他 1 处登录已退出。" in me.page.text
        assert not logged_in(phone)
        assert logged_in(me.client)
        with TestClient(app) as fresh:
            assert log_in(fresh, PASSWORD).status_code == 401
            assert log_in(fresh, NEW).status_code == 200

    def test_a_wrong_current_password_says_the_tries_left_and_the_lockout(
        self, me: WebCustomer
    ) -> None:
        me.get("/security/password")
        me.submit("/security/password", current_password="Wrong-pass-1", new_password=NEW)
        assert me.page.status_code == 422
        assert me.error == "当前密码错误。还可尝试 4 次，再错此网络将暂停登录此账户 15 分钟。"
        for _ in range(4):
            me.submit("/security/password", current_password="Wrong-pass-1", new_password=NEW)
        assert me.error.startswith("您所在网络输错密码次数过多")
        assert "请 15 分钟后再试" in me.error
        # Locked: not even the right password is taken now.
        me.submit("/security/password", current_password=PASSWORD, new_password=NEW)
        assert "请 15 分钟后再试" in me.error

    def test_a_weak_password_is_refused_in_the_customers_language(self, me: WebCustomer) -> None:
        english(me.client)
        me.get("/security/password")
        me.submit("/security/password", current_password=PASSWORD, new_password="short")
        assert me.page.status_code == 422
        assert me.error.startswith("A password has 8")
        assert PASSWORD not in me.page.text


class TestLockoutWording:
    def test_the_login_page_says_how_many_tries_are_left_and_for_how_long_it_locks(
        self, client: TestClient, me: WebCustomer
    ) -> None:
        with TestClient(client.app) as stranger:
            answers = [log_in(stranger, "Wrong-pass-1") for _ in range(5)]
        texts = [re.search(r'role="alert">(.*?)</p>', a.text).group(1) for a in answers]  # type: ignore[union-attr]
        assert texts[0] == "手机号或密码错误。还可尝试 4 次，再错此网络将暂停登录此账户 15 分钟。"
        assert "还可尝试 1 次" in texts[3]
        assert "请 15 分钟后再试，或重置密码" in texts[4]

    def test_in_english_too(self, client: TestClient, me: WebCustomer) -> None:
        with TestClient(client.app) as stranger:
            english(stranger)
            answer = log_in(stranger, "Wrong-pass-1")
        assert (
            "The login name or password is wrong. Tries left: 4; then logins to this account "
            "from your network pause for 15 minutes."
        ) in answer.text


class TestSessionsAndHistory:
    def test_lists_the_devices_and_signs_one_out(self, me: WebCustomer, phone: TestClient) -> None:
        me.get("/security/sessions")
        assert "Chrome 120 · Windows 10" in me.page.text
        assert "本设备" in me.page.text
        [other] = re.findall(r'action="(/security/sessions/\d+/end)"', me.page.text)
        me.submit(other)
        assert "已退出其他 1 处登录。" in me.page.text
        assert not logged_in(phone)
        assert logged_in(me.client)
        assert "Chrome 120" not in me.page.text

    def test_signs_all_the_others_out(self, me: WebCustomer, phone: TestClient) -> None:
        me.get("/security/sessions")
        me.submit("/security/sessions/end-others")
        assert not logged_in(phone)
        assert logged_in(me.client)
        assert 'id="sign-out-others"' not in me.page.text

    def test_another_customers_session_cannot_be_signed_out(
        self, me: WebCustomer, app: FastAPI, platform: Platform
    ) -> None:
        with TestClient(app) as other_browser:
            bob = WebCustomer(other_browser, platform, "李雷", "13900000502", 502)
            bob.get("/security/sessions")
            [bobs] = re.findall(r'data-session="(\d+)"', bob.page.text)
            answer = me.client.post(f"/security/sessions/{bobs}/end", data={"csrf": me.csrf})
            assert answer.status_code == 404
            assert "session_not_found" in answer.text
            assert logged_in(other_browser)

    def test_the_login_history_shows_refused_logins(
        self, me: WebCustomer, client: TestClient, clock: FrozenClock
    ) -> None:
        clock.advance(timedelta(minutes=1))
        with TestClient(client.app) as stranger:
            log_in(stranger, "Wrong-pass-1")
        me.get("/security/sessions")
        results = re.findall(r'<tr class="login (\w+)">', me.page.text)
        assert results == ["wrong_password", "ok"]
        assert "密码错误" in me.page.text


class TestReset:
    def test_forgotten_password_reset_with_the_code_sent_to_the_mobile(
        self, me: WebCustomer, app: FastAPI, platform: Platform, phone: TestClient
    ) -> None:
        with TestClient(app) as browser:
            customer = WebCustomer.__new__(WebCustomer)
            customer.client, customer.platform, customer.mobile = browser, platform, MOBILE
            customer.get("/login")
            assert 'href="/password-reset"' in customer.page.text
            customer.get("/password-reset")
            customer.submit("/password-reset", mobile=MOBILE, resident_id=resident_id(501))
            assert customer.page.status_code == 200, customer.error
            assert "139****0501" in customer.page.text
            [action] = re.findall(r'action="(/password-reset/[^"]+)"', customer.page.text)
            customer.submit(
                action,
                code="000000" if sms_code(platform, MOBILE) != "000000" else "000001",
                new_password=NEW,
            )
            assert customer.error == "验证码不正确，还可尝试 4 次。"
            customer.submit(action, code=sms_code(platform, MOBILE), new_password=NEW)
            assert customer.page.status_code == 200, customer.error
            assert 'id="login-notice"' in customer.page.text
            assert "密码已重置" in customer.page.text
            assert log_in(browser, NEW).status_code == 200
        assert not logged_in(me.client)
        assert not logged_in(phone)

    def test_an_unknown_mobile_gets_the_same_page(
        self, client: TestClient, platform: Platform
    ) -> None:
        page = client.get("/password-reset")
        answer = client.post(
            "/password-reset",
            data={"mobile": "13700001111", "resident_id": resident_id(9), "csrf": token(page.text)},
        )
        assert answer.status_code == 200
        assert 'id="reset-code-sent"' in answer.text
        assert "137****1111" in answer.text

    def test_a_token_holder_confirms_with_the_token(
        self, me: WebCustomer, app: FastAPI, platform: Platform
    ) -> None:
        with platform.transaction() as session:
            _, held = platform.tools.provision_token(session, me.id)
        with TestClient(app) as browser:
            page = browser.get("/password-reset")
            answer = browser.post(
                "/password-reset",
                data={"mobile": MOBILE, "resident_id": resident_id(501), "csrf": token(page.text)},
            )
            [action] = re.findall(r'action="(/password-reset/[^"]+)"', answer.text)
            csrf = token(answer.text)
            asked = browser.post(
                action,
                data={"code": sms_code(platform, MOBILE), "new_password": NEW, "csrf": csrf},
            )
            assert 'id="reset-strong-tool"' in asked.text
            assert 'data-tool="token"' in asked.text
            question = re.search(r'name="challenge_id" value="([^"]+)"', asked.text)
            carried = re.search(r'name="challenge" value="([^"]+)"', asked.text)
            # A change, not a payment: one number, not a payee and an amount.
            shown = re.search(r'id="challenge-question" class="change">(.*?)</code>', asked.text)
            assert question
            assert carried
            assert shown
            assert "确认本次安全设置变更" in asked.text
            assert "收款账号的后6位" not in asked.text
            assert 'class="fen"' not in asked.text
            digits = "".join(re.findall(r"<span>(\d{4})</span>", shown.group(1)))
            assert len(digits) == otp.PAYEE_DIGITS + otp.AMOUNT_DIGITS
            steps = otp.time_steps(int(platform.clock.now().timestamp()), otp.SIGNATURE_SUITE)
            answer_code = otp.ocra(otp.SIGNATURE_SUITE, held.key, digits, timestamp=steps)
            done = browser.post(
                action,
                data={
                    "challenge_id": question.group(1),
                    "challenge": carried.group(1),
                    "response": answer_code,
                    "csrf": csrf,
                },
            )
            assert "密码已重置" in done.text, done.text
            assert log_in(browser, NEW).status_code == 200


class TestErrorPages:
    def test_an_unknown_address_is_a_page_and_the_api_still_answers_json(
        self, client: TestClient
    ) -> None:
        page = client.get("/no-such-page")
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "页面不存在" in page.text
        assert 'href="/static/style.css"' in page.text
        english(client)
        assert "Page not found" in client.get("/no-such-page").text
        api = client.get("/api/v1/no-such-thing")
        assert api.json()["error"]["code"] == "not_found"

    def test_a_refusal_on_a_page_is_a_page_in_the_customers_language(self, me: WebCustomer) -> None:
        answer = me.client.post("/security/sessions/end-others", data={"csrf": "forged"})
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("text/html")
        assert "无权访问" in answer.text
        assert "csrf_failed" in answer.text
        assert "The page has expired" not in answer.text  # no English on a Chinese page

    def test_a_bad_statement_period_is_a_page_that_says_what_to_choose(
        self, me: WebCustomer
    ) -> None:
        answer = me.get(f"/statement.pdf?account={me.account}&start=2026-03-05&end=2026-03-01")
        assert answer.status_code == 422
        assert answer.headers["content-type"].startswith("text/html")
        assert "请选择开始不晚于结束" in answer.text
        assert 'id="error-code">statement_period_invalid<' in answer.text

    def test_input_the_guard_refuses_is_a_page_on_a_page_and_json_on_the_api(
        self, client: TestClient
    ) -> None:
        """The input guard answers before routing: a NUL in a form field or a query."""
        form = {"login_name": "1390000\x000501", "password": "x", "csrf": "c"}
        for answer in (client.post("/login", data=form), client.get("/history?q=a%00b")):
            assert answer.status_code == 422
            assert answer.headers["content-type"].startswith("text/html")
            assert "请求未能完成" in answer.text
            assert 'id="error-code">invalid_request<' in answer.text
            assert "not valid" not in answer.text  # no English on a Chinese page
        english(client)
        assert "could not be completed" in client.post("/login", data=form).text
        api = client.get("/api/v1/me/accounts", params={"q": "a\x00b"})
        assert api.status_code == 422
        assert api.json()["error"]["code"] == "invalid_request"
        assert api.json()["error"]["details"]["errors"][0]["field"] == "query.q"

    def test_an_unexpected_failure_is_a_page_that_says_nothing_changed(self, app: FastAPI) -> None:
        @app.get("/boom")
        def boom() -> None:
            raise RuntimeError("boom")

        with TestClient(app, raise_server_exceptions=False) as browser:
            page = browser.get("/boom")
        assert page.status_code == 500
        assert "系统繁忙" in page.text
        assert "您的操作未生效" in page.text
        assert "boom" not in page.text


class TestExpiredSession:
    def test_a_form_posted_after_the_session_expired_is_kept_for_after_the_login(
        self, me: WebCustomer, platform: Platform, clock: FrozenClock
    ) -> None:
        with TestClient(me.client.app) as other:
            payee = WebCustomer(other, platform, "李雷", "13900000502", 502)
        me.get("/transfer")
        clock.advance(timedelta(minutes=16))
        me.submit("/transfer", destination=payee.account, amount="12.34", note="房租")
        assert me.page.url.path == "/login"
        assert 'id="session-expired"' in me.page.text
        me.submit("/login", login_name=MOBILE, password=PASSWORD)
        assert me.page.url.path == "/resume", me.page.text
        assert "12.34" in me.page.text
        assert "房租" in me.page.text
        me.submit("/transfer")
        assert me.page.status_code == 200, me.error
        assert 'id="confirm-amount"' in me.page.text
        assert "12.34" in me.page.text
        # Kept once: the cookie is gone.
        assert me.get("/resume").url.path == "/accounts"

    def test_passwords_are_never_kept_and_a_form_of_nothing_else_is_not_kept(
        self, me: WebCustomer, clock: FrozenClock
    ) -> None:
        me.get("/security/password")
        clock.advance(timedelta(minutes=16))
        me.submit("/security/password", current_password=PASSWORD, new_password=NEW)
        assert me.page.url.path == "/login"
        assert "rb_kept" not in me.client.cookies
        assert 'id="session-expired"' not in me.page.text
        assert 'name="next"' not in me.page.text

    def test_a_page_asked_for_after_the_session_expired_opens_after_the_login(
        self, me: WebCustomer, clock: FrozenClock
    ) -> None:
        clock.advance(timedelta(minutes=16))
        me.get("/history")
        assert me.page.url.path == "/login"
        me.submit("/login", login_name=MOBILE, password=PASSWORD)
        assert me.page.url.path == "/history"

    def test_the_login_never_sends_the_browser_to_another_site(
        self, client: TestClient, me: WebCustomer
    ) -> None:
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            page = client.get("/login", params={"next": target})
            assert 'name="next"' not in page.text
            answer = client.post(
                "/login",
                data={
                    "login_name": MOBILE,
                    "password": PASSWORD,
                    "csrf": token(page.text),
                    "next": target,
                },
                follow_redirects=False,
            )
            assert answer.headers["location"] == CUSTOMER_HOME, target
