"""Property-based fuzzing of the whole OpenAPI with schemathesis.

Every operation the API documents gets a bounded number of generated requests, valid
and invalid by its own schema, sent as whoever may use it (the operator for the
ledger, a customer, a merchant, the staff role the operation admits) and half of
them naming the world's real accounts, conversations and orders rather than ids that
do not exist. Each answer must be no 5xx, have a documented status and content type,
and match the documented schema: for a refusal that is the error envelope, not
FastAPI's ``{detail}``; an invalid request must be refused.

The world (people, a shop, staff) is committed once into a database of this
module's own; the operations then run on one app and platform over it, in a
transaction rolled back after the module, and each request in a savepoint rolled back
after it, so every example starts from the same world and nothing a request changed
is seen by the next. The examples are derandomized, so a run is repeatable;
``RONGBANK_FUZZ_EXAMPLES`` asks for more than the default (and ``RONGBANK_FUZZ_SEED``
for other ones) when hunting.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, reject, seed, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis import checks as c
from sqlalchemy import Connection, Engine

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.db import make_engine
from rongbank.embedded import EmbeddedPostgres
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.accounts.test_endpoints import People
from tests.conftest import OPERATOR_TOKEN, START, TEMPLATE, platform_on
from tests.payments.helpers import Shop
from tests.support.routes import routes_only
from tests.test_authorization import SERVING_ROLES, STAFF_ROLES

V1 = "/api/v1"
EXAMPLES = int(os.environ.get("RONGBANK_FUZZ_EXAMPLES", "25"))
SEED = os.environ.get("RONGBANK_FUZZ_SEED")
CHECKS = [
    c.not_a_server_error,
    c.status_code_conformance,
    c.content_type_conformance,
    c.response_headers_conformance,
    c.response_schema_conformance,
    c.negative_data_rejection,
]
# Built without a platform: the document does not depend on one.
SCHEMA = schemathesis.openapi.from_dict(
    routes_only().openapi(),
    # The test sends each persona's own credentials, never generated ones.
    config=schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}}),
)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


class World:
    """The people, shop and staff every request is sent as or about (their tokens and
    ids: the rows are committed in this module's database)."""

    def __init__(self, client: TestClient, platform: Platform) -> None:
        people = People(client, platform)
        self.shop = Shop(client, platform, people)
        self.alice = self.shop.customer("张三")
        self.staff = {role: people.staff(role) for role in ("account_manager", "administrator")}
        order = self.shop.order("fuzz-1", "12.50")
        with platform.transaction() as session:
            conversation = platform.chat.open_bank(session, customer_id=self.alice["customer_id"])
            platform.tools.held(session, self.alice["customer_id"])
            sms = platform.tools.tools_of(session, self.alice["customer_id"])[0]
        self.known: dict[str, Any] = {
            "number": self.alice["account"]["number"],
            "customer_id": self.alice["customer_id"],
            "merchant_id": self.shop.id,
            "conversation_id": conversation.conversation.id,
            "seq": 1,
            "tool_id": sms.id,
            "order_no": "fuzz-1",
            "token": self.shop.token(order),
            "day": START.date().isoformat(),
            "ref": "bank:vault",
        }

    def headers(self, method: str, path: str) -> dict[str, str]:
        if path.startswith(f"{V1}/ledger"):
            return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        if path.startswith(f"{V1}/me/"):
            return dict(self.alice["headers"])
        if path.startswith(f"{V1}/merchant"):
            return dict(self.shop.owner)
        if path.startswith(f"{V1}/staff"):
            roles = SERVING_ROLES.get((method, path), STAFF_ROLES)
            role = "account_manager" if "account_manager" in roles else "administrator"
            return dict(self.staff[role])
        return {}


@pytest.fixture(scope="module")
def world_url(pg: EmbeddedPostgres) -> Iterator[str]:
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    pg.create_database(name, template=TEMPLATE)
    yield pg.url(name)
    pg.drop_database(name)


@pytest.fixture(scope="module")
def world(world_url: str) -> World:
    settings = Settings(operator_token=SecretStr(OPERATOR_TOKEN))
    platform = Platform.connect(world_url, settings, clock=FrozenClock(START), group_commit=False)
    with TestClient(create_app(platform, background=False)) as client:
        return World(client, platform)


@pytest.fixture(scope="module")
def engine(world_url: str) -> Iterator[Engine]:
    """The world's database, for ``world_connection``."""
    engine = make_engine(world_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def world_connection(engine: Engine) -> Iterator[Connection]:
    """One transaction over the world for the module, rolled back at its end: each
    request runs in a savepoint of its own, rolled back after it (:func:`send`), so
    no operation sees what another's requests changed."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture(scope="module")
def client(world_connection: Connection) -> Iterator[TestClient]:
    """One app for every operation: a new app's first request indexes every route
    (``rongbank.api.dispatch``), half a second of CPU that an app per operation paid
    for each."""
    platform = platform_on(world_connection, FrozenClock(START))
    with TestClient(create_app(platform, background=False)) as client:
        yield client


def send(client: TestClient, world: World, connection: Connection, case: Any) -> httpx2.Response:
    """Send ``case`` as its operation's persona, in a savepoint rolled back after it."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    headers = {**kwargs["headers"], **world.headers(case.method.upper(), case.path)}
    body: dict[str, Any] = {"json": kwargs["json"]} if "json" in kwargs else {}
    if kwargs.get("files"):
        body.update(_multipart(kwargs["files"]))
    elif kwargs.get("data") is not None:  # requests' name for a raw body or form fields
        raw = isinstance(kwargs["data"], bytes | str)
        body["content" if raw else "data"] = kwargs["data"]
    savepoint = connection.begin_nested()
    try:
        response = client.request(
            kwargs["method"], kwargs["url"], params=kwargs["params"], headers=headers, **body
        )
    except httpx2.InvalidURL:  # a query longer than any client sends
        reject()
    finally:
        savepoint.rollback()
    response.request.read()  # multipart bodies stream; the checks read what was sent
    return response


def _multipart(parts: list[tuple[str, tuple[str | None, Any]]]) -> dict[str, Any]:
    """requests' multipart parts as httpx takes them: fields (no file name) as form
    data, files as bytes."""
    data: dict[str, list[str]] = {}
    files = []
    for name, (filename, value) in parts:
        if filename is None:
            text = value.decode() if isinstance(value, bytes) else str(value)
            data.setdefault(name, []).append(text)
        else:
            files.append((name, (filename, value if isinstance(value, bytes) else str(value))))
    return {"data": data, "files": files}


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_operation_fails_or_answers_off_its_documentation(
    operation: Any, world: World, client: TestClient, world_connection: Connection
) -> None:
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    known = {
        p.name: world.known[p.name] for p in operation.path_parameters if p.name in world.known
    }
    if known:
        strategies.append(operation.as_strategy(path_parameters=known))

    @settings(
        max_examples=EXAMPLES,
        derandomize=SEED is None,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # a failure is reported as found
        suppress_health_check=list(HealthCheck),
    )
    @seed(int(SEED or 0))
    @given(case=st.one_of(strategies))
    def fuzz(case: Any) -> None:
        case.validate_response(send(client, world, world_connection, case), checks=CHECKS)

    fuzz()
