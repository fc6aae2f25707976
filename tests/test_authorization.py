"""Every endpoint, walked as nobody, as another customer and as each staff role:
each refusal is proven, so that a new endpoint without its check fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from starlette.websockets import WebSocketDisconnect

from rongbank.api.app import create_app
from rongbank.auth.service import PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.ledger import endpoints as ledger
from rongbank.platform import Platform
from rongbank.wealth import rules
from rongbank.web.pages import STAFF_COOKIE
from tests.accounts.test_endpoints import PASSWORD, People
from tests.chat.conftest import Chat, serving
from tests.support.lending import FORM, SHORT_FORM, decide_with
from tests.support.routes import routes_only

V1 = "/api/v1"
PUBLIC = {("POST", f"{V1}/customers"), ("POST", f"{V1}/enterprises"), ("POST", f"{V1}/sessions")}
PUBLIC |= {("GET", f"{V1}/ca/ukey.pem"), ("GET", f"{V1}/ca/ukey.der")}  # a certificate
# A forgotten password is reset without a session: the mobile's code is the proof.
PUBLIC |= {("POST", f"{V1}/password-resets"), ("POST", f"{V1}/password-resets/{{reset_id}}")}
ROLES = (
    "account_manager",
    "supervisor",
    "operations",
    "credit_officer",
    "risk_analyst",
    "administrator",
    "credit_manager",
)
# Which staff roles each staff endpoint admits; every other role must be refused.
STAFF_ROLES = {"operations", "administrator"}
SERVING_ROLES = {
    ("GET", f"{V1}/staff/customers/{{customer_id}}/tools"): STAFF_ROLES | {"account_manager"}
}
# Chat: any staff member reaches conversation routes (membership decides what they
# see there); the managers' desk is for account managers.
_CONVERSATION = f"{V1}/staff/chat/conversations/{{conversation_id}}"
SERVING_ROLES |= {
    route: set(ROLES)
    for route in (
        ("GET", f"{V1}/staff/chat/conversations"),
        ("GET", f"{V1}/staff/chat/sync"),
        ("GET", f"{_CONVERSATION}/messages"),
        ("POST", f"{_CONVERSATION}/messages"),
        ("POST", f"{_CONVERSATION}/receipts"),
        ("GET", f"{_CONVERSATION}/members"),
        ("POST", f"{_CONVERSATION}/attachments"),
        ("GET", f"{_CONVERSATION}/messages/{{seq}}/attachment"),
    )
}
SERVING_ROLES |= {
    ("GET", f"{V1}/staff/chat/workspace"): {"account_manager"},
    ("PUT", f"{V1}/staff/chat/duty"): {"account_manager"},
    ("POST", f"{_CONVERSATION}/claim"): {"account_manager"},
    ("POST", f"{_CONVERSATION}/transfer"): {"account_manager"},
    # Managers write their own canned replies; a supervisor also the shared ones.
    ("GET", f"{V1}/staff/chat/canned-replies"): STAFF_ROLES | {"account_manager", "supervisor"},
    ("POST", f"{V1}/staff/chat/canned-replies"): {"account_manager", "supervisor"},
    ("GET", f"{V1}/staff/chat/response-times"): STAFF_ROLES | {"account_manager", "supervisor"},
    # Service cards: managers (and operations) offer products and fares; any staff
    # member in the conversation sees a card.
    ("POST", f"{_CONVERSATION}/cards"): STAFF_ROLES | {"account_manager"},
    ("GET", f"{_CONVERSATION}/cards/{{card_id}}"): set(ROLES),
    ("POST", f"{_CONVERSATION}/cards/{{card_id}}/decline"): STAFF_ROLES | {"account_manager"},
    ("GET", f"{V1}/staff/chat/flights"): STAFF_ROLES | {"account_manager"},
    ("GET", f"{V1}/staff/wealth/products"): STAFF_ROLES | {"account_manager"},
    ("GET", f"{V1}/staff/wealth/customers/{{customer_id}}/assessments"): STAFF_ROLES
    | {"account_manager"},
    ("POST", f"{V1}/staff/chat/groups"): STAFF_ROLES | {"account_manager"},
    # Credit reviews: credit officers only (maker-checker among themselves).
    ("GET", f"{V1}/staff/lending/reviews"): {"credit_officer"},
    ("GET", f"{V1}/staff/lending/reviews/{{application_id}}"): {"credit_officer"},
    ("POST", f"{V1}/staff/lending/reviews/{{application_id}}/approve"): {"credit_officer"},
    ("POST", f"{V1}/staff/lending/reviews/{{application_id}}/decline"): {"credit_officer"},
    # Risk cases: risk analysts work them (four eyes among themselves); a supervisor
    # reassigns them.
    ("GET", f"{V1}/staff/risk/alerts"): {"risk_analyst"},
    ("GET", f"{V1}/staff/risk/cases"): {"risk_analyst"},
    ("GET", f"{V1}/staff/risk/cases/{{case_id}}"): {"risk_analyst"},
    ("POST", f"{V1}/staff/risk/cases/{{case_id}}/take"): {"risk_analyst"},
    ("POST", f"{V1}/staff/risk/cases/{{case_id}}/notes"): {"risk_analyst"},
    ("POST", f"{V1}/staff/risk/cases/{{case_id}}/decide"): {"risk_analyst"},
    ("POST", f"{V1}/staff/risk/cases/{{case_id}}/confirm"): {"risk_analyst"},
    ("POST", f"{V1}/staff/risk/cases/{{case_id}}/send-back"): {"risk_analyst"},
    ("POST", f"{V1}/staff/risk/cases/{{case_id}}/assign"): {"supervisor"},
    ("POST", f"{V1}/staff/risk/rules/{{rule_id}}/backtests"): {"risk_analyst"},
    ("GET", f"{V1}/staff/risk/backtests/{{backtest_id}}"): {"risk_analyst"},
    # Settlement shares: asked by one of the credit staff, approved by another.
    ("GET", f"{V1}/staff/lending/settlement-shares"): {"credit_officer", "credit_manager"},
    ("POST", f"{V1}/staff/lending/settlement-shares"): {"credit_officer", "credit_manager"},
    ("POST", f"{V1}/staff/lending/settlement-shares/{{request_id}}/approve"): {
        "credit_officer",
        "credit_manager",
    },
    ("POST", f"{V1}/staff/lending/settlement-shares/{{request_id}}/decline"): {
        "credit_officer",
        "credit_manager",
    },
    # Staff themselves are managed by administrators only.
    ("GET", f"{V1}/staff/members"): {"administrator"},
    ("POST", f"{V1}/staff/members/{{staff_id}}/deactivate"): {"administrator"},
    ("POST", f"{V1}/staff/members/{{staff_id}}/reactivate"): {"administrator"},
}


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


def operations(app_client: TestClient) -> list[tuple[str, str]]:
    spec = app_client.get("/openapi.json").json()
    return [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if p.startswith(V1)]


def concrete(path: str, number: str) -> str:
    return (
        path.replace("{number}", number)
        .replace("{customer_id}", "1")
        .replace("{ref}", "x")
        .replace("{entry_id}", "1")
        .replace("{client_id}", "x")
        .replace("{id}", "1")
        .replace("{card_id}", "1")
        .replace("{tool_id}", "1")
        .replace("{kind}", "sms")
        .replace("{conversation_id}", "1")
        .replace("{seq}", "1")
        .replace("{merchant_id}", "1")
        .replace("{order_no}", "x")
        .replace("{token}", "x")
        .replace("{day}", "2026-03-01")
        .replace("{broadcast_id}", "1")
        .replace("{holding_id}", "1")
        .replace("{user_id}", "1")
        .replace("{key_id}", "1")
        .replace("{staff_id}", "1")
        .replace("{report_id}", "1")
        .replace("{code}", "GYLC2026A")
        .replace("{payee_id}", "1")
        .replace("{schedule_id}", "1")
        .replace("{loan_id}", "1")
        .replace("{application_id}", "1")
        .replace("{offer_id}", "1")
        .replace("{request_id}", "1")
        .replace("{rule_id}", "1")
    )


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    return client.request(method, path, headers=headers, json={})


@pytest.fixture
def world(client: TestClient, platform: Platform) -> dict[str, Any]:
    people = People(client, platform)
    alice, bob = people.register(), people.register("李雷")
    people.fund(bob, 100_000)
    staff: dict[str, dict[str, str]] = {}
    for role in ROLES:
        with platform.transaction() as session:
            staff_id = platform.accounts.create_staff(session, username=role, name=role, role=role)
            platform.auth.set_password(
                session,
                kind=PrincipalKind.STAFF,
                principal_id=staff_id,
                username=role,
                password=PASSWORD,
            )
        staff[role] = {"Authorization": f"Bearer {people.login(role)}"}
    return {"alice": alice, "bob": bob, "staff": staff}


def test_nothing_but_registration_and_login_is_open(client: TestClient) -> None:
    routes = operations(client)
    assert len(routes) > 20
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        response = call(client, method, concrete(path, "6288880000000000018"), {})
        assert response.status_code == 401, (method, path)


def test_customers_reach_neither_staff_nor_ledger_endpoints(
    client: TestClient, world: dict[str, Any]
) -> None:
    alice = world["alice"]
    for method, path in operations(client):
        if path.startswith((f"{V1}/staff", f"{V1}/ledger")):
            response = call(
                client, method, concrete(path, alice["account"]["number"]), alice["headers"]
            )
            assert response.status_code in (401, 403), (method, path)


def refused_for_role(response: Any) -> bool:
    """The answer ``require_staff`` (API) or ``staff_page`` (console) gives a role
    that may not do this; other 403s (a challenge, membership) are the route's own."""
    if response.status_code != 403:
        return False
    if response.headers["content-type"].startswith("text/html"):  # a page, in English
        return 'id="error-code">forbidden<' in response.text and (
            "Your role does not allow this." in response.text
        )
    error = response.json()["error"]
    return error["code"] == "forbidden" and error["message"] == "Your role does not allow this."


