"""Input no endpoint takes is refused on every way in: one test per kind of bad
input, walking every route of the app (API and web pages), so that a new route is
covered the day it is added.

What the input guard refuses (duplicate JSON keys, NUL characters, unpaired
surrogates, integers past ``bigint``) is refused before authentication, so these
walks need no login; what the declared types refuse (ids out of range, other
scripts' digits, strings for booleans, blank names) is checked on each route's own
parameters and request models.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from rongbank.accounts.rules import luhn_valid
from rongbank.api.app import create_app
from rongbank.inputs import MAX_ID, InputRefused, loads, parse_id
from rongbank.platform import Platform
from rongbank.web.error_pages import NOT_PAGES
from tests.accounts.test_endpoints import V1, People, available, transfer_confirmed
from tests.support.routes import routes_only

APP = routes_only()  # routes only: nothing here is served


class Route(typing.NamedTuple):
    method: str
    path: str
    route: APIRoute

    def concrete(self, value: str = "1") -> str:
        return re.sub(r"\{[^}]+\}", value, self.path)

    def dependants(self) -> Iterator[Dependant]:
        stack = [self.route.dependant]
        while stack:
            dependant = stack.pop()
            yield dependant
            stack.extend(dependant.dependencies)

    @property
    def body_kind(self) -> str | None:
        bodies = [p for d in self.dependants() for p in d.body_params]
        if not bodies:
            return None
        return "form" if isinstance(bodies[0].field_info, params.Form) else "json"

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    Route(method, context.path, context.original_route)
    for context in iter_route_contexts(APP.routes)
    if isinstance(context.original_route, APIRoute)
    for method in sorted(context.methods or ())
]
JSON_ROUTES = [r for r in ROUTES if r.body_kind == "json"]
FORM_ROUTES = [r for r in ROUTES if r.body_kind == "form"]


@pytest.fixture(scope="module")
def anyone() -> TestClient:
    """The app as nobody calls it, not started: the guard answers before any route
    would need the platform."""
    return TestClient(APP)


def refused(response: Any, field: str) -> bool:
    """A 422 in the error envelope naming ``field``; for a page of the web bank, a 422
    shown as its error page (in words for people, no field names)."""
    if response.status_code != 422:
        return False
    if response.headers["content-type"].startswith("text/html"):
        return not response.request.url.path.startswith(NOT_PAGES)
    error = response.json()["error"]
    fields = [e["field"] for e in error["details"]["errors"]]
    return error["code"] == "invalid_request" and any(f.startswith(field) for f in fields)


def test_the_walks_see_the_routes() -> None:
    assert len(ROUTES) > 200
    assert len(JSON_ROUTES) > 50
    assert len(FORM_ROUTES) > 30


class TestGuard:
    def test_every_json_route_refuses_a_key_given_twice(self, anyone: TestClient) -> None:
        for route in JSON_ROUTES:
            response = anyone.request(
                route.method,
                route.concrete(),
                content=b'{"amount": "-1", "amount": "0.01"}',
                headers={"Content-Type": "application/json"},
            )
            assert refused(response, "body.amount"), (str(route), response.text)

    def test_every_route_refuses_nul_in_its_path_query_and_body(self, anyone: TestClient) -> None:
        for route in ROUTES:
            if "{" in route.path:
                response = anyone.request(route.method, route.concrete("a%00b"))
                assert refused(response, "path"), (str(route), response.text)
            response = anyone.request(route.method, route.concrete(), params={"q": "a\x00b"})
            assert refused(response, "query.q"), (str(route), response.text)
            if route.body_kind == "json":
                response = anyone.request(route.method, route.concrete(), json={"x": ["\x00"]})
                assert refused(response, "body.x.0"), (str(route), response.text)
            elif route.body_kind == "form":
                response = anyone.request(route.method, route.concrete(), data={"x": "a\x00"})
                assert refused(response, "body.x"), (str(route), response.text)

    def test_every_json_route_refuses_unpaired_surrogates(self, anyone: TestClient) -> None:
        """Only JSON can carry one (``"\\ud800"``): percent-encoded bytes that are not
        UTF-8 are decoded to replacement characters."""
        for route in JSON_ROUTES:
            response = anyone.request(
                route.method,
                route.concrete(),
                content=b'{"x": "\\ud800"}',
                headers={"Content-Type": "application/json"},
            )
            assert refused(response, "body.x"), (str(route), response.text)

    @pytest.mark.parametrize("number", [str(MAX_ID + 1), str(-MAX_ID - 2), "1e400", "NaN"])
    def test_every_json_route_refuses_numbers_the_bank_cannot_hold(
        self, anyone: TestClient, number: str
    ) -> None:
        for route in JSON_ROUTES:
            response = anyone.request(
                route.method,
                route.concrete(),
                content=f'{{"id": {number}}}'.encode(),
                headers={"Content-Type": "application/json"},
            )
            assert refused(response, "body"), (str(route), response.text)

    def test_loads_says_where(self) -> None:
        with pytest.raises(InputRefused) as found:
            loads('{"a": [{"b": "x\\u0000"}]}')
        assert found.value.field == "a.0.b"
        assert loads('{"a": [1, true, null, 1.5, "文"]}') == {"a": [1, True, None, 1.5, "文"]}


def _parameters(route: Route) -> Iterator[tuple[str, Any]]:
    """Each path, query and form parameter of ``route`` with a validator of one value."""
    for dependant in route.dependants():
        for field in dependant.path_params + dependant.query_params:
            yield field.name, field
        for field in dependant.body_params:
            model = _model(field.field_info.annotation)
            if isinstance(field.field_info, params.Form) and model is not None:
                for name in model.model_fields:
                    yield name, _FieldOf(model, name)
            elif isinstance(field.field_info, params.Form):
                yield field.name, field


class _FieldOf:
    """One field of a model, validated as if alone."""

    def __init__(self, model: type[BaseModel], name: str) -> None:
        self.model, self.name = model, name
        self.field_info = model.model_fields[name]

    def validate(self, value: Any, values: Any = None, *, loc: Any = ()) -> tuple[Any, list[Any]]:
        """As FastAPI's ``ModelField.validate``: the value and the errors."""
        return value, _field_errors(self.model, self.name, value)


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if inspect.isclass(annotation) and issubclass(annotation, BaseModel) else None


