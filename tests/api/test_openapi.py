"""The OpenAPI document is valid, and says what the API really answers: every
refusal as the error envelope, every success with a schema, names a client
generator can use."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from tests.support.routes import routes_only

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    served: dict[str, Any] = TestClient(routes_only()).get("/openapi.json").json()
    return served


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)  # openapi-spec-validator: structure, $refs, unique operation ids
    assert len(operations(document)) > 120


def test_names_are_plain_identifiers(document: dict[str, Any]) -> None:
    """Two models of one name in different modules used to be published as
    ``rongbank__ledger__schemas__AccountOut``, and upload forms as ``Body_upload_...``."""
    names = list(document["components"]["schemas"])
    assert [n for n in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)] == []
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-z0-9_]*", i)] == []
    assert len(ids) == len(set(ids))


def test_every_refusal_is_documented_as_the_error_envelope(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in json.dumps(document)  # FastAPI's {detail}
    for method, path, operation in operations(document):
        if not path.startswith("/api/"):
            continue
        statuses = {s for s in operation["responses"] if s.startswith("4")}
        # What the shared dependencies, the input checks and the domains send.
        assert {"400", "401", "403", "404", "409", "422", "429"} <= statuses, (method, path)
        for status in statuses:
            content = operation["responses"][status]["content"]
            assert content == {"application/json": {"schema": ENVELOPE}}, (method, path, status)


def test_every_success_has_a_schema(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                for media, body in response.get("content", {}).items():
                    assert body.get("schema"), (method, path, status, media)


def test_top_ups_withdrawals_and_statements_say_what_they_answer(
    document: dict[str, Any],
) -> None:
    funding = {"$ref": "#/components/schemas/FundingOut"}
    for path in ("/api/v1/me/top-ups", "/api/v1/me/withdrawals"):
        responses = document["paths"][path]["post"]["responses"]
        for status in ("200", "201", "202"):  # a retry, made now, outcome not known yet
            assert responses[status]["content"]["application/json"]["schema"] == funding
    statement = "/api/v1/me/accounts/{number}/statement"
    for suffix, media in (
        ("csv", "text/csv"),
        ("pdf", "application/pdf"),
        ("xml", "application/xml"),
    ):
        answer = document["paths"][f"{statement}.{suffix}"]["get"]["responses"]["200"]
        assert answer["content"][media]["schema"]["type"] == "string", suffix


def test_a_refusal_is_the_envelope_the_document_describes(document: dict[str, Any]) -> None:
    """What the handlers send matches the documented ``ErrorEnvelope``."""
    from jsonschema import Draft202012Validator

    schemas = document["components"]["schemas"]
    envelope = {**schemas["ErrorEnvelope"], "$defs": schemas}
    envelope = json.loads(json.dumps(envelope).replace("#/components/schemas/", "#/$defs/"))
    client = TestClient(routes_only())
    answers = [
        client.get("/api/v1/me/accounts"),  # 401 from the shared dependency
        client.post("/api/v1/customers", json={"name": 1}),  # 422 from validation
        client.post(
            "/api/v1/customers",
            content=b'{"a": 1, "a": 2}',
            headers={"Content-Type": "application/json"},
        ),  # 422 from the input guard
    ]
    for answer in answers:
        assert answer.status_code in (401, 422)
        Draft202012Validator(envelope).validate(answer.json())
