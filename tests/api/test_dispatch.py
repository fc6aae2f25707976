"""Route dispatch on path segments (``rongbank.api.dispatch``): every request goes to
the route FastAPI's own scan of every route would give it, after trying only the
routes whose paths could match."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Match, Mount

from rongbank.api.dispatch import CHOSEN, SegmentDispatch, dispatch_by_segments, route_paths
from rongbank.api.observe import router as operations_router
from rongbank.api.one_hop import OneHopRoute
from tests.support.routes import routes_only

APP = routes_only()  # routes only: nothing here is served
DISPATCH = APP.router.routes[0]
ROUTES = [r for r in APP.router.routes if r is not DISPATCH]
PATTERNS = sorted({c.path for c in iter_route_contexts(ROUTES) if c.path})
SEGMENTS = sorted({s for p in PATTERNS for s in p.split("/") if "{" not in s})
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def scope(path: str, method: str | None) -> dict[str, Any]:
    kind = "websocket" if method is None else "http"
    return {"type": kind, "path": path, "root_path": "", "method": method, "headers": []}


def scanned(path: str, method: str | None) -> BaseRoute | None:
    """The route FastAPI's scan of every route picks: the first full match."""
    for route in ROUTES:
        if route.matches(scope(path, method))[0] is Match.FULL:
            return route
    return None


def dispatched(path: str, method: str | None) -> BaseRoute | None:
    match, child = DISPATCH.matches(scope(path, method))
    return child[CHOSEN] if match is Match.FULL else None


def concrete(pattern: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, pattern)


def test_the_dispatch_goes_first() -> None:
    assert isinstance(DISPATCH, SegmentDispatch)
    assert len(PATTERNS) > 200


def test_the_tree_has_the_paths_fastapi_builds() -> None:
    """The tree is read from the templates; FastAPI's built copies have the same paths."""
    for route in ROUTES:
        contexts = iter_route_contexts([route])
        built = [(c.path, isinstance(c.original_route, Mount)) for c in contexts]
        assert list(route_paths(route)) == built, route


def test_a_new_app_builds_only_the_routes_it_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Building every included route's copy (its dependency tree, its handler) on the
    first request cost each new application 0.6 s of CPU: a thousand in the tests."""
    built: list[str] = []
    get_route_handler = OneHopRoute.get_route_handler

    def counted(route: OneHopRoute) -> Any:
        built.append(route.path)
        return get_route_handler(route)

    monkeypatch.setattr(OneHopRoute, "get_route_handler", counted)
    client = TestClient(routes_only())
    built.clear()  # the app's own routes (the favicon's) are built as they are added
    assert client.get("/healthz").json() == {"status": "ok"}
    assert built
    assert set(built) <= {r.path for r in operations_router.routes}  # its router's only
    built.clear()
    assert client.get("/healthz").status_code == 200
    assert built == []  # built once


def test_every_route_of_the_app_is_dispatched_as_the_scan_does() -> None:
    for pattern in PATTERNS:
        for value in ("1", "6288880000000000018", "x.pdf", "a/b"):
            path = concrete(pattern, value)
            for method in (*METHODS, None):
                assert dispatched(path, method) is scanned(path, method), (method, path)


paths = st.lists(
    st.one_of(st.sampled_from(SEGMENTS), st.sampled_from(["", "1", "x", "ws", "a.b"])),
    min_size=1,
    max_size=9,
).map(lambda segments: "/" + "/".join(segments))


@settings(max_examples=3000, deadline=None)
@given(paths, st.sampled_from((*METHODS, None)))
def test_any_path_is_dispatched_as_the_scan_does(path: str, method: str | None) -> None:
    assert dispatched(path, method) is scanned(path, method)


def test_a_request_tries_only_the_routes_its_path_could_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What made a late router slow: each request tried every route before it."""
    tried: list[BaseRoute] = []
    for route in ROUTES:

        def counted(scope: Any, route: BaseRoute = route, matches: Any = route.matches) -> Any:
            tried.append(route)
            return matches(scope)

        monkeypatch.setattr(route, "matches", counted)
    for path in (
        "/api/v1/me/wealth/purchases",
        "/api/v1/me/chat/conversations/3/cards/4/act",
        "/api/v1/me/payments/static-qr",
    ):
        tried.clear()
        route = scanned(path, "POST")
        assert route is not None
        assert len(tried) == 1 + ROUTES.index(route) > 10  # each route before it
        tried.clear()
        assert dispatched(path, "POST") is route
        assert tried == [route]


def test_what_no_route_matches_is_answered_by_fastapi_as_before() -> None:
    client = TestClient(APP)
    assert client.get("/api/v1/nothing/here").status_code == 404
    assert client.delete("/api/v1/me/payments/static-qr").status_code == 405
    assert client.get("/healthz").json() == {"status": "ok"}


def test_routes_added_after_it_are_found() -> None:
    app = FastAPI()
    first = APIRouter()
    first.add_api_route("/a/{x}", lambda: "param", methods=["GET"])
    app.include_router(first)
    dispatch_by_segments(app)
    client = TestClient(app)
    assert client.get("/a/1").json() == "param"
    later = APIRouter()
    later.add_api_route("/b", lambda: "later", methods=["GET"])
    app.include_router(later)
    assert client.get("/b").json() == "later"
    assert client.get("/a/1").json() == "param"
