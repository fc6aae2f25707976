"""/metrics (issue 22): scraped as Prometheus does, with the names operators chart,
labelled by route template, and closed to anyone without the token."""

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message, Receive, Scope, Send

from rongbank import metrics
from rongbank.api.observe import RECENT_ERRORS, Observe
from rongbank.jobs import run_recorded
from rongbank.ledger.service import Transfer
from rongbank.platform import Platform
from tests.factories.people import V1, People
from tests.ops.conftest import METRICS_TOKEN
from tests.support.api import ApiCustomer

SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def scrape(client: TestClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


Samples = dict[str, list[tuple[dict[str, str], float]]]


def value(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if labels.items() <= got.items())


def test_a_scrape_has_each_figure_operators_watch(served: tuple[TestClient, Platform]) -> None:
    client, platform = served
    people = People(client, platform)
    payer, payee = people.register("王五"), people.register("赵六")
    people.fund(payer, 100_000)
    run_recorded("hold-expiry", 5.0, lambda: None, platform.session_factory, platform.clock)
    before = scrape(client)

    paid = ApiCustomer(client, platform, payer).confirmed(
        "/me/transfers",
        {
            "client_id": "metrics-1",
            "source": payer["account"]["number"],
            "destination": payee["account"]["number"],
            "amount": "12.34",
        },
    )
    assert paid.status_code == 201, paid.text
    with platform.transaction() as session:  # a single ledger transfer: group-committed
        accounts = [
            platform.accounts.account(session, p["account"]["number"]) for p in (payer, payee)
        ]
    assert platform.committer is not None
    platform.committer.submit(
        Transfer(
            client_id="metrics-2",
            debit_account=accounts[0].ledger_account_id,
            credit_account=accounts[1].ledger_account_id,
            amount=100,
            currency="CNY",
        )
    )
    number = payer["account"]["number"]
    assert client.post(f"{V1}/staff/accounts/{number}/freeze", json={}).status_code == 401
    client.get("/no/such/page/138001380001")  # a 404, with what looks like a mobile

    after = scrape(client)
    route = "/api/v1/me/transfers"
    assert (
        value(after, "rongbank_http_request_duration_seconds_count", route=route)
        >= value(before, "rongbank_http_request_duration_seconds_count", route=route) + 1
    )
    answered = "rongbank_http_responses_total"
    assert (
        value(after, answered, route=route, status="201")
        == value(before, answered, route=route, status="201") + 1
    )
    assert value(after, "rongbank_errors_total", code="unauthenticated", status="401") > value(
        before, "rongbank_errors_total", code="unauthenticated", status="401"
    )
    assert value(after, "rongbank_errors_total", code="not_found") > value(
        before, "rongbank_errors_total", code="not_found"
    )
    assert (
        value(after, "rongbank_payments_total", outcome="completed")
        == value(before, "rongbank_payments_total", outcome="completed") + 1
    )
    batches = "rongbank_group_commit_batch_size_count"
    committer = "ledger-group-commit"
    assert value(after, batches, committer=committer) > value(before, batches, committer=committer)
    assert "rongbank_db_pool_connections_in_use" in after
    assert value(after, "rongbank_db_pool_connections_open") >= 1
    assert "rongbank_chat_sockets" in after
    assert value(after, "rongbank_job_lag_seconds", job="hold-expiry") == 0
    assert value(after, "rongbank_job_runs_total", job="hold-expiry", result="ok") >= 1

    timed = after["rongbank_http_request_duration_seconds_count"]
    routes = {labels["route"] for labels, _ in timed}
    assert "/api/v1/staff/accounts/{number}/freeze" in routes, routes
    assert not any(re.search(r"\d{6,}", r) for r in routes), routes  # no raw paths
    assert "unmatched" in routes


def test_the_public_cannot_read_the_metrics(served: tuple[TestClient, Platform]) -> None:
    client, platform = served
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer guess"}).status_code == 401
    platform.settings = platform.settings.model_copy(update={"metrics_token": None})
    assert client.get("/metrics", headers=SCRAPE).status_code == 404


def test_healthz_and_readyz_answer_without_a_login(served: tuple[TestClient, Platform]) -> None:
    client, _ = served
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready"}


def test_a_crash_is_counted_and_kept_with_its_request_id() -> None:
    """A 500 (what escapes the app, answered by Starlette's outermost middleware) is
    counted as internal_error and kept in the process's ring for the operations page."""

    async def crashing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        return None

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-request-id", b"lb-9")]}
    counted = metrics.ERRORS.labels("internal_error", "500")
    before = counted._value.get()
    with pytest.raises(RuntimeError):
        asyncio.run(Observe(crashing)(scope, receive, send))
    assert counted._value.get() == before + 1
    newest = RECENT_ERRORS[-1]
    assert (newest.request_id, newest.route, newest.status) == ("lb-9", "unmatched", 500)