def test_staff_reach_no_customer_endpoints_and_only_their_roles_staff_ones(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Staff role against staff role: each staff operation is refused to every role
    the table does not give it, and is not refused for their role to those it does
    (so the table cannot claim more than the code allows)."""
    number = world["bob"]["account"]["number"]
    for role, headers in world["staff"].items():
        for method, path in operations(client):
            if path.startswith(f"{V1}/me/"):
                assert call(client, method, concrete(path, number), headers).status_code == 403
            elif path.startswith(f"{V1}/staff"):
                response = call(client, method, concrete(path, number), headers)
                admitted = role in SERVING_ROLES.get((method, path), STAFF_ROLES)
                assert refused_for_role(response) is not admitted, (role, method, path)
                assert response.status_code != 401, (role, method, path)
            elif path.startswith(f"{V1}/ledger"):
                # Operations keep the ledger, risk analysts read it; no other role.
                allowed = ledger.READERS if method == "GET" else ledger.KEEPERS
                status = call(client, method, concrete(path, number), headers).status_code
                if role in allowed:
                    assert status not in (401, 403), (role, method, path, status)
                else:
                    assert status == 403, (role, method, path, status)


# The staff console's pages: any staff member sees the day's work, the search and a
# customer; account managers also a customer's tools and the wealth catalogue; the
# back office (operations, administrators) acts on accounts, tools, merchants, products,
# notices and reports; administrators manage staff; the chat workspace is the managers';
# risk analysts read and compute the bank's liquidity (and, with the back office,
# e-Invest's market); credit managers and risk analysts
# read the lending portfolio (credit officers keep the review queue); the credit staff
# ask for and approve settlement shares.
_MERCHANT = "/staff/merchants/{merchant_id}"
CONSOLE_ROLES = {
    ("GET", "/staff"): set(ROLES),
    ("GET", "/staff/search"): set(ROLES),
    ("GET", "/staff/customers/{customer_id}"): set(ROLES),
    ("POST", "/staff/accounts/{number}/{action}"): STAFF_ROLES,
    ("POST", "/staff/customers/{customer_id}/manager"): STAFF_ROLES,
    ("GET", "/staff/customers/{customer_id}/tools"): STAFF_ROLES | {"account_manager"},
    ("GET", "/staff/wealth"): STAFF_ROLES | {"account_manager"},
    ("GET", "/staff/members"): {"administrator"},
    ("POST", "/staff/members/{staff_id}/deactivate"): {"administrator"},
    ("POST", "/staff/members/{staff_id}/reactivate"): {"administrator"},
    ("GET", "/staff/liquidity"): {"risk_analyst"},
    ("GET", "/staff/invest"): {"risk_analyst"} | STAFF_ROLES,
    ("POST", "/staff/liquidity/report"): {"risk_analyst"},
    ("GET", "/staff/risk/aml"): {"risk_analyst"},
    ("GET", "/staff/risk/aml/large-value.csv"): {"risk_analyst"},
    ("GET", "/staff/lending"): {"credit_officer"},
    ("GET", "/staff/lending/reviews/{application_id}"): {"credit_officer"},
    ("POST", "/staff/lending/reviews/{application_id}/approve"): {"credit_officer"},
    ("POST", "/staff/lending/reviews/{application_id}/decline"): {"credit_officer"},
    ("GET", "/staff/risk"): {"risk_analyst"},
    ("GET", "/staff/risk/alerts"): {"risk_analyst"},
    ("GET", "/staff/risk/cases/{case_id}"): {"risk_analyst"},
    ("POST", "/staff/risk/cases/{case_id}/{action}"): {"risk_analyst"},
    ("GET", "/staff/risk/rules"): {"risk_analyst"},
    ("POST", "/staff/risk/rules"): {"risk_analyst"},
    ("GET", "/staff/risk/rules/{rule_id}"): {"risk_analyst"},
    ("POST", "/staff/risk/rules/{rule_id}/{change}"): {"risk_analyst"},
    ("POST", "/staff/risk/rules/{rule_id}/backtests"): {"risk_analyst"},
    ("GET", "/staff/risk/backtests/{backtest_id}"): {"risk_analyst"},
    ("GET", "/staff/risk/backtests/{backtest_id}/progress"): {"risk_analyst"},
    ("GET", "/staff/risk/performance"): {"risk_analyst"},
    ("GET", "/staff/mall"): STAFF_ROLES,
    ("POST", "/staff/mall/shops/{shop_id}/{decision}"): STAFF_ROLES,
    ("POST", "/staff/mall/shops/{shop_id}/status/{action}"): STAFF_ROLES,
    ("POST", "/staff/mall/categories/{category_id}/commission"): STAFF_ROLES,
    ("GET", "/staff/lending/portfolio"): {"credit_manager", "risk_analyst"},
    ("GET", "/staff/lending/settlement-shares"): {"credit_officer", "credit_manager"},
    ("POST", "/staff/lending/settlement-shares"): {"credit_officer", "credit_manager"},
    ("POST", "/staff/lending/settlement-shares/{request_id}/approve"): {
        "credit_officer",
        "credit_manager",
    },
    ("POST", "/staff/lending/settlement-shares/{request_id}/decline"): {
        "credit_officer",
        "credit_manager",
    },
}
CONSOLE_ROLES |= dict.fromkeys(
    (
        ("GET", "/staff/tools"),
        ("POST", "/staff/tools/{tool_id}/unblock"),
        ("POST", "/staff/tools/{tool_id}/revoke"),
        ("GET", "/staff/funding"),
        ("GET", "/staff/merchants"),
        ("POST", "/staff/merchants"),
        ("GET", _MERCHANT),
        ("POST", f"{_MERCHANT}/approve"),
        ("POST", f"{_MERCHANT}/suspend"),
        ("POST", f"{_MERCHANT}/reinstate"),
        ("POST", f"{_MERCHANT}/users/{{user_id}}/revoke"),
        ("POST", f"{_MERCHANT}/api-keys/{{key_id}}/revoke"),
        ("GET", "/staff/settlements"),
        ("POST", "/staff/settlements"),
        ("GET", "/staff/settlements/{day}/transactions.csv"),
        ("POST", "/staff/wealth/products"),
        ("POST", "/staff/wealth/products/{code}/close"),
        ("GET", "/staff/broadcasts"),
        ("POST", "/staff/broadcasts"),
        ("GET", "/staff/moderation"),
        ("POST", "/staff/moderation/{conversation_id}/{seq}/hide"),
        ("POST", "/staff/moderation/reports/{report_id}/dismiss"),
        ("GET", "/staff/mall/disputes"),
        ("POST", "/staff/mall/returns/{return_id}/ruling"),
        ("GET", "/staff/ops"),
    ),
    STAFF_ROLES,
)
# The console page and the API operation that do the same work admit the same roles.
SAME_WORK = {
    ("GET", "/staff/customers/{customer_id}/tools"): "GET /staff/customers/{customer_id}/tools",
    ("POST", "/staff/tools/{tool_id}/unblock"): "POST /staff/tools/{tool_id}/unblock",
    ("POST", "/staff/tools/{tool_id}/revoke"): "POST /staff/tools/{tool_id}/revoke",
    ("GET", "/staff/members"): "GET /staff/members",
    ("POST", "/staff/members/{staff_id}/deactivate"): "POST /staff/members/{staff_id}/deactivate",
    ("POST", "/staff/members/{staff_id}/reactivate"): "POST /staff/members/{staff_id}/reactivate",
    ("GET", "/staff/merchants"): "GET /staff/merchants",
    ("GET", "/staff/mall/disputes"): "GET /staff/mall/disputes",
    (
        "POST",
        "/staff/mall/returns/{return_id}/ruling",
    ): "POST /staff/mall/returns/{return_id}/ruling",
    ("POST", "/staff/merchants"): "POST /staff/merchants",
    ("POST", f"{_MERCHANT}/approve"): f"POST {_MERCHANT}/approve",
    ("POST", f"{_MERCHANT}/suspend"): f"POST {_MERCHANT}/suspend",
    ("POST", f"{_MERCHANT}/reinstate"): f"POST {_MERCHANT}/reinstate",
    ("POST", f"{_MERCHANT}/users/{{user_id}}/revoke"): f"POST {_MERCHANT}/users/{{user_id}}/revoke",
    ("POST", f"{_MERCHANT}/api-keys/{{key_id}}/revoke"): (
        f"POST {_MERCHANT}/api-keys/{{key_id}}/revoke"
    ),
    ("POST", "/staff/settlements"): "POST /staff/payments/settlements",
    ("GET", "/staff/settlements/{day}/transactions.csv"): "GET /staff/payments/transactions/{day}",
    ("GET", "/staff/wealth"): "GET /staff/wealth/products",
    ("POST", "/staff/wealth/products"): "POST /staff/wealth/products",
    ("POST", "/staff/wealth/products/{code}/close"): "POST /staff/wealth/products/{code}/close",
    ("GET", "/staff/broadcasts"): "GET /staff/chat/broadcasts",
    ("POST", "/staff/broadcasts"): "POST /staff/chat/broadcasts",
    ("GET", "/staff/moderation"): "GET /staff/chat/reports",
    ("POST", "/staff/moderation/{conversation_id}/{seq}/hide"): (
        "POST /staff/chat/conversations/{conversation_id}/messages/{seq}/hide"
    ),
    ("POST", "/staff/moderation/reports/{report_id}/dismiss"): (
        "POST /staff/chat/reports/{report_id}/dismiss"
    ),
    ("GET", "/staff/lending"): "GET /staff/lending/reviews",
    ("GET", "/staff/mall"): "GET /staff/mall/shops",
    ("POST", "/staff/mall/categories/{category_id}/commission"): (
        "PUT /staff/mall/categories/{category_id}/commission"
    ),
    ("GET", "/staff/lending/reviews/{application_id}"): (
        "GET /staff/lending/reviews/{application_id}"
    ),
    ("POST", "/staff/lending/reviews/{application_id}/approve"): (
        "POST /staff/lending/reviews/{application_id}/approve"
    ),
    ("POST", "/staff/lending/reviews/{application_id}/decline"): (
        "POST /staff/lending/reviews/{application_id}/decline"
    ),
    ("GET", "/staff/risk"): "GET /staff/risk/cases",
    ("GET", "/staff/risk/cases/{case_id}"): "GET /staff/risk/cases/{case_id}",
    ("GET", "/staff/lending/settlement-shares"): "GET /staff/lending/settlement-shares",
    ("POST", "/staff/lending/settlement-shares"): "POST /staff/lending/settlement-shares",
    ("POST", "/staff/lending/settlement-shares/{request_id}/approve"): (
        "POST /staff/lending/settlement-shares/{request_id}/approve"
    ),
    ("POST", "/staff/lending/settlement-shares/{request_id}/decline"): (
        "POST /staff/lending/settlement-shares/{request_id}/decline"
    ),
}


def console_pages() -> list[tuple[str, str]]:
    from fastapi.routing import APIRoute, iter_route_contexts

    app = routes_only()
    return [
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path.startswith("/staff")
        for method in sorted(context.methods or ())
    ]


def test_each_console_page_is_refused_to_the_roles_that_must_not_have_it(
    client: TestClient, world: dict[str, Any]
) -> None:
    pages = [page for page in console_pages() if not page[1].startswith("/staff/log")]
    assert len(pages) > 15
    for role, headers in world["staff"].items():
        client.cookies.set(STAFF_COOKIE, headers["Authorization"].split()[1])
        client.cookies.set("rb_lang", "en")  # the error page then says the refusal's words
        try:
            for method, path in pages:
                url = concrete(re.sub(r":int\}", "}", path), "6288880000000000018")
                response = client.request(method, url.replace("{action}", "freeze"))
                admitted = role in CONSOLE_ROLES.get((method, path), {"account_manager"})
                assert refused_for_role(response) is not admitted, (role, method, path)
        finally:
            client.cookies.clear()


def test_a_console_page_admits_the_roles_its_api_operation_admits(client: TestClient) -> None:
    """Both tables above are proven against the code; here they agree, so that the
    console can neither offer a role what the API refuses nor hide what it allows."""
    api = set(operations(client))
    for page, operation in SAME_WORK.items():
        method, path = operation.split(" ", 1)
        assert (method, V1 + path) in api, operation
        assert CONSOLE_ROLES[page] == SERVING_ROLES.get((method, V1 + path), STAFF_ROLES), page


def test_a_customer_cannot_touch_another_customers_account_or_tools(
    client: TestClient, world: dict[str, Any], platform: Platform
) -> None:
    alice, bob = world["alice"], world["bob"]
    number = bob["account"]["number"]
    for method, path in operations(client):
        if path.startswith(f"{V1}/me/") and "{number}" in path:
            response = call(client, method, concrete(path, number), alice["headers"])
            assert response.status_code in (403, 404), (method, path)
    with platform.transaction() as session:
        platform.tools.held(session, bob["customer_id"])
        bobs_sms = platform.tools.tools_of(session, bob["customer_id"])[0]
    for method, path in operations(client):
        if path.startswith(f"{V1}/me/") and "{tool_id}" in path:
            response = call(
                client, method, path.replace("{tool_id}", str(bobs_sms.id)), alice["headers"]
            )
            assert response.status_code == 404, (method, path)
    steal = client.post(
        f"{V1}/me/transfers",
        headers=alice["headers"],
        json={
            "client_id": "s",
            "source": number,
            "destination": alice["account"]["number"],
            "amount": "1.00",
        },
    )
    assert steal.status_code == 403


def test_a_customer_cannot_reach_another_customers_conversations(
    client: TestClient, world: dict[str, Any], platform: Platform
) -> None:
    alice, bob = world["alice"], world["bob"]
    with platform.transaction() as session:
        bobs = platform.chat.open_bank(session, customer_id=bob["customer_id"]).conversation.id
    walked = 0
    for method, path in operations(client):
        if path.startswith(f"{V1}/me/") and "{conversation_id}" in path:
            target = (
                path.replace("{conversation_id}", str(bobs))
                .replace("{seq}", "1")
                .replace("{card_id}", "1")
            )
            response = call(client, method, target, alice["headers"])
            assert response.status_code in (404, 422), (method, path, response.text)
            if response.status_code == 422:  # the body was refused first: try a real one
                body = {"client_id": "x", "text": "x", "reason": "x", "read_seq": 1}
                body |= {"kind": "request", "account": alice["account"]["number"], "amount": "1"}
                if path.endswith("/instalments/pay"):  # 逸贷 on a merchant-order card
                    body = {"offer_id": 1}
                elif path.endswith("/instalments"):
                    body = {"client_id": "x", "term_months": 6} | SHORT_FORM
                response = client.request(method, target, headers=alice["headers"], json=body)
                if response.status_code == 422:  # an upload: multipart
                    response = client.request(
                        method,
                        target,
                        headers=alice["headers"],
                        data={"client_id": "x"},
                        files={"file": ("a.txt", b"hello")},
                    )
                assert response.status_code == 404, (method, path, response.text)
            walked += 1
    assert walked >= 6


def test_a_customer_cannot_see_use_or_decline_another_customers_card(
    client: TestClient, world: dict[str, Any], platform: Platform
) -> None:
    """Bob asks Carol for money; Alice (in no conversation with them) neither sees
    nor pays nor declines the card, and Carol cannot pay it from Alice's account."""
    alice, bob = world["alice"], world["bob"]
    people = People(client, platform)
    people.count = 20  # after the world's customers
    carol = people.register("韩梅梅")
    with platform.transaction() as session:
        conversation = platform.chat.contacts.open_direct(
            session, customer_id=bob["customer_id"], other_id=carol["customer_id"]
        ).conversation.id
    sent = client.post(
        f"{V1}/me/chat/conversations/{conversation}/cards",
        headers=bob["headers"],
        json={"kind": "request", "client_id": "r", "account": bob["account"]["number"],
              "amount": "1.00"},
    )  # fmt: skip
    assert sent.status_code == 201, sent.text
    card = f"{V1}/me/chat/conversations/{conversation}/cards/{sent.json()['card']['id']}"
    assert client.get(card, headers=alice["headers"]).status_code == 404
    for action in ("act", "decline"):
        body = {"account": alice["account"]["number"]}
        response = client.post(f"{card}/{action}", headers=alice["headers"], json=body)
        assert response.status_code == 404, (action, response.text)
    stolen = client.post(
        f"{card}/act", headers=carol["headers"], json={"account": alice["account"]["number"]}
    )
    assert stolen.status_code == 403, stolen.text
    buy = client.post(
        f"{V1}/me/wealth/purchases",
        headers=alice["headers"],
        json={"client_id": "w", "product_code": "NONE1", "account": bob["account"]["number"],
              "amount": "1.00"},
    )  # fmt: skip
    assert buy.status_code in (403, 404)


def test_a_customer_never_sees_another_customers_assessments_or_holdings(
    client: TestClient, world: dict[str, Any], platform: Platform
) -> None:
    """Bob is assessed and holds a product; every wealth route Alice can call answers
    her own (empty) data or 404, never Bob's, and she cannot redeem his holding."""
    from tests.wealth.helpers import assessed

    alice, bob = world["alice"], world["bob"]
    assessed(platform, bob["customer_id"], level=3)
    with platform.transaction() as session:
        staff_id = platform.accounts.create_staff(
            session, username="wealth-ops", name="x", role="operations"
        )
        now = platform.clock.now()
        platform.wealth.create_product(
            session,
            staff_id=staff_id,
            code="AUTHZ1",
            name="x",
            terms=rules.Terms(
                risk_level=1,
                yield_bps=100,
                min_amount=100,
                step_amount=100,
                sale_start=now - timedelta(days=1),
                sale_end=now + timedelta(days=1),
            ),
        )
        holding, _ = platform.wealth.buy(
            session,
            customer_id=bob["customer_id"],
            code="AUTHZ1",
            account_number=bob["account"]["number"],
            amount=100,
            client_id="b1",
        )
    walked = 0
    for method, path in operations(client):
        if not path.startswith(f"{V1}/me/wealth"):
            continue
        target = path.replace("{holding_id}", str(holding.id))
        response = client.request(
            method, target, headers=alice["headers"], json={"client_id": "x", "answers": {}}
        )
        assert response.status_code in (200, 404, 422), (method, path, response.text)
        if response.status_code == 200 and ("holdings" in path or "assessments" in path):
            assert response.json() == [], (method, path)  # hers: none
        walked += 1
    assert walked >= 8
    stolen = client.post(
        f"{V1}/me/wealth/holdings/{holding.id}/redemptions",
        headers=alice["headers"],
        json={"client_id": "steal"},
    )
    assert stolen.status_code == 404
    # Buying a product that exists and is on sale, paid from Bob's account: refused.
    bought = client.post(
        f"{V1}/me/wealth/purchases",
        headers=alice["headers"],
        json={"client_id": "steal-buy", "product_code": "AUTHZ1",
              "account": bob["account"]["number"], "amount": "1.00"},
    )  # fmt: skip
    assert bought.status_code == 403, bought.text
    assert bought.json()["error"]["code"] == "account_not_accessible"
    with platform.transaction() as session:
        bobs = platform.wealth.holding(
            session, customer_id=bob["customer_id"], holding_id=holding.id
        )
    assert bobs.left == 100


def test_a_customer_never_sees_or_repays_another_customers_loan(
    client: TestClient, world: dict[str, Any], platform: Platform
) -> None:
    """Bob has a loan; every loan route Alice can call answers her own (empty) list or
    404 for his loan, whatever the body, and his loan and account are untouched."""
    alice, bob = world["alice"], world["bob"]
    with platform.transaction() as session:
        account = platform.accounts.account(session, bob["account"]["number"])
        loan_id = platform.loans.disburse(
            session,
            customer_id=bob["customer_id"],
            account_id=account.id,
            product_code="personal_credit",
            principal_fen=500_000,
            term_months=12,
            method="equal_principal",
            annual_rate_bps=1200,
            grade="B",
            application_id=None,
            idempotency_key="authz",
        )
    walked = 0
    for method, path in operations(client):
        if not path.startswith(f"{V1}/me/loans"):
            continue
        target = path.replace("{loan_id}", str(loan_id))
        statuses = set()
        for body in ({}, {"client_id": "steal"}, {"client_id": "steal", "amount": "1.00"}):
            response = client.request(method, target, headers=alice["headers"], json=body)
            statuses.add(response.status_code)
            if "{loan_id}" not in path:
                assert response.json() == [], (method, path)
        if "{loan_id}" in path:
            assert 404 in statuses, (method, path)  # a well-formed request: not found
            assert statuses <= {404, 422}, (method, path, statuses)
        walked += 1
    assert walked >= 5
    with platform.transaction() as session:
        loan = platform.loans.loan(session, loan_id=loan_id)
        assert loan.principal_outstanding == 500_000
        assert platform.loans.repayments.repayments(session, loan_id) == []


def test_only_merchants_reach_merchant_endpoints_and_merchants_reach_nothing_else(
    client: TestClient, world: dict[str, Any], platform: Platform
) -> None:
    from tests.payments.helpers import Shop

    people = People(client, platform)
    people.count = 10  # after the world's customers
    shop = Shop(client, platform, people)
    number = world["bob"]["account"]["number"]
    outsiders = [world["alice"]["headers"], *world["staff"].values()]
    for method, path in operations(client):
        url = concrete(path, number)
        if path.startswith(f"{V1}/merchant"):
            for headers in outsiders:
                assert call(client, method, url, headers).status_code == 403, (method, path)
        else:
            for headers in (shop.owner, shop.cashier, shop.api):
                if (method, path) in PUBLIC:
                    continue
                status = call(client, method, url, headers).status_code
                assert status in (401, 403), (method, path, status)


WS = f"{V1}/chat/ws"


@pytest.fixture
def sockets(fresh_db: str, clock: FrozenClock) -> Iterator[Chat]:
    with serving(fresh_db, clock) as chat:
        yield chat


def answers_until(ws: Any, ref: str) -> list[dict[str, Any]]:
    """Everything the socket is told up to the answer to frame ``ref``."""
    told: list[dict[str, Any]] = [ws.receive_json()]
    while told[-1].get("id") != ref or told[-1]["type"] not in ("ack", "error"):
        told.append(ws.receive_json())
    return told


def test_a_customer_cannot_read_send_or_mark_in_anothers_conversation_over_the_socket(
    sockets: Chat,
) -> None:
    """Bob and Carol talk; Alice's socket is pushed nothing of it, and her frames
    naming their conversation are refused as if it did not exist."""
    chat = sockets
    alice, bob, carol = chat.customer(), chat.customer("李雷"), chat.customer("韩梅梅")
    theirs = chat.direct(bob, carol)
    with chat.client.websocket_connect(WS, headers=alice["headers"]) as ws:
        assert chat.send(bob, theirs, "只给你看", "b1").status_code == 201
        frames = [
            {"type": "send", "client_id": "a1", "text": "我也在"},
            {"type": "receipt", "read_seq": 1},
            {"type": "typing"},
        ]
        told: list[dict[str, Any]] = []
        for ref, frame in enumerate(frames):
            ws.send_json({**frame, "id": str(ref), "conversation_id": theirs})
            told += answers_until(ws, str(ref))
            assert told[-1]["type"] == "error", (frame, told[-1])
            assert told[-1]["error"]["code"] == "chat_conversation_not_found"
        ws.send_json({"type": "sync", "id": "sync", "since": ""})
        told += answers_until(ws, "sync")
        assert [c["id"] for c in told[-1]["conversations"]] == []
        assert [e for e in told if e["type"] in ("message", "receipt", "typing")] == []
    assert [m["body"] for m in chat.history(carol, theirs)] == ["只给你看"]


def test_staff_without_a_chat_role_cannot_open_the_socket(sockets: Chat) -> None:
    """A staff member whose role is gone (deactivated) keeps a live token until it
    ends, but is refused the socket as the chat API refuses them."""
    chat = sockets
    manager = chat.staff_member("manager-ws")
    with chat.client.websocket_connect(WS, headers=manager["headers"]) as ws:
        ws.send_json({"type": "sync", "id": "s"})
        assert answers_until(ws, "s")[-1]["type"] == "ack"
    with chat.platform.transaction() as session:
        session.execute(
            text("UPDATE staff SET active = false WHERE id = :id"), {"id": manager["id"]}
        )
    staff_api = chat.client.get(f"{V1}/staff/chat/conversations", headers=manager["headers"])
    assert staff_api.status_code == 403
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        chat.client.websocket_connect(WS, headers=manager["headers"]),
    ):
        pass
    assert refused.value.code == 4403


def test_a_customer_cannot_see_or_accept_another_customers_credit(
    client: TestClient, world: dict[str, Any], platform: Platform
) -> None:
    """Bob has an application with an offer; every lending route Alice can call with
    its id answers 404, and Bob's offer stays open, his account as it was."""
    decide_with(platform)
    alice, bob = world["alice"], world["bob"]
    applied = client.post(
        f"{V1}/me/lending/applications", headers=bob["headers"], json={"client_id": "b"} | FORM
    )
    assert applied.status_code == 201, applied.text
    ids = {"{application_id}": applied.json()["id"], "{offer_id}": applied.json()["offer"]["id"]}
    walked = 0
    for method, path in operations(client):
        if path.startswith(f"{V1}/me/lending/") and "_id}" in path:
            target = path
            for name, value in ids.items():
                target = target.replace(name, str(value))
            response = call(client, method, target, alice["headers"])
            assert response.status_code == 404, (method, path, response.text)
            walked += 1
    assert walked >= 3
    offer = client.get(f"{V1}/me/lending/offers/{ids['{offer_id}']}", headers=bob["headers"])
    assert offer.json()["status"] == "open"