def _kinds(annotation: Any) -> set[Any]:
    """The plain types an annotation (a union, an Annotated type) admits."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, type(int | None)):
        return {kind for argument in typing.get_args(annotation) for kind in _kinds(argument)}
    return {annotation}


def _request_models() -> Iterator[tuple[Route, type[BaseModel]]]:
    """Every model a JSON body of some route is validated with, nested ones too."""
    seen: set[type[BaseModel]] = set()

    def reach(annotation: Any) -> Iterator[type[BaseModel]]:
        model = _model(annotation)
        if model is not None and model not in seen:
            seen.add(model)
            yield model
            for field in model.model_fields.values():
                yield from reach(field.annotation)
        for argument in typing.get_args(annotation):
            yield from reach(argument)

    for route in JSON_ROUTES:
        for dependant in route.dependants():
            for field in dependant.body_params:
                for model in reach(field.field_info.annotation):
                    yield route, model


def _field_errors(model: type[BaseModel], name: str, value: Any) -> list[Any]:
    try:
        model.model_validate({name: value})
    except ValidationError as error:
        return [e for e in error.errors() if e["loc"][:1] == (name,)]
    return []


class TestDeclaredTypes:
    def test_every_integer_parameter_is_a_bigint_in_ascii_digits(self) -> None:
        walked = 0
        for route in ROUTES:
            for name, field in _parameters(route):
                if int not in _kinds(field.field_info.annotation):
                    continue
                walked += 1
                for value in (str(MAX_ID + 1), "１２", "١٢"):
                    _, errors = field.validate(value, {}, loc=("x",))
                    assert errors, (str(route), name, value)
        assert walked > 80

    def test_every_text_field_of_an_upload_refuses_nul(self) -> None:
        """Multipart bodies are not read by the guard: their fields are typed."""
        walked = 0
        for route in FORM_ROUTES:
            for name, field in _parameters(route):
                if str in _kinds(field.field_info.annotation) and route.path.startswith("/api"):
                    walked += 1
                    assert field.validate("a\x00", {}, loc=("x",))[1], (str(route), name)
        assert walked >= 4  # client id and caption, customer and staff

    def test_every_boolean_in_a_json_body_is_true_or_false_only(self) -> None:
        walked = 0
        for route, model in _request_models():
            for name, field in model.model_fields.items():
                if bool not in (field.annotation, *typing.get_args(field.annotation)):
                    continue
                walked += 1
                for value in ("yes", "true", 1, "1"):
                    assert _field_errors(model, name, value), (str(route), model, name, value)
        assert walked >= 10

    def test_every_integer_in_a_json_body_is_a_json_integer(self) -> None:
        walked = 0
        for route, model in _request_models():
            for name, field in model.model_fields.items():
                kinds = _kinds(field.annotation)
                if int not in kinds:
                    continue
                walked += 1
                for value in (True, 1.5, *(() if str in kinds else ("1",))):
                    assert _field_errors(model, name, value), (str(route), model, name, value)
        assert walked >= 20

    def test_every_date_and_time_is_iso_text(self) -> None:
        """Pydantic alone takes a number of seconds since 1970 for a date or time, so
        ``/transactions/0`` was 1 January 1970."""
        walked = 0
        for route in ROUTES:
            for name, field in _parameters(route):
                if not {date, datetime} & _kinds(field.field_info.annotation):
                    continue
                walked += 1
                for value in ("0", "1700000000", "２０２６-０３-０２"):
                    assert field.validate(value, {}, loc=("x",))[1], (str(route), name, value)
        for route, model in _request_models():
            for name, info in model.model_fields.items():
                if {date, datetime} & _kinds(info.annotation):
                    walked += 1
                    for value in (0, "1700000000"):
                        assert _field_errors(model, name, value), (str(route), name, value)
        assert walked >= 15

    def test_every_required_name_refuses_one_made_of_spaces(self) -> None:
        walked = 0
        for route, model in _request_models():
            for name in model.model_fields:
                if not (name in ("name", "title") or name.endswith("_name")):
                    continue
                if not _field_errors(model, name, ""):
                    continue  # may be left out or blank (the default)
                walked += 1
                for blank in (" \u3000\t", "\x1e"):
                    assert _field_errors(model, name, blank), (str(route), model, name, blank)
                errors = _field_errors(model, name, "  张三 ")
                assert not errors, (model, name, errors)
        assert walked >= 10

    def test_a_name_is_stored_trimmed(self, client: TestClient, platform: Platform) -> None:
        person = People(client, platform).register("  韩梅梅 ")
        with platform.transaction() as session:
            assert platform.accounts.customer(session, person["customer_id"]).name == "韩梅梅"


class TestDigits:
    def test_ids_and_account_numbers_are_ascii_digits_only(self) -> None:
        assert parse_id("12") == 12
        for text in ("１２", "١٢", "+12", " 12", "0", str(MAX_ID + 1), "9" * 40):
            assert parse_id(text) is None, text
        assert luhn_valid("6288880000000000018")
        # The same digits full-width: str.isdigit and int() take them.
        assert not luhn_valid("６２８８８８００００００００００１8")

    def test_the_ledger_reads_other_scripts_digits_as_a_code_not_an_id(
        self, api: TestClient
    ) -> None:
        made = api.post(
            f"{V1}/ledger/accounts",
            json={"code": "cash:till", "currency": "CNY", "type": "asset"},
        )
        assert made.status_code == 201, made.text
        number = str(made.json()["id"])
        assert api.get(f"{V1}/ledger/accounts/{number}").status_code == 200
        wide = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        assert api.get(f"{V1}/ledger/accounts/{wide}").status_code == 404
        assert api.get(f"{V1}/ledger/accounts/{'9' * 30}").status_code == 404


def test_a_key_given_twice_moves_no_money(client: TestClient, platform: Platform) -> None:
    """The review's case: ``amount`` once negative (checked) and once positive (used)."""
    people = People(client, platform)
    payer, payee = people.register(), people.register("李雷")
    people.fund(payer, 10_000)
    body = (
        f'{{"client_id": "dup", "source": "{payer["account"]["number"]}", '
        f'"destination": "{payee["account"]["number"]}", "amount": "-1", "amount": "0.01"}}'
    )
    response = client.post(
        f"{V1}/me/transfers",
        content=body.encode(),
        headers={**payer["headers"], "Content-Type": "application/json"},
    )
    assert refused(response, "body.amount"), response.text
    assert (available(client, payer), available(client, payee)) == ("100.00", "0.00")
    sent = transfer_confirmed(
        client,
        payer,
        {
            "client_id": "ok",
            "source": payer["account"]["number"],
            "destination": payee["account"]["number"],
            "amount": "0.01",
        },
    )
    assert sent.status_code == 201, sent.text  # the same request with the key once: moves
    assert available(client, payee) == "0.01"


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client
