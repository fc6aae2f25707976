"""Every form post of the web bank, the staff console and the merchant console is
refused with a CSRF token from another session, and taken with its own.

The routes are walked from the app, so a new form handler that forgets the check
fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
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
    security_pages,
    staff_customer_pages,
    wealth_pages,
)
from rongbank.web.csrf import PRE_SESSION_COOKIE
from rongbank.web.merchant_pages import MERCHANT_COOKIE
from rongbank.web.pages import CUSTOMER_COOKIE, STAFF_COOKIE
from tests.factories.identity import resident_id
from tests.support.web import form_token

ROUTERS = (pages.router, pay_pages.router, merchant_pages.router, chat_pages.router)
ROUTERS += (wealth_pages.router,)
ROUTERS += (account_pages.router, security_pages.router, staff_customer_pages.router)
ROUTERS += (chat_card_pages.router, chat_desk_pages.router)
STAFF_ROLES = ("account_manager", "operations")
"""Between them, every staff page admits one of these."""
ENDING_SESSIONS = {"/logout": "customer", "/merchant/logout": "merchant"}
"""Logouts have no page dependency: their token is bound to the session they end."""


def post_routes() -> list[APIRoute]:
    return [
        route
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    ]


def _calls(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _calls(sub)


def audience(route: APIRoute) -> str:
    """Whose session the route acts in: the page dependency it declares."""
    names = {getattr(d.call, "__qualname__", "") for d in _calls(route.dependant)}
    if "customer_page" in names:
        return "customer"
    if "merchant_page" in names:
        return "merchant"
    if "staff_page.<locals>.check" in names:
        return "staff"
    return ENDING_SESSIONS.get(route.path, "visitor")


def roles_of(kind: str) -> tuple[str, ...]:
    """The browsers to try a route in: a staff route admits one of the roles."""
    return STAFF_ROLES if kind == "staff" else (kind,)


def form_of(route: APIRoute) -> dict[str, str]:
    """A value for each required field, and the path filled in: enough to get past
    validation to the handler (which checks the token first)."""
    return {
        field.alias: "1"
        for dependant in _calls(route.dependant)
        for field in dependant.body_params
        if field.field_info.is_required()
    }


def url_of(route: APIRoute) -> str:
    return re.sub(r"\{[^}]+\}", "1", route.path)


@dataclass
class Browser:
    """A client holding one session (or, for a visitor, one pre-session cookie)."""

    client: TestClient
    home: str

    @property
    def token(self) -> str:
        return form_token(self.client.get(self.home).text)

    def post(self, route: APIRoute, token: str) -> Any:
        return self.client.post(url_of(route), data={**form_of(route), "csrf": token})


@pytest.fixture
def browsers(platform: Platform) -> Iterator[dict[str, list[Browser]]]:
    """Two browsers of each kind of session, each with its own login."""
    made: list[TestClient] = []

    def browser(
        cookie: str | None, kind: PrincipalKind | None, principal: int, home: str
    ) -> Browser:
        client = TestClient(create_app(platform, background=False), raise_server_exceptions=False)
        client.__enter__()
        made.append(client)
        if cookie is not None and kind is not None:
            with platform.transaction() as session:
                opened = platform.auth.open_session(session, kind=kind, principal_id=principal)
            client.cookies.set(cookie, opened.token)
        return Browser(client, home)

    with platform.transaction() as session:
        customers = [
            platform.accounts.register_person(
                session,
                name="韩梅梅",
                mobile=f"1390000070{i}",
                resident_id=resident_id(sequence=700 + i),
            )
            for i in range(2)
        ]
        staff = {
            role: [
                platform.accounts.create_staff(
                    session, username=f"{role}{i}", name="张三", role=role
                )
                for i in range(2)
            ]
            for role in STAFF_ROLES
        }
        onboarder, approver = staff["operations"]
        person, account = customers[0]
        merchant = platform.payments.onboard(
            session,
            staff_id=onboarder,
            customer_id=person.id,
            name="老王面馆",
            mcc="5812",
            settlement_account=account.number,
            fee_bps=60,
        )
        platform.payments.approve(session, merchant_id=merchant.id, staff_id=approver)
        users = [
            platform.payments.add_user(session, merchant_id=merchant.id, role="owner", name="王")
            for _ in range(2)
        ]
    customer = PrincipalKind.CUSTOMER
    found: dict[str, list[Browser]] = {
        "visitor": [browser(None, None, 0, "/login") for _ in range(2)],
        "customer": [browser(CUSTOMER_COOKIE, customer, p.id, "/accounts") for p, _ in customers],
        "merchant": [
            browser(MERCHANT_COOKIE, PrincipalKind.MERCHANT, u, "/merchant") for u in users
        ],
    }
    for role in STAFF_ROLES:
        found[role] = [browser(STAFF_COOKIE, PrincipalKind.STAFF, s, "/staff") for s in staff[role]]
    try:
        yield found
    finally:
        for client in made:
            client.__exit__(None, None, None)


def refused_for_csrf(response: Any) -> bool:
    return response.status_code == 403 and "csrf_failed" in response.text


def test_the_walk_finds_the_form_posts_of_every_audience() -> None:
    found = {audience(route) for route in post_routes()}
    assert found == {"visitor", "customer", "staff", "merchant"}
    assert len(post_routes()) > 40


def test_every_form_post_refuses_a_token_from_another_session(
    browsers: dict[str, list[Browser]],
) -> None:
    for route in post_routes():
        kind = audience(route)
        refused = [
            refused_for_csrf(mine.post(route, theirs.token))
            for mine, theirs in (browsers[role] for role in roles_of(kind))
        ]
        assert any(refused), route.path


def test_every_form_post_in_a_session_refuses_a_planted_cookie_and_its_token(
    browsers: dict[str, list[Browser]],
) -> None:
    """What a double-submit check took: a CSRF cookie written by someone else (a
    sibling subdomain, a plain-HTTP answer on the way) and the token that goes with
    it. Bound to the session, the token is refused."""
    visitor = browsers["visitor"][0]
    token = visitor.token  # the visit sets the cookie
    planted = visitor.client.cookies[PRE_SESSION_COOKIE]
    for route in post_routes():
        kind = audience(route)
        if kind == "visitor":
            continue
        refused = []
        for role in roles_of(kind):
            mine = browsers[role][0]
            mine.client.cookies.set(PRE_SESSION_COOKIE, planted)
            refused.append(refused_for_csrf(mine.post(route, token)))
        assert any(refused), route.path


def test_every_form_post_takes_a_token_of_its_own_session(
    browsers: dict[str, list[Browser]],
) -> None:
    # Logouts last: they end the session the other posts need.
    for route in sorted(post_routes(), key=lambda r: r.path in ENDING_SESSIONS):
        for role in roles_of(audience(route)):
            mine, _ = browsers[role]
            assert not refused_for_csrf(mine.post(route, mine.token)), (route.path, role)


def test_a_token_is_refused_once_its_session_is_replaced(
    browsers: dict[str, list[Browser]], platform: Platform
) -> None:
    """A token shown before a login is not good in the session the login opens."""
    visitor = browsers["visitor"][0]
    before = visitor.token
    customer = browsers["customer"][0]
    visitor.client.cookies.set(CUSTOMER_COOKIE, customer.client.cookies[CUSTOMER_COOKIE])
    response = visitor.client.post(
        "/transfer", data={"source": "1", "destination": "1", "amount": "1", "csrf": before}
    )
    assert refused_for_csrf(response)
