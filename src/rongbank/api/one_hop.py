"""One hand-over to a worker thread per request of a plain-``def`` endpoint.

FastAPI runs a plain-``def`` endpoint in its thread pool, each plain-``def``
dependency in a hand-over of its own, and the validation of a sync endpoint's answer
in another: three or more hand-overs between the event loop and a worker thread on
every authenticated request (35-45 µs of CPU each measured alone, and a wait for the
GIL each under load). :class:`OneHopRoute` makes it one: the body is read on the
event loop (the only step that waits for the network), then FastAPI's own request
handler runs to its end on one worker thread, in one ``run_in_threadpool`` call:
solving the dependencies, calling the endpoint, validating and serialising its answer.

It is FastAPI's handler and FastAPI's dependency solver, built for a copy of the
route's dependency tree in which every plain-``def`` callable (the endpoint too) is
wrapped in an ``async def`` that calls it in place: so the order in which
dependencies run and errors are found (a missing login's 401 before a bad body's
422), the dependency cache, ``Request``, ``Response`` and ``BackgroundTasks``
parameters and the error bodies are FastAPI's; the OpenAPI document is built from
the route's own tree, untouched.

A coroutine driven like that on a worker thread must never wait. Routes where it
could keep FastAPI's handler: an ``async`` endpoint, a streamed answer, a body size
limit, a dependency with ``yield`` or a concurrency limit, an ``async`` dependency
whose code awaits anything; so do a multipart form (its files may be written to disk
in the thread pool) and every request while the application's
``dependency_overrides`` are set (tests), answered exactly as FastAPI answers them.
A URL-encoded form (the web bank's) is parsed from the body already read. An
``async`` dependency that never awaits runs on the worker thread too: one must not
reach for the event loop without awaiting (``asyncio.create_task``).

It relies on FastAPI's request handler reading the body with ``await
request.body()`` (Starlette keeps the body read before) and on the private
``_effective_route_context_var`` that :meth:`APIRoute.get_route_handler` reads for an
included route: ``tests/api/test_one_hop.py`` fails loudly if either changes.
"""

from __future__ import annotations

import dataclasses
import dis
import functools
import inspect
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from types import CodeType
from typing import Any, cast

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _effective_route_context_var
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

_SUSPENDS = frozenset({"YIELD_VALUE", "YIELD_FROM", "SEND"})
"""The opcodes of every point where a coroutine can give way (``await``, ``async
for``, ``async with`` all compile to them)."""


class OneHopRoute(APIRoute):
    """An :class:`APIRoute` whose plain-``def`` endpoint costs one hand-over to a
    worker thread per request (see the module's docstring). Every router of the
    application is made with ``route_class=OneHopRoute``."""

    def get_route_handler(self) -> Handler:
        fastapis = super().get_route_handler()
        # Included in a router, a route is handled with its inclusion's context (the
        # prefix's dependencies, the application as the overrides' provider).
        context = _effective_route_context_var.get()
        route = context if context is not None and context.original_route is self else self
        in_place = _in_place_tree(route) if _may_run_in_place(route) else None
        if in_place is None:
            return fastapis
        with _dependant_swapped(route, in_place):
            whole = super().get_route_handler()
        body = route.body_field
        form = body is not None and isinstance(body.field_info, params.Form)
        overrides = route.dependency_overrides_provider

        async def one_hop(request: Request) -> Response:
            if (overrides is not None and getattr(overrides, "dependency_overrides", None)) or (
                form and _multipart(request)
            ):
                return await fastapis(request)
            if body is not None:
                try:
                    await request.body()  # kept by the request for the handler
                except Exception:
                    return await fastapis(request)  # its answer to a body it cannot read
            return await run_in_threadpool(_run_to_end, whole, request)

        return one_hop


def _may_run_in_place(route: Any) -> bool:
    return (
        not _is_coroutine(route.dependant.call)
        and not _is_generator(route.dependant.call)
        and not route.is_sse_stream
        and not route.is_json_stream
        and route.stream_item_field is None
        and getattr(route, "max_body_size", None) is None
    )


def _multipart(request: Request) -> bool:
    kind = request.headers.get("content-type", "").partition(";")[0]
    return kind.strip().lower().startswith("multipart/")


def _in_place_tree(route: Any) -> Dependant | None:
    """A copy of ``route``'s dependency tree whose plain-``def`` callables are wrapped
    to run in place, or None where something in it could wait."""
    wrapped: dict[int, Callable[..., Any]] = {}  # one wrapper a callable: the cache's key

    def in_place(call: Callable[..., Any]) -> Callable[..., Any]:
        if id(call) not in wrapped:

            @functools.wraps(call)  # __wrapped__: FastAPI still sees a security scheme
            async def run_here(**values: Any) -> Any:
                return call(**values)

            wrapped[id(call)] = run_here
        return wrapped[id(call)]

    def copy(dependant: Dependant, *, top: bool) -> Dependant | None:
        call = dependant.call
        assert call is not None
        if not top:
            if dependant.concurrency is not None or _is_generator(call):
                return None
            if _is_coroutine(call):
                if not _never_waits(call):
                    return None
                call = None  # kept as it is
        below = [copy(sub, top=False) for sub in dependant.dependencies]
        if any(sub is None for sub in below):
            return None
        return dataclasses.replace(
            dependant,
            call=dependant.call if call is None else in_place(call),
            dependencies=cast(list[Dependant], below),
        )

    return copy(route.dependant, top=True)


def _callables(call: Callable[..., Any]) -> Iterator[Any]:
    """``call`` and what FastAPI looks through to classify it: a partial's function,
    a decorator's ``__wrapped__``, an instance's ``__call__``."""
    while isinstance(call, functools.partial):
        call = call.func
    call = inspect.unwrap(call)
    yield call
    if not inspect.isroutine(call) and not inspect.isclass(call):
        yield getattr(call, "__call__", None)  # noqa: B004


def _is_generator(call: Callable[..., Any]) -> bool:
    return any(
        inspect.isgeneratorfunction(c) or inspect.isasyncgenfunction(c) for c in _callables(call)
    )


def _is_coroutine(call: Callable[..., Any]) -> bool:
    return any(inspect.iscoroutinefunction(c) for c in _callables(call))


def _never_waits(call: Callable[..., Any]) -> bool:
    """Whether an ``async`` callable's own code has no point where it can give way."""
    for c in _callables(call):
        if inspect.iscoroutinefunction(c):
            return _code_never_waits(getattr(c, "__code__", c))
    return False


@functools.cache  # the same few dependencies in every route of every app: read once
def _code_never_waits(code: CodeType | Callable[..., Any]) -> bool:
    return not any(i.opname in _SUSPENDS for i in dis.get_instructions(code))


@contextmanager
def _dependant_swapped(route: Any, dependant: Dependant) -> Iterator[None]:
    """``route`` with ``dependant`` for as long as FastAPI builds a handler of it."""
    original = route.dependant
    route.dependant = dependant
    try:
        yield
    finally:
        route.dependant = original


def _run_to_end(handler: Handler, request: Request) -> Response:
    """Run ``handler(request)`` on this thread: it never waits (the body is read)."""
    coroutine = handler(request)
    try:
        coroutine.send(None)
    except StopIteration as done:
        response: Response = done.value
        return response
    coroutine.close()
    raise RuntimeError(f"{request.url.path}: the request handler waited on a worker thread")
