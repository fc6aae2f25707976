"""Route dispatch on the path's segments, in front of FastAPI's routing.

FastAPI (0.137 and later) keeps each ``include_router`` as one route that tries its
routes' regexes in turn, and the application tries those in turn: a request for the
twentieth router paid for every route of the nineteen before it, twice for its own
(once to match, once to handle), 150-650 µs of CPU for this application's later
routers and for a 404. :class:`SegmentDispatch` goes first in the application's
routes and hands a request straight to the first route that matches it, among only
the routes whose paths could: they are found in a tree of the routes' path segments
(literal segments by name, a one-segment parameter as a wildcard). So every URL, the
order in which routes win, the OpenAPI document and ``url_path_for`` stay FastAPI's.

The tree is built from the path templates alone (an included router's prefix and its
routes' paths: :func:`route_paths`), not from what
:func:`fastapi.routing.iter_route_contexts` shows: that builds every included route's
copy for its inclusion (its dependency tree, its request handler), 0.6 s of CPU for
this application's 500 routes, paid by every new application on its first request
(a thousand in the tests). FastAPI builds a router's copies when a request first
tries that router, so an application builds only the routers it is asked for.

A request that none of those routes matches (a 404, or a 405 for a method the path
does not have) falls through to FastAPI's own scan of every route, which answers it
as before (the redirect of a path with or without its trailing slash included); only
its cost is as before.

The tree is built on the first request, and again whenever the application's list
of routes has changed length; routes added inside an already included router after
that are found by the fall-through only, so routes are all added before serving.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter  # what include_router adds (FastAPI 0.137+)
from starlette._utils import get_route_path  # as FastAPI's and Starlette's routing do
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, Mount, NoMatchFound, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

CHOSEN = "rongbank.route"
"""The scope key that carries the route chosen by ``matches`` to ``handle``."""

_PARAM = re.compile(r"{\w+(?::(\w+))?}")
_ONE_SEGMENT = {None, "str", "int", "float", "uuid"}
"""Starlette's convertors that never match a ``/`` (``path`` does)."""


@dataclass(slots=True)
class _Node:
    """One segment of the paths in the tree. ``ends``: the routes (by their place in
    the application's list) with a path that ends here; ``below``: those that match
    any path going through here (a mount, a ``{…:path}`` parameter)."""

    literal: dict[str, _Node] = field(default_factory=dict)
    wildcard: _Node | None = None
    ends: set[int] = field(default_factory=set)
    below: set[int] = field(default_factory=set)

    def child(self, segment: str) -> _Node:
        if _PARAM.search(segment) is None:
            return self.literal.setdefault(segment, _Node())
        if self.wildcard is None:
            self.wildcard = _Node()
        return self.wildcard


def _spans_segments(segment: str) -> bool:
    """Whether a path segment with parameters may match more than one segment."""
    return any(m.group(1) not in _ONE_SEGMENT for m in _PARAM.finditer(segment))


def route_paths(route: BaseRoute, prefix: str = "") -> Iterator[tuple[str | None, bool]]:
    """The path of each route that ``route`` is or includes, as FastAPI's copy of it
    for its inclusion has it, and whether it is a mount's; None where it has none or
    it is not known here (matched anywhere). Read from the templates: nothing built."""
    if isinstance(route, _IncludedRouter):
        prefix += route.include_context.prefix
        for inner in route.original_router.routes:
            yield from route_paths(inner, prefix)
    elif isinstance(route, Route | WebSocketRoute):  # FastAPI's own routes too
        yield prefix + route.path, False
    elif isinstance(route, Mount):
        yield (prefix + route.path).rstrip("/"), True
    else:
        yield None, False  # a Host, a frontend group, something unknown


class SegmentTree:
    """Which of ``routes`` could match a path: a superset, in the routes' order."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.root = _Node()
        for index, route in enumerate(routes):
            for path, mount in route_paths(route):
                if path is None or not path.startswith("/"):
                    self.root.below.add(index)  # anywhere
                    continue
                self._add(index, path, mount=mount)

    def _add(self, index: int, path: str, *, mount: bool) -> None:
        node = self.root
        for segment in path[1:].split("/"):
            if _spans_segments(segment):
                node.below.add(index)
                return
            node = node.child(segment)
        (node.below if mount else node.ends).add(index)

    def candidates(self, path: str) -> list[int]:
        found: set[int] = set()
        segments = path[1:].split("/") if path.startswith("/") else None
        if segments is None:
            found |= self.root.below
        else:
            self._walk(self.root, segments, 0, found)
        return sorted(found)

    def _walk(self, node: _Node, segments: list[str], depth: int, found: set[int]) -> None:
        found |= node.below
        if depth == len(segments):
            found |= node.ends
            return
        segment = segments[depth]
        if (literal := node.literal.get(segment)) is not None:
            self._walk(literal, segments, depth + 1, found)
        if node.wildcard is not None and segment:  # a parameter is never empty
            self._walk(node.wildcard, segments, depth + 1, found)


class SegmentDispatch(BaseRoute):
    """The application's first route: the first of the routes after it that matches
    a request, tried among those its path could match (see the module's docstring)."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self._routes = routes  # the application's own list, with this route first
        self._others: list[BaseRoute] = []
        self._tree = SegmentTree([])
        self._built_for = -1

    def _candidates(self, path: str) -> list[BaseRoute]:
        if self._built_for != len(self._routes):
            self._others = [r for r in self._routes if r is not self]
            self._tree, self._built_for = SegmentTree(self._others), len(self._routes)
        return [self._others[i] for i in self._tree.candidates(path)]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in ("http", "websocket"):
            return Match.NONE, {}
        for route in self._candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child_scope, CHOSEN: route}
        # A 405 or a 404: FastAPI's scan answers it, as it did before.
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(CHOSEN)
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # the routes after it answer


def dispatch_by_segments(app: FastAPI) -> None:
    """Put a :class:`SegmentDispatch` before ``app``'s routes (once every router of
    the application is included)."""
    routes = app.router.routes
    if not any(isinstance(r, SegmentDispatch) for r in routes):
        routes.insert(0, SegmentDispatch(routes))
