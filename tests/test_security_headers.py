"""Pages cannot be framed or load foreign scripts; no cache keeps an answer; the CSRF
check refuses a forged form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.auth.service import PrincipalKind
from rongbank.platform import Platform
from rongbank.web import (
    account_pages,
    chat_card_pages,
    chat_desk_pages,
    chat_pages,
    merchant_pages,
    pages,
    pay_pages,
    profile_pages,
    security_pages,
    staff_customer_pages,
    wealth_pages,
)
from rongbank.web.pages import CUSTOMER_COOKIE
from tests.factories.identity import resident_id

PUBLIC_CACHEABLE = {"/api/v1/ca/ukey.pem", "/api/v1/ca/ukey.der"}
"""The same for everyone and no secret: caches may keep them."""


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def customer(client: TestClient, platform: Platform) -> str:
    """A customer logged in on ``client``, by cookie and bearer token alike."""
    with platform.transaction() as session:
        person, _ = platform.accounts.register_person(
            session, name="韩梅梅", mobile="13900000801", resident_id=resident_id(801)
        )
        opened = platform.auth.open_session(
            session, kind=PrincipalKind.CUSTOMER, principal_id=person.id
        )
    client.cookies.set(CUSTOMER_COOKIE, opened.token)
    client.headers["Authorization"] = f"Bearer {opened.token}"
    return opened.token


def test_pages_carry_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_form_posted_without_the_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")  # sets the pre-session cookie
    response = client.post("/login", data={"login_name": "13900000001", "password": "x"})
    assert response.status_code == 403
    # A page, not JSON: the site's own error page, which names the refusal's code.
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="error-code">csrf_failed<' in response.text


def test_account_pages_and_answers_are_kept_by_no_cache(client: TestClient, customer: str) -> None:
    page = client.get("/accounts")
    assert page.status_code == 200
    assert "我的账户" in page.text
    assert page.headers["cache-control"] == "no-store"
    answer = client.get("/api/v1/me/accounts")
    assert answer.status_code == 200
    assert answer.json()[0]["number"]
    assert answer.headers["cache-control"] == "no-store"
    login = client.post("/api/v1/sessions", json={"login_name": "13900000801", "password": "x"})
    assert login.headers["cache-control"] == "no-store"


def routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every route: the API's from its OpenAPI document, the
    pages' from their routers (kept out of the document)."""
    spec = client.get("/openapi.json").json()
    found = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]
    for router in (pages.router, pay_pages.router, merchant_pages.router, chat_pages.router):
        found += [(m, r.path) for r in router.routes if isinstance(r, APIRoute) for m in r.methods]
    found += [
        (m, r.path)
        for router in (
            wealth_pages.router,
            profile_pages.router,
            account_pages.router,
            security_pages.router,
            staff_customer_pages.router,
            chat_card_pages.router,
            chat_desk_pages.router,
        )
        for r in router.routes
        if isinstance(r, APIRoute)
        for m in r.methods
    ]
    return found


def test_every_route_answers_with_no_store(client: TestClient, customer: str) -> None:
    """Walked as a logged-in customer, whatever each route answers (a page, data, a
    refusal): only public answers, the same for everyone, may be cached."""
    walked = routes(client)
    assert len(walked) > 150
    # Deletions last: one of them ends the session the others use.
    for method, path in sorted(walked, key=lambda route: route[0] == "DELETE"):
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = client.request(method, url)
        if path in PUBLIC_CACHEABLE:
            assert "no-store" not in response.headers["cache-control"], url
        else:
            assert response.headers.get("cache-control") == "no-store", (method, url)


def test_static_files_may_be_cached(client: TestClient) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("cache-control", "")
