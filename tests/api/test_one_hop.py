"""One hand-over to a worker thread per request of a plain-``def`` endpoint
(``rongbank.api.one_hop``), with FastAPI's answers kept exactly."""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import anyio
import anyio.to_thread
import fastapi.routing
import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Form, Header, Response
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from rongbank.api.deps import current_principal
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal, PrincipalKind
from rongbank.platform import Platform
from tests.factories.people import V1, People


@pytest.fixture
def hand_overs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each callable handed to a worker thread (Starlette's
    ``run_in_threadpool`` and so FastAPI's go through ``anyio.to_thread``)."""
    seen: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        called = func
        while isinstance(called, functools.partial):
            called = called.func
        seen.append(getattr(called, "__name__", repr(called)))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return seen


def test_a_money_path_is_one_hand_over(
    api: TestClient, platform: Platform, hand_overs: list[str]
) -> None:
    people = People(api, platform)
    alice, bob = people.register("爱丽丝"), people.register("鲍勃")
    people.fund(alice, 10_000)
    body = {
        "client_id": "one-hop-1",
        "source": alice["account"]["number"],
        "destination": bob["account"]["number"],
        "amount": "1.00",
    }
    hand_overs.clear()
    response = api.post(f"{V1}/me/transfers", headers=alice["headers"], json=body)
    assert response.status_code == 201, response.text
    assert hand_overs == ["_run_to_end"]
    # A staff endpoint's role check (require_staff: a plain def) goes with it too.
    hand_overs.clear()
    response = api.get(f"{V1}/staff/merchants")
    assert response.status_code == 200, response.text
    assert hand_overs == ["_run_to_end"]


def test_a_bad_body_without_a_login_is_still_401(api: TestClient, platform: Platform) -> None:
    """FastAPI solves the login check before it validates the body: 401 wins over
    422, as before; a body that is not JSON at all is refused before either."""
    path = f"{V1}/me/transfers"
    for headers, code in (
        ({}, "unauthenticated"),
        ({"Authorization": "Bearer not-a-session"}, "session_invalid"),
    ):
        response = api.post(path, json={"amount": "no"}, headers=headers, auth=None)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == code
    response = api.post(path, content=b"{", headers={"Content-Type": "application/json"}, auth=None)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    people = People(api, platform)
    alice = people.register()
    response = api.post(path, json={"amount": "no"}, headers=alice["headers"])
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["error"]["details"]["errors"]}
    assert {"body.source", "body.destination"} <= fields


def test_dependency_overrides_still_apply(api: TestClient, hand_overs: list[str]) -> None:
    app: Any = api.app
    staff = Principal(kind=PrincipalKind.STAFF, id=1, session_id=1)
    app.dependency_overrides[current_principal] = lambda: staff
    try:
        response = api.get(f"{V1}/me/accounts", headers={"Authorization": "Bearer anything"})
    finally:
        app.dependency_overrides.clear()
    assert response.status_code == 403  # a member of staff is no customer
    assert "_run_to_end" not in hand_overs  # FastAPI's own handler answered


def test_every_router_of_the_application_uses_it(api: TestClient) -> None:
    app: Any = api.app
    plain = {
        f"{c.original_route.endpoint.__module__}"
        for c in iter_route_contexts(app.routes)
        if isinstance(c.original_route, APIRoute)
        and not isinstance(c.original_route, OneHopRoute)
        and c.original_route.endpoint.__module__.startswith("rongbank.")
    }
    assert plain == set()


def test_fastapi_still_has_what_it_relies_on() -> None:
    """A FastAPI release that drops these makes the routes fail at start, not
    quietly take three hand-overs again: pinned in pyproject.toml, checked here."""
    assert isinstance(fastapi.routing._effective_route_context_var, contextvars.ContextVar)
    assert "await request.body()" in inspect.getsource(fastapi.routing.get_request_handler)


# A small application of its own: what FastAPI does with dependencies of each kind.


class Note(BaseModel):
    text: str


class Answer(BaseModel):
    text: str
    who: str


SEEN: dict[str, Any] = {}


def who(x_who: Annotated[str, Header()]) -> str:
    SEEN["threads"].add(threading.get_ident())
    if x_who == "nobody":
        raise PermissionError
    return x_who


async def awaits() -> str:
    await anyio.sleep(0)
    return "awaited"


def opened() -> Iterator[str]:
    yield "open"
    SEEN["closed"] = True


def _app() -> tuple[FastAPI, dict[str, Any]]:
    seen = SEEN
    seen.clear()
    seen.update({"threads": set(), "closed": False, "later": False})

    router = APIRouter(route_class=OneHopRoute)

    @router.post("/notes", status_code=201)
    def note(
        body: Note, me: Annotated[str, Depends(who)], response: Response, tasks: BackgroundTasks
    ) -> Answer:
        seen["threads"].add(threading.get_ident())
        response.headers["X-Noted"] = "yes"
        tasks.add_task(seen.__setitem__, "later", True)
        return Answer(text=body.text, who=me)

    @router.get("/awaiting")
    def awaiting(value: Annotated[str, Depends(awaits)]) -> dict[str, str]:
        return {"value": value}

    @router.get("/opened")
    def with_yield(value: Annotated[str, Depends(opened)]) -> dict[str, str]:
        return {"value": value}

    @router.post("/form")
    def form(text: Annotated[str, Form()]) -> dict[str, str]:
        return {"text": text}

    @router.get("/wrong")
    def wrong() -> Answer:
        return {"text": "no who"}  # type: ignore[return-value]

    app = FastAPI()

    @app.exception_handler(PermissionError)
    async def refused(request: Any, exc: PermissionError) -> Response:
        return Response(status_code=401)

    app.include_router(router, prefix="/v")
    return app, seen


def test_fastapis_answers_kept(hand_overs: list[str]) -> None:
    app, seen = _app()
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v/notes", json={"text": "hi"}, headers={"X-Who": "ann"})
        assert (response.status_code, response.json()) == (201, {"text": "hi", "who": "ann"})
        assert response.headers["X-Noted"] == "yes"
        assert seen["later"]
        assert len(seen["threads"]) == 1
        assert hand_overs == ["_run_to_end", "__setitem__"]  # the task's own, after it
        # The dependency raises before the body is validated; a missing header is a
        # validation error collected with the body's.
        refused = client.post("/v/notes", json={}, headers={"X-Who": "nobody"})
        assert refused.status_code == 401
        invalid = client.post("/v/notes", json={})
        assert invalid.status_code == 422
        assert {e["loc"][0] for e in invalid.json()["detail"]} == {"header", "body"}
        # A URL-encoded form is parsed on the worker thread; a multipart one is not.
        hand_overs.clear()
        assert client.post("/v/form", data={"text": "hi"}).json() == {"text": "hi"}
        assert hand_overs == ["_run_to_end"]
        hand_overs.clear()
        multipart = client.post("/v/form", data={"text": "hi"}, files={"f": b"x"})
        assert multipart.json() == {"text": "hi"}
        assert "_run_to_end" not in hand_overs
        assert client.post("/v/form", data={}).status_code == 422
        # An answer that is not what the endpoint says is FastAPI's 500.
        assert client.get("/v/wrong").status_code == 500
        # What could wait on the worker thread is left to FastAPI's handler.
        hand_overs.clear()
        assert client.get("/v/awaiting").json() == {"value": "awaited"}
        assert client.get("/v/opened").json() == {"value": "open"}
        assert seen["closed"]
        assert "_run_to_end" not in hand_overs
